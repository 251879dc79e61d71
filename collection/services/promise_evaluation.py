"""Settling promises to pay and repayment-plan installments against the payments that arrive.

A promise or plan installment is checked against the loan's payments received in its window (a
reversed payment counts for nothing; what was settled before a payment was reversed stays settled):
from when it was made (for a plan installment, from the plan's proposal, the earlier installments
taking their share first) to the end of the day after its due date (one grace day), in the desk's
time zone. The loan's contractual schedule is never touched here."""

import datetime
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, Count, DecimalField, F, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Round
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.desk import desk_day_start
from loans.models import MONEY, ZERO, Payment

from ..exceptions import CollectionError
from ..jobs import Step
from ..machine import WORKING_STAGES, Stage
from ..models import CollectionCase, PlanInstallment, PromiseToPay, RepaymentPlan

__all__ = ["PROMISES_STEP", "promises_evaluate"]

# A promise is kept if the money arrives by the end of the day after its due date.
GRACE_DAYS = 1
# Held cases' clocks stop: their promises and plan installments are not evaluated until resumed.
EVALUATED_STAGES = [stage for stage in Stage.values if stage != Stage.ON_HOLD]
EVALUATION_BATCH_SIZE = 1000

# What promises_evaluate counts, as the job runs that call it (the cycle, promise evaluation) show it.
PROMISES_STEP = Step(
    "promises",
    gettext_lazy("Promises and plans"),
    {
        "promises_kept": gettext_lazy("promises kept"),
        "promises_partially_kept": gettext_lazy("promises partially kept"),
        "promises_broken": gettext_lazy("promises broken"),
        "installments_kept": gettext_lazy("plan installments kept"),
        "installments_partially_kept": gettext_lazy("plan installments partially kept"),
        "installments_missed": gettext_lazy("plan installments missed"),
        "plans_completed": gettext_lazy("plans completed"),
        "plans_broken": gettext_lazy("plans broken"),
        "cases_flagged": gettext_lazy("cases flagged for attention"),
    },
)


def _window_end(due_date: datetime.date) -> datetime.datetime:
    """The end (exclusive) of a promise's window: midnight after its grace day."""
    return desk_day_start(due_date + datetime.timedelta(days=GRACE_DAYS + 1))


def _last_closed_due_date(as_of: datetime.date) -> datetime.date:
    """The latest due date whose window has closed by the start of `as_of`."""
    return as_of - datetime.timedelta(days=GRACE_DAYS + 1)


class _Payments:
    """The payments of some loans over a period, read in one query, summed per window in memory."""

    def __init__(self, *, loan_ids: Iterable[int], start: datetime.datetime, end: datetime.datetime):
        self._by_loan: dict[int, tuple[list[datetime.datetime], list[Decimal]]] = defaultdict(lambda: ([], []))
        rows = (
            Payment.objects.standing()
            .filter(loan_id__in=set(loan_ids), received_at__gte=start, received_at__lt=end)
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


@transaction.atomic
def promises_evaluate(*, as_of: datetime.date) -> dict[str, int]:
    """Settle the pending promises and active plans' installments whose window closed by the start
    of `as_of`. Kept: what was promised arrived in the window; partially kept: something less;
    broken (a plan installment: missed): nothing. A broken promise or missed installment counts
    toward escalation and lifts the case to the top of its collector's queue; a missed installment
    breaks its plan. Cases on hold are left pending (their clocks stop); closed cases' promises
    are settled but touch no counters. Running it again for the same day changes nothing."""
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
    return {key: counts[key] for key in PROMISES_STEP.counts}


def _evaluate_promises(
    *, last_due: datetime.date, now: datetime.datetime, counts: Counter, broken_per_case: Counter
) -> None:
    """Set-based, per due date (the promises of one due date share their window's end): one
    UPDATE writes what each loan received in its promise's window and the status that earns.
    The UPDATE locks the rows and its WHERE is rechecked on them, so two runs at once settle each
    promise once: the second waits, then finds the rows no longer pending."""
    pending = PromiseToPay.objects.filter(
        status=PromiseToPay.Status.PENDING,
        due_date__lte=last_due,
        case_id__in=CollectionCase.objects.filter(stage__in=EVALUATED_STAGES).values("pk"),
    )
    # Read once (the cases' stages with them), then settled a due date at a time by id.
    by_due_date: dict[datetime.date, list[int]] = defaultdict(list)
    for promise_id, due_date in pending.values_list("pk", "due_date"):
        by_due_date[due_date].append(promise_id)
    for due_date, promise_ids in sorted(by_due_date.items()):
        received = (
            Payment.objects.standing()
            .filter(
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
        paid = Round(Coalesce(Subquery(received, output_field=money), ZERO), 2, output_field=money)
        PromiseToPay.objects.filter(pk__in=promise_ids, status=PromiseToPay.Status.PENDING).update(
            amount_paid=paid,
            evaluated_at=now,
            status=Case(
                When(GreaterThanOrEqual(paid, F("amount")), then=Value(PromiseToPay.Status.KEPT)),
                When(GreaterThan(paid, ZERO), then=Value(PromiseToPay.Status.PARTIALLY_KEPT)),
                default=Value(PromiseToPay.Status.BROKEN),
            ),
        )
    settled = PromiseToPay.objects.filter(evaluated_at=now)
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
    """Settle the plan's installments whose windows have closed, oldest first. Installment k is
    credited with what the loan received from the plan's proposal to the end of k's grace day, less
    what the earlier installments asked for: paying ahead carries forward, a shortfall is made up
    before the next installment counts. The last installment kept completes the plan; only
    partially kept, it breaks the plan and flags the case without counting a broken promise.
    Returns the installments settled."""
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
