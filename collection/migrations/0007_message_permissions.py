"""Who sees the records the scheduled jobs keep: outbound messages for collectors, supervisors
and admins (supervisors follow up the failed ones); job runs for supervisors and admins; case
routing, which admins configure; and the daily portfolio snapshots for supervisors and admins."""

from django.db import migrations

from accounts.roles import grant_role_permissions, revoke_role_permissions

COLLECTION_GRANTS = {
    "collector": ["view_outboundmessage"],
    "supervisor": ["view_outboundmessage", "view_jobrun"],
    "admin": [
        "view_outboundmessage",
        "view_jobrun",
        "view_caserouting",
        "add_caserouting",
        "change_caserouting",
        "delete_caserouting",
    ],
}
LOANS_GRANTS = {
    "supervisor": ["view_portfoliosnapshot"],
    "admin": ["view_portfoliosnapshot"],
}


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "collection", COLLECTION_GRANTS)
    grant_role_permissions(apps, "loans", LOANS_GRANTS)


def backwards(apps, schema_editor):
    revoke_role_permissions(apps, "collection", COLLECTION_GRANTS)
    revoke_role_permissions(apps, "loans", LOANS_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("collection", "0006_default_schedules"),
        ("loans", "0004_portfolio_snapshot"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
