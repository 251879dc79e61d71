"""The demo's three products, how their loans look, and where the portfolio should stand on the
as-of day."""

from dataclasses import dataclass
from decimal import Decimal

from loans.models import Payment, Product

EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
EQUAL_PRINCIPAL = "equal_principal"  # 等额本金


@dataclass(frozen=True)
class ProductProfile:
    """How loans of one product look. Amounts in yuan, rates in ten-thousandths a year, fees in
    ten-thousandths of the principal a month."""

    code: str
    name: str
    kind: str
    grace_days: int
    daily_penalty_rate: Decimal
    share: int
    account_prefix: str
    principal_yuan: tuple[int, int]
    principal_step: int
    terms: tuple[int, ...]
    term_weights: tuple[int, ...]
    annual_rate: tuple[int, int]
    monthly_fee: tuple[int, int]
    fee_share: float
    equal_principal_share: float


PROFILES = (
    # Credit-card installments: no interest, a monthly installment fee on the original principal.
    ProductProfile(
        "CCI",
        "信用卡分期",
        Product.Kind.CREDIT_CARD_INSTALLMENT,
        3,
        Decimal("0.000500"),
        30,
        "CC",
        (3_000, 50_000),
        100,
        (3, 6, 9, 12, 18, 24),
        (15, 25, 10, 30, 10, 10),
        (0, 0),
        (55, 75),
        1.0,
        1.0,
    ),
    # Consumer loans (car, renovation): bank rates, mostly equal installments.
    ProductProfile(
        "CONSUMER",
        "消费贷款",
        Product.Kind.CONSUMER_LOAN,
        0,
        Decimal("0.000500"),
        15,
        "CL",
        (20_000, 300_000),
        1_000,
        (12, 18, 24, 36),
        (30, 15, 35, 20),
        (400, 1_500),
        (0, 0),
        0.0,
        0.3,
    ),
    # Online consumer credit: small amounts, short terms, rates up to the 24% ceiling, often a service fee.
    ProductProfile(
        "ONLINE",
        "线上消费金融",
        Product.Kind.ONLINE_CREDIT,
        1,
        Decimal("0.000600"),
        55,
        "OL",
        (500, 20_000),
        100,
        (3, 6, 9, 12),
        (30, 35, 10, 25),
        (1_200, 2_400),
        (10, 30),
        0.3,
        0.0,
    ),
)

CURRENT, PAID_OFF = "current", "paid_off"
# What share of loans ends in which state as of the as-of day, and the DPD band of each.
TARGET_STATES = (
    (CURRENT, 82, None),
    ("M1", 7, (1, 30)),
    ("M2", 3, (31, 60)),
    ("M3", 2, (61, 90)),
    ("M4+", 3, (91, None)),
    (PAID_OFF, 3, None),
)

PAYMENT_CHANNELS = (
    Payment.Channel.CARD.value,  # auto-debit on the due date
    Payment.Channel.APP.value,
    Payment.Channel.BANK_TRANSFER.value,
    Payment.Channel.CASH.value,
    Payment.Channel.OTHER.value,
)
PAYMENT_CHANNEL_WEIGHTS = (30, 45, 20, 3, 2)


def demo_products() -> dict[str, Product]:
    """The three products the desk ships with (the migration creates them; admins may have
    changed grace days or penalty rates, which the demo then follows)."""
    products = {}
    for profile in PROFILES:
        products[profile.code], _created = Product.objects.get_or_create(
            code=profile.code,
            defaults={
                "name": profile.name,
                "kind": profile.kind,
                "grace_days": profile.grace_days,
                "daily_penalty_rate": profile.daily_penalty_rate,
            },
        )
    return products
