"""Moving cases between the collectors of a team: the supervisor's reassignment (to a named
collector, balanced over the team, refusals in words, posted ids read again within reach, every
move logged with its reason) and the nightly cycle's automatic reassignment after N days without
right-party contact (off by default, never back to the collector a case left, held cases stay,
nothing twice in a day, the batch path equal to the one-case path)."""

import datetime
import random
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from collection import cycle
from collection.cycle_reference import collection_cycle_case_by_case
from collection.exceptions import CollectionError
from collection.machine import OPEN_STAGES, Stage
from collection.models import CaseAssignment, CollectionCase, StageRule
from collection.services import cases_reassign, cases_reassign_plan
from collection.services.reassignment import no_contact_reassignment_reason
from loans.models import Loan
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory
from tests.collection.portfolio import desk_teams, random_portfolio
from tests.collection.test_cycle import run_and_capture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]


def case_of(collector, team, overdue="100.00", stage=None, **fields) -> CollectionCase:
    case = CaseFactory(assigned_to=collector, team=team, loan__installments=False, **fields)
    Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal(overdue))
    if stage is not None:
        CollectionCase.objects.filter(pk=case.pk).update(stage=stage)
    case.refresh_from_db()
    return case


def holder(case) -> str:
    return CollectionCase.objects.select_related("assigned_to").get(pk=case.pk).assigned_to.username


@pytest.fixture
def team(collector, supervisor):
    """The desk team: the test's collector ("collector") and two more, "amy" and "bo"."""
    desk = supervisor.supervised_teams.get()
    desk.members.add(UserFactory(username="amy", roles=["collector"]), UserFactory(username="bo", roles=["collector"]))
    return desk


def member(name):
    from accounts.models import User

    return User.objects.get(username=name)


# --- the supervisor's reassignment --------------------------------------------------------------


def test_cases_move_to_a_named_collector_with_the_reason_logged(team, collector, supervisor):
    first, second = case_of(collector, team, "300.00"), case_of(collector, team, "200.00")

    done = cases_reassign(cases=[first.pk, second.pk], by=supervisor, reason="Collector on leave", to=member("amy"))

    assert [holder(first), holder(second)] == ["amy", "amy"]
    assert len(done.moves) == 2 and done.overdue == Decimal("500.00") and not done.refused
    logged = CaseAssignment.objects.filter(case__in=[first, second])
    assert {(row.assigned_to.username, row.previous.username, row.assigned_by, row.reason) for row in logged} == {
        ("amy", "collector", supervisor, "Collector on leave")
    }
    audit = LogEntry.objects.get_for_object(first).filter(actor=supervisor)
    assert audit.count() == 1 and audit.get().changes_dict["assigned_to"] == [str(collector.pk), str(member("amy").pk)]


def test_balanced_spreads_over_the_others_of_the_team_least_loaded_first(team, collector, supervisor):
    # amy already carries two small cases, bo none: the largest case goes to bo, the next to bo
    # (still fewer cases than amy: 1 < 2); then both carry two and amy the less money.
    case_of(member("amy"), team, "10.00"), case_of(member("amy"), team, "10.00")
    big, middle, small = (
        case_of(collector, team, "900.00"),
        case_of(collector, team, "500.00"),
        case_of(collector, team, "100.00"),
    )
    plan = cases_reassign_plan(cases=[small.pk, big.pk, middle.pk], by=supervisor)
    assert [(case.pk, to.username) for case, to in plan.moves] == [
        (big.pk, "bo"),
        (middle.pk, "bo"),
        (small.pk, "amy"),
    ]
    assert [(to.username, count) for to, count, _overdue in plan.by_collector()][0] == ("bo", 2)

    done = cases_reassign(cases=[small.pk, big.pk, middle.pk], by=supervisor, reason="Spread the load")

    assert [holder(big), holder(middle)] == ["bo", "bo"]
    assert holder(small) == "amy"
    assert CaseAssignment.objects.filter(reason="Spread the load").count() == 3 == len(done.moves)


def test_a_collector_outside_the_team_is_refused_in_words_and_nothing_moves(team, collector, supervisor, desk_admin):
    outsider = UserFactory(username="zed", roles=["collector"])
    TeamFactory().members.add(outsider)
    case = case_of(collector, team)

    for by in (supervisor, desk_admin):
        done = cases_reassign(cases=[case.pk], by=by, reason="try", to=outsider)
        assert not done.moves
        assert done.refused == [(case, f"{outsider} is not a member of team {team.name}.")]
    assert holder(case) == "collector"
    assert not CaseAssignment.objects.exists()


def test_one_refusal_does_not_undo_the_rest(team, collector, supervisor):
    second_team = TeamFactory(supervisor=supervisor)
    second_team.members.add(collector)
    ours, theirs = case_of(collector, team), case_of(collector, second_team)

    done = cases_reassign(cases=[ours.pk, theirs.pk], by=supervisor, reason="move", to=member("amy"))

    assert holder(ours) == "amy" and holder(theirs) == "collector"
    assert [(case.pk, why) for case, why in done.refused] == [
        (theirs.pk, f"{member('amy')} is not a member of team {second_team.name}.")
    ]


def test_forged_ids_of_another_teams_cases_are_ignored(team, collector, supervisor):
    other_team = TeamFactory()
    stranger = UserFactory(roles=["collector"])
    other_team.members.add(stranger)
    ours, foreign = case_of(collector, team), case_of(stranger, other_team)

    done = cases_reassign(cases=[ours.pk, foreign.pk, 999_999], by=supervisor, reason="move", to=member("amy"))

    assert [case.pk for case, _to in done.moves] == [ours.pk]
    assert not done.refused  # the foreign case is not even named: as if it did not exist
    assert CollectionCase.objects.get(pk=foreign.pk).assigned_to == stranger
    # Balanced over "the team" of a case out of reach moves nothing either.
    assert not cases_reassign(cases=[foreign.pk], by=supervisor, reason="move").moves


def test_a_case_already_with_that_collector_is_left_alone(team, collector, supervisor):
    case = case_of(member("amy"), team)
    done = cases_reassign(cases=[case.pk], by=supervisor, reason="again", to=member("amy"))
    assert done.unchanged == [case] and not done.moves
    assert not CaseAssignment.objects.exists()


def test_closed_cases_are_not_reassigned(team, collector, supervisor):
    case = case_of(collector, team, stage=Stage.RESOLVED)
    assert not cases_reassign(cases=[case.pk], by=supervisor, reason="x", to=member("amy")).moves
    assert holder(case) == "collector"


def test_a_reassignment_needs_a_reason_and_the_permission(team, collector, supervisor):
    case = case_of(collector, team)
    with pytest.raises(CollectionError, match="needs its reason"):
        cases_reassign(cases=[case.pk], by=supervisor, reason="  ", to=member("amy"))
    with pytest.raises(PermissionDenied):
        cases_reassign(cases=[case.pk], by=collector, reason="mine to give", to=member("amy"))
    assert holder(case) == "collector"


def test_a_team_without_another_collector_cannot_balance(collector, supervisor):
    team = supervisor.supervised_teams.get()
    case = case_of(collector, team)
    done = cases_reassign(cases=[case.pk], by=supervisor, reason="spread")
    assert done.refused == [(case, f"Team {team.name} has no other active collector.")]


# --- the nightly cycle's automatic reassignment -----------------------------------------------


def days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def came_to(case, collector, *, days_ago_: int, previous=None):
    """The case came to `collector` (from `previous`) `days_ago_` days ago."""
    CollectionCase.objects.filter(pk=case.pk).update(assigned_to=collector, opened_at=days_ago(days_ago_ + 5))
    CaseAssignment.objects.create(
        case=case,
        assigned_to=collector,
        previous=previous,
        team=case.team,
        assigned_by=collector,
        assigned_at=days_ago(days_ago_),
    )


def reassign_after(days, stage=Stage.REMINDER):
    StageRule.objects.filter(stage=stage).update(reassign_after_days_without_contact=days)


def run_reassign(as_of=None):
    return cycle.cycle_step_run(step="reassign", as_of=as_of or timezone.localdate(), at=timezone.now())


@pytest.fixture
def idle_case(team, collector, system_user):
    """A reminder case with the test's collector for ten days, the borrower never reached."""
    case = case_of(collector, team, "250.00")
    came_to(case, collector, days_ago_=10)
    return case


def test_the_rule_is_off_by_default(idle_case):
    assert not StageRule.objects.exclude(reassign_after_days_without_contact=None).exists()
    assert run_reassign() == {}
    assert holder(idle_case) == "collector"


def test_a_case_nobody_reached_for_n_days_moves_to_the_least_loaded_other_collector(idle_case, system_user):
    case_of(member("amy"), idle_case.team)  # amy carries one case, bo none
    reassign_after(7)

    assert run_reassign() == {"cases_reassigned": 1}

    assert holder(idle_case) == "bo"
    moved = CaseAssignment.objects.filter(case=idle_case).latest("assigned_at")
    assert moved.assigned_by == system_user and moved.previous.username == "collector"
    rule = StageRule.objects.get(stage=Stage.REMINDER)
    assert moved.reason == no_contact_reassignment_reason(rule)
    assert "7" in moved.reason  # the rule named, in the desk's language


def test_a_case_reached_recently_or_new_to_its_collector_stays(team, collector, system_user):
    reassign_after(7)
    reached = case_of(collector, team, last_right_party_contact_at=days_ago(2))
    came_to(reached, collector, days_ago_=20)
    new_here = case_of(collector, team)
    came_to(new_here, collector, days_ago_=3)

    assert run_reassign() == {}
    assert holder(reached) == holder(new_here) == "collector"


def test_never_back_to_the_collector_it_left(team, collector, system_user):
    reassign_after(7)
    # The case came to amy from the test's collector; the collector now carries least.
    for _ in range(3):
        case_of(member("bo"), team)
    case = case_of(member("amy"), team)
    came_to(case, member("amy"), days_ago_=9, previous=collector)

    run_reassign()

    assert holder(case) == "bo"  # not back to "collector", though they carry fewest


def test_in_a_team_of_two_a_case_does_not_go_back_and_forth(collector, supervisor, system_user):
    team = supervisor.supervised_teams.get()
    other = UserFactory(username="amy", roles=["collector"])
    team.members.add(other)
    reassign_after(7)
    case = case_of(other, team)
    came_to(case, other, days_ago_=9, previous=collector)
    assert run_reassign() == {}
    assert holder(case) == "amy"


def test_held_cases_are_not_moved(idle_case):
    reassign_after(7)
    reassign_after(7, Stage.NEGOTIATION)
    CollectionCase.objects.filter(pk=idle_case.pk).update(stage=Stage.ON_HOLD, held_stage=Stage.REMINDER)
    assert run_reassign() == {}
    assert holder(idle_case) == "collector"


def test_a_team_with_one_collector_moves_nothing(collector, supervisor, system_user):
    team = supervisor.supervised_teams.get()
    case = case_of(collector, team)
    came_to(case, collector, days_ago_=30)
    reassign_after(7)
    assert run_reassign() == {}


def test_a_second_run_on_the_same_day_moves_nothing(idle_case):
    reassign_after(7)
    assert run_reassign() == {"cases_reassigned": 1}
    first = holder(idle_case)
    assert run_reassign() == {}
    assert holder(idle_case) == first and CaseAssignment.objects.filter(case=idle_case).count() == 2


def test_the_rule_applies_to_its_own_stage_only(idle_case):
    reassign_after(7, Stage.NEGOTIATION)
    assert run_reassign() == {}


def test_the_batch_path_moves_what_the_one_case_path_moves(system_user):
    """A random portfolio whose open cases came to their collectors at random times: the cycle
    and the one-case services end identical, and the rule moved many cases."""
    as_of = timezone.localdate()
    teams = desk_teams(collectors_per_team=3)
    random_portfolio(loans=900, seed=21, as_of=as_of)
    rng = random.Random(21)
    assignments = []
    for case in CollectionCase.objects.filter(stage__in=OPEN_STAGES).order_by("pk"):
        team = rng.choice(teams)
        members = list(team.members.order_by("pk"))
        to, previous = rng.sample(members, 2)
        CollectionCase.objects.filter(pk=case.pk).update(assigned_to=to, team=team)
        if rng.random() < 0.8:
            assignments.append(
                CaseAssignment(
                    case=case,
                    assigned_to=to,
                    previous=previous if rng.random() < 0.5 else None,
                    team=team,
                    assigned_by=system_user,
                    assigned_at=max(case.opened_at, days_ago(rng.randrange(0, 40))),
                )
            )
    CaseAssignment.objects.bulk_create(assignments)
    for stage, days in ((Stage.REMINDER, 5), (Stage.NEGOTIATION, 10), (Stage.ESCALATION, 14)):
        reassign_after(days, stage)

    batch_counts, batch_state = run_and_capture(lambda: cycle.collection_cycle(as_of=as_of, batch_size=300))
    loan_ids = list(Loan.objects.values_list("pk", flat=True))
    case_counts, case_state = run_and_capture(lambda: collection_cycle_case_by_case(as_of=as_of, loan_ids=loan_ids))

    for part in batch_state:
        assert batch_state[part] == case_state[part], part
    assert batch_counts == case_counts
    assert batch_counts["reassign"]["cases_reassigned"] > 30


def test_the_stage_rule_admin_form_offers_the_reassignment_rule(admin_client):
    rule = StageRule.objects.get(stage=Stage.NEGOTIATION)
    url = reverse("admin:collection_stagerule_change", args=[rule.pk])
    assert 'name="reassign_after_days_without_contact"' in admin_client.get(url).content.decode()
