"""The case's timeline: everything that happened to it, newest first, in a bounded number of
queries."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from collection.machine import Stage
from collection.models import (
    CaseAssignment,
    CollectionCase,
    ConductRefusal,
    ContactChannel,
    Outcome,
    PromiseToPay,
    RepaymentPlan,
)
from collection.selectors import TimelineEntry, case_timeline
from collection.services import (
    case_assign,
    case_hold,
    escalation_request_approve,
    escalation_request_create,
    escalation_request_reject,
)
from tests.accounts.factories import UserFactory
from tests.collection.factories import AttemptFactory, CaseFactory, PromiseFactory
from tests.loans.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]


def hours_ago(hours: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(hours=hours)


def add_history(case: CollectionCase, *, collector, supervisor, hours: float = 48) -> None:
    """One record of every kind, older than `hours` ago and an hour apart."""
    contact = ContactFactory(borrower=case.loan.borrower)
    AttemptFactory(
        case=case,
        contact=contact,
        channel=ContactChannel.CALL,
        attempted_at=hours_ago(hours),
        outcome=Outcome.NO_ANSWER,
        collector=collector,
        note="Rang twelve times",
    )
    ConductRefusal.objects.create(
        case=case,
        contact=contact,
        channel=ContactChannel.CALL,
        attempted_at=hours_ago(hours - 1),
        attempted_by=collector,
        rule="quiet_hours",
        detail="22:30 in Asia/Shanghai",
    )
    PromiseFactory(
        case=case,
        amount=Decimal("300.00"),
        due_date=timezone.localdate(),
        promised_at=hours_ago(hours - 2),
        taken_by=collector,
        status=PromiseToPay.Status.BROKEN,  # history: a case has at most one pending promise
    )
    RepaymentPlan.objects.create(
        case=case,
        status=RepaymentPlan.Status.REJECTED,
        total_amount=Decimal("900.00"),
        proposed_by=collector,
        proposed_at=hours_ago(hours - 3),
        decided_by=supervisor,
        decided_at=hours_ago(hours - 4),
        decision_reason="Term beyond the product's policy",
    )
    CaseAssignment.objects.create(
        case=case, assigned_to=collector, assigned_by=supervisor, assigned_at=hours_ago(hours - 5)
    )


@pytest.fixture
def worked_case(collector, supervisor):
    """A case with a record of every kind, then a reassignment, an escalation approved and a hold."""
    case = CaseFactory(assigned_to=collector)
    add_history(case, collector=collector, supervisor=supervisor)
    request = escalation_request_create(
        case=case, target_stage=Stage.ESCALATION, reason="No answer for two weeks", by=collector
    )
    escalation_request_approve(request=request, by=supervisor, reason="Agreed")
    case = CollectionCase.objects.get(pk=case.pk)
    case_hold(case=case, by=collector, reason="dispute", note="Borrower disputes the penalty")
    # Then the case goes to a colleague (after which `collector` may no longer work it), recorded as
    # an hour before the request so that the hold stays the newest entry.
    cover = UserFactory(roles=["collector"])
    case.team.members.add(cover)
    case_assign(case=case, to=cover, by=supervisor, reason="Leave cover")
    CaseAssignment.objects.filter(case=case, assigned_to=cover).update(assigned_at=hours_ago(1))
    return CollectionCase.objects.get(pk=case.pk)


def test_the_timeline_shows_every_kind_of_record(worked_case):
    kinds = [entry.kind for entry in case_timeline(case=worked_case)]

    assert sorted(set(kinds)) == sorted(
        {
            "transition",
            "attempt",
            "refusal",
            "promise",
            "plan",
            "plan_decision",
            "assignment",
            "escalation_request",
            "escalation_decision",
        }
    )
    assert kinds.count("transition") == 2
    assert kinds.count("assignment") == 2


def test_the_timeline_is_newest_first(worked_case):
    entries = case_timeline(case=worked_case)

    assert [entry.time for entry in entries] == sorted((entry.time for entry in entries), reverse=True)
    assert entries[0].kind == "transition"  # the hold came last
    assert entries[-1].kind == "attempt"  # the call came first


def test_a_transition_entry_says_who_moved_the_case_from_where_to_where_and_why(worked_case, supervisor, collector):
    hold, escalation = [entry for entry in case_timeline(case=worked_case) if entry.kind == "transition"]

    assert escalation.actor == supervisor
    assert escalation.summary.startswith("Stage Reminder → Escalation: Escalation request #")
    assert escalation.summary.endswith("approved: Agreed")
    assert hold.actor == collector
    assert hold.summary == "Stage Escalation → On hold: Borrower disputes the penalty"


def test_each_entry_has_its_actor_and_a_short_summary(worked_case, collector, supervisor):
    by_kind = {entry.kind: entry for entry in reversed(case_timeline(case=worked_case))}  # the newest of each kind

    assert by_kind["attempt"] == TimelineEntry(
        kind="attempt",
        time=by_kind["attempt"].time,
        actor=collector,
        summary=f"Call to {by_kind['attempt'].summary.split(' to ', 1)[1].split(':')[0]}: No answer: Rang twelve times",
    )
    assert by_kind["refusal"].summary == "Call refused by the conduct limits (Quiet hours): 22:30 in Asia/Shanghai"
    assert by_kind["promise"].summary.startswith("Promise to pay ¥300.00 by ")
    assert by_kind["plan"].actor == collector
    assert by_kind["plan_decision"].actor == supervisor
    assert by_kind["plan_decision"].summary == "Repayment plan rejected: Term beyond the product's policy"
    assert by_kind["assignment"].actor == supervisor
    assert by_kind["assignment"].summary.startswith("Reassigned from ")
    assert by_kind["assignment"].summary.endswith(": Leave cover")
    assert by_kind["escalation_request"].actor == collector
    assert by_kind["escalation_request"].summary == "Asked to move the case to Escalation: No answer for two weeks"
    assert by_kind["escalation_decision"].actor == supervisor
    assert by_kind["escalation_decision"].summary == "Move to Escalation: Approved: Agreed"


def test_a_rule_proposal_and_a_rejection_read_as_such(supervisor):
    case = CaseFactory()
    request = escalation_request_create(
        case=case, target_stage=Stage.ESCALATION, reason="Stage rule Reminder: DPD 31", by=None
    )
    escalation_request_reject(request=request, by=supervisor, reason="Paid yesterday")

    by_kind = {entry.kind: entry for entry in case_timeline(case=case)}
    proposal, decision = by_kind["escalation_request"], by_kind["escalation_decision"]

    assert proposal.actor is None
    assert proposal.summary == "A stage rule proposed moving the case to Escalation: Stage rule Reminder: DPD 31"
    assert decision.summary == "Move to Escalation: Rejected: Paid yesterday"


def test_a_new_case_has_an_empty_timeline():
    assert case_timeline(case=CaseFactory()) == []


def test_the_timeline_of_one_case_leaves_out_the_others(worked_case, collector, supervisor):
    other = CaseFactory()
    add_history(other, collector=collector, supervisor=supervisor)

    entries = case_timeline(case=worked_case)

    assert len(entries) == 6 + 5  # the history, a reassignment, a request and its decision, two transitions
    assert len(case_timeline(case=other)) == 6


def test_the_number_of_queries_does_not_grow_with_the_history(
    worked_case, collector, supervisor, django_assert_max_num_queries
):
    with django_assert_max_num_queries(14):  # a query per kind of record, and the audit trail's three
        short = case_timeline(case=worked_case)
    for round in range(5):
        add_history(worked_case, collector=UserFactory(), supervisor=UserFactory(), hours=100 + 10 * round)

    with django_assert_max_num_queries(14):  # a query per kind of record, and the audit trail's three
        long = case_timeline(case=worked_case)
        [str(entry.actor) for entry in long]

    assert len(long) == len(short) + 5 * 6


def test_the_limit_keeps_the_newest_entries(worked_case):
    everything = case_timeline(case=worked_case)

    assert case_timeline(case=worked_case, limit=3) == everything[:3]


def test_a_cancelled_plan_shows_its_approval_and_its_cancellation(collector, supervisor):
    from collection import services

    case = CaseFactory()
    plan = RepaymentPlan.objects.create(
        case=case,
        status=RepaymentPlan.Status.PENDING_APPROVAL,
        total_amount=Decimal("100.00"),
        proposed_by=collector,
        policy_breaches="Term",
    )
    services.plan_approve(plan=plan, by=supervisor, reason="ok")
    services.plan_cancel(plan=plan, by=collector, reason="settling instead")

    summaries = [entry.summary for entry in case_timeline(case=case) if entry.kind == "plan_decision"]

    assert sorted(summaries) == ["Repayment plan approved: ok", "Repayment plan cancelled: settling instead"]
    assert timezone.now() >= RepaymentPlan.objects.get(pk=plan.pk).cancelled_at
