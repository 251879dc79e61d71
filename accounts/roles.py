"""The desk's roles. Each role is a Group; the apps grant their permissions to the roles in
their own data migrations (see grant_role_permissions), so dependencies keep pointing one way."""

from django.utils.translation import gettext_lazy as _

COLLECTOR = "collector"
SUPERVISOR = "supervisor"
LEGAL_OFFICER = "legal_officer"
ADMIN = "admin"

ROLE_LABELS = {
    COLLECTOR: _("Collector"),
    SUPERVISOR: _("Supervisor"),
    LEGAL_OFFICER: _("Legal officer"),
    ADMIN: _("Admin"),
}
ROLES = tuple(ROLE_LABELS)

# The desk's own account (created by collection's migration 0002): the actor the scheduled jobs
# record their transitions, allocations and sends under. Nobody logs in as it.
SYSTEM_USERNAME = "system"


def user_roles(user) -> frozenset[str]:
    """The user's role names, read once per user object (the object caches them)."""
    cached = getattr(user, "_desk_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True)) if user.pk else frozenset()
        user._desk_roles = cached
    return cached


def held_roles(user) -> frozenset[str]:
    """The roles `user` acts in: their role names, a superuser counting as an admin."""
    held = user_roles(user)
    return held | {ADMIN} if user.is_superuser else held


def grant_role_permissions(apps, app_label: str, grants: dict[str, list[str]]) -> None:
    """Give each role the listed codenames of `app_label`, creating the permission rows first
    (inside migrations they do not exist yet: Django makes them after `migrate` finishes)."""
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in grants.items():
        group, _created = Group.objects.get_or_create(name=role)
        permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise LookupError(f"unknown permissions for {app_label}: {sorted(missing)}")
        group.permissions.add(*permissions)


def revoke_role_permissions(apps, app_label: str, grants: dict[str, list[str]]) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in grants.items():
        permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*permissions)
