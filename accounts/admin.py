from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Team, User
from .roles import ROLE_LABELS


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "last_name", "first_name", "email", "roles", "is_active", "is_staff")
    list_filter = ("groups", "is_active", "is_staff", "teams")
    fieldsets = DjangoUserAdmin.fieldsets + ((_("Desk"), {"fields": ("phone_extension",)}),)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(str(ROLE_LABELS.get(group.name, group.name)) for group in obj.groups.all())


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
