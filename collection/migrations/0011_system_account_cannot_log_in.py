"""The desk's own `system` account cannot sign in: whatever password someone gave it (the security
review set one through the admin) is replaced by an unusable one, it holds no staff or superuser
flag, and it leaves any team it was put in. accounts.backends.DeskBackend refuses it as well."""

from django.contrib.auth.hashers import make_password
from django.db import migrations

from accounts.roles import SYSTEM_USERNAME


def lock_out(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Team = apps.get_model("accounts", "Team")
    system = User.objects.filter(username=SYSTEM_USERNAME).first()
    if system is None:
        return
    User.objects.filter(pk=system.pk).update(password=make_password(None), is_staff=False, is_superuser=False)
    Team.members.through.objects.filter(user_id=system.pk).delete()
    Team.objects.filter(supervisor_id=system.pk).update(supervisor=None)


def keep_locked_out(apps, schema_editor):
    # Going back does not give the account a password again: it never had a usable one.
    pass


class Migration(migrations.Migration):
    dependencies = [
        ("collection", "0010_admin_filter_indexes"),
        ("accounts", "0004_teams_are_an_admins_decision"),
    ]

    operations = [migrations.RunPython(lock_out, keep_locked_out)]
