"""The admin role reads the log of logins, logouts and failed logins (django-axes), and lifts a
lockout by deleting the access attempt behind it."""

from django.db import migrations

from accounts.roles import grant_role_permissions, revoke_role_permissions

GRANTS = {
    "admin": ["view_accesslog", "view_accessfailurelog", "view_accessattempt", "delete_accessattempt"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "axes", GRANTS)


def revoke(apps, schema_editor):
    revoke_role_permissions(apps, "axes", GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
