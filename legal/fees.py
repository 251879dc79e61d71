"""Court fees for a property case, as the State Council's schedule sets them (诉讼费用交纳办法,
Decree No. 481, 2007): the filing fee (案件受理费, Article 13) and the application fees for
preservation and enforcement (申请费, Article 14), each cumulative over tiers of the amount.

Each fee is the flat fee of the first tier plus, for each tier above it, the tier's rate on the
part of the amount that falls in it; the total is rounded once, to the fen, half up. An amount
of zero is the smallest amount "up to" the first tier and pays its flat fee (a case with nothing
to value pays it too: 30 yuan for a preservation, Article 14).

What the schedule charges and what these functions leave out is in docs/legal-fees.md.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from loans.money import CENT, money_parse

from .models import Procedure

# The share of the filing fee each procedure pays, as a divisor.
_FILING_FEE_DIVISOR = {Procedure.ORDINARY: 1, Procedure.SIMPLIFIED: 2, Procedure.PAYMENT_ORDER: 3}


@dataclass(frozen=True)
class Tier:
    """The part of an amount up to `up_to` (from the previous tier's bound) pays `percent` of
    itself; the last tier has no bound."""

    up_to: Decimal | None
    percent: Decimal


@dataclass(frozen=True)
class FeeSchedule:
    """A fee that is `flat` for any amount up to `flat_up_to`, plus each tier's rate on the part
    of the amount in it, and never more than `cap` when there is one."""

    flat: Decimal
    flat_up_to: Decimal
    tiers: tuple[Tier, ...]
    cap: Decimal | None = None

    def __post_init__(self):
        bounds = [self.flat_up_to, *(tier.up_to for tier in self.tiers[:-1])]
        if self.tiers[-1].up_to is not None or None in bounds or bounds != sorted(set(bounds)):
            raise ValueError("A fee schedule's tiers must rise, and only the last may be unbounded.")


def _tiers(*rows: tuple[str | None, str]) -> tuple[Tier, ...]:
    return tuple(Tier(None if up_to is None else Decimal(up_to), Decimal(percent)) for up_to, percent in rows)


# Article 13: the filing fee (案件受理费) of a property case.
FILING_FEE = FeeSchedule(
    flat=Decimal("50"),
    flat_up_to=Decimal("10000"),
    tiers=_tiers(
        ("100000", "2.5"),
        ("200000", "2"),
        ("500000", "1.5"),
        ("1000000", "1"),
        ("2000000", "0.9"),
        ("5000000", "0.8"),
        ("10000000", "0.7"),
        ("20000000", "0.6"),
        (None, "0.5"),
    ),
)

# Article 14: applying for preservation (财产保全), on the amount actually preserved.
PRESERVATION_FEE = FeeSchedule(
    flat=Decimal("30"),
    flat_up_to=Decimal("1000"),
    tiers=_tiers(("100000", "1"), (None, "0.5")),
    cap=Decimal("5000"),
)

# Article 14: applying for enforcement (申请执行) of an amount.
ENFORCEMENT_FEE = FeeSchedule(
    flat=Decimal("50"),
    flat_up_to=Decimal("10000"),
    tiers=_tiers(("500000", "1.5"), ("5000000", "1"), ("10000000", "0.5"), (None, "0.1")),
)


def _claim_amount(amount) -> Decimal:
    """`amount` as yuan and fen: a Decimal, an int or the text of a decimal; never a float (it
    would carry binary noise into the fee) and never below zero."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int | str):
        raise TypeError(
            f"A court fee is computed on a Decimal, an int or a str amount, not on {type(amount).__name__} {amount!r}."
        )
    value = money_parse(amount)  # NotMoney (a ValueError) for NaN, infinity, text that is no amount, sub-fen
    if value < 0:
        raise ValueError(
            _("A court fee is computed on an amount of zero or more, not on %(amount)s.") % {"amount": amount}
        )
    return value


def _cumulative_fee(schedule: FeeSchedule, amount: Decimal) -> Decimal:
    """The fee on `amount` by `schedule`, unrounded: rounding each tier would add up their errors."""
    fee, lower = schedule.flat, schedule.flat_up_to
    for tier in schedule.tiers:
        if amount <= lower:
            break
        upper = amount if tier.up_to is None else min(amount, tier.up_to)
        fee += (upper - lower) * tier.percent / 100
        lower = tier.up_to
    return fee if schedule.cap is None else min(fee, schedule.cap)


def _in_fen(fee: Decimal) -> Decimal:
    return fee.quantize(CENT, rounding=ROUND_HALF_UP)


def litigation_fee(amount, procedure, *, ended_by_mediation_or_withdrawal: bool = False) -> Decimal:
    """The filing fee, in yuan to the fen, for a property claim of `amount` heard by `procedure`
    (a `Procedure` or its value): the full fee in ordinary procedure, half in simplified
    procedure, a third for a payment order.

    A lawsuit ended by mediation or withdrawn pays half the fee (Article 15). The halvings of
    Articles 15 and 16 do not add up: a simplified case ended by mediation still pays half, as
    the courts apply them. A payment order is an application, not a lawsuit: it is neither
    mediated nor withdrawn in this sense, and asking for it is refused."""
    try:
        procedure = Procedure(procedure)
    except ValueError:
        raise ValueError(
            _("%(procedure)r is not a court procedure; the procedures are %(procedures)s.")
            % {"procedure": procedure, "procedures": ", ".join(Procedure.values)}
        ) from None
    value = _claim_amount(amount)
    divisor = _FILING_FEE_DIVISOR[procedure]
    if ended_by_mediation_or_withdrawal:
        if procedure == Procedure.PAYMENT_ORDER:
            raise ValueError(_("A payment order is not ended by mediation or withdrawal; its fee is not halved."))
        divisor = 2
    return _in_fen(_cumulative_fee(FILING_FEE, value) / divisor)


def preservation_fee(amount) -> Decimal:
    """The fee, in yuan to the fen, for applying to preserve property worth `amount`: at most
    5,000 yuan whatever the amount."""
    return _in_fen(_cumulative_fee(PRESERVATION_FEE, _claim_amount(amount)))


def enforcement_fee(amount) -> Decimal:
    """The fee, in yuan to the fen, for applying to enforce a judgment (or another enforceable
    title) for `amount`."""
    return _in_fen(_cumulative_fee(ENFORCEMENT_FEE, _claim_amount(amount)))
