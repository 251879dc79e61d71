"""The legal pages' reads, each through legal.access: the queue, one case with its whole record,
its timeline, and the legal portfolio's figures (set-based, a fixed number of queries)."""

import dataclasses
import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django_fsm_log.models import StateLog

from loans.models import MONEY, ZERO

from .access import legal_case_access_check, legal_cases_visible_to
from .machine import LegalState
from .models import (
    EnforcementReceipt,
    Filing,
    Judgment,
    LegalCase,
    LegalCost,
)

__all__ = [
    "legal_case_for_user",
    "legal_portfolio",
    "legal_queue",
    "legal_timeline",
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


def legal_queue(*, user) -> QuerySet[LegalCase]:
    """The legal cases `user` may see, with what a row shows: the borrower, the officer and firm,
    the claim as filed and what enforcement has brought in. Active first, then by when they
    entered their state (oldest first)."""
    return (
        legal_cases_visible_to(user)
        .select_related("case__loan__borrower", "case__team", "officer", "firm")
        .annotate(
            claimed=_latest_filing("claimed_amount"),
            docket_number=_latest_filing("docket_number"),
            recovered=_sum_of(EnforcementReceipt, "amount"),
        )
        .order_by("closed_at", "state_entered_at", "pk")
    )


def legal_case_for_user(*, user, pk: int) -> LegalCase:
    """The legal case `pk` for a page: DoesNotExist when there is none, PermissionDenied when it is
    outside `user`'s reach."""
    legal_case = LegalCase.objects.select_related(
        "case__loan__borrower", "case__loan__product", "case__team", "case__assigned_to", "officer", "firm"
    ).get(pk=pk)
    legal_case_access_check(legal_case=legal_case, by=user)
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
