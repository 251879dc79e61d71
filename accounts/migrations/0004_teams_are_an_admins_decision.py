"""Supervisors no longer change teams (membership and a team's supervisor are an admin's decision),
and the database refuses the desk's own `system` account as a team's supervisor or member."""

from django.db import migrations

from accounts.roles import SYSTEM_USERNAME, grant_role_permissions, revoke_role_permissions

SUPERVISORS_CHANGING_TEAMS = {"supervisor": ["change_team"]}

# One function for both tables: the user named by the row (supervisor_id or user_id) must not be
# the system account. PostgreSQL only: elsewhere the form and team_update refuse it.
GUARD_SQL = f"""
CREATE FUNCTION accounts_refuse_system_in_team() RETURNS trigger AS $$
DECLARE
    person bigint;
BEGIN
    IF TG_TABLE_NAME = 'accounts_team' THEN
        person := NEW.supervisor_id;
    ELSE
        person := NEW.user_id;
    END IF;
    IF person IS NOT NULL AND EXISTS (
        SELECT 1 FROM accounts_user WHERE id = person AND username = '{SYSTEM_USERNAME}'
    ) THEN
        RAISE EXCEPTION 'the system account cannot supervise or join a team' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_team_no_system_supervisor
    BEFORE INSERT OR UPDATE OF supervisor_id ON accounts_team
    FOR EACH ROW EXECUTE FUNCTION accounts_refuse_system_in_team();
CREATE TRIGGER accounts_team_members_no_system
    BEFORE INSERT OR UPDATE OF user_id ON accounts_team_members
    FOR EACH ROW EXECUTE FUNCTION accounts_refuse_system_in_team();
"""

UNGUARD_SQL = """
DROP TRIGGER IF EXISTS accounts_team_members_no_system ON accounts_team_members;
DROP TRIGGER IF EXISTS accounts_team_no_system_supervisor ON accounts_team;
DROP FUNCTION IF EXISTS accounts_refuse_system_in_team();
"""


def revoke_team_changes(apps, schema_editor):
    revoke_role_permissions(apps, "accounts", SUPERVISORS_CHANGING_TEAMS)


def restore_team_changes(apps, schema_editor):
    grant_role_permissions(apps, "accounts", SUPERVISORS_CHANGING_TEAMS)


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD_SQL)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD_SQL)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_admin_role_reads_logins_and_unlocks")]

    operations = [
        migrations.RunPython(revoke_team_changes, restore_team_changes),
        migrations.RunPython(guard, unguard),
    ]
