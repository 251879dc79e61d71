"""Every write to the portfolio: payments and their allocation, balances, delinquency."""

import operator
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import reduce

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, DecimalField, Exists, F, Max, Min, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from .expressions import DaysBetween
from .models import ZERO, DelinquencyBucket, Installment, Loan, Payment, PaymentAllocation, Product
from .selectors import bucket_for_days_past_due, buckets_in_order

CENT = Decimal("0.01")


def _remaining_expression():
    """What is still unpaid on an installment, summed over its components, in SQL."""
    return reduce(
        operator.add, (F(f"{component}_due") - F(f"{component}_paid") for component in Installment.COMPONENTS)
    )


# ---------------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------------


def _money(amount) -> Decimal:
    try:
        value = Decimal(str(amount))
    except ArithmeticError as error:
        raise ValidationError(_("%(amount)s is not an amount of money.") % {"amount": amount}, code="amount") from error
    if not value.is_finite() or value != value.quantize(CENT):
        raise ValidationError(
            _("%(amount)s is not an amount of money in yuan and fen.") % {"amount": amount}, code="amount"
        )
    return value.quantize(CENT)


@transaction.atomic
def payment_record(
    *,
    loan: Loan,
    amount: Decimal,
    received_at: datetime,
    reference: str,
    channel: str,
    source: str = "manual",
    recorded_by=None,
    as_of: date | None = None,
) -> Payment:
    """Record a payment and allocate it oldest installment first; within an installment penalty,
    then fees, then interest, then principal, to the cent.

    A payment above the loan's total outstanding is refused (the desk does not hold credit
    balances), and so is a reference already recorded from the same source, so that a
    re-import never counts a payment twice. Either refusal leaves nothing behind."""
    amount = _money(amount)
    if amount <= 0:
        raise ValidationError(_("A payment must be more than zero."), code="amount")
    if timezone.is_naive(received_at):
        raise ValidationError(_("The time a payment was received needs a time zone."), code="received_at")
    if channel not in Payment.Channel.values:
        raise ValidationError(_("Unknown payment channel %(channel)s.") % {"channel": channel}, code="channel")
    reference = reference.strip()
    if not reference:
        raise ValidationError(_("A payment needs its reference."), code="reference")
    if Payment.objects.filter(source=source, reference=reference).exists():
        raise _duplicate_reference(source, reference)

    # Lock the loan so that two payments for it are allocated one after the other.
    loan = Loan.objects.select_for_update().select_related("product").get(pk=loan.pk)
    unpaid = list(loan.installments.select_for_update().filter(is_paid=False).order_by("due_date", "sequence"))
    total_outstanding = sum((installment.total_remaining for installment in unpaid), ZERO)
    if amount > total_outstanding:
        raise ValidationError(
            _("The payment of %(amount)s is more than the %(outstanding)s outstanding on loan %(loan)s.")
            % {"amount": amount, "outstanding": total_outstanding, "loan": loan.account_number},
            code="overpayment",
        )

    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                loan=loan,
                amount=amount,
                received_at=received_at,
                channel=channel,
                source=source,
                reference=reference,
                recorded_by=recorded_by,
            )
    except IntegrityError as error:  # the same reference recorded concurrently
        raise _duplicate_reference(source, reference) from error

    allocations, touched = payment_allocate(payment=payment, unpaid=unpaid)

    Installment.objects.bulk_update(
        touched, [f"{component}_paid" for component in Installment.COMPONENTS] + ["is_paid", "paid_on"]
    )
    PaymentAllocation.objects.bulk_create(allocations)
    balances_recompute(loans=Loan.objects.filter(pk=loan.pk))
    loan.refresh_from_db()
    loan_refresh_delinquency(loan=loan, as_of=as_of or timezone.localdate())
    return payment


def payment_allocate(
    *, payment: Payment, unpaid: list[Installment]
) -> tuple[list[PaymentAllocation], list[Installment]]:
    """Allocate a payment over a loan's installments in memory, saving nothing: oldest first
    (`unpaid` ordered by due date, then number; installments already paid are passed over),
    within one penalty, fees, interest, then principal, to the cent. An installment paid in
    full is marked paid on the local day the payment was received. The caller has checked that
    the payment is not above what is outstanding. Returns the allocations (unsaved) and the
    installments changed, for payment_record and for imports that record payments in bulk."""
    paid_on = timezone.localdate(payment.received_at)
    left = payment.amount
    allocations: list[PaymentAllocation] = []
    touched: list[Installment] = []
    for installment in unpaid:
        if left == 0:
            break
        if installment.is_paid:
            continue
        for component in Installment.COMPONENTS:
            share = min(left, installment.remaining(component))
            if share <= 0:
                continue
            setattr(installment, f"{component}_paid", getattr(installment, f"{component}_paid") + share)
            allocations.append(
                PaymentAllocation(payment=payment, installment=installment, component=component, amount=share)
            )
            left -= share
        if installment.total_remaining == 0:
            installment.is_paid = True
            installment.paid_on = paid_on
        touched.append(installment)
    return allocations, touched


def _duplicate_reference(source: str, reference: str) -> ValidationError:
    return ValidationError(
        _("Payment %(reference)s from %(source)s is already recorded.") % {"reference": reference, "source": source},
        code="duplicate_reference",
    )


# ---------------------------------------------------------------------------------------------
# Balances and delinquency
# ---------------------------------------------------------------------------------------------


def balances_recompute(*, loans) -> int:
    """Set each loan's outstanding principal, interest, fees and penalty from its schedule, in
    one UPDATE for the whole queryset. Returns the number of loans written."""
    updates = {}
    for component in Installment.COMPONENTS:
        remaining = (
            Installment.objects.filter(loan=OuterRef("pk"))
            .values("loan")
            .annotate(total=Sum(F(f"{component}_due") - F(f"{component}_paid")))
            .values("total")
        )
        updates[f"outstanding_{component}"] = Coalesce(
            Subquery(remaining, output_field=DecimalField(max_digits=14, decimal_places=2)), Value(ZERO)
        )
    return loans.update(**updates)


def _status_for(*, loan: Loan, has_unpaid: bool, has_schedule: bool, days_past_due: int) -> str:
    if loan.status in Loan.CLOSED_BY_DECISION:
        return loan.status
    if not has_unpaid:
        # A loan whose schedule has not arrived yet is not paid off.
        return Loan.Status.PAID_OFF if has_schedule else Loan.Status.CURRENT
    return Loan.Status.DELINQUENT if days_past_due > 0 else Loan.Status.CURRENT


def loan_refresh_delinquency(*, loan: Loan, as_of: date, buckets: list[DelinquencyBucket] | None = None) -> Loan:
    """Age one loan as of a day.

    DPD counts the days from the due date of the oldest installment not fully paid, moved on
    by the product's grace days, to `as_of`: an installment due today, or still within its
    grace days, is not late. The overdue amount is what remains unpaid on late installments.
    Charged-off and written-off loans keep their status; everything else becomes paid off
    (a schedule with nothing left unpaid), delinquent or current."""
    grace = Product.objects.values_list("grace_days", flat=True).get(pk=loan.product_id)
    unpaid = list(loan.installments.filter(is_paid=False).order_by("due_date"))
    if unpaid:
        oldest = unpaid[0].due_date
        days_past_due = max((as_of - oldest).days - grace, 0)
    else:
        oldest = None
        days_past_due = 0
    loan.oldest_unpaid_due_on = oldest
    loan.days_past_due = days_past_due
    loan.overdue_amount = sum(
        (installment.total_remaining for installment in unpaid if (as_of - installment.due_date).days > grace), ZERO
    )
    loan.status = _status_for(
        loan=loan,
        has_unpaid=bool(unpaid),
        has_schedule=bool(unpaid) or loan.installments.exists(),
        days_past_due=days_past_due,
    )
    bucket = bucket_for_days_past_due(days_past_due, buckets=buckets)
    loan.bucket = bucket
    loan.delinquency_as_of = as_of
    loan.save(
        update_fields=[
            "oldest_unpaid_due_on",
            "days_past_due",
            "overdue_amount",
            "status",
            "bucket",
            "delinquency_as_of",
            "updated_at",
        ]
    )
    return loan


def portfolio_refresh_delinquency(
    *, as_of: date, batch_size: int = 20_000, progress: Callable[[int], None] | None = None
) -> int:
    """Age the whole portfolio as of a day, with the same rules as loan_refresh_delinquency, in
    set-based UPDATE statements over id ranges (each range one transaction), so that memory
    stays flat and a failure leaves whole batches. `progress` is called with the number of
    loans each finished batch covered. Returns the number of loans aged."""
    bounds = Loan.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return 0
    buckets = buckets_in_order()
    aged = 0
    for start in range(bounds["low"], bounds["high"] + 1, batch_size):
        with transaction.atomic():
            batch = Loan.objects.filter(pk__gte=start, pk__lt=start + batch_size)
            aged += _refresh_batch(batch, as_of=as_of, buckets=buckets)
        if progress is not None:
            progress(min(batch_size, bounds["high"] + 1 - start))
    return aged


def _refresh_batch(batch, *, as_of: date, buckets: list[DelinquencyBucket]) -> int:
    as_of_value = Value(as_of)
    grace = Subquery(Product.objects.filter(pk=OuterRef("product_id")).values("grace_days")[:1])
    unpaid = Installment.objects.filter(loan=OuterRef("pk"), is_paid=False)
    oldest = Subquery(unpaid.order_by("due_date").values("due_date")[:1])
    overdue = Subquery(
        unpaid.annotate(days_late=DaysBetween(as_of_value, F("due_date")))
        .filter(days_late__gt=F("loan__product__grace_days"))
        .values("loan")
        .annotate(total=Sum(_remaining_expression()))
        .values("total"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    aged = batch.update(
        oldest_unpaid_due_on=oldest,
        days_past_due=Coalesce(Greatest(DaysBetween(as_of_value, oldest) - grace, Value(0)), Value(0)),
        overdue_amount=Coalesce(overdue, Value(ZERO)),
        delinquency_as_of=as_of_value,
        updated_at=Value(timezone.now()),
    )
    batch.exclude(status__in=Loan.CLOSED_BY_DECISION).update(
        status=Case(
            When(
                Q(oldest_unpaid_due_on__isnull=True) & Exists(Installment.objects.filter(loan=OuterRef("pk"))),
                then=Value(Loan.Status.PAID_OFF),
            ),
            When(days_past_due__gt=0, then=Value(Loan.Status.DELINQUENT)),
            default=Value(Loan.Status.CURRENT),
        )
    )
    covered = Q()
    for bucket in buckets:
        in_band = Q(days_past_due__gte=bucket.min_dpd)
        if bucket.max_dpd is not None:
            in_band &= Q(days_past_due__lte=bucket.max_dpd)
        covered |= in_band
        batch.filter(in_band).exclude(bucket=bucket).update(bucket=bucket)
    # A DPD that falls in a gap between the configured bands gets no bucket.
    uncovered = batch.exclude(covered) if buckets else batch
    uncovered.exclude(bucket__isnull=True).update(bucket=None)
    return aged
