"""The legal pages' reads, each through legal.access: the queue, one case with its whole record,
its timeline, and the legal portfolio's figures (set-based, a fixed number of queries)."""

import dataclasses
import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm_log.models import StateLog

from collection.models import CollectionCase
from loans.models import MONEY, ZERO

from .access import legal_case_access_check, legal_cases_visible_to
from .deadlines import legal_case_deadlines, legal_cases_with_next_deadline, next_deadline_kind
from .machine import LegalState
from .models import (
    DeadlineKind,
    Enforcement,
    EnforcementReceipt,
    Filing,
    Judgment,
    LawyerLetter,
    LegalCase,
    LegalCost,
    PaymentOrder,
)

__all__ = [
    "DeadlineDue",
    "legal_case_deadlines_due",
    "legal_case_for_user",
    "legal_case_records_read",
    "legal_portfolio",
    "legal_queue",
    "legal_timeline",
    "queue_next_deadlines",
    "with_court",
]


def _sum_of(model, field: str, **filters) -> Coalesce:
    """The sum of `field` over the case's rows of `model`, as a subquery (no join fan-out)."""
    total = (
        model.objects.filter(legal_case=OuterRef("pk"), **filters)
        .order_by()
        .values("legal_case")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=DecimalField(**MONEY)), Value(ZERO))


def _latest_filing(field: str) -> Subquery:
    return Subquery(Filing.objects.filter(legal_case=OuterRef("pk")).order_by("-pk").values(field)[:1])


def with_court(legal_cases: QuerySet, court_id: int) -> QuerySet:
    """The cases before a court: filed there, or with a payment order or enforcement there."""
    return legal_cases.filter(
        Q(Exists(Filing.objects.filter(legal_case=OuterRef("pk"), court_id=court_id)))
        | Q(payment_orders__court_id=court_id)
        | Q(enforcements__court_id=court_id)
    ).distinct()


def legal_queue(*, user, today: datetime.date | None = None) -> QuerySet[LegalCase]:
    """The legal cases `user` may see, with what a row shows: the borrower, the officer and firm,
    the claim as filed, what enforcement has brought in, and the next deadline on `today`
    (default the desk's today) with each kind's day (legal.deadlines.next_deadline_kind says
    which). The active cases first, by their next deadline (an overdue one first, those without
    any after), then by when they entered their state; the closed ones last."""
    today = today or timezone.localdate()
    # The collection case, loan and borrower are read for the page's rows only: joined into the
    # query, PostgreSQL joined and sorted every case's wide rows before the page's LIMIT.
    cases = (
        legal_cases_visible_to(user)
        .select_related("officer", "firm")
        .prefetch_related(Prefetch("case", queryset=CollectionCase.objects.select_related("loan__borrower", "team")))
        .annotate(
            claimed=_latest_filing("claimed_amount"),
            docket_number=_latest_filing("docket_number"),
            recovered=_sum_of(EnforcementReceipt, "amount"),
        )
    )
    return legal_cases_with_next_deadline(cases, today=today, by_kind=True).order_by(
        F("closed_at").asc(nulls_first=True),
        F("next_deadline_on").asc(nulls_last=True),
        "state_entered_at",
        "pk",
    )


@dataclasses.dataclass(frozen=True)
class DeadlineDue:
    """A deadline as a page shows it: its kind's label, its day, the days left (below 0 once it
    passed) and what it is about."""

    label: str
    due_on: datetime.date
    days_left: int
    what: str = ""

    @property
    def days_overdue(self) -> int:
        return -self.days_left


def legal_case_deadlines_due(legal_case: LegalCase, *, today: datetime.date) -> list[DeadlineDue]:
    """The open deadlines of `legal_case` on `today`, the earliest first (legal.deadlines), for its
    page: read from its records, prefetched by legal_case_for_user."""
    return [
        DeadlineDue(deadline.label, deadline.due_on, deadline.days_left(today), deadline.what)
        for deadline in legal_case_deadlines(legal_case, today=today)
    ]


def queue_next_deadlines(legal_cases, *, today: datetime.date) -> list[tuple[LegalCase, DeadlineDue | None]]:
    """Each of `legal_cases` read by legal_queue with its next deadline (None without any)."""
    rows = []
    for legal_case in legal_cases:
        kind = next_deadline_kind(legal_case)
        due_on = legal_case.next_deadline_on
        next_one = None if kind is None else DeadlineDue(str(DeadlineKind(kind).label), due_on, (due_on - today).days)
        rows.append((legal_case, next_one))
    return rows


def legal_case_for_user(*, user, pk: int) -> LegalCase:
    """The legal case `pk` for a page: DoesNotExist when there is none, PermissionDenied when it is
    outside `user`'s reach."""
    legal_case = LegalCase.objects.select_related(
        "case__loan__borrower", "case__loan__product", "case__team", "case__assigned_to", "officer", "firm"
    ).get(pk=pk)
    legal_case_access_check(legal_case=legal_case, by=user)
    return legal_case


def legal_case_records_read(legal_case: LegalCase) -> LegalCase:
    """Read the records of `legal_case` its page shows and its deadlines come from, once each
    (`legal_case.hearings.all()` and the like then read no more)."""
    prefetch_related_objects(
        [legal_case],
        Prefetch("letters", queryset=LawyerLetter.objects.select_related("firm")),
        "mediations",
        Prefetch("payment_orders", queryset=PaymentOrder.objects.select_related("court")),
        Prefetch("filings", queryset=Filing.objects.select_related("court")),
        "hearings",
        "judgments",
        Prefetch(
            "enforcements",
            queryset=Enforcement.objects.select_related("court").prefetch_related("receipts__payment", "frozen_assets"),
        ),
        "frozen_assets",
    )
    return legal_case


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    what: str
    by: object
    note: str = ""


def legal_timeline(legal_case: LegalCase) -> list[TimelineEntry]:
    """The case's moves (the transition log), newest first."""
    content_type = ContentType.objects.get_for_model(LegalCase)
    logs = StateLog.objects.filter(content_type=content_type, object_id=legal_case.pk).select_related("by")
    labels = dict(LegalState.choices)
    return [
        TimelineEntry(
            at=log.timestamp,
            what=f"{labels.get(log.source_state, log.source_state)} → {labels.get(log.state, log.state)}",
            by=log.by,
            note=log.description or "",
        )
        for log in logs.order_by("-timestamp", "-pk")
    ]


def legal_portfolio(*, user) -> dict:
    """The legal portfolio `user` may see, per state: cases, amounts claimed (as filed), awarded,
    recovered in enforcement, costs (all, and the desk's own), and recovery net of costs; with the
    totals. Two queries whatever the number of cases."""
    cases = legal_cases_visible_to(user).annotate(
        claimed=Coalesce(_latest_filing("claimed_amount"), Value(ZERO), output_field=DecimalField(**MONEY)),
        awarded=_sum_of(Judgment, "awarded_amount"),
        recovered=_sum_of(EnforcementReceipt, "amount"),
        all_costs=_sum_of(LegalCost, "amount"),
        desk_costs=_sum_of(LegalCost, "amount", borne_by=LegalCost.BorneBy.DESK),
    )
    sums = {
        name: Coalesce(Sum(name), Value(ZERO), output_field=DecimalField(**MONEY))
        for name in ("claimed", "awarded", "recovered", "all_costs", "desk_costs")
    }
    by_state = {row["state"]: row for row in cases.values("state").annotate(cases=Count("pk"), **sums).order_by()}
    rows = []
    for state, label in LegalState.choices:
        row = by_state.get(state)
        if row is None:
            continue
        rows.append({**row, "label": label, "net": row["recovered"] - row["all_costs"]})
    total = {
        name: sum((row[name] for row in rows), Decimal(0) if name != "cases" else 0)
        for name in ("cases", "claimed", "awarded", "recovered", "all_costs", "desk_costs", "net")
    }
    return {"rows": rows, "total": total}
