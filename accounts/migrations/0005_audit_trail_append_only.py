"""The audit trail is append-only: on PostgreSQL a trigger refuses every UPDATE and DELETE of an
entry, whoever sends it (the admin, the ORM, a SQL console with the desk's role). Other databases
(SQLite in development) rely on the read-only admin alone. Admins may read the trail."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_trail_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_trail_append_only
    BEFORE UPDATE OR DELETE ON auditlog_logentry
    FOR EACH ROW EXECUTE FUNCTION audit_trail_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_trail_append_only ON auditlog_logentry;
DROP FUNCTION IF EXISTS audit_trail_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)

    return run


GRANTS = {"admin": ["view_logentry"]}


def grant(apps, schema_editor):
    from accounts.roles import grant_role_permissions

    grant_role_permissions(apps, "auditlog", GRANTS)


def revoke(apps, schema_editor):
    from accounts.roles import revoke_role_permissions

    revoke_role_permissions(apps, "auditlog", GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_teams_are_an_admins_decision"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
        # Admins read the trail in the admin.
        migrations.RunPython(grant, revoke),
    ]
