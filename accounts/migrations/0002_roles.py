from django.db import migrations

from accounts.roles import ROLES, grant_role_permissions, revoke_role_permissions

GRANTS = {
    "collector": ["view_team"],
    "supervisor": ["view_user", "view_team", "change_team"],
    "legal_officer": ["view_team"],
    "admin": ["add_user", "change_user", "view_user", "add_team", "change_team", "delete_team", "view_team"],
}


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    grant_role_permissions(apps, "accounts", GRANTS)


def remove_roles(apps, schema_editor):
    revoke_role_permissions(apps, "accounts", GRANTS)
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
