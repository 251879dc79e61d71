"""What the desk reads from the case machine: the moves a supervisor decides, where each stage
leads on to, and the statuses that commit a borrower."""

import pytest

from collection.machine import (
    CASE_MACHINE,
    LIVE_PLAN_STATUSES,
    PENDING_PROMISE,
    WORKING_STAGES,
    Stage,
    later_stage_moves,
)
from collection.models import PromiseToPay, RepaymentPlan
from collection.services import MOVE_SERVICES
from collection.stage_rules import rule_move


def test_each_working_stage_leads_on_to_the_next_by_a_supervisors_decision():
    assert later_stage_moves(Stage.REMINDER) == {Stage.ESCALATION: "escalate"}
    assert later_stage_moves(Stage.NEGOTIATION) == {Stage.ESCALATION: "escalate"}
    assert later_stage_moves(Stage.ESCALATION) == {Stage.LITIGATION: "litigate"}


@pytest.mark.parametrize("stage", [Stage.LITIGATION, Stage.ON_HOLD, Stage.RESOLVED, Stage.CLOSED])
def test_nothing_leads_on_from_the_last_stage_a_held_or_a_closed_case(stage):
    assert later_stage_moves(stage) == {}
    assert rule_move(stage) is None


def test_a_stage_rule_moves_a_case_on_by_the_first_later_move():
    assert [rule_move(stage) for stage in WORKING_STAGES[:3]] == [
        ("escalate", Stage.ESCALATION),
        ("escalate", Stage.ESCALATION),
        ("litigate", Stage.LITIGATION),
    ]


def test_every_move_a_supervisor_decides_has_its_service():
    decided = {name for name in CASE_MACHINE.transition_names() if CASE_MACHINE.custom(name, "decided")}

    assert decided == set(MOVE_SERVICES) == {"escalate", "litigate"}


def test_every_transition_says_what_it_does_in_words():
    for name in CASE_MACHINE.transition_names():
        assert CASE_MACHINE.action(name) != name, f"{name} has no words"


def test_the_statuses_that_commit_a_borrower_are_statuses_of_promises_and_plans():
    assert PENDING_PROMISE == PromiseToPay.Status.PENDING
    assert set(LIVE_PLAN_STATUSES) == {RepaymentPlan.Status.PENDING_APPROVAL, RepaymentPlan.Status.ACTIVE}
