"""Opening cases, walking them through their stages, and assigning them."""

import heapq
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.conf import settings
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

from ..access import case_access_check, sees_everything, supervised_team_ids
from ..exceptions import ApprovalRequired, CollectionError, StaleCase
from ..machine import CASE_MACHINE, OPEN_STAGES, HoldReason, Stage
from ..models import CaseAssignment, CollectionCase, SettlementAgreement
from ..signals import case_entered_litigation
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
    "case_settlement_approve",
    "case_settlement_reject",
    "settlement_needs_approval",
    "case_settle",
    "case_write_off",
    "case_close",
    "case_assign",
    "case_assign_check",
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


def _move(case: CollectionCase, name: str, *, by: User, reason: str = "", **kwargs) -> CollectionCase:
    """Run the case's transition for `by`, once the case is within their reach (collection.access)."""
    case_access_check(case=case, by=by)
    return CASE_MACHINE.run(case, name, by=by, reason=reason, **kwargs)


@transaction.atomic
def case_negotiate(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Reminder to negotiation: the borrower was reached, or promised, or a plan is on the table."""
    return _move(case, "negotiate", by=by, reason=reason)


@transaction.atomic
def case_escalate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Into escalation. When the stage rule wants a supervisor's approval, only someone who may
    decide escalations moves the case; others file an escalation request instead."""
    case_access_check(case=case, by=by)
    if requires_approval_into(Stage.ESCALATION) and not by.has_perm("collection.decide_escalation"):
        raise ApprovalRequired(_("Escalation needs a supervisor's approval: send an escalation request."))
    return _move(case, "escalate", by=by, reason=reason)


@transaction.atomic
def case_litigate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Into litigation, by a supervisor (directly or by approving a request); the legal track
    opens its case in the same transaction (collection.signals.case_entered_litigation)."""
    case = _move(case, "litigate", by=by, reason=reason)
    case_entered_litigation.send(sender=CollectionCase, case=case, by=by, reason=reason)
    return case


@transaction.atomic
def case_de_escalate(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Back from escalation to negotiation, e.g. when a plan is agreed."""
    return _move(case, "de_escalate", by=by, reason=reason)


@transaction.atomic
def case_hold(*, case: CollectionCase, by: User, reason: str, note: str = "") -> CollectionCase:
    """Pause the case (dispute, hardship, complaint): its clocks stop, no outbound collection
    contact goes out and no rule escalates it. It remembers where it was."""
    if reason not in HoldReason.values:
        raise CollectionError(_("A hold needs its reason: dispute, hardship or complaint."))
    return _move(case, "hold", by=by, reason=note or str(HoldReason(reason).label), hold_reason=reason)


@transaction.atomic
def case_resume(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Take a held case back to the stage it was in."""
    return _move(case, "resume", by=by, reason=reason)


@transaction.atomic
def case_resolve(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Close the case as resolved: only once the loan is current again or paid off."""
    return _move(case, "resolve", by=by, reason=reason)


def settlement_needs_approval(*, amount: Decimal, outstanding: Decimal) -> bool:
    """Whether a settlement of `amount` on `outstanding` pays less than the share of it a
    supervisor may agree alone (settings.DESK_SETTLEMENT_APPROVAL_BELOW_SHARE, e.g. 0.80)."""
    share = Decimal(str(settings.DESK_SETTLEMENT_APPROVAL_BELOW_SHARE))
    return amount < (outstanding * share).quantize(Decimal("0.01"))


def _case_locked(case: CollectionCase) -> CollectionCase:
    """The case read again under a row lock (with its loan), refused when someone moved it first."""
    locked = CollectionCase.objects.select_for_update(of=("self",)).select_related("loan").get(pk=case.pk)
    if locked.stage != case.stage:
        raise StaleCase()
    return locked


def _settlement_on_case(case: CollectionCase, **fields) -> None:
    CollectionCase.objects.filter(pk=case.pk).update(**fields)
    for name, value in fields.items():
        setattr(case, name, value)


@transaction.atomic
def case_settlement_agree(
    *, case: CollectionCase, by: User, amount: Decimal, replace: bool = False, reason: str = ""
) -> CollectionCase:
    """Record an agreed reduced payoff on an open case within `by`'s reach; the case settles once
    that much has been paid since. Agreed by someone allowed to settle; who and when are kept.

    A settlement paying less than the approval share of what is outstanding waits for another
    supervisor's approval (case_settlement_approve) before the case can settle. A case with a
    settlement on the table keeps it: a new one replaces it only when asked to (`replace`, with a
    reason), and the one replaced stays in the case's settlement history."""
    if not by.has_perm("collection.settle_case"):
        raise PermissionDenied(_("Only a supervisor may agree a settlement."))
    locked = _case_locked(case)
    case_access_check(case=locked, by=by)
    if not locked.is_open:
        raise CollectionError(_("A settlement is agreed on an open case only."))
    outstanding = locked.loan.total_outstanding
    if amount <= 0 or amount > outstanding:
        raise CollectionError(
            _("A settlement must be more than zero and at most the %(outstanding)s outstanding.")
            % {"outstanding": outstanding}
        )
    now = timezone.now()
    if locked.settlement_amount is not None:
        if not replace:
            raise CollectionError(
                _(
                    "The case already has a settlement of %(amount)s: replace it explicitly, with a reason, "
                    "to agree another."
                )
                % {"amount": locked.settlement_amount}
            )
        if not reason.strip():
            raise CollectionError(_("Replacing a settlement needs its reason."))
        locked.settlements.filter(status__in=SettlementAgreement.LIVE_STATUSES).update(
            status=SettlementAgreement.Status.REPLACED, ended_by=by, ended_at=now, end_reason=reason.strip()
        )
    needs_approval = settlement_needs_approval(amount=amount, outstanding=outstanding)
    SettlementAgreement.objects.create(
        case=locked,
        status=SettlementAgreement.Status.PENDING_APPROVAL if needs_approval else SettlementAgreement.Status.AGREED,
        amount=amount,
        outstanding=outstanding,
        agreed_by=by,
        agreed_at=now,
        needs_approval=needs_approval,
    )
    _settlement_on_case(
        case,
        settlement_amount=amount,
        settlement_agreed_at=now,
        settlement_agreed_by=by,
        settlement_awaits_approval=needs_approval,
    )
    return case


@transaction.atomic
def case_settlement_approve(*, case: CollectionCase, by: User) -> CollectionCase:
    """Approve the settlement waiting on an open case within `by`'s reach, by someone allowed to
    approve settlements who did not agree it themselves (four eyes). The case may then settle."""
    if not by.has_perm("collection.approve_settlement"):
        raise PermissionDenied(_("You may not approve settlements."))
    locked = _case_locked(case)
    case_access_check(case=locked, by=by)
    agreement = _settlement_waiting(locked)
    if agreement.agreed_by_id == by.pk:
        raise PermissionDenied(_("A settlement you agreed needs another supervisor's approval."))
    agreement.status = SettlementAgreement.Status.AGREED
    agreement.approved_by, agreement.approved_at = by, timezone.now()
    agreement.save(update_fields=["status", "approved_by", "approved_at"])
    _settlement_on_case(case, settlement_awaits_approval=False)
    return case


@transaction.atomic
def case_settlement_reject(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Turn down the settlement waiting on a case, for a reason: the case has no settlement on
    the table afterwards (one it replaced does not come back)."""
    if not by.has_perm("collection.approve_settlement"):
        raise PermissionDenied(_("You may not approve settlements."))
    if not reason.strip():
        raise CollectionError(_("Turning a settlement down needs its reason."))
    locked = _case_locked(case)
    case_access_check(case=locked, by=by)
    agreement = _settlement_waiting(locked)
    agreement.status = SettlementAgreement.Status.REJECTED
    agreement.ended_by, agreement.ended_at, agreement.end_reason = by, timezone.now(), reason.strip()
    agreement.save(update_fields=["status", "ended_by", "ended_at", "end_reason"])
    _settlement_on_case(
        case,
        settlement_amount=None,
        settlement_agreed_at=None,
        settlement_agreed_by=None,
        settlement_awaits_approval=False,
    )
    return case


def _settlement_waiting(case: CollectionCase) -> SettlementAgreement:
    if not case.is_open:
        raise CollectionError(_("The case is closed: its settlement is no longer decided."))
    agreement = case.settlements.filter(status=SettlementAgreement.Status.PENDING_APPROVAL).first()
    if agreement is None:
        raise CollectionError(_("No settlement on this case waits for approval."))
    return agreement


@transaction.atomic
def case_settle(*, case: CollectionCase, by: User, reason: str = "") -> CollectionCase:
    """Close the case as settled once the agreed settlement has been paid."""
    return _move(case, "settle", by=by, reason=reason)


@transaction.atomic
def case_write_off(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Recognise the loss: from escalation or litigation, by a supervisor or an admin."""
    if not reason.strip():
        raise CollectionError(_("A write-off needs its reason."))
    return _move(case, "write_off", by=by, reason=reason)


@transaction.atomic
def case_close(*, case: CollectionCase, by: User, reason: str) -> CollectionCase:
    """Close an open case for another reason (sold, deceased, fraud...): admins only."""
    if not reason.strip():
        raise CollectionError(_("Closing a case needs its reason."))
    return _move(case, "close", by=by, reason=reason, close_reason=reason)


@transaction.atomic
def case_assign(*, case: CollectionCase, to: User, by: User, reason: str = "", team: Team | None = None) -> None:
    """Give the case to a collector, keeping the assignment history. `by` must reach the case
    (collection.access); unless they see every case, the case's team (`team`, or the one it is in)
    must be one they supervise and the new collector a member of it. The assignee is an active
    collector, never the desk's own `system` account. The case row is locked, so that of two
    reassigning at once the second records the first as the previous collector."""
    if not by.has_perm("collection.assign_case"):
        raise PermissionDenied(_("You may not assign cases."))
    locked = CollectionCase.objects.select_for_update(of=("self",)).select_related("team").get(pk=case.pk)
    team = team or locked.team
    case_assign_check(case=locked, to=to, by=by, team=team)
    _assign(case=locked, to=to, by=by, reason=reason, team=team)
    case.assigned_to, case.team = to, team


def case_assign_check(*, case: CollectionCase, to: User, by: User, team: Team | None) -> None:
    """What case_assign refuses, for a form to say before it saves: a case outside `by`'s reach
    (PermissionDenied); an assignee who is not an active collector or is the `system` account
    (CollectionError); for someone who does not see every case, a team they do not supervise or an
    assignee outside it (PermissionDenied)."""
    case_access_check(case=case, by=by)
    if to.username == roles.SYSTEM_USERNAME:
        raise CollectionError(_("Cases are never assigned to the desk's own system account."))
    if not to.is_active or roles.COLLECTOR not in roles.user_roles(to):
        raise CollectionError(_("%(user)s is not an active collector.") % {"user": to})
    if sees_everything(by):
        return
    if team is None or team.pk not in supervised_team_ids(by):
        raise PermissionDenied(_("You may only assign cases within a team you supervise."))
    if not team.members.filter(pk=to.pk).exists():
        raise PermissionDenied(_("%(user)s is not a member of team %(team)s.") % {"user": to, "team": team.name})


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
    largest case first, each to whoever carries least. Returns {case id: collector id}.
    Unless `by` sees every case, the team is one they supervise and every case within their reach."""
    if not sees_everything(by) and (team is None or team.pk not in supervised_team_ids(by)):
        raise PermissionDenied(_("You may only allocate cases to a team you supervise."))
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
    for case in ordered:
        case_access_check(case=case, by=by)
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
