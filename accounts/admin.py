from contextvars import ContextVar

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.admin import AccessFailureLogAdmin as AxesAccessFailureLogAdmin
from axes.admin import AccessLogAdmin as AxesAccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db.models import Count, Q, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import roles
from .admin_base import ViewOnlyAdmin
from .models import Team, User
from .services import team_members_check

# Fields that grant power: only a superuser sets them (security review F1).
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")

# Who is setting a password on the admin's password page, for its form (which Django builds
# with the target user only).
_acting_user: ContextVar[User | None] = ContextVar("acting_user", default=None)


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


class ReasonedPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's form to set someone's password, asking why: the reason is kept in the admin's
    log (never the password). Setting one's own password needs no reason."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("Why you are setting this person's password (kept in the admin's history)."),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        acting = _acting_user.get()
        if acting is not None and acting.pk == user.pk:
            self.fields["reason"].required = False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Only a superuser grants superuser, staff, roles (groups) or permissions, or changes a
    superuser; others see those fields read-only. A password set on another account says why.
    The desk's own `system` account is shown to superusers only."""

    list_display = ("username", "last_name", "first_name", "email", "roles", "is_active", "is_staff")
    list_filter = ("groups", "is_active", "is_staff", "teams")
    search_fields = ("username", "last_name", "first_name", "email")
    fieldsets = _family_name_first(DjangoUserAdmin.fieldsets) + ((_("Desk"), {"fields": ("phone_extension",)}),)
    change_password_form = ReasonedPasswordChangeForm

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related("groups")
        if not request.user.is_superuser:
            queryset = queryset.exclude(username=roles.SYSTEM_USERNAME)
        return queryset

    def get_search_results(self, request, queryset, search_term):
        """Found by any part of the name, the whole name too, written either way (朱建国, Wei Zhu);
        for the admin's autocomplete of a case's collector, active collectors only."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            whole_names = queryset.annotate(
                _family_first=Concat("last_name", "first_name"),
                _given_first=Concat("first_name", Value(" "), "last_name"),
            ).filter(Q(_family_first__icontains=term) | Q(_given_first__icontains=term))
            found = found | queryset.filter(pk__in=whole_names.values("pk"))
        if request.GET.get("field_name") == "assigned_to":
            found = found.filter(is_active=True, groups__name=roles.COLLECTOR)
        return found, may_have_duplicates

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return fields + tuple(name for name in PRIVILEGE_FIELDS if name not in fields)

    def _may_touch(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        return not obj.is_superuser and obj.username != roles.SYSTEM_USERNAME

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_touch(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_touch(request, obj)

    def user_change_password(self, request, id, form_url=""):
        token = _acting_user.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _acting_user.reset(token)

    def construct_change_message(self, request, form, formsets, add=False):
        if isinstance(form, ReasonedPasswordChangeForm):
            reason = form.cleaned_data.get("reason", "").strip()
            if reason:
                return gettext("Password set. Reason: %(reason)s") % {"reason": reason}
            return gettext("Password set.")
        return super().construct_change_message(request, form, formsets, add)

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(obj.role_names)


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("name", "supervisor", "members")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The desk's own account is never offered: it is nobody's supervisor and in no team.
        for name in ("supervisor", "members"):
            if name in self.fields:
                field = self.fields[name]
                field.queryset = field.queryset.exclude(username=roles.SYSTEM_USERNAME)

    def clean(self):
        cleaned_data = super().clean()
        team_members_check(supervisor=cleaned_data.get("supervisor"), members=cleaned_data.get("members") or [])
        return cleaned_data


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Who is in a team and who supervises it is an admin's decision: supervisors see teams only
    (their role holds no change_team), and the `system` account is never offered."""

    form = TeamForm
    list_display = ("name", "supervisor", "member_count", "created_at")
    search_fields = ("name", "supervisor__username", "members__username")
    # People are chosen by name (the user admin's search), never by id.
    autocomplete_fields = ("supervisor", "members")

    class Media:
        js = ["desk/js/admin-autocomplete-labels.js"]  # names each autocomplete box by its label

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supervisor").annotate(_member_count=Count("members"))

    def has_change_permission(self, request, obj=None):
        # A supervisor never edits a team, even one holding change_team by an old grant.
        if not super().has_change_permission(request, obj):
            return False
        return request.user.is_superuser or roles.ADMIN in roles.user_roles(request.user)

    @admin.display(description=_("members"), ordering="_member_count")
    def member_count(self, obj: Team) -> int:
        return obj._member_count


# --- Logins (django-axes): the desk registers axes' admin itself (AXES_ENABLE_ADMIN = False) ---
# The logs of logins, logouts and failed logins are read-only for everyone: nobody edits or
# deletes the trail. A lockout is lifted by deleting its access attempt (the admin role holds
# view_accessattempt and delete_accessattempt): the username may try again from that address at once.


@admin.register(AccessLog)
class LoginLogAdmin(ViewOnlyAdmin, AxesAccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class FailedLoginLogAdmin(ViewOnlyAdmin, AxesAccessFailureLogAdmin):
    pass


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AxesAccessAttemptAdmin):
    """Failed logins per username and address still counting towards a lockout. Deleting one
    (singly or with the bulk action) unlocks that username at that address."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# The audit trail's admin (read only) replaces auditlog's own.
from . import admin_audit  # noqa: E402,F401
