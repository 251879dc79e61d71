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

from accounts import roles
from accounts.audit import audit_change
from accounts.models import Team, User
from loans.models import ZERO, Loan

from ..exceptions import ApprovalRequired, CollectionError, StaleCase
from ..machine import CASE_MACHINE, OPEN_STAGES, HoldReason, Stage
from ..models import CaseAssignment, CollectionCase
from ..stage_rules import requires_approval_into

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
    "MOVE_SERVICES",
]


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
    return CASE_MACHINE.run(case, "negotiate", by=by, reason=reason)


@transaction.atomic
def case_escalate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Into escalation. When the stage rule wants a supervisor's approval, only someone who may
    decide escalations moves the case; others file an escalation request instead."""
    if requires_approval_into(Stage.ESCALATION) and not by.has_perm("collection.decide_escalation"):
        raise ApprovalRequired(_("Escalation needs a supervisor's approval: send an escalation request."))
    return CASE_MACHINE.run(case, "escalate", by=by, reason=reason)


@transaction.atomic
def case_litigate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Into litigation, by a supervisor (directly or by approving a request)."""
    return CASE_MACHINE.run(case, "litigate", by=by, reason=reason)


@transaction.atomic
def case_de_escalate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Back from escalation to negotiation, e.g. when a plan is agreed."""
    return CASE_MACHINE.run(case, "de_escalate", by=by, reason=reason)


@transaction.atomic
def case_hold(*, case: CollectionCase, by: User, reason: str, note: str = "") -> CollectionCase:
    """Pause the case (dispute, hardship, complaint): its clocks stop, no outbound collection
    contact goes out and no rule escalates it. It remembers where it was."""
    if reason not in HoldReason.values:
        raise CollectionError(_("A hold needs its reason: dispute, hardship or complaint."))
    return CASE_MACHINE.run(case, "hold", by=by, reason=note or str(HoldReason(reason).label), hold_reason=reason)


@transaction.atomic
def case_resume(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Take a held case back to the stage it was in."""
    return CASE_MACHINE.run(case, "resume", by=by, reason=reason)


@transaction.atomic
def case_resolve(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Close the case as resolved: only once the loan is current again or paid off."""
    return CASE_MACHINE.run(case, "resolve", by=by, reason=reason)


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
    return CASE_MACHINE.run(case, "settle", by=by, reason=reason)


@transaction.atomic
def case_write_off(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Recognise the loss: from escalation or litigation, by a supervisor or an admin."""
    if not reason.strip():
        raise CollectionError(_("A write-off needs its reason."))
    return CASE_MACHINE.run(case, "write_off", by=by, reason=reason)


@transaction.atomic
def case_close(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Close an open case for another reason (sold, deceased, fraud...): admins only."""
    if not reason.strip():
        raise CollectionError(_("Closing a case needs its reason."))
    return CASE_MACHINE.run(case, "close", by=by, reason=reason, close_reason=reason)


@transaction.atomic
def case_assign(*, case: CollectionCase, to: User, by: User, reason: str = "", team: Team | None = None) -> None:
    """Give the case to a collector, keeping the assignment history."""
    if not by.has_perm("collection.assign_case"):
        raise PermissionDenied(_("You may not assign cases."))
    _assign(case=case, to=to, by=by, reason=reason, team=team or case.team)


def _assign(*, case: CollectionCase, to: User, by: User, reason: str, team: Team | None) -> None:
    previous_id, previous_team_id = case.assigned_to_id, case.team_id
    CollectionCase.objects.filter(pk=case.pk).update(assigned_to=to, team=team)
    case.assigned_to, case.team = to, team
    audit_change(
        case,
        {"assigned_to": (previous_id, to.pk), "team": (previous_team_id, team.pk if team else None)},
        by=by,
    )
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

# The service that runs each move a supervisor decides (collection.machine.later_stage_moves).
MOVE_SERVICES = {"escalate": case_escalate, "litigate": case_litigate}
