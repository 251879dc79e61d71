"""The legal track's permissions for the desk's roles: legal officers work legal cases and keep
their records and costs; supervisors read them and may withdraw a case; admins keep the lists of
courts and law firms and may do everything."""

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


def forwards(apps, schema_editor):
    grant_role_permissions(apps, "legal", GRANTS)


def backwards(apps, schema_editor):
    revoke_role_permissions(apps, "legal", GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("legal", "0001_legal_track"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
