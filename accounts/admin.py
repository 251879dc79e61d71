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


# The audit trail's admin (read only) replaces auditlog's own.
from . import admin_audit  # noqa: E402,F401
