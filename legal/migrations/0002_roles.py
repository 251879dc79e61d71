"""The legal track's permissions for the desk's roles: legal officers work legal cases and keep
their records and costs; supervisors read them and may withdraw a case; admins keep the lists of
courts and law firms and may do everything. The desk's system account may work legal cases: it
closes one as settled when money from enforcement completes a settlement."""

from django.db import migrations

from accounts.roles import grant_role_permissions, revoke_role_permissions

RECORDS = [
    "lawyerletter",
    "mediation",
    "paymentorder",
    "filing",
    "hearing",
    "judgment",
    "enforcement",
    "enforcementreceipt",
    "frozenasset",
    "legalcost",
    "limitationevent",
]
LISTS = ["court", "lawfirm"]
VIEW = [f"view_{model}" for model in ["legalcase", *RECORDS, *LISTS]]
GRANTS = {
    "legal_officer": [*VIEW, "work_legal_case", *(f"add_{model}" for model in RECORDS)],
    "supervisor": [*VIEW, "withdraw_legal_case"],
    "admin": [
        *VIEW,
        "work_legal_case",
        "withdraw_legal_case",
        *(f"{action}_{model}" for model in LISTS for action in ("add", "change", "delete")),
    ],
}


SYSTEM_USERNAME = "system"


def _system_grant(apps):
    system = apps.get_model("accounts", "User").objects.filter(username=SYSTEM_USERNAME).first()
    permission = apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="legal", codename="work_legal_case"
    )
    return system, permission


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "legal", GRANTS)
    system, permission = _system_grant(apps)
    if system is not None:
        system.user_permissions.add(permission)


def backwards(apps, schema_editor):
    system, permission = _system_grant(apps)
    if system is not None:
        system.user_permissions.remove(permission)
    revoke_role_permissions(apps, "legal", GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("legal", "0001_legal_track"),
        ("accounts", "0002_roles"),
        ("collection", "0002_defaults_and_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
