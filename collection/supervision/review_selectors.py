"""The review pages' reads: the escalation requests and the off-policy repayment plans awaiting a
supervisor's decision, each with what the decision needs in view, read in a fixed number of
queries whatever the number of rows. Who sees which is collection.selectors' (the pending
requests and plans a user may decide: their teams' cases, never their own requests or plans)."""

import dataclasses
import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from accounts.models import User
from loans.models import ZERO

from ..machine import Stage
from ..models import CollectionCase, ContactAttempt, EscalationRequest, PlanInstallment, PromiseToPay, RepaymentPlan
from ..selectors import escalation_requests_pending, plans_awaiting_approval
from ..services.plans import PlanPolicyLimits, plan_policy_breaches, plan_policy_limits, plan_term_months

__all__ = [
    "BULK_DECISION_CAP",
    "LAST_CONTACTS_SHOWN",
    "PlanReview",
    "SelectionTotals",
    "escalation_decisions_for_requester",
    "escalations_by_target",
    "escalations_for_review",
    "escalations_totals",
    "plan_reviews",
    "plans_for_review",
    "with_last_contacts",
]

# The contact attempts shown with each request: the latest few.
LAST_CONTACTS_SHOWN = 3
# The most requests one bulk decision takes (the oldest first); the rest wait for the next round.
BULK_DECISION_CAP = 200
# The collector's queue shows their requests decided this recently, at most this many.
DECIDED_REQUESTS_DAYS = 7
DECIDED_REQUESTS_SHOWN = 10


def _count(queryset: QuerySet) -> Coalesce:
    """The number of `queryset`'s rows for the outer case, as a subquery (0 when none)."""
    counted = queryset.order_by().values("case").annotate(number=Count("pk")).values("number")
    return Coalesce(Subquery(counted[:1], output_field=IntegerField()), 0)


def escalations_for_review(*, user: User) -> QuerySet[EscalationRequest]:
    """The escalation requests `user` may decide, oldest first, with their case's loan, borrower,
    bucket, collector and team, and the case's promises made and broken."""
    promises = PromiseToPay.objects.filter(case=OuterRef("case"))
    return (
        escalation_requests_pending(user=user)
        .select_related("case__loan__bucket")
        .annotate(
            promises_made=_count(promises),
            promises_broken=_count(promises.filter(status=PromiseToPay.Status.BROKEN)),
        )
    )


@dataclasses.dataclass(frozen=True)
class SelectionTotals:
    """How many requests a selection holds, on how many cases, with how much overdue money."""

    requests: int
    cases: int
    overdue: Decimal


def escalations_totals(requests: QuerySet[EscalationRequest]) -> SelectionTotals:
    """The selection's requests, its distinct cases and their overdue money (a case asked twice
    counts once): two queries."""
    cases = CollectionCase.objects.filter(pk__in=requests.order_by().values("case"))
    totals = cases.aggregate(cases=Count("pk"), overdue=Coalesce(Sum("loan__overdue_amount"), ZERO))
    return SelectionTotals(requests=requests.order_by().count(), cases=totals["cases"], overdue=totals["overdue"])


def escalations_by_target(requests: QuerySet[EscalationRequest]) -> list[tuple[str, int, Decimal]]:
    """(stage asked for, requests, their cases' overdue money) of a selection, in the machine's
    order: where an approval moves the cases (one query)."""
    grouped = {
        row["target_stage"]: row
        for row in requests.order_by()
        .values("target_stage")
        .annotate(count=Count("pk"), overdue=Coalesce(Sum("case__loan__overdue_amount"), ZERO))
    }
    return [(stage.label, grouped[stage]["count"], grouped[stage]["overdue"]) for stage in Stage if stage in grouped]


def with_last_contacts(requests: list[EscalationRequest], shown: int = LAST_CONTACTS_SHOWN) -> list[EscalationRequest]:
    """Give each request `last_contacts`: its case's latest `shown` contact attempts, newest
    first, in one query for the whole page."""
    case_ids = {request.case_id for request in requests}
    latest = defaultdict(list)
    if case_ids:
        attempts = (
            ContactAttempt.objects.filter(case__in=case_ids)
            .select_related("contact", "collector")
            .annotate(
                rank=Window(RowNumber(), partition_by=[F("case")], order_by=[F("attempted_at").desc(), F("pk").desc()])
            )
            .order_by("case", "rank")
        )
        for attempt in attempts.filter(rank__lte=shown):
            latest[attempt.case_id].append(attempt)
    for request in requests:
        request.last_contacts = latest[request.case_id]
    return requests


def escalation_decisions_for_requester(*, user: User, now: datetime.datetime | None = None) -> list[EscalationRequest]:
    """The escalation requests `user` asked for that a supervisor decided (approved or rejected)
    in the last DECIDED_REQUESTS_DAYS days, newest first, at most DECIDED_REQUESTS_SHOWN: one query."""
    now = now or timezone.now()
    return list(
        EscalationRequest.objects.filter(
            requested_by=user,
            status__in=[EscalationRequest.Status.APPROVED, EscalationRequest.Status.REJECTED],
            decided_at__gte=now - datetime.timedelta(days=DECIDED_REQUESTS_DAYS),
        )
        .select_related("case__loan__borrower", "decided_by")
        .order_by("-decided_at", "-pk")[:DECIDED_REQUESTS_SHOWN]
    )


@dataclasses.dataclass
class PlanReview:
    """An off-policy plan as the review page shows it: the plan, its payments, the product's
    limits from the loan as it is now, and the limits the plan exceeds now, in words."""

    plan: RepaymentPlan
    installments: list[PlanInstallment]
    limits: PlanPolicyLimits
    breaches: list[str]

    @property
    def first(self) -> PlanInstallment:
        return self.installments[0]

    @property
    def term_months(self) -> int:
        return plan_term_months(self.installments[0].due_date, self.installments[-1].due_date)

    @property
    def term_exceeded(self) -> bool:
        return self.term_months > self.limits.max_term_months

    @property
    def waiver_exceeded(self) -> bool:
        return self.plan.waived_penalty > self.limits.waiver_share * self.limits.outstanding_penalty

    @property
    def first_payment_exceeded(self) -> bool:
        return self.first.amount < self.limits.first_payment_share * self.limits.total


def plans_for_review(*, user: User, team=None) -> QuerySet[RepaymentPlan]:
    """The off-policy plans `user` may decide, oldest first, with their case's loan, product,
    borrower, collector and team, and their payments (one query more, whatever the number)."""
    plans = (
        plans_awaiting_approval(user=user)
        .select_related("case__loan__product", "case__loan__bucket")
        .prefetch_related(Prefetch("installments", queryset=PlanInstallment.objects.order_by("sequence")))
    )
    return plans.filter(case__team=team) if team is not None else plans


def plan_reviews(plans) -> list[PlanReview]:
    """Each plan with the product's limits and its breaches, computed from its loan as it is now
    (the penalty outstanding today, not when the plan was proposed)."""
    reviews = []
    for plan in plans:
        installments = list(plan.installments.all())
        if not installments:  # a plan is never written without its payments; nothing to judge
            continue
        loan = plan.case.loan
        schedule = [(installment.due_date, installment.amount) for installment in installments]
        reviews.append(
            PlanReview(
                plan=plan,
                installments=installments,
                limits=plan_policy_limits(
                    product=loan.product, outstanding_penalty=loan.outstanding_penalty, total=plan.total_amount
                ),
                breaches=plan_policy_breaches(
                    product=loan.product,
                    outstanding_penalty=loan.outstanding_penalty,
                    schedule=schedule,
                    waiver=plan.waived_penalty,
                ),
            )
        )
    return reviews
