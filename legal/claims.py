"""The claimed amount of a lawsuit (诉讼请求金额): what a borrower owes on a loan on the day the
claim is filed, itemised to the fen as the complaint lists it: principal, interest, fees,
penalty, and the legal costs asked to be borne by the borrower.

The amounts are read from the loan's schedule and the allocations of its standing payments, never
from the balances stored on the loan (those are as of now, the claim is as of its day):

- principal: all of it, due or not, less what the payments received by the day paid of it. A
  lender suing a borrower in default calls the whole loan due (acceleration) and claims the whole
  outstanding principal;
- interest and fees: what fell due on or before the day, less what was paid of it by the day.
  Interest and fees of installments not yet due are not claimed: they have not been earned;
- penalty: the penalty the core banking system charged on the installments due on or before the
  day (the schedule's `penalty_due`), less what was paid of it by the day. The desk accrues no
  penalty of its own (loans.models.Product.daily_penalty_rate is for reference), and neither does
  this module: a penalty charged after the last schedule import is not in the claim.

A payment counts when it stands (it is not reversed, whenever it was reversed) and was received
on or before the day, in the desk's time zone, the day payment_allocate marks an installment
paid on. What the claim leaves out is in docs/legal-claims.md.
"""

import datetime
from dataclasses import dataclass, fields
from decimal import Decimal

from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loans.models import MONEY, ZERO, Installment, Loan, Payment, PaymentAllocation
from loans.money import money_parse

# The items of a claim in the order a complaint lists them, with their labels. Principal,
# interest, fees and penalty are the labels the desk already gives the components of a payment's
# allocation (本金, 利息, 费用, 罚息).
ITEMS: tuple[tuple[str, Promise], ...] = (
    ("principal", gettext_lazy("Principal")),
    ("interest", gettext_lazy("Interest")),
    ("fees", gettext_lazy("Fees")),
    ("penalty", gettext_lazy("Penalty")),
    ("costs", gettext_lazy("Legal costs")),
)
_LABELS = dict(ITEMS)


@dataclass(frozen=True)
class ClaimItem:
    """One line of a claim: `key` is the Claim's field, `label` its name for people."""

    key: str
    label: Promise
    amount: Decimal


@dataclass(frozen=True)
class Claim:
    """What a lawsuit claims on a loan as of a day, in yuan to the fen. Each amount is zero or
    more; `total` is their sum."""

    as_of: datetime.date
    principal: Decimal
    interest: Decimal
    fees: Decimal
    penalty: Decimal
    costs: Decimal = ZERO

    def __post_init__(self):
        for field in fields(self):
            if field.name == "as_of":
                continue
            amount = _amount(getattr(self, field.name), what=str(_LABELS[field.name]))
            object.__setattr__(self, field.name, amount)  # frozen: the one place it is set

    @property
    def total(self) -> Decimal:
        return sum((item.amount for item in self.items()), ZERO)

    def items(self) -> tuple[ClaimItem, ...]:
        """The claim's lines in a complaint's order: principal, interest, fees, penalty, legal
        costs; every line, a zero one too (the caller decides whether to print it)."""
        return tuple(ClaimItem(key=key, label=label, amount=getattr(self, key)) for key, label in ITEMS)


def _amount(value, *, what: str) -> Decimal:
    """`value` as an amount in yuan to the fen, zero or more; a ValueError (NotMoney is one)
    otherwise. Never a float: it would carry binary noise into a court filing."""
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"A claim's {what} is a Decimal, an int or a str amount, not {type(value).__name__} {value!r}.")
    amount = money_parse(value, what=what)
    if amount < 0:
        raise ValueError(_("%(item)s cannot be below zero in a claim: %(amount)s.") % {"item": what, "amount": amount})
    return amount


def _money_sum(field: str, condition: Q | None = None) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), Value(ZERO), output_field=DecimalField(**MONEY))


def claim_as_of(*, loan: Loan, day: datetime.date, costs: Decimal = ZERO) -> Claim:
    """The amount a lawsuit claims on `loan` as of `day` (the filing day, usually): the whole
    outstanding principal, the interest, fees and penalty that fell due on or before `day`, each
    less what the standing payments received by `day` paid of it, and `costs`, the legal costs to
    be borne by the borrower (from the case's ledger). A loan with nothing owed gives a zero
    claim.

    A day before the loan was disbursed, or after the desk's today (in its time zone), is
    refused with a ValueError naming the day: a claim is computed on what has happened. Reads
    only, in two queries whatever the length of the schedule."""
    if isinstance(day, datetime.datetime) or not isinstance(day, datetime.date):
        raise TypeError(f"A claim is computed as of a date, not {type(day).__name__} {day!r}.")
    today = timezone.localdate()
    if day > today:
        raise ValueError(
            _("A claim cannot be computed as of %(day)s: that day is after today, %(today)s.")
            % {"day": day.isoformat(), "today": today.isoformat()}
        )
    if day < loan.disbursed_on:
        raise ValueError(
            _("A claim on loan %(loan)s cannot be computed as of %(day)s: the loan was disbursed on %(disbursed_on)s.")
            % {"loan": loan.account_number, "day": day.isoformat(), "disbursed_on": loan.disbursed_on.isoformat()}
        )
    costs = _amount(costs, what=str(_LABELS["costs"]))

    fell_due = Q(due_date__lte=day)
    due = Installment.objects.filter(loan_id=loan.pk).aggregate(
        principal=_money_sum("principal_due"),
        interest=_money_sum("interest_due", fell_due),
        fees=_money_sum("fees_due", fell_due),
        penalty=_money_sum("penalty_due", fell_due),
    )

    # Received on or before `day` where the desk is: before the next day's midnight there.
    received_by = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time()))
    counted = Payment.objects.standing().filter(loan_id=loan.pk, received_at__lt=received_by)
    allocation_fell_due = Q(installment__due_date__lte=day)
    paid = PaymentAllocation.objects.filter(payment__in=counted).aggregate(
        principal=_money_sum("amount", Q(component=PaymentAllocation.Component.PRINCIPAL)),
        interest=_money_sum("amount", Q(component=PaymentAllocation.Component.INTEREST) & allocation_fell_due),
        fees=_money_sum("amount", Q(component=PaymentAllocation.Component.FEES) & allocation_fell_due),
        penalty=_money_sum("amount", Q(component=PaymentAllocation.Component.PENALTY) & allocation_fell_due),
    )

    return Claim(
        as_of=day,
        principal=due["principal"] - paid["principal"],
        interest=due["interest"] - paid["interest"],
        fees=due["fees"] - paid["fees"],
        penalty=due["penalty"] - paid["penalty"],
        costs=costs,
    )
