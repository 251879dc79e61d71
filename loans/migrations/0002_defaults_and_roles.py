from decimal import Decimal

from django.db import migrations

from accounts.roles import grant_role_permissions, revoke_role_permissions

BUCKETS = [("M0", 0, 0), ("M1", 1, 30), ("M2", 31, 60), ("M3", 61, 90), ("M4+", 91, None)]

PRODUCTS = [
    # code, name, kind, grace days, daily penalty rate
    ("CCI", "信用卡分期", "credit_card_installment", 3, Decimal("0.000500")),
    ("CONSUMER", "消费贷款", "consumer_loan", 0, Decimal("0.000500")),
    ("ONLINE", "线上消费金融", "online_credit", 1, Decimal("0.000600")),
]

VIEW_PORTFOLIO = [
    "view_borrower",
    "view_contact",
    "view_product",
    "view_loan",
    "view_installment",
    "view_payment",
    "view_paymentallocation",
    "view_delinquencybucket",
]
ALL_PORTFOLIO = VIEW_PORTFOLIO + [
    f"{action}_{model}"
    for model in (
        "borrower",
        "contact",
        "product",
        "loan",
        "installment",
        "payment",
        "paymentallocation",
        "delinquencybucket",
    )
    for action in ("add", "change", "delete")
] + ["import_portfolio"]

GRANTS = {
    # Collectors correct contact data as they work (new numbers, wrong numbers).
    "collector": VIEW_PORTFOLIO + ["add_contact", "change_contact"],
    "supervisor": VIEW_PORTFOLIO + ["add_contact", "change_contact", "add_payment"],
    "legal_officer": VIEW_PORTFOLIO,
    "admin": ALL_PORTFOLIO,
}

# Every DPD must fall in at most one bucket; PostgreSQL enforces it, the admin form explains it.
BUCKETS_EXCLUSION = """
ALTER TABLE loans_delinquencybucket ADD CONSTRAINT bucket_ranges_do_not_overlap
EXCLUDE USING gist (int4range(min_dpd, max_dpd, '[]') WITH &&)
"""


def forwards(apps, schema_editor):
    Bucket = apps.get_model("loans", "DelinquencyBucket")
    for name, low, high in BUCKETS:
        Bucket.objects.get_or_create(name=name, defaults={"min_dpd": low, "max_dpd": high})
    Product = apps.get_model("loans", "Product")
    for code, name, kind, grace, penalty in PRODUCTS:
        Product.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "grace_days": grace, "daily_penalty_rate": penalty}
        )
    grant_role_permissions(apps, "loans", GRANTS)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BUCKETS_EXCLUSION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE loans_delinquencybucket DROP CONSTRAINT bucket_ranges_do_not_overlap")
    revoke_role_permissions(apps, "loans", GRANTS)
    apps.get_model("loans", "DelinquencyBucket").objects.filter(name__in=[b[0] for b in BUCKETS]).delete()
    Product = apps.get_model("loans", "Product")
    Product.objects.filter(code__in=[p[0] for p in PRODUCTS], loans__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
