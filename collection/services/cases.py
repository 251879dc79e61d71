"""Opening cases, walking them through their stages, and assigning them."""

import heapq
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from accounts import roles
from accounts.models import Team, User
from loans.models import ZERO, Loan

from ..exceptions import ApprovalRequired, CollectionError, StaleCase
from ..models import OPEN_STAGES, CaseAssignment, CollectionCase, HoldReason, Stage, StageRule

__all__ = [
    "case_open_for_loan",
    "case_negotiate",
    "case_escalate",
    "case_litigate",
    "case_de_escalate",
    "case_hold",
    "case_resume",
    "case_resolve",
    "case_settlement_agree",
    "case_settle",
    "case_write_off",
    "case_close",
    "case_assign",
    "cases_allocate",
    "allocation_pool",
    "allocation_load",
    "allocation_spread",
    "ALLOCATION_REASON",
    "run_transition",
]


def run_transition(*, case: CollectionCase, name: str, by: User, reason: str = "", **kwargs) -> CollectionCase:
    """Run one transition of the case machine for `by`: the transition must leave the case's
    stage, `by` must hold its permission and its conditions must hold; then the save, which
    loses to anyone who moved the case first. The transition log row (actor, reason, source,
    target, time) is written in the same transaction. Callers hold a transaction."""
    method = getattr(case, name)
    action = _TRANSITION_WORDS[name]
    meta = method._django_fsm
    if not meta.has_transition(case.stage):
        raise CollectionError(
            _("Cannot %(action)s: the case is in stage %(stage)s.")
            % {"action": action, "stage": Stage(case.stage).label}
        )
    if not meta.has_transition_perm(case, case.stage, by):
        raise PermissionDenied(_("You may not %(action)s.") % {"action": action})
    unmet = [condition for condition in meta.get_transition(case.stage).conditions if not condition(case)]
    if unmet:
        raise CollectionError(
            _("Cannot %(action)s now: %(why)s.")
            % {"action": action, "why": "; ".join(str(_CONDITION_WORDS[c.__name__]) for c in unmet)}
        )
    try:
        method(by=by, description=reason, **kwargs)
    except TransitionNotAllowed as error:  # the stage changed under us in memory
        raise StaleCase() from error
    try:
        case.save()
    except ConcurrentTransition as error:
        raise StaleCase() from error
    return case


_TRANSITION_WORDS = {
    "negotiate": gettext_lazy("move the case to negotiation"),
    "escalate": gettext_lazy("escalate the case"),
    "litigate": gettext_lazy("send the case to litigation"),
    "de_escalate": gettext_lazy("move the case back to negotiation"),
    "hold": gettext_lazy("put the case on hold"),
    "resume": gettext_lazy("resume the case"),
    "resolve": gettext_lazy("resolve the case"),
    "settle": gettext_lazy("settle the case"),
    "write_off": gettext_lazy("write off the case"),
    "close": gettext_lazy("close the case"),
}
_CONDITION_WORDS = {
    "has_negotiation_grounds": gettext_lazy(
        "the borrower has not been reached, and nothing has been promised or planned"
    ),
    "loan_is_current_or_paid_off": gettext_lazy("the loan is still past due"),
    "settlement_is_paid": gettext_lazy("the agreed settlement has not been paid in full"),
}


def _requires_approval(stage: str) -> bool:
    return StageRule.objects.filter(stage=stage, requires_approval=True).exists()


@transaction.atomic
def case_open_for_loan(*, loan: Loan, team: Team | None = None) -> CollectionCase:
    """The loan's open case, opened now if it has none. Two callers opening at once get the
    same case: the database allows one open case per loan and the loser reads the winner's."""
    existing = CollectionCase.objects.filter(loan=loan, stage__in=OPEN_STAGES).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            case = CollectionCase.objects.create(loan=loan, team=team)
    except IntegrityError:
        return CollectionCase.objects.get(loan=loan, stage__in=OPEN_STAGES)
    return case


@transaction.atomic
def case_negotiate(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Reminder to negotiation: the borrower was reached, or promised, or a plan is on the table."""
    return run_transition(case=case, name="negotiate", by=by, reason=reason)


@transaction.atomic
def case_escalate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Into escalation. When the stage rule wants a supervisor's approval, only someone who may
    decide escalations moves the case; others file an escalation request instead."""
    if _requires_approval(Stage.ESCALATION) and not by.has_perm("collection.decide_escalation"):
        raise ApprovalRequired(_("Escalation needs a supervisor's approval: send an escalation request."))
    return run_transition(case=case, name="escalate", by=by, reason=reason)


@transaction.atomic
def case_litigate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Into litigation, by a supervisor (directly or by approving a request)."""
    return run_transition(case=case, name="litigate", by=by, reason=reason)


@transaction.atomic
def case_de_escalate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Back from escalation to negotiation, e.g. when a plan is agreed."""
    return run_transition(case=case, name="de_escalate", by=by, reason=reason)


@transaction.atomic
def case_hold(*, case: CollectionCase, by: User, reason: str, note: str = "") -> CollectionCase:
    """Pause the case (dispute, hardship, complaint): its clocks stop, no outbound collection
    contact goes out and no rule escalates it. It remembers where it was."""
    if reason not in HoldReason.values:
        raise CollectionError(_("A hold needs its reason: dispute, hardship or complaint."))
    return run_transition(
        case=case, name="hold", by=by, reason=note or str(HoldReason(reason).label), hold_reason=reason
    )


@transaction.atomic
def case_resume(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Take a held case back to the stage it was in."""
    return run_transition(case=case, name="resume", by=by, reason=reason)


@transaction.atomic
def case_resolve(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Close the case as resolved: only once the loan is current again or paid off."""
    return run_transition(case=case, name="resolve", by=by, reason=reason)


@transaction.atomic
def case_settlement_agree(*, case: CollectionCase, by: User, amount: Decimal) -> CollectionCase:
    """Record an agreed reduced payoff; the case settles once that much has been paid."""
    if not by.has_perm("collection.settle_case"):
        raise PermissionDenied(_("Only a supervisor may agree a settlement."))
    if amount <= 0 or amount > case.loan.total_outstanding:
        raise CollectionError(
            _("A settlement must be more than zero and at most the %(outstanding)s outstanding.")
            % {"outstanding": case.loan.total_outstanding}
        )
    agreed_at = timezone.now()
    updated = CollectionCase.objects.filter(pk=case.pk, stage=case.stage).update(
        settlement_amount=amount, settlement_agreed_at=agreed_at
    )
    if not updated:
        raise StaleCase()
    case.settlement_amount, case.settlement_agreed_at = amount, agreed_at
    return case


@transaction.atomic
def case_settle(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Close the case as settled once the agreed settlement has been paid."""
    return run_transition(case=case, name="settle", by=by, reason=reason)


@transaction.atomic
def case_write_off(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Recognise the loss: from escalation or litigation, by a supervisor or an admin."""
    if not reason.strip():
        raise CollectionError(_("A write-off needs its reason."))
    return run_transition(case=case, name="write_off", by=by, reason=reason)


@transaction.atomic
def case_close(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Close an open case for another reason (sold, deceased, fraud...): admins only."""
    if not reason.strip():
        raise CollectionError(_("Closing a case needs its reason."))
    return run_transition(case=case, name="close", by=by, reason=reason, close_reason=reason)


@transaction.atomic
def case_assign(*, case: CollectionCase, to: User, by: User, reason: str = "", team: Team | None = None) -> None:
    """Give the case to a collector, keeping the assignment history."""
    if not by.has_perm("collection.assign_case"):
        raise PermissionDenied(_("You may not assign cases."))
    _assign(case=case, to=to, by=by, reason=reason, team=team or case.team)


def _assign(*, case: CollectionCase, to: User, by: User, reason: str, team: Team | None) -> None:
    previous_id = case.assigned_to_id
    CollectionCase.objects.filter(pk=case.pk).update(assigned_to=to, team=team)
    case.assigned_to, case.team = to, team
    CaseAssignment.objects.create(
        case=case, assigned_to=to, previous_id=previous_id, team=team, assigned_by=by, reason=reason
    )


def allocation_pool(*, team: Team | None) -> dict[int, Team]:
    """The collectors new cases may go to, each with the team a case given to them joins:
    the team's active collectors, or with no team every active collector of any team (each with
    their first team)."""
    memberships = (
        Team.members.through.objects.filter(user__is_active=True, user__groups__name=roles.COLLECTOR)
        .select_related("team")
        .order_by("user_id", "team_id")
    )
    if team is not None:
        memberships = memberships.filter(team=team)
    pool: dict[int, Team] = {}
    for membership in memberships:
        pool.setdefault(membership.user_id, membership.team)
    return pool


def allocation_load(collector_ids: Iterable[int]) -> dict[int, list]:
    """What each collector carries now: [open cases, overdue money]."""
    load = {pk: [0, ZERO] for pk in collector_ids}
    carried = (
        CollectionCase.objects.filter(assigned_to__in=list(load), stage__in=OPEN_STAGES)
        .values("assigned_to")
        .annotate(count=Count("pk"), overdue=Sum("loan__overdue_amount"))
    )
    for row in carried:
        load[row["assigned_to"]] = [row["count"], row["overdue"] or ZERO]
    return load


def allocation_spread(load: dict[int, list], cases: Iterable[tuple[int, Decimal]]) -> Iterator[tuple[int, int]]:
    """Give each case, in the order given (largest first), to the collector who carries least:
    fewest open cases, then least overdue money, then the lowest id. Updates `load` as it goes
    and yields (case id, collector id). Shared by cases_allocate and the nightly cycle."""
    heap = [(count, overdue, pk) for pk, (count, overdue) in load.items()]
    heapq.heapify(heap)
    for case_id, overdue in cases:
        count, carried, collector_id = heapq.heappop(heap)
        load[collector_id] = [count + 1, carried + overdue]
        heapq.heappush(heap, (count + 1, carried + overdue, collector_id))
        yield case_id, collector_id


@transaction.atomic
def cases_allocate(*, team: Team | None, cases: Iterable[CollectionCase], by: User) -> dict[int, int]:
    """Spread cases over the team's collectors (with no team: over every team's collectors) so
    that each carries about as many open cases and as much overdue money as the others: the
    largest case first, each to whoever carries least. Returns {case id: collector id}."""
    pool = allocation_pool(team=team)
    if not pool:
        if team is None:
            raise CollectionError(_("No team has active collectors."))
        raise CollectionError(_("Team %(team)s has no active collectors.") % {"team": team.name})
    load = allocation_load(pool)
    ordered = sorted(
        CollectionCase.objects.filter(pk__in=[case.pk for case in cases]).select_related("loan"),
        key=lambda case: (-case.loan.overdue_amount, case.pk),
    )
    # A case already with one of the pool's collectors stays where it is.
    waiting = {case.pk: case for case in ordered if case.assigned_to_id not in pool}
    allocation: dict[int, int] = {}
    users = User.objects.in_bulk(list(pool))
    for case_id, collector_id in allocation_spread(
        load, ((case.pk, case.loan.overdue_amount) for case in waiting.values())
    ):
        _assign(
            case=waiting[case_id],
            to=users[collector_id],
            by=by,
            reason=ALLOCATION_REASON,
            team=pool[collector_id],
        )
        allocation[case_id] = collector_id
    return allocation


ALLOCATION_REASON = gettext_lazy("Allocated to the team")
