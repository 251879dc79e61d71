"""Every write to the portfolio: payments and their allocation, balances, delinquency, the daily snapshot."""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DecimalField, F, Max, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles
from accounts.audit import audit_reveal

from .access import loans_visible
from .dialect import SqlDialect
from .models import (
    ZERO,
    AgeingRun,
    Borrower,
    Contact,
    DelinquencyBucket,
    Installment,
    Loan,
    Payment,
    PaymentAllocation,
    PaymentReversal,
    PortfolioSnapshot,
    Product,
)
from .money import NotMoney, money_parse
from .selectors import ageing_run_last, bucket_for_days_past_due, buckets_in_order, portfolio_day

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
) -> Payment:
    """Record a payment and allocate it oldest installment first; within an installment penalty,
    then fees, then interest, then principal, to the cent.

    A payment above the loan's total outstanding is refused (the desk does not hold credit
    balances), and so is a reference already recorded from the same source, so that a
    re-import never counts a payment twice. Either refusal leaves nothing behind. The loan is
    aged at once, as of the portfolio's day."""
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
    loan_refresh_delinquency(loan=loan)
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
# Payment reversals
# ---------------------------------------------------------------------------------------------


def _loan_access_check(*, loan_id: int, by) -> None:
    """Refuse a loan outside `by`'s reach (loans.access: the loans behind their cases)."""
    if not loans_visible(by, Loan.objects.filter(pk=loan_id)).exists():
        raise PermissionDenied(_("This loan is not of a case of yours."))


def payment_reversal_threshold() -> Decimal:
    """Reversals of payments above this amount wait for a second person's approval
    (settings.DESK_PAYMENT_REVERSAL_APPROVAL_ABOVE)."""
    return Decimal(str(settings.DESK_PAYMENT_REVERSAL_APPROVAL_ABOVE))


@transaction.atomic
def payment_reverse(*, payment: Payment, by, reason: str) -> PaymentReversal:
    """Undo a mistaken payment, by someone allowed to reverse payments, for a reason kept with it.

    Up to the threshold the payment is reversed at once (payment_reversal_apply). Above it the
    reversal is only requested: it waits for someone else allowed to approve reversals
    (payment_reversal_approve). A payment already reversed, or with a reversal waiting, is
    refused. The loan is locked first, as payment_record locks it, so that a payment recorded on
    the same loan at the same time is allocated either before the reversal or after it."""
    if not by.has_perm("loans.reverse_payment"):
        raise PermissionDenied(_("You may not reverse payments."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("A reversal needs its reason."), code="reason")
    _loan_access_check(loan_id=payment.loan_id, by=by)
    loan = Loan.objects.select_for_update().get(pk=payment.loan_id)
    payment = Payment.objects.get(pk=payment.pk)  # read again under the loan's lock: the copy given may be stale
    if payment.is_reversed:
        raise ValidationError(
            _("Payment %(reference)s is already reversed.") % {"reference": payment.reference}, code="already_reversed"
        )
    if payment.reversals.filter(status=PaymentReversal.Status.PENDING_APPROVAL).exists():
        raise ValidationError(
            _("A reversal of payment %(reference)s is already waiting for approval.")
            % {"reference": payment.reference},
            code="reversal_pending",
        )
    now = timezone.now()
    reversal = PaymentReversal(payment=payment, reason=reason, requested_by=by, requested_at=now)
    if payment.amount > payment_reversal_threshold():
        reversal.status = PaymentReversal.Status.PENDING_APPROVAL
        reversal.save()
        return reversal
    reversal.status = PaymentReversal.Status.REVERSED
    reversal.reversed_at = now
    reversal.save()
    _reversal_apply(payment=payment, loan=loan, at=now)
    return reversal


@transaction.atomic
def payment_reversal_approve(*, reversal: PaymentReversal, by) -> PaymentReversal:
    """Approve a reversal waiting for approval and reverse the payment at once. The approver
    holds the approval permission and is not the person who asked for it (four eyes)."""
    if not by.has_perm("loans.approve_payment_reversal"):
        raise PermissionDenied(_("You may not approve payment reversals."))
    _loan_access_check(loan_id=reversal.payment.loan_id, by=by)
    loan = Loan.objects.select_for_update().get(pk=reversal.payment.loan_id)
    reversal = PaymentReversal.objects.select_for_update().select_related("payment").get(pk=reversal.pk)
    _check_pending(reversal)
    if reversal.requested_by_id == by.pk:
        raise PermissionDenied(_("A reversal you asked for needs someone else's approval."))
    now = timezone.now()
    reversal.status = PaymentReversal.Status.REVERSED
    reversal.decided_by, reversal.decided_at, reversal.reversed_at = by, now, now
    reversal.save(update_fields=["status", "decided_by", "decided_at", "reversed_at"])
    _reversal_apply(payment=reversal.payment, loan=loan, at=now)
    return reversal


@transaction.atomic
def payment_reversal_reject(*, reversal: PaymentReversal, by, reason: str) -> PaymentReversal:
    """Turn down a reversal waiting for approval, for a reason: the payment stands as it was."""
    if not by.has_perm("loans.approve_payment_reversal"):
        raise PermissionDenied(_("You may not approve payment reversals."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Turning a reversal down needs its reason."), code="reason")
    _loan_access_check(loan_id=reversal.payment.loan_id, by=by)
    reversal = PaymentReversal.objects.select_for_update().select_related("payment").get(pk=reversal.pk)
    _check_pending(reversal)
    reversal.status = PaymentReversal.Status.REJECTED
    reversal.decided_by, reversal.decided_at, reversal.decision_reason = by, timezone.now(), reason
    reversal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return reversal


def _check_pending(reversal: PaymentReversal) -> None:
    if reversal.status != PaymentReversal.Status.PENDING_APPROVAL:
        raise ValidationError(
            _("The reversal of payment %(reference)s is no longer waiting for approval (%(status)s).")
            % {"reference": reversal.payment.reference, "status": reversal.get_status_display()},
            code="not_pending",
        )


def _reversal_apply(*, payment: Payment, loan: Loan, at: datetime) -> None:
    """Give back to the installments, to the cent, what the payment's allocations paid (an
    installment no longer paid in full is unpaid again), mark the payment reversed, and recompute
    the loan's balances and ageing. The caller holds the loan's lock. The allocations stay, as
    the record of what the payment paid before it was reversed; later payments keep theirs."""
    allocations = list(payment.allocations.all())
    installments = Installment.objects.select_for_update().in_bulk({a.installment_id for a in allocations})
    for allocation in allocations:
        installment = installments[allocation.installment_id]
        field = f"{allocation.component}_paid"
        setattr(installment, field, getattr(installment, field) - allocation.amount)
    for installment in installments.values():
        if installment.total_remaining > 0:
            installment.is_paid, installment.paid_on = False, None
    Installment.objects.bulk_update(
        list(installments.values()),
        [f"{component}_paid" for component in Installment.COMPONENTS] + ["is_paid", "paid_on"],
    )
    Payment.objects.filter(pk=payment.pk).update(reversed_at=at)
    payment.reversed_at = at
    balances_recompute(loans=Loan.objects.filter(pk=loan.pk))
    loan.refresh_from_db()
    loan_refresh_delinquency(loan=loan)


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


def loan_refresh_delinquency(
    *, loan: Loan, as_of: date | None = None, buckets: list[DelinquencyBucket] | None = None
) -> Loan:
    """Age one loan as of the portfolio's day (or `as_of`, inside an ageing_run of that day).

    DPD counts the days from the due date of the oldest installment not fully paid, moved on
    by the product's grace days, to the day: an installment due that day, or still within its
    grace days, is not late. The loan stores where its grace ends; its DPD is read from that
    and the portfolio's day. The overdue amount is what remains unpaid on late installments.
    Charged-off and written-off loans keep their status; everything else becomes paid off
    (a schedule with nothing left unpaid), delinquent or current. Every service that changes a
    loan's schedule or payments calls this at once."""
    as_of = as_of or portfolio_day()
    grace = Product.objects.values_list("grace_days", flat=True).get(pk=loan.product_id)
    unpaid = list(loan.installments.filter(is_paid=False).order_by("due_date"))
    oldest = unpaid[0].due_date if unpaid else None
    loan.oldest_unpaid_due_on = oldest
    loan.grace_ends_on = oldest + timedelta(days=grace) if oldest else None
    days_past_due = max((as_of - loan.grace_ends_on).days, 0) if oldest else 0
    loan.overdue_amount = sum(
        (installment.total_remaining for installment in unpaid if (as_of - installment.due_date).days > grace), ZERO
    )
    loan.status = _status_for(
        loan=loan,
        has_unpaid=bool(unpaid),
        has_schedule=bool(unpaid) or loan.installments.exists(),
        days_past_due=days_past_due,
    )
    loan.bucket = bucket_for_days_past_due(days_past_due, buckets=buckets)
    loan.needs_ageing = False
    loan.save(update_fields=[*Loan.AGEING_FIELDS, "needs_ageing", "updated_at"])
    loan.days_past_due = days_past_due
    return loan


def ageing_rules(buckets: list[DelinquencyBucket]) -> str:
    """A digest of what ageing depends on besides the day, the schedules and the payments: the
    buckets' bands and the products' grace days. A run with other rules than the last reads every loan."""
    bands = [(bucket.pk, bucket.min_dpd, bucket.max_dpd) for bucket in buckets]
    graces = list(Product.objects.order_by("pk").values_list("pk", "grace_days"))
    return hashlib.sha256(repr((bands, graces)).encode()).hexdigest()


@contextmanager
def ageing_run(*, as_of: date, full: bool = True, rules: str | None = None) -> Iterator[AgeingRun]:
    """Record an ageing of the portfolio as of `as_of` around the work that does it: the run is
    written when it starts (so that a run cut short is read again by the next) and marked
    finished when the block ends without an error; from then on `as_of` is the portfolio's day."""
    run = AgeingRun.objects.create(
        as_of=as_of, full=full, rules=rules or ageing_rules(buckets_in_order()), started_at=timezone.now()
    )
    yield run
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at", "loans_read", "loans_written"])


# Beyond this many days between the days the portfolio may be aged as of and the new day, a run
# reads every loan: the loans crossing an edge are then a large part of the portfolio anyway.
INCREMENTAL_SPAN_DAYS = 7


def portfolio_refresh_delinquency(
    *, as_of: date, batch_size: int = 20_000, progress: Callable[[int], None] | None = None, full: bool = False
) -> AgeingRun:
    """Age the portfolio as of a day, with the same rules as loan_refresh_delinquency, and make
    it the portfolio's day. Only loans whose stored ageing changes are written.

    Which loans are read: since the last finished run (and any run after it that did not
    finish) a loan's stored ageing can only change if its DPD crosses the edge of a bucket or
    the first day late, if one of its unpaid installments falls late, or if it was marked as
    needing ageing. Those loans are found through indexes and aged in one statement. Every loan
    is read, in id ranges of `batch_size` loans, each its own transaction (memory stays flat, a
    failure leaves whole batches), when `full` is asked, on the first run, when the buckets or
    grace days changed, or when the days lie more than INCREMENTAL_SPAN_DAYS apart (a back-filled
    or what-if day). `progress` is called with the number of loans each finished batch covered.
    Returns the finished run, with the loans it read and wrote."""
    buckets = buckets_in_order()
    rules = ageing_rules(buckets)
    since = ageing_run_last()
    earlier = [since, *AgeingRun.objects.filter(finished_at__isnull=True, pk__gt=since.pk)] if since else []
    days = [as_of, *(run.as_of for run in earlier)]
    full = (
        full
        or not earlier
        or any(run.rules != rules for run in earlier)
        or (max(days) - min(days)).days > INCREMENTAL_SPAN_DAYS
    )
    statement = _AgeingStatement(buckets=buckets, as_of=as_of, now=timezone.now())
    if not full:
        with transaction.atomic(), ageing_run(as_of=as_of, full=False, rules=rules) as run:
            run.loans_read, run.loans_written = statement.run_crossing(since=min(days), until=max(days))
            if progress is not None:
                progress(run.loans_read)
        return run
    bounds = Loan.objects.aggregate(low=Min("pk"), high=Max("pk"), loans=Count("pk"))
    with ageing_run(as_of=as_of, full=True, rules=rules) as run:
        run.loans_read = bounds["loans"]
        if bounds["low"] is not None:
            for start in range(bounds["low"], bounds["high"] + 1, batch_size):
                end = min(start + batch_size, bounds["high"] + 1)
                with transaction.atomic():
                    run.loans_written += statement.run_range(low=start, high=end)
                if progress is not None:
                    progress(end - start)
    return run


class _AgeingStatement:
    """The set-based form of loan_refresh_delinquency: an UPDATE ... FROM a subquery that joins
    each loan read to its unpaid installments (the partial index on unpaid installments by loan
    serves it), groups them per loan and derives every stored ageing field from that one pass,
    writing only the loans where one of them changes. Written for PostgreSQL and SQLite 3.33+."""

    STORED = tuple(Loan._meta.get_field(name).column for name in Loan.AGEING_FIELDS)

    def __init__(self, *, buckets: list[DelinquencyBucket], as_of: date, now: datetime):
        self.sql = SqlDialect(connection.vendor)
        self.buckets = buckets
        self.as_of = as_of
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
        self.bucket_case = f"CASE {' '.join(bands)} ELSE NULL END" if bands else "CAST(NULL AS bigint)"

    def _date(self, name: str) -> str:
        return self.sql.date_parameter % f"%({name})s"

    def _update(self, loans_read: str, installments_read: str = "TRUE") -> str:
        """The UPDATE of the loans `loans_read` selects (a condition on their id, `{id}`). The
        same condition narrows the rows updated, and `installments_read` (on `{loan_id}`) their
        installments, so that the plan reaches both through their indexes, never a whole table."""
        sql = self.sql
        remaining = " + ".join(f"(i.{c}_due - i.{c}_paid)" for c in Installment.COMPONENTS)
        as_of = self._date("as_of")
        loan, installment, product = Loan._meta.db_table, Installment._meta.db_table, Product._meta.db_table
        changed = " OR ".join(f"{loan}.{column} {sql.is_distinct_from} aged.{column}" for column in self.STORED)
        return f"""
            UPDATE {loan} SET
                {", ".join(f"{column} = aged.{column}" for column in self.STORED)},
                needs_ageing = FALSE,
                updated_at = %(now)s
            FROM (
                SELECT
                    dated.id,
                    dated.oldest_unpaid_due_on,
                    dated.grace_ends_on,
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
                    {self.bucket_case} AS bucket_id
                FROM (
                    SELECT
                        unpaid.*,
                        COALESCE({sql.greatest(sql.days_between(as_of, "unpaid.grace_ends_on"), "0")}, 0)
                            AS days_past_due
                    FROM (
                        SELECT
                            loan.id,
                            loan.status,
                            MIN(i.due_date) AS oldest_unpaid_due_on,
                            {sql.add_days("MIN(i.due_date)", "product.grace_days")} AS grace_ends_on,
                            COALESCE(SUM(
                                CASE WHEN {sql.days_between(as_of, "i.due_date")} > product.grace_days
                                THEN {remaining} END
                            ), 0) AS overdue_amount
                        FROM {loan} loan
                        JOIN {product} product ON product.id = loan.product_id
                        LEFT JOIN {installment} i
                            ON i.loan_id = loan.id AND NOT i.is_paid AND {installments_read.format(loan_id="i.loan_id")}
                        WHERE {loans_read.format(id="loan.id")}
                        GROUP BY loan.id, loan.status, product.grace_days
                    ) unpaid
                ) dated
            ) aged
            WHERE {loan}.id = aged.id AND {loans_read.format(id=f"{loan}.id")}
                AND ({changed} OR {loan}.needs_ageing)
        """  # noqa: S608 (names from the model and the dialect, values bound)

    def run_range(self, *, low: int, high: int) -> int:
        """Age the loans with ids in [low, high); returns how many were written."""
        with connection.cursor() as cursor:
            cursor.execute(
                self._update("{id} >= %(low)s AND {id} < %(high)s", "{loan_id} >= %(low)s AND {loan_id} < %(high)s"),
                {**self.params, "low": low, "high": high},
            )
            return cursor.rowcount

    def run_crossing(self, *, since: date, until: date) -> tuple[int, int]:
        """Age the loans whose stored ageing can differ between any two days from `since` to
        `until` (the days the portfolio may have been aged as of, and the new day): those whose
        DPD crosses an edge (the first day late, a bucket's first day, the day after its last),
        those with an unpaid installment falling late, and those marked as needing ageing.
        Returns (loans read, loans written)."""
        loan, installment, product = Loan._meta.db_table, Installment._meta.db_table, Product._meta.db_table
        sql = self.sql
        # DPD is never below 0: an edge at 0 is crossed by no loan.
        edges = sorted(
            {1, *(b.min_dpd for b in self.buckets), *(b.max_dpd + 1 for b in self.buckets if b.max_dpd is not None)}
            - {0}
        )
        params = dict(self.params)
        params["since"] = connection.ops.adapt_datefield_value(since)
        params["until"] = connection.ops.adapt_datefield_value(until)
        crossing = []
        for index, edge in enumerate(edges):
            # DPD below `edge` on `since` and at least `edge` on `until`.
            params[f"edge_{index}_after"] = connection.ops.adapt_datefield_value(since - timedelta(days=edge))
            params[f"edge_{index}_until"] = connection.ops.adapt_datefield_value(until - timedelta(days=edge))
            crossing.append(
                f"(l.grace_ends_on > {self._date(f'edge_{index}_after')} "
                f"AND l.grace_ends_on <= {self._date(f'edge_{index}_until')})"
            )
        graces = Product.objects.aggregate(low=Min("grace_days"), high=Max("grace_days"))
        # An installment is late on day x when x - due date > grace: it falls late between
        # `since` and `until` when its due date lies in [since - grace, until - grace). When it is
        # its loan's oldest unpaid one, the loan crosses the first edge and is read as such; the
        # others are found through the partial index of unpaid installments' due dates (with the
        # loan's id in it), then their loans' grace days.
        params["due_from"] = connection.ops.adapt_datefield_value(since - timedelta(days=graces["high"] or 0))
        params["due_before"] = connection.ops.adapt_datefield_value(until - timedelta(days=graces["low"] or 0))
        candidates = f"""
            SELECT l.id FROM {loan} l WHERE l.needs_ageing
            UNION SELECT l.id FROM {loan} l WHERE {" OR ".join(crossing)}
            UNION SELECT i.loan_id FROM {installment} i
                JOIN {loan} l ON l.id = i.loan_id JOIN {product} p ON p.id = l.product_id
                WHERE NOT i.is_paid
                    AND i.due_date >= {self._date("due_from")} AND i.due_date < {self._date("due_before")}
                    AND EXISTS (SELECT 1 FROM {installment} o
                                WHERE o.loan_id = i.loan_id AND NOT o.is_paid AND o.due_date < i.due_date)
                    AND {sql.days_between(self._date("since"), "i.due_date")} <= p.grace_days
                    AND {sql.days_between(self._date("until"), "i.due_date")} > p.grace_days
        """  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE ageing_read AS {candidates}", params)  # noqa: S608
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE ageing_read")  # a plan for the loans read, not for an empty table
            cursor.execute("SELECT count(*) FROM ageing_read")
            (read,) = cursor.fetchone()
            cursor.execute(self._update("{id} IN (SELECT id FROM ageing_read)"), params)
            written = cursor.rowcount
            cursor.execute("DROP TABLE ageing_read")
        return read, written


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


# ---------------------------------------------------------------------------------------------
# Personal numbers shown in full
# ---------------------------------------------------------------------------------------------

# The roles whose work needs a borrower's full national ID or a contact's full number (checking an
# identity on the phone, a court filing); everyone else sees them masked.
REVEAL_ROLES = frozenset({roles.ADMIN, roles.SUPERVISOR})


def may_reveal(user) -> bool:
    return user.is_active and (user.is_superuser or bool(REVEAL_ROLES & roles.user_roles(user)))


def borrower_national_id_reveal(*, borrower: Borrower, by) -> str:
    """The borrower's full national ID, for an admin or a supervisor who asks for it; each reveal
    is recorded in the audit trail (who, whose, when)."""
    if not may_reveal(by):
        raise PermissionDenied(_("Only an admin or a supervisor may see a full national ID number."))
    audit_reveal(borrower, field="national_id", by=by)
    return borrower.national_id


def contact_value_reveal(*, contact: Contact, by) -> str:
    """The contact's full number or address, for an admin or a supervisor who asks for it; each
    reveal is recorded in the audit trail."""
    if not may_reveal(by):
        raise PermissionDenied(_("Only an admin or a supervisor may see a full phone number."))
    audit_reveal(contact, field="value", by=by)
    return contact.value
