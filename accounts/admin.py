from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.admin import AccessFailureLogAdmin as AxesAccessFailureLogAdmin
from axes.admin import AccessLogAdmin as AxesAccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Team, User


def _family_name_first(fieldsets):
    """Django's user fieldsets with the family name (last_name) before the given name, as names
    are written on the desk (朱建国)."""
    reordered = []
    for title, options in fieldsets:
        fields = tuple(options["fields"])
        if "first_name" in fields and "last_name" in fields:
            fields = tuple(name for name in fields if name != "last_name")
            fields = fields[: fields.index("first_name")] + ("last_name",) + fields[fields.index("first_name") :]
        reordered.append((title, {**options, "fields": fields}))
    return tuple(reordered)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "last_name", "first_name", "email", "roles", "is_active", "is_staff")
    list_filter = ("groups", "is_active", "is_staff", "teams")
    search_fields = ("username", "last_name", "first_name", "email")
    fieldsets = _family_name_first(DjangoUserAdmin.fieldsets) + ((_("Desk"), {"fields": ("phone_extension",)}),)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(obj.role_names)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "supervisor", "member_count", "created_at")
    search_fields = ("name", "supervisor__username", "members__username")
    autocomplete_fields = ("supervisor",)
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).select_related("supervisor").annotate(_member_count=Count("members"))

    @admin.display(description=_("members"), ordering="_member_count")
    def member_count(self, obj: Team) -> int:
        return obj._member_count


# --- Logins (django-axes): the desk registers axes' admin itself (AXES_ENABLE_ADMIN = False) ---
# The logs of logins, logouts and failed logins are read-only for everyone: nobody edits or
# deletes the trail. A lockout is lifted by deleting its access attempt (the admin role holds
# view_accessattempt and delete_accessattempt): the username may try again from that address at once.


class _ReadOnlyLogAdmin:
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessLog)
class LoginLogAdmin(_ReadOnlyLogAdmin, AxesAccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class FailedLoginLogAdmin(_ReadOnlyLogAdmin, AxesAccessFailureLogAdmin):
    pass


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AxesAccessAttemptAdmin):
    """Failed logins per username and address still counting towards a lockout. Deleting one
    (singly or with the bulk action) unlocks that username at that address."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False
