"""The audit trail in the admin: read only, for everyone, superusers included (entries are never
changed or deleted; on PostgreSQL a trigger refuses it too). Admins list the entries by model,
actor and date; national IDs and phone numbers are masked in what was stored."""

from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth import get_user_model

from accounts.admin_base import ViewOnlyAdmin


class ActorFilter(admin.SimpleListFilter):
    """The desk's staff who appear as actors (not every user of the desk: collectors without staff
    access are found by searching the actor's name)."""

    title = LogEntry._meta.get_field("actor").verbose_name
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        users = get_user_model().objects.filter(is_staff=True).order_by("username")
        return [(str(user.pk), str(user)) for user in users]

    def queryset(self, request, queryset):
        return queryset.filter(actor_id=self.value()) if self.value() else queryset


admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditEntryAdmin(ViewOnlyAdmin, LogEntryAdmin):
    list_filter = ["action", ResourceTypeFilter, ActorFilter]
    # By who did it and what it was done to; never by values (the changes hold masked numbers,
    # and a number typed in the search box would sit in the URL).
    search_fields = ["object_repr", "actor__username", "actor__first_name", "actor__last_name"]

    def get_actions(self, request):
        return {}
