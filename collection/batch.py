"""Transitions of the case machine applied to many cases at once, for the nightly cycle.

The batch path does not go around the machine: for a transition it reads the allowed sources,
the target, the permission and the conditions from the transition's own definition (django-fsm
metadata on CollectionCase), applies each condition as the filter of the same name below, writes
what entering the target writes (`stage_entry_fields`) with the same optimistic check as a
single save (the row must still be in the source stage), and writes one transition-log row per
case moved, with its actor and reason, as the single-case services do through django-fsm-log."""

import datetime
from collections.abc import Callable

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django_fsm import Transition
from django_fsm_log.models import StateLog

from accounts.models import User
from loans.models import ZERO, Loan, Payment

from .models import LIVE_PLAN_STATUSES, CollectionCase, PromiseToPay, RepaymentPlan, stage_entry_fields


def _has_negotiation_grounds() -> Q:
    return (
        Q(last_right_party_contact_at__isnull=False)
        | Q(Exists(PromiseToPay.objects.filter(case=OuterRef("pk"), status=PromiseToPay.Status.PENDING)))
        | Q(Exists(RepaymentPlan.objects.filter(case=OuterRef("pk"), status__in=LIVE_PLAN_STATUSES)))
    )


def _loan_is_current_or_paid_off() -> Q:
    return Q(loan__status__in=[Loan.Status.CURRENT, Loan.Status.PAID_OFF])


def _settlement_is_paid() -> Q:
    paid = Coalesce(
        Payment.objects.filter(loan=OuterRef("loan_id"), received_at__gte=OuterRef("settlement_agreed_at"))
        .values("loan")
        .annotate(total=Sum("amount"))
        .values("total"),
        ZERO,
    )
    return Q(settlement_amount__isnull=False, settlement_agreed_at__isnull=False, settlement_amount__lte=paid)


# Each condition function of the case machine (collection.models), as a filter on cases. A test
# checks that every condition has one and that both agree on a random set of cases.
CONDITION_FILTERS: dict[str, Callable[[], Q]] = {
    "has_negotiation_grounds": _has_negotiation_grounds,
    "loan_is_current_or_paid_off": _loan_is_current_or_paid_off,
    "settlement_is_paid": _settlement_is_paid,
}


def transitions_of(name: str) -> list[Transition]:
    """The definitions of one transition of the case machine, one per source stage."""
    return list(getattr(CollectionCase, name)._django_fsm.transitions.values())


def condition_filter(transition: Transition) -> Q:
    """The transition's conditions as one filter on cases (all must hold)."""
    combined = Q()
    for condition in transition.conditions:
        combined &= CONDITION_FILTERS[condition.__name__]()
    return combined


def cases_transition(
    *,
    cases: QuerySet,
    name: str,
    by: User,
    reason: str,
    at: datetime.datetime,
    extra: Q | None = None,
) -> list[int]:
    """Run transition `name` on every case of `cases` that it allows: in one of its source stages,
    its conditions met (and `extra`, the caller's own criterion, such as a stage rule's). `by` must
    hold the transition's permission. Returns the ids of the cases moved. Callers hold a
    transaction; the rows are locked while they move, so a collector's concurrent save of one of
    them loses (StaleCase) instead of overwriting the move."""
    moved: list[int] = []
    log_rows: list[StateLog] = []
    content_type = ContentType.objects.get_for_model(CollectionCase)
    for transition in transitions_of(name):
        if not isinstance(transition.target, str):
            raise ValueError(f"{name} has no fixed target: the batch path cannot run it")
        if not transition.has_perm(None, by):
            raise PermissionDenied(f"{by} may not run {name}")
        candidates = cases.filter(Q(stage=transition.source) & condition_filter(transition) & (extra or Q()))
        ids = list(candidates.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))
        if not ids:
            continue
        CollectionCase.objects.filter(pk__in=ids, stage=transition.source).update(
            stage=transition.target, **stage_entry_fields(transition.target, at)
        )
        moved += ids
        log_rows += [
            StateLog(
                timestamp=at,
                by=by,
                source_state=transition.source,
                state=transition.target,
                transition=name,
                content_type=content_type,
                object_id=case_id,
                description=reason,
            )
            for case_id in ids
        ]
    StateLog.objects.bulk_create(log_rows, batch_size=2000)
    return moved
