"""Moving cases between the collectors of a team: a supervisor's reassignment of one case or a
selection, to a named collector or balanced over the team, and the stage rule by which the nightly
cycle moves a case nobody reaches to another collector (collection.cycle). Every move goes through
case_assign (the assignment history with its reason, and the audit row); the balancing is the
allocation's (allocation_load / allocation_spread), never a second one."""

import dataclasses
import datetime
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from accounts import roles
from accounts.models import Team, User
from config.desk import desk_day_start, in_desk_language
from loans.models import ZERO

from ..access import cases_visible_to
from ..exceptions import CollectionError
from ..machine import OPEN_STAGES, Stage
from ..models import CaseAssignment, CollectionCase, StageRule
from .cases import allocation_load, allocation_pool, allocation_spread, case_assign

__all__ = [
    "Reassignment",
    "cases_reassign",
    "cases_reassign_plan",
    "least_loaded_other",
    "no_contact_reassignment_cases",
    "no_contact_reassignment_reason",
    "no_contact_reassignment_test",
]

# What a reassignment may be refused with, case by case: said in words beside the case.
_REFUSALS = (CollectionError, PermissionDenied, ValidationError)


def _words(error: Exception) -> str:
    if isinstance(error, CollectionError):
        return error.message
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or _("You may not reassign this case.")


@dataclasses.dataclass
class Reassignment:
    """What a reassignment moves (case, to whom), leaves alone (already with that collector) and
    refuses (case, why), the selection's largest overdue amount first."""

    moves: list[tuple[CollectionCase, User]] = dataclasses.field(default_factory=list)
    unchanged: list[CollectionCase] = dataclasses.field(default_factory=list)
    refused: list[tuple[CollectionCase, str]] = dataclasses.field(default_factory=list)

    @property
    def overdue(self) -> Decimal:
        """The overdue money that moves."""
        return sum((case.loan.overdue_amount for case, _to in self.moves), ZERO)

    def by_collector(self) -> list[tuple[User, int, Decimal]]:
        """Who receives how many cases and how much overdue money, most cases first."""
        received: dict[int, list] = {}
        for case, to in self.moves:
            row = received.setdefault(to.pk, [to, 0, ZERO])
            row[1] += 1
            row[2] += case.loan.overdue_amount
        return sorted((tuple(row) for row in received.values()), key=lambda row: (-row[1], str(row[0])))


def _selection(*, cases: Iterable, by: User) -> list[CollectionCase]:
    """The open cases of `cases` (cases or ids) that `by` may see, read again: a posted id outside
    their reach is ignored, as if it did not exist."""
    ids = [case.pk if isinstance(case, CollectionCase) else int(case) for case in cases]
    rows = cases_visible_to(by, CollectionCase.objects.filter(pk__in=ids, stage__in=OPEN_STAGES))
    return list(
        rows.select_related("loan", "loan__borrower", "assigned_to", "team").order_by(
            F("loan__overdue_amount").desc(), "pk"
        )
    )


def _team_members(teams: Iterable[Team]) -> dict[int, set[int]]:
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in Team.members.through.objects.filter(team__in=list(teams)).values_list("team_id", "user_id"):
        members[team_id].add(user_id)
    return members


def least_loaded_other(load: dict[int, list], pool: Iterable[int], overdue: Decimal, *, leaving: set) -> int | None:
    """The collector of `pool` other than those `leaving` who carries least (fewest open cases,
    then least overdue money, then the lowest id: allocation_spread's order), charged with the
    case's `overdue` in `load`; None when nobody else is left."""
    others = {pk: load[pk] for pk in pool if pk not in leaving}
    if not others:
        return None
    _case, chosen = next(allocation_spread(others, [(None, overdue)]))
    load[chosen] = others[chosen]
    return chosen


def cases_reassign_plan(*, cases: Iterable, by: User, to: User | None = None, team: Team | None = None) -> Reassignment:
    """What cases_reassign would do now, without doing it: the confirmation a supervisor reads.

    The selection is read again within `by`'s reach (ids outside it are ignored). To a named
    collector: each case not already theirs moves to them, if they are an active collector of the
    case's team. Balanced (`to` None): each case, largest overdue amount first, goes to whoever of
    its team's other active collectors carries least (allocation_spread), its current collector
    left out. With `team`, every case joins that team: the named collector must be a member of it,
    and the balancing is over its collectors."""
    if not by.has_perm("collection.assign_case"):
        raise PermissionDenied(_("You may not assign cases."))
    selection = _selection(cases=cases, by=by)
    plan = Reassignment()
    if team is not None:
        for case in selection:  # where each case goes, for the checks below (nothing is saved here)
            case.moving_from_team, case.team_id, case.team = case.team_id, team.pk, team
    teams = {case.team_id: case.team for case in selection if case.team_id is not None}
    if to is not None:
        if to.username == roles.SYSTEM_USERNAME:
            raise CollectionError(_("Cases are never assigned to the desk's own system account."))
        if not to.is_active or roles.COLLECTOR not in roles.user_roles(to):
            raise CollectionError(_("%(user)s is not an active collector.") % {"user": to})
        members = _team_members(teams.values())
    else:
        pools = {team_id: allocation_pool(team=team) for team_id, team in teams.items()}
        load = allocation_load({pk for pool in pools.values() for pk in pool})
        users = User.objects.in_bulk({pk for pool in pools.values() for pk in pool})
    for case in selection:
        if case.team_id is None:
            plan.refused.append((case, _("The case is in no team: give it a team first, in the admin.")))
        elif to is not None:
            if case.assigned_to_id == to.pk and getattr(case, "moving_from_team", case.team_id) == case.team_id:
                plan.unchanged.append(case)
            elif to.pk not in members[case.team_id]:
                plan.refused.append(
                    (case, _("%(user)s is not a member of team %(team)s.") % {"user": to, "team": case.team.name})
                )
            else:
                plan.moves.append((case, to))
        else:
            chosen = least_loaded_other(
                load, pools[case.team_id], case.loan.overdue_amount, leaving={case.assigned_to_id}
            )
            if chosen is None:
                plan.refused.append(
                    (case, _("Team %(team)s has no other active collector.") % {"team": case.team.name})
                )
            else:
                if case.assigned_to_id in load:  # the case leaves its collector's load
                    count, carried = load[case.assigned_to_id]
                    load[case.assigned_to_id] = [count - 1, carried - case.loan.overdue_amount]
                plan.moves.append((case, users[chosen]))
    return plan


@transaction.atomic
def cases_reassign(
    *, cases: Iterable, by: User, reason: str, to: User | None = None, team: Team | None = None
) -> Reassignment:
    """Move a supervisor's selection of cases, with a reason: to the collector `to`, or balanced
    over each case's team when `to` is None (see cases_reassign_plan). Each move is case_assign's:
    the case locked, `by`'s reach and the team checked again, a CaseAssignment with the reason and
    the audit row written. A case already with that collector is left alone; a case refused (out
    of reach, a collector outside its team) is said in words, and does not undo the others. With
    `team`, the cases join that team (see cases_reassign_plan)."""
    reason = (reason or "").strip()
    if not reason:
        raise CollectionError(_("A reassignment needs its reason."))
    plan = cases_reassign_plan(cases=cases, by=by, to=to, team=team)
    done = Reassignment(unchanged=plan.unchanged, refused=list(plan.refused))
    for case, collector in plan.moves:
        try:
            with transaction.atomic():
                case_assign(case=case, to=collector, by=by, reason=reason, team=case.team)
        except _REFUSALS as error:
            done.refused.append((case, _words(error)))
        else:
            done.moves.append((case, collector))
    return done


# --- the nightly cycle's automatic reassignment ---------------------------------------------------


def _cutoff(days: int, as_of: datetime.date) -> datetime.datetime:
    # N days or more  <=>  before the start of day as_of - N + 1 (the stage rules' count, desk time).
    return desk_day_start(as_of - datetime.timedelta(days=days - 1))


def no_contact_reassignment_reason(rule: StageRule) -> str:
    """Why the cycle moved a case, naming the rule, in the desk's language."""
    with in_desk_language():
        return _(
            "Stage rule: %(stage)s moves a case to another collector after %(days)s days without right-party contact."
        ) % {"stage": Stage(rule.stage).label, "days": rule.reassign_after_days_without_contact}


def _with_current_holding() -> dict:
    """When the case came to its current collector (their latest assignment, or the case's opening
    without one) and from whom: annotations of a query of cases."""
    latest = CaseAssignment.objects.filter(case=OuterRef("pk"), assigned_to=OuterRef("assigned_to")).order_by(
        "-assigned_at", "-pk"
    )
    return {
        "came_at": Coalesce(Subquery(latest.values("assigned_at")[:1]), "opened_at"),
        "left_id": Subquery(latest.values("previous_id")[:1]),
    }


def no_contact_reassignment_cases(rule: StageRule, *, as_of: datetime.date) -> QuerySet[CollectionCase]:
    """The cases the rule moves on `as_of`, one query: in the rule's stage (so neither held nor
    closed), assigned, in a team, with no right-party contact for the rule's N days (counted from
    when the case came to its collector when the borrower was never reached) and with their
    collector for N days at least (so that a case moved does not move again the next night).
    Largest overdue amount first, each with `came_at` and `left_id` (whom it was taken from)."""
    cutoff = _cutoff(rule.reassign_after_days_without_contact, as_of)
    return (
        CollectionCase.objects.filter(
            stage=rule.stage, assigned_to__isnull=False, team__isnull=False, opened_at__lt=cutoff
        )
        .filter(Q(last_right_party_contact_at__isnull=True) | Q(last_right_party_contact_at__lt=cutoff))
        .annotate(**_with_current_holding())
        .filter(came_at__lt=cutoff)
        .order_by(F("loan__overdue_amount").desc(), "pk")
    )


def no_contact_reassignment_test(case: CollectionCase, rule: StageRule, *, as_of: datetime.date) -> bool:
    """no_contact_reassignment_cases for one case (the cycle's one-case path)."""
    if rule.reassign_after_days_without_contact is None or case.stage != rule.stage:
        return False
    if case.assigned_to_id is None or case.team_id is None:
        return False
    cutoff = _cutoff(rule.reassign_after_days_without_contact, as_of)
    latest = (
        CaseAssignment.objects.filter(case=case, assigned_to=case.assigned_to_id)
        .order_by("-assigned_at", "-pk")
        .values_list("assigned_at", flat=True)
        .first()
    )
    came_at = latest or case.opened_at
    reached = case.last_right_party_contact_at
    return case.opened_at < cutoff and came_at < cutoff and (reached is None or reached < cutoff)
