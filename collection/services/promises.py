"""Promises to pay and repayment plans: taking them, checking them against the payments that
arrive, and proposing, approving, rejecting and cancelling plans.

A promise or plan installment is checked against the loan's payments received in its window: from
when it was made (for a plan installment, from the end of the previous installment's window, or
the plan's proposal for the first) to the end of the day after its due date (one grace day), in the
desk's time zone (Asia/Shanghai). The loan's contractual schedule is never touched here."""

import datetime
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, DecimalField, F, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Round
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from loans.models import MONEY, ZERO, Loan, Payment
from loans.money import CENT, NotMoney, money_parse

from ..exceptions import CollectionError
from ..models import (
    LIVE_PLAN_STATUSES,
    OPEN_STAGES,
    WORKING_STAGES,
    CollectionCase,
    ContactAttempt,
    PlanInstallment,
    PromiseToPay,
    RepaymentPlan,
    Stage,
)
from .cases import case_de_escalate, case_negotiate

__all__ = [
    "promise_take",
    "promises_evaluate",
    "plan_propose",
    "plan_approve",
    "plan_reject",
    "plan_cancel",
]

# A promise is kept if the money arrives by the end of the day after its due date.
GRACE_DAYS = 1
# Held cases' clocks stop: their promises and plan installments are not evaluated until resumed.
EVALUATED_STAGES = [stage for stage in Stage.values if stage != Stage.ON_HOLD]
EVALUATION_BATCH_SIZE = 1000


# --- helpers ---------------------------------------------------------------------------------


def _money(value, *, what: str) -> Decimal:
    """An amount in yuan and fen, or a CollectionError naming `what`."""
    try:
        return money_parse(value)
    except NotMoney as error:
        if error.reason == "not_a_number":
            raise CollectionError(_("%(what)s is not an amount of money.") % {"what": what}) from error
        raise CollectionError(_("%(what)s must be an amount in yuan and fen.") % {"what": what}) from error


def _local_midnight(day: datetime.date) -> datetime.datetime:
    """The start of a day in the desk's time zone (Asia/Shanghai)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def _window_end(due_date: datetime.date) -> datetime.datetime:
    """The end (exclusive) of a promise's window: midnight after its grace day."""
    return _local_midnight(due_date + datetime.timedelta(days=GRACE_DAYS + 1))


def _last_closed_due_date(as_of: datetime.date) -> datetime.date:
    """The latest due date whose window has closed by the start of `as_of`."""
    return as_of - datetime.timedelta(days=GRACE_DAYS + 1)


class _Payments:
    """The payments of some loans over a period, read in one query, summed per window in memory."""

    def __init__(self, *, loan_ids: Iterable[int], start: datetime.datetime, end: datetime.datetime):
        self._by_loan: dict[int, tuple[list[datetime.datetime], list[Decimal]]] = defaultdict(lambda: ([], []))
        rows = (
            Payment.objects.filter(loan_id__in=set(loan_ids), received_at__gte=start, received_at__lt=end)
            .order_by("loan_id", "received_at", "pk")
            .values_list("loan_id", "received_at", "amount")
        )
        for loan_id, received_at, amount in rows:
            times, amounts = self._by_loan[loan_id]
            times.append(received_at)
            amounts.append(amount)

    def received(self, *, loan_id: int, start: datetime.datetime, end: datetime.datetime) -> Decimal:
        """What the loan received from `start` (inclusive) to `end` (exclusive)."""
        times, amounts = self._by_loan.get(loan_id, ([], []))
        first, last = bisect_left(times, start), bisect_left(times, end)
        return sum(amounts[first:last], ZERO)


def _flag_cases(*, broken_per_case: Counter, attention_case_ids: set[int], now: datetime.datetime) -> int:
    """Count broken promises toward escalation and lift the cases to the top of their collector's
    queue. Queryset updates with F(): the stage is protected and concurrency-checked, and nobody's
    transition should lose to the bookkeeping. A case already waiting for attention keeps its
    earlier time, so it does not lose its place in the queue. Returns how many cases were flagged."""
    flagged = attention_case_ids | set(broken_per_case)
    if not flagged:
        return 0
    by_increment: dict[int, list[int]] = defaultdict(list)
    for case_id, broken in broken_per_case.items():
        by_increment[broken].append(case_id)
    increment = Case(
        *(When(pk__in=case_ids, then=Value(broken)) for broken, case_ids in by_increment.items()),
        default=Value(0),
    )
    CollectionCase.objects.filter(stage__in=WORKING_STAGES, pk__in=flagged).update(
        broken_promises=F("broken_promises") + increment,
        attention_since=Coalesce(F("attention_since"), Value(now)),
    )
    return len(flagged)


# --- promises --------------------------------------------------------------------------------


@transaction.atomic
def promise_take(
    *,
    case: CollectionCase,
    by: User,
    amount: Decimal,
    due_date: datetime.date,
    attempt: ContactAttempt | None = None,
) -> PromiseToPay:
    """Record the borrower's promise to pay `amount` by `due_date`.

    The amount is more than zero and at most what the loan still owes in total; the due date is
    today or later (desk time). Only an open case takes promises. A case in reminder moves to
    negotiation, since a promise is grounds for it. A new promise replaces the case's pending
    one (marked superseded), so that one payment never keeps two promises. The promise is later
    settled by promises_evaluate against the payments received from now to the end of the day
    after `due_date`."""
    if not by.has_perm("collection.work_case"):
        raise PermissionDenied(_("You may not take promises to pay."))
    if case.stage not in OPEN_STAGES:
        raise CollectionError(_("Cannot take a promise: the case is %(stage)s.") % {"stage": case.get_stage_display()})
    amount = _money(amount, what=_("The promised amount"))
    outstanding = Loan.objects.get(pk=case.loan_id).total_outstanding
    if amount <= 0 or amount > outstanding:
        raise CollectionError(
            _("A promise must be more than zero and at most the %(outstanding)s the loan owes; %(amount)s is not.")
            % {"outstanding": outstanding, "amount": amount}
        )
    today = timezone.localdate()
    if due_date < today:
        raise CollectionError(
            _("A promise cannot be due in the past (%(due_date)s is before today, %(today)s).")
            % {"due_date": due_date, "today": today}
        )
    if attempt is not None and attempt.case_id != case.pk:
        raise CollectionError(_("The contact attempt belongs to another case."))

    # The case row is locked so that two promises taken at once replace one another in turn.
    CollectionCase.objects.select_for_update().filter(pk=case.pk).values_list("pk").get()
    PromiseToPay.objects.filter(case=case, status=PromiseToPay.Status.PENDING).update(
        status=PromiseToPay.Status.SUPERSEDED, evaluated_at=timezone.now()
    )
    promise = PromiseToPay.objects.create(case=case, amount=amount, due_date=due_date, taken_by=by, attempt=attempt)
    if case.stage == Stage.REMINDER:
        # After the promise exists: the negotiate condition reads pending promises.
        case_negotiate(
            case=case,
            by=by,
            reason=_("Promise to pay %(amount)s by %(due_date)s") % {"amount": amount, "due_date": due_date},
        )
    return promise


@transaction.atomic
def promises_evaluate(*, as_of: datetime.date) -> dict[str, int]:
    """Settle every pending promise and every pending installment of an active repayment plan
    whose window closed by the start of `as_of` (that is, due two days before `as_of` or earlier).

    A promise is kept when the loan received at least the promised amount from the moment it
    was promised to the end of the day after its due date (Asia/Shanghai); partially kept when
    it received something less; broken when nothing arrived. Money that arrives later does not
    mend it. A broken promise counts toward escalation (the case's broken_promises) and lifts the
    case to the top of its collector's queue (attention_since); a partially kept one does neither.

    Plan installments are checked the same way, with the plan's payments allocated oldest
    installment first: installment k is credited with what the loan received from the plan's
    proposal to the end of k's grace day, less what the earlier installments asked for. So paying
    ahead carries forward, and a shortfall is made up before the next installment counts. Credit
    covering the amount: kept; some: partially kept; none: missed. A missed installment counts as
    a broken promise and breaks the plan. When the last installment is kept (everything the plan
    asked for has arrived) the plan is completed; when it is only partially kept the plan is
    broken and the case needs attention, without a broken promise being counted.

    Promises and plans of cases on hold are left pending: a hold stops the case's clocks.
    Promises of closed cases are still settled (for the desk's figures) but touch no counters.
    Only pending rows are read, so a second run for the same day changes nothing.

    Returns counts of what this run decided."""
    if as_of > timezone.localdate():
        raise CollectionError(_("Promises cannot be evaluated as of a day that has not come yet."))
    now = timezone.now()
    last_due = _last_closed_due_date(as_of)
    counts: Counter = Counter()
    broken_per_case: Counter = Counter()
    attention_case_ids: set[int] = set()

    _evaluate_promises(last_due=last_due, now=now, counts=counts, broken_per_case=broken_per_case)
    _evaluate_plans(
        last_due=last_due, now=now, counts=counts, broken_per_case=broken_per_case, attention=attention_case_ids
    )
    counts["cases_flagged"] = _flag_cases(
        broken_per_case=broken_per_case, attention_case_ids=attention_case_ids, now=now
    )
    keys = (
        "promises_kept",
        "promises_partially_kept",
        "promises_broken",
        "installments_kept",
        "installments_partially_kept",
        "installments_missed",
        "plans_completed",
        "plans_broken",
        "cases_flagged",
    )
    return {key: counts[key] for key in keys}


def _evaluate_promises(
    *, last_due: datetime.date, now: datetime.datetime, counts: Counter, broken_per_case: Counter
) -> None:
    """Set-based, per due date (the promises of one due date share their window's end): one
    UPDATE writes what each loan received in its promise's window, one more the status that
    earns. The first UPDATE locks the rows and its WHERE is rechecked on them, so two runs at
    once settle each promise once: the second waits, then finds the rows no longer pending."""
    pending = PromiseToPay.objects.filter(
        status=PromiseToPay.Status.PENDING,
        due_date__lte=last_due,
        case_id__in=CollectionCase.objects.filter(stage__in=EVALUATED_STAGES).values("pk"),
    )
    for due_date in pending.order_by("due_date").values_list("due_date", flat=True).distinct():
        received = (
            Payment.objects.filter(
                loan__collection_cases=OuterRef("case_id"),
                received_at__gte=OuterRef("promised_at"),
                received_at__lt=_window_end(due_date),
            )
            .order_by()
            .values("loan_id")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        money = DecimalField(**MONEY)
        pending.filter(due_date=due_date).update(
            amount_paid=Round(Coalesce(Subquery(received, output_field=money), ZERO), 2, output_field=money),
            evaluated_at=now,
        )
    settled = PromiseToPay.objects.filter(evaluated_at=now)
    settled.filter(status=PromiseToPay.Status.PENDING).update(
        status=Case(
            When(amount_paid__gte=F("amount"), then=Value(PromiseToPay.Status.KEPT)),
            When(amount_paid__gt=0, then=Value(PromiseToPay.Status.PARTIALLY_KEPT)),
            default=Value(PromiseToPay.Status.BROKEN),
        )
    )
    for status, settled_count in settled.order_by().values_list("status").annotate(Count("pk")):
        counts[f"promises_{status}"] += settled_count
    broken = settled.filter(status=PromiseToPay.Status.BROKEN).order_by().values_list("case_id")
    broken_per_case.update(dict(broken.annotate(Count("pk"))))


def _evaluate_plans(
    *, last_due: datetime.date, now: datetime.datetime, counts: Counter, broken_per_case: Counter, attention: set[int]
) -> None:
    due_plan_ids = PlanInstallment.objects.filter(status=PlanInstallment.Status.PENDING, due_date__lte=last_due).values(
        "plan_id"
    )
    due = (
        RepaymentPlan.objects.select_for_update(of=("self",))
        .filter(status=RepaymentPlan.Status.ACTIVE, case__stage__in=EVALUATED_STAGES, pk__in=due_plan_ids)
        .select_related("case")
        .order_by("pk")
    )
    after = 0
    while True:
        plans = list(due.filter(pk__gt=after)[:EVALUATION_BATCH_SIZE])
        if not plans:
            return
        after = plans[-1].pk
        installments_by_plan: dict[int, list[PlanInstallment]] = defaultdict(list)
        for installment in PlanInstallment.objects.filter(plan__in=plans).order_by("plan_id", "sequence"):
            installments_by_plan[installment.plan_id].append(installment)
        payments = _Payments(
            loan_ids={plan.case.loan_id for plan in plans},
            start=min(plan.proposed_at for plan in plans),
            end=max(
                _window_end(installment.due_date)
                for plan in plans
                for installment in installments_by_plan[plan.pk]
                if installment.due_date <= last_due
            ),
        )
        evaluated: list[PlanInstallment] = []
        for plan in plans:
            evaluated += _evaluate_plan(
                plan=plan,
                installments=installments_by_plan[plan.pk],
                payments=payments,
                last_due=last_due,
                now=now,
                counts=counts,
                broken_per_case=broken_per_case,
                attention=attention,
            )
        PlanInstallment.objects.bulk_update(evaluated, ["status", "amount_paid", "evaluated_at"])
        # A plan that ended (completed or broken) is no longer active.
        RepaymentPlan.objects.bulk_update(
            [plan for plan in plans if plan.status != RepaymentPlan.Status.ACTIVE], ["status"]
        )


def _evaluate_plan(
    *,
    plan: RepaymentPlan,
    installments: Sequence[PlanInstallment],
    payments: _Payments,
    last_due: datetime.date,
    now: datetime.datetime,
    counts: Counter,
    broken_per_case: Counter,
    attention: set[int],
) -> list[PlanInstallment]:
    """Settle the plan's installments whose windows have closed, oldest first, ending the plan
    (completed or broken) when they decide it. Returns the installments settled."""
    evaluated: list[PlanInstallment] = []
    asked_before = ZERO  # what the installments before this one asked for
    for installment in installments:
        if installment.status != PlanInstallment.Status.PENDING:
            asked_before += installment.amount
            continue
        if installment.due_date > last_due:
            break
        received = payments.received(
            loan_id=plan.case.loan_id, start=plan.proposed_at, end=_window_end(installment.due_date)
        )
        credit = min(installment.amount, max(received - asked_before, ZERO))
        installment.amount_paid = credit
        installment.evaluated_at = now
        evaluated.append(installment)
        is_last = installment is installments[-1]
        if credit >= installment.amount:
            installment.status = PlanInstallment.Status.KEPT
            counts["installments_kept"] += 1
            if is_last:
                plan.status = RepaymentPlan.Status.COMPLETED
                counts["plans_completed"] += 1
                return evaluated
        elif credit > 0:
            installment.status = PlanInstallment.Status.PARTIALLY_KEPT
            counts["installments_partially_kept"] += 1
            if is_last:
                plan.status = RepaymentPlan.Status.BROKEN
                counts["plans_broken"] += 1
                attention.add(plan.case_id)
                return evaluated
        else:
            installment.status = PlanInstallment.Status.MISSED
            counts["installments_missed"] += 1
            broken_per_case[plan.case_id] += 1
            plan.status = RepaymentPlan.Status.BROKEN
            counts["plans_broken"] += 1
            return evaluated
        asked_before += installment.amount
    return evaluated


# --- repayment plans -------------------------------------------------------------------------


def _plan_schedule(installments: Sequence[tuple[datetime.date, Decimal]]) -> list[tuple[datetime.date, Decimal]]:
    if not installments:
        raise CollectionError(_("A repayment plan needs at least one payment."))
    today = timezone.localdate()
    schedule = []
    previous: datetime.date | None = None
    for number, (due_date, amount) in enumerate(installments, start=1):
        amount = _money(amount, what=_("Plan payment %(number)s") % {"number": number})
        if amount <= 0:
            raise CollectionError(_("Plan payment %(number)s must be more than zero.") % {"number": number})
        if due_date < today:
            raise CollectionError(
                _("Plan payment %(number)s is due in the past (%(due_date)s).")
                % {"number": number, "due_date": due_date}
            )
        if previous is not None and due_date <= previous:
            raise CollectionError(
                _("Plan payment %(number)s (%(due_date)s) must fall after the one before it (%(previous)s).")
                % {"number": number, "due_date": due_date, "previous": previous}
            )
        schedule.append((due_date, amount))
        previous = due_date
    return schedule


def _term_months(first: datetime.date, last: datetime.date) -> int:
    """Whole months from the first to the last plan date, a part month counting as one."""
    difference = relativedelta(last, first)
    months = difference.years * 12 + difference.months
    return months + 1 if difference.days else months


def _policy_breaches(*, loan: Loan, schedule: Sequence[tuple[datetime.date, Decimal]], waiver: Decimal) -> list[str]:
    """The product's plan limits this plan exceeds, each in words."""
    product = loan.product
    breaches = []
    first_date, last_date = schedule[0][0], schedule[-1][0]
    if last_date > first_date + relativedelta(months=product.plan_max_term_months):
        breaches.append(
            _("Term: the plan runs %(months)s months from its first to its last payment; the product allows %(max)s.")
            % {"months": _term_months(first_date, last_date), "max": product.plan_max_term_months}
        )
    max_waiver = product.plan_max_waiver_share * loan.outstanding_penalty
    if waiver > max_waiver:
        breaches.append(
            _(
                "Penalty waiver: %(waiver)s is more than %(share)s%% of the %(penalty)s outstanding penalty "
                "(at most %(max)s)."
            )
            % {
                "waiver": waiver,
                "share": _percent(product.plan_max_waiver_share),
                "penalty": loan.outstanding_penalty,
                "max": max_waiver.quantize(CENT),
            }
        )
    total = sum((amount for _due, amount in schedule), ZERO)
    min_first = product.plan_min_first_payment_share * total
    if schedule[0][1] < min_first:
        breaches.append(
            _("First payment: %(first)s is less than %(share)s%% of the plan's %(total)s (at least %(min)s).")
            % {
                "first": schedule[0][1],
                "share": _percent(product.plan_min_first_payment_share),
                "total": total,
                "min": min_first.quantize(CENT),
            }
        )
    return breaches


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}"


def _plan_activated(*, plan: RepaymentPlan, case: CollectionCase, by: User) -> None:
    """An agreed plan takes an escalated case back to negotiation, and a case in reminder on to it."""
    reason = _("Repayment plan of %(total)s agreed") % {"total": plan.total_amount}
    if case.stage == Stage.ESCALATION:
        case_de_escalate(case=case, by=by, reason=reason)
    elif case.stage == Stage.REMINDER:
        case_negotiate(case=case, by=by, reason=reason)


@transaction.atomic
def plan_propose(
    *,
    case: CollectionCase,
    by: User,
    installments: list[tuple[datetime.date, Decimal]],
    waive_penalty: Decimal = ZERO,
) -> RepaymentPlan:
    """Propose a repayment plan: payments (date, amount) beside the loan's contractual schedule,
    which stays untouched, optionally waiving part of the penalty.

    Dates are today or later and strictly increasing, amounts more than zero. The plan's total
    plus the waiver must cover at least what is overdue on the loan and at most what it owes in
    total; the waiver is at most the outstanding penalty. Within the product's policy (longest
    term from first to last payment, largest share of the penalty waived, smallest first payment
    as a share of the plan's total) the plan is active at once, moving an escalated case back to
    negotiation (and a case in reminder on to it); beyond it, the plan waits for a supervisor, its
    breaches listed in words. A case has at most one plan pending or active."""
    if not by.has_perm("collection.work_case"):
        raise PermissionDenied(_("You may not propose repayment plans."))
    if case.stage not in OPEN_STAGES:
        raise CollectionError(_("Cannot propose a plan: the case is %(stage)s.") % {"stage": case.get_stage_display()})
    schedule = _plan_schedule(installments)
    waiver = _money(waive_penalty, what=_("The penalty waiver"))
    loan = Loan.objects.select_related("product").get(pk=case.loan_id)
    if waiver < 0 or waiver > loan.outstanding_penalty:
        raise CollectionError(
            _("The penalty waiver must be between zero and the %(penalty)s outstanding penalty.")
            % {"penalty": loan.outstanding_penalty}
        )
    total = sum((amount for _due, amount in schedule), ZERO)
    if total + waiver < loan.overdue_amount:
        raise CollectionError(
            _(
                "The plan's %(total)s and the %(waiver)s waived do not cover the %(overdue)s overdue; "
                "a plan must at least bring the loan up to date."
            )
            % {"total": total, "waiver": waiver, "overdue": loan.overdue_amount}
        )
    if total + waiver > loan.total_outstanding:
        raise CollectionError(
            _("The plan's %(total)s and the %(waiver)s waived are more than the %(outstanding)s the loan owes.")
            % {"total": total, "waiver": waiver, "outstanding": loan.total_outstanding}
        )
    if RepaymentPlan.objects.filter(case=case, status__in=LIVE_PLAN_STATUSES).exists():
        raise _live_plan_exists()

    breaches = _policy_breaches(loan=loan, schedule=schedule, waiver=waiver)
    now = timezone.now()
    try:
        with transaction.atomic():
            plan = RepaymentPlan.objects.create(
                case=case,
                status=RepaymentPlan.Status.PENDING_APPROVAL if breaches else RepaymentPlan.Status.ACTIVE,
                total_amount=total,
                waived_penalty=waiver,
                policy_breaches="\n".join(breaches),
                proposed_by=by,
                proposed_at=now,
                decided_at=None if breaches else now,
            )
    except IntegrityError as error:  # another plan became live at the same moment
        raise _live_plan_exists() from error
    PlanInstallment.objects.bulk_create(
        PlanInstallment(plan=plan, sequence=number, due_date=due_date, amount=amount)
        for number, (due_date, amount) in enumerate(schedule, start=1)
    )
    if plan.status == RepaymentPlan.Status.ACTIVE:
        _plan_activated(plan=plan, case=case, by=by)
    return plan


def _live_plan_exists() -> CollectionError:
    return CollectionError(
        _("This case already has a repayment plan awaiting approval or active: cancel it before proposing another.")
    )


def _plan_update(*, plan: RepaymentPlan, allowed: Sequence[str], **fields) -> None:
    """Write `fields` on the plan if it is still in one of `allowed`, in one conditional UPDATE,
    so that of two people deciding at once only the first succeeds."""
    if not RepaymentPlan.objects.filter(pk=plan.pk, status__in=allowed).update(**fields):
        current = RepaymentPlan.objects.filter(pk=plan.pk).values_list("status", flat=True).first()
        raise CollectionError(
            _("The plan is %(status)s now, so this cannot be done.")
            % {"status": RepaymentPlan.Status(current).label if current else _("gone")}
        )
    for name, value in fields.items():
        setattr(plan, name, value)


def _plan_decide(*, plan: RepaymentPlan, by: User, status: str, reason: str, allowed: Sequence[str]) -> None:
    """Move the plan to `status` if it is still in one of `allowed`, recording the decision."""
    _plan_update(
        plan=plan, allowed=allowed, status=status, decided_by=by, decided_at=timezone.now(), decision_reason=reason
    )


@transaction.atomic
def plan_approve(*, plan: RepaymentPlan, by: User, reason: str = "") -> RepaymentPlan:
    """A supervisor approves a plan beyond policy: it becomes active, moving an escalated case
    back to negotiation (and a case in reminder on to it), with the approver as the actor.
    Only plans awaiting approval on open cases are approved."""
    if not by.has_perm("collection.approve_plan"):
        raise PermissionDenied(_("Only a supervisor may approve repayment plans."))
    case = CollectionCase.objects.get(pk=plan.case_id)
    if case.stage not in OPEN_STAGES:
        raise CollectionError(
            _("Cannot approve the plan: the case is %(stage)s.") % {"stage": case.get_stage_display()}
        )
    _plan_decide(
        plan=plan,
        by=by,
        status=RepaymentPlan.Status.ACTIVE,
        reason=reason,
        allowed=[RepaymentPlan.Status.PENDING_APPROVAL],
    )
    plan.case = case
    _plan_activated(plan=plan, case=case, by=by)
    return plan


@transaction.atomic
def plan_reject(*, plan: RepaymentPlan, by: User, reason: str) -> RepaymentPlan:
    """A supervisor turns down a plan awaiting approval, saying why."""
    if not by.has_perm("collection.approve_plan"):
        raise PermissionDenied(_("Only a supervisor may reject repayment plans."))
    if not reason.strip():
        raise CollectionError(_("Rejecting a plan needs its reason."))
    _plan_decide(
        plan=plan,
        by=by,
        status=RepaymentPlan.Status.REJECTED,
        reason=reason,
        allowed=[RepaymentPlan.Status.PENDING_APPROVAL],
    )
    return plan


@transaction.atomic
def plan_cancel(*, plan: RepaymentPlan, by: User, reason: str) -> RepaymentPlan:
    """Call off a plan awaiting approval or active (the borrower wants another, or the case moved
    on), saying why; the case's stage stays as it is and its unsettled installments are no longer
    checked. Who cancelled and why are kept beside the approval, which stays on record."""
    if not by.has_perm("collection.work_case"):
        raise PermissionDenied(_("You may not cancel repayment plans."))
    if not reason.strip():
        raise CollectionError(_("Cancelling a plan needs its reason."))
    _plan_update(
        plan=plan,
        allowed=LIVE_PLAN_STATUSES,
        status=RepaymentPlan.Status.CANCELLED,
        cancelled_by=by,
        cancelled_at=timezone.now(),
        cancel_reason=reason,
    )
    return plan
