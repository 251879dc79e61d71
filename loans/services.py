"""Every write to the portfolio: payments and their allocation, balances, delinquency, the daily snapshot."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DecimalField, F, Max, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from .expressions import SqlDialect
from .models import ZERO, DelinquencyBucket, Installment, Loan, Payment, PaymentAllocation, PortfolioSnapshot, Product
from .money import NotMoney, money_parse
from .selectors import bucket_for_days_past_due, buckets_in_order

# ---------------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------------


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
    try:
        amount = money_parse(amount)
    except NotMoney as error:
        raise ValidationError(error.message, code="amount") from error
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
    """Age the whole portfolio as of a day, with the same rules as loan_refresh_delinquency.

    Each id range of `batch_size` loans is one transaction and one UPDATE, which reads the
    range's unpaid installments once, grouped by loan, and sets the oldest unpaid due date, DPD,
    overdue amount, status and bucket together; memory stays flat and a failure leaves whole
    batches. Only loans whose ageing changes are written, so running it again for the same day
    writes nothing. `progress` is called with the number of loans each finished batch covered.
    Returns the number of loans aged."""
    bounds = Loan.objects.aggregate(low=Min("pk"), high=Max("pk"), loans=Count("pk"))
    if bounds["low"] is None:
        return 0
    statement = _AgeingStatement(buckets=buckets_in_order(), as_of=as_of, now=timezone.now())
    for start in range(bounds["low"], bounds["high"] + 1, batch_size):
        end = min(start + batch_size, bounds["high"] + 1)
        with transaction.atomic():
            statement.run(low=start, high=end)
        if progress is not None:
            progress(end - start)
    return bounds["loans"]


def portfolio_refresh_delinquency_range(
    *, as_of: date, low: int, high: int, buckets: list[DelinquencyBucket] | None = None
) -> int:
    """Age the loans with ids in [low, high) as of a day: the one UPDATE of a batch of
    portfolio_refresh_delinquency, in the caller's transaction, for jobs that split the
    portfolio into ranges themselves (the nightly cycle). Returns how many loans were written:
    those whose ageing changed."""
    statement = _AgeingStatement(
        buckets=buckets if buckets is not None else buckets_in_order(), as_of=as_of, now=timezone.now()
    )
    return statement.run(low=low, high=high)


class _AgeingStatement:
    """The set-based form of loan_refresh_delinquency for the loans with ids in [low, high): an
    UPDATE ... FROM a subquery that joins each loan to its unpaid installments (the partial
    index on unpaid installments by loan serves it), groups them per loan and derives every
    ageing field from that one pass. Written for PostgreSQL and SQLite 3.33+ alike."""

    def __init__(self, *, buckets: list[DelinquencyBucket], as_of: date, now: datetime):
        sql = SqlDialect(connection.vendor)
        self.params = {
            "as_of": connection.ops.adapt_datefield_value(as_of),
            "now": connection.ops.adapt_datetimefield_value(now),
            "charged_off": Loan.Status.CHARGED_OFF.value,
            "written_off": Loan.Status.WRITTEN_OFF.value,
            "paid_off": Loan.Status.PAID_OFF.value,
            "delinquent": Loan.Status.DELINQUENT.value,
            "current": Loan.Status.CURRENT.value,
        }
        # A DPD in a gap between the configured bands gets no bucket, as bucket_for_days_past_due.
        bands = []
        for index, bucket in enumerate(buckets):
            self.params[f"bucket_{index}"] = bucket.pk
            self.params[f"bucket_{index}_min"] = bucket.min_dpd
            band = f"dated.days_past_due >= %(bucket_{index}_min)s"
            if bucket.max_dpd is not None:
                self.params[f"bucket_{index}_max"] = bucket.max_dpd
                band += f" AND dated.days_past_due <= %(bucket_{index}_max)s"
            bands.append(f"WHEN {band} THEN %(bucket_{index})s")
        bucket_case = f"CASE {' '.join(bands)} ELSE NULL END" if bands else "CAST(NULL AS bigint)"
        remaining = " + ".join(f"(i.{c}_due - i.{c}_paid)" for c in Installment.COMPONENTS)
        as_of_sql = sql.date_parameter % "%(as_of)s"
        loan, installment, product = Loan._meta.db_table, Installment._meta.db_table, Product._meta.db_table
        changed = " OR ".join(
            f"{loan}.{column} {sql.is_distinct_from} aged.{column}"
            for column in ("oldest_unpaid_due_on", "days_past_due", "overdue_amount", "status", "bucket_id")
        )
        self.sql = f"""
            UPDATE {loan} SET
                oldest_unpaid_due_on = aged.oldest_unpaid_due_on,
                days_past_due = aged.days_past_due,
                overdue_amount = aged.overdue_amount,
                status = aged.status,
                bucket_id = aged.bucket_id,
                delinquency_as_of = {as_of_sql},
                updated_at = %(now)s
            FROM (
                SELECT
                    dated.id,
                    dated.oldest_unpaid_due_on,
                    dated.days_past_due,
                    dated.overdue_amount,
                    CASE
                        WHEN dated.status IN (%(charged_off)s, %(written_off)s) THEN dated.status
                        WHEN dated.oldest_unpaid_due_on IS NULL THEN
                            -- A loan whose schedule has not arrived yet is not paid off.
                            CASE WHEN EXISTS (SELECT 1 FROM {installment} s WHERE s.loan_id = dated.id)
                                THEN %(paid_off)s ELSE %(current)s END
                        WHEN dated.days_past_due > 0 THEN %(delinquent)s
                        ELSE %(current)s
                    END AS status,
                    {bucket_case} AS bucket_id
                FROM (
                    SELECT
                        unpaid.id,
                        unpaid.status,
                        unpaid.oldest_unpaid_due_on,
                        unpaid.overdue_amount,
                        COALESCE({
            sql.greatest(sql.days_between(as_of_sql, "unpaid.oldest_unpaid_due_on") + " - unpaid.grace_days", "0")
        }, 0) AS days_past_due
                    FROM (
                        SELECT
                            loan.id,
                            loan.status,
                            product.grace_days,
                            MIN(i.due_date) AS oldest_unpaid_due_on,
                            COALESCE(SUM(
                                CASE WHEN {sql.days_between(as_of_sql, "i.due_date")} > product.grace_days
                                THEN {remaining} END
                            ), 0) AS overdue_amount
                        FROM {loan} loan
                        JOIN {product} product ON product.id = loan.product_id
                        LEFT JOIN {installment} i
                            ON i.loan_id = loan.id AND NOT i.is_paid
                            AND i.loan_id >= %(low)s AND i.loan_id < %(high)s
                        WHERE loan.id >= %(low)s AND loan.id < %(high)s
                        GROUP BY loan.id, loan.status, product.grace_days
                    ) unpaid
                ) dated
            ) aged
            WHERE {loan}.id = aged.id
                AND {loan}.id >= %(low)s AND {loan}.id < %(high)s
                AND ({changed} OR {loan}.delinquency_as_of {sql.is_distinct_from} {as_of_sql})
        """  # noqa: S608 (names from the model and the dialect, values bound)

    def run(self, *, low: int, high: int) -> int:
        """Age the loans with ids in [low, high); returns how many were written."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, {**self.params, "low": low, "high": high})
            return cursor.rowcount


# ---------------------------------------------------------------------------------------------
# Portfolio snapshot
# ---------------------------------------------------------------------------------------------


def portfolio_snapshot_take(*, as_of: date) -> int:
    """The portfolio per product and bucket on `as_of` (loans, delinquent loans, outstanding
    principal, total outstanding, overdue amount), for roll rates; replaces that day's snapshot.
    Returns the number of rows."""
    rows = (
        Loan.objects.values("product_id", "bucket_id")
        .annotate(
            count=Count("pk"),
            delinquent=Count("pk", filter=Q(status=Loan.Status.DELINQUENT)),
            principal=Sum("outstanding_principal"),
            total=Sum(
                F("outstanding_principal")
                + F("outstanding_interest")
                + F("outstanding_fees")
                + F("outstanding_penalty")
            ),
            overdue=Sum("overdue_amount"),
        )
        .order_by("product_id", "bucket_id")
    )
    with transaction.atomic():
        PortfolioSnapshot.objects.filter(as_of=as_of).delete()
        snapshots = PortfolioSnapshot.objects.bulk_create(
            PortfolioSnapshot(
                as_of=as_of,
                product_id=row["product_id"],
                bucket_id=row["bucket_id"],
                loans=row["count"],
                delinquent_loans=row["delinquent"],
                outstanding_principal=row["principal"],
                total_outstanding=row["total"],
                overdue_amount=row["overdue"],
            )
            for row in rows
        )
    return len(snapshots)
