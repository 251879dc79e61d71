"""Escalation requests: a collector asks (or a stage rule proposes), a supervisor decides, and
approval moves the case through the case services with the supervisor as the actor."""

import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django_fsm_log.models import StateLog

from collection.exceptions import ApprovalRequired, CollectionError, StaleCase
from collection.machine import Stage
from collection.models import CollectionCase, EscalationRequest, StageRule
from collection.selectors import escalation_requests_pending
from collection.services import (
    case_escalate,
    case_hold,
    escalation_request_approve,
    escalation_request_create,
    escalation_request_reject,
    escalation_request_withdraw,
    escalation_targets,
)
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory, case_in, within_reach_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

PENDING = EscalationRequest.Status.PENDING


def ask(case, by, target=Stage.ESCALATION, reason="Borrower refuses every call since the promise broke"):
    return escalation_request_create(case=case, target_stage=target, reason=reason, by=by)


def stage_of(case) -> str:
    return CollectionCase.objects.values_list("stage", flat=True).get(pk=case.pk)


def logs(case):
    return StateLog.objects.for_(case).order_by("timestamp", "pk")


# --- asking ------------------------------------------------------------------------------------


def test_a_collector_asks_to_escalate_a_case_in_reminder(collector):
    case = CaseFactory()

    request = ask(case, collector)

    assert request.status == PENDING
    assert request.requested_by == collector
    assert request.target_stage == Stage.ESCALATION
    assert request.decided_by is None
    assert stage_of(case) == Stage.REMINDER  # asking moves nothing


@pytest.mark.parametrize(
    "stage, targets",
    [
        (Stage.REMINDER, {Stage.ESCALATION: "escalate"}),
        (Stage.NEGOTIATION, {Stage.ESCALATION: "escalate"}),
        (Stage.ESCALATION, {Stage.LITIGATION: "litigate"}),
        (Stage.LITIGATION, {}),
        (Stage.ON_HOLD, {}),
        (Stage.RESOLVED, {}),
    ],
)
def test_the_stages_a_request_may_ask_for_come_from_the_case_machine(stage, targets):
    assert escalation_targets(case=case_in(stage)) == targets


@pytest.mark.parametrize(
    "stage, target",
    [
        (Stage.REMINDER, Stage.LITIGATION),  # no transition skips escalation
        (Stage.REMINDER, Stage.NEGOTIATION),  # entered by the collector on contact, not by request
        (Stage.ESCALATION, Stage.ESCALATION),
        (Stage.ESCALATION, Stage.NEGOTIATION),  # de-escalation is not an escalation
        (Stage.LITIGATION, Stage.LITIGATION),
        (Stage.ON_HOLD, Stage.ESCALATION),  # a hold stops escalation
        (Stage.CLOSED, Stage.ESCALATION),
    ],
)
def test_a_request_must_name_a_stage_the_case_can_move_to(collector, stage, target):
    case = case_in(stage)

    with pytest.raises(CollectionError):
        ask(case, collector, target=target)

    assert not EscalationRequest.objects.exists()


def test_the_refusal_names_the_stages_the_case_can_be_asked_to_move_to(collector):
    with pytest.raises(CollectionError, match="Escalation"):
        ask(CaseFactory(), collector, target=Stage.LITIGATION)


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_a_request_needs_its_reason(collector, reason):
    with pytest.raises(CollectionError):
        ask(CaseFactory(), collector, reason=reason)

    assert not EscalationRequest.objects.exists()


def test_only_someone_who_works_cases_may_ask():
    outsider = UserFactory()

    with pytest.raises(PermissionDenied):
        ask(CaseFactory(), outsider)

    assert not EscalationRequest.objects.exists()


def test_asking_again_returns_the_pending_request(collector):
    case = CaseFactory()
    first = ask(case, collector, reason="first reason")
    colleague = UserFactory(roles=["collector"])
    within_reach_of(colleague, case)  # the case went to a colleague meanwhile

    again = ask(case, colleague, reason="second reason")

    assert again.pk == first.pk
    assert again.reason == "first reason"
    assert again.requested_by == collector
    assert EscalationRequest.objects.filter(case=case).count() == 1


def test_a_decided_request_does_not_stop_a_new_one(collector, supervisor):
    case = CaseFactory()
    rejected = escalation_request_reject(request=ask(case, collector), by=supervisor, reason="Too early")

    new = ask(case, collector, reason="Two more broken promises")

    assert new.pk != rejected.pk
    assert new.status == PENDING


def test_a_stage_rule_proposes_an_escalation_without_a_requester():
    case = CaseFactory()

    request = escalation_request_create(
        case=case, target_stage=Stage.ESCALATION, reason="Stage rule Reminder: DPD 31 reached", by=None
    )

    assert request.requested_by is None
    assert request.status == PENDING
    assert "Stage rule" in request.reason


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_collectors_asking_at_once_get_the_same_request():
    """The first caller inserts and holds its transaction open; the second misses it on its
    read, then waits on the unique index and, once the first commits, reads the winner's row."""
    from django.db import transaction

    case = CaseFactory()
    # Two people who may both work the case: its collector and its team's supervisor (who also collects).
    collectors = [UserFactory(roles=["collector"]), UserFactory(roles=["supervisor", "collector"])]
    for person in reversed(collectors):  # the case ends assigned to the first
        within_reach_of(person, case)
    results: dict[int, int] = {}
    errors: list[BaseException] = []
    inserted = threading.Event()

    def first():
        try:
            with transaction.atomic():
                results[0] = ask(case, collectors[0]).pk
                inserted.set()
                time.sleep(0.5)  # the second caller now blocks on the index
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            inserted.set()
        finally:
            connection.close()

    def second():
        try:
            inserted.wait(5)
            results[1] = ask(case, collectors[1]).pk
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert not errors
    assert results[0] == results[1]
    assert EscalationRequest.objects.filter(case=case).count() == 1


# --- approving ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [Stage.REMINDER, Stage.NEGOTIATION])
def test_approval_escalates_the_case_with_the_supervisor_as_the_actor(collector, supervisor, stage):
    case = case_in(stage)
    request = ask(case, collector)

    escalation_request_approve(request=request, by=supervisor, reason="Agreed: no contact for weeks")

    assert stage_of(case) == Stage.ESCALATION
    request.refresh_from_db()
    assert request.status == EscalationRequest.Status.APPROVED
    assert request.decided_by == supervisor
    assert request.decided_at is not None
    assert request.decision_reason == "Agreed: no contact for weeks"
    (log,) = logs(case)
    assert (log.by, log.source_state, log.state, log.transition) == (supervisor, stage, Stage.ESCALATION, "escalate")
    assert f"#{request.pk}" in log.description
    assert "Agreed: no contact for weeks" in log.description


def test_without_a_decision_reason_the_log_carries_the_requests_reason(collector, supervisor):
    case = CaseFactory()
    request = ask(case, collector, reason="Three broken promises")

    escalation_request_approve(request=request, by=supervisor)

    assert "Three broken promises" in logs(case).get().description
    request.refresh_from_db()
    assert request.decision_reason == ""


def test_litigation_needs_a_supervisors_approval_by_default():
    assert StageRule.objects.get(stage=Stage.LITIGATION).requires_approval is True
    assert StageRule.objects.get(stage=Stage.ESCALATION).requires_approval is False


def test_approving_a_litigation_request_sends_the_case_to_litigation(collector, supervisor):
    case = case_in(Stage.ESCALATION)
    request = ask(case, collector, target=Stage.LITIGATION, reason="Refuses to pay; DPD 95")

    escalation_request_approve(request=request, by=supervisor)

    assert stage_of(case) == Stage.LITIGATION
    log = logs(case).get()
    assert (log.by, log.source_state, log.state, log.transition) == (
        supervisor,
        Stage.ESCALATION,
        Stage.LITIGATION,
        "litigate",
    )


def test_when_escalation_needs_approval_the_collector_asks_and_the_supervisor_approves(collector, supervisor):
    StageRule.objects.filter(stage=Stage.ESCALATION).update(requires_approval=True)
    case = CaseFactory()
    with pytest.raises(ApprovalRequired):
        case_escalate(case=case, by=collector, reason="Straight to escalation")
    case = CollectionCase.objects.get(pk=case.pk)

    escalation_request_approve(request=ask(case, collector), by=supervisor)

    assert stage_of(case) == Stage.ESCALATION
    assert logs(case).get().by == supervisor


def test_a_rule_proposal_is_approved_like_a_request(supervisor):
    case = CaseFactory()
    request = escalation_request_create(
        case=case, target_stage=Stage.ESCALATION, reason="Stage rule Reminder: two broken promises", by=None
    )

    escalation_request_approve(request=request, by=supervisor)

    assert stage_of(case) == Stage.ESCALATION
    assert logs(case).get().by == supervisor


def test_a_collector_may_not_approve(collector):
    case = CaseFactory()
    request = ask(case, collector)

    with pytest.raises(PermissionDenied):
        escalation_request_approve(request=request, by=UserFactory(roles=["collector"]))

    assert stage_of(case) == Stage.REMINDER
    request.refresh_from_db()
    assert request.status == PENDING
    assert not logs(case).exists()


def test_approving_after_the_case_moved_meanwhile_leaves_the_request_pending(collector, supervisor):
    case = CaseFactory()
    request = ask(case, collector)
    seen = EscalationRequest.objects.select_related("case").get(pk=request.pk)  # what the supervisor sees
    case_hold(case=CollectionCase.objects.get(pk=case.pk), by=collector, reason="dispute")  # meanwhile

    with pytest.raises(StaleCase, match="Reload it and try again. The escalation request stays pending."):
        escalation_request_approve(request=seen, by=supervisor)

    assert stage_of(case) == Stage.ON_HOLD
    request.refresh_from_db()
    assert request.status == PENDING
    assert request.decided_by is None
    assert [log.transition for log in logs(case)] == ["hold"]


def test_approving_when_the_move_is_no_longer_possible_says_so_and_keeps_the_request(collector, supervisor):
    case = CaseFactory()
    request = ask(case, collector)
    case_hold(case=CollectionCase.objects.get(pk=case.pk), by=collector, reason="hardship")
    fresh = EscalationRequest.objects.get(pk=request.pk)

    with pytest.raises(CollectionError, match="stays pending"):
        escalation_request_approve(request=fresh, by=supervisor)

    fresh.refresh_from_db()
    assert fresh.status == PENDING
    assert stage_of(case) == Stage.ON_HOLD


@pytest.mark.parametrize(
    "decide",
    [
        lambda request, supervisor, collector: escalation_request_approve(request=request, by=supervisor),
        lambda request, supervisor, collector: escalation_request_reject(request=request, by=supervisor, reason="No"),
        lambda request, supervisor, collector: escalation_request_withdraw(request=request, by=collector),
    ],
    ids=["approve", "reject", "withdraw"],
)
@pytest.mark.parametrize("status", ["approved", "rejected", "withdrawn"])
def test_only_pending_requests_can_be_decided(collector, supervisor, decide, status):
    case = CaseFactory()
    request = ask(case, collector)
    EscalationRequest.objects.filter(pk=request.pk).update(status=status)

    with pytest.raises(CollectionError, match="only pending requests"):
        decide(request, supervisor, collector)  # the in-memory copy still says pending

    assert EscalationRequest.objects.get(pk=request.pk).status == status
    assert stage_of(case) == Stage.REMINDER


def test_a_second_supervisor_approving_the_same_request_is_told_it_is_decided(collector, supervisor):
    case = CaseFactory()
    request = ask(case, collector)
    other_copy = EscalationRequest.objects.get(pk=request.pk)
    escalation_request_approve(request=request, by=supervisor)

    second_supervisor = UserFactory(roles=["supervisor"])
    within_reach_of(second_supervisor, case)  # the case moves to their team meanwhile

    with pytest.raises(CollectionError):
        escalation_request_approve(request=other_copy, by=second_supervisor)

    assert logs(case).count() == 1


# --- rejecting and withdrawing -----------------------------------------------------------------


def test_a_supervisor_rejects_with_a_reason_and_the_case_stays(collector, supervisor):
    case = CaseFactory()
    request = ask(case, collector)

    escalation_request_reject(request=request, by=supervisor, reason="Borrower called back today")

    request.refresh_from_db()
    assert request.status == EscalationRequest.Status.REJECTED
    assert request.decided_by == supervisor
    assert request.decided_at is not None
    assert request.decision_reason == "Borrower called back today"
    assert stage_of(case) == Stage.REMINDER
    assert not logs(case).exists()


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_rejection_needs_its_reason(collector, supervisor, reason):
    request = ask(CaseFactory(), collector)

    with pytest.raises(CollectionError):
        escalation_request_reject(request=request, by=supervisor, reason=reason)

    assert EscalationRequest.objects.get(pk=request.pk).status == PENDING


def test_a_collector_may_not_reject(collector):
    request = ask(CaseFactory(), collector)

    with pytest.raises(PermissionDenied):
        escalation_request_reject(request=request, by=collector, reason="Changed my mind")

    assert EscalationRequest.objects.get(pk=request.pk).status == PENDING


def test_the_requester_withdraws_their_request(collector):
    case = CaseFactory()
    request = ask(case, collector)

    escalation_request_withdraw(request=request, by=collector)

    request.refresh_from_db()
    assert request.status == EscalationRequest.Status.WITHDRAWN
    assert request.decided_by == collector
    assert stage_of(case) == Stage.REMINDER


def test_only_the_requester_withdraws(collector, supervisor):
    request = ask(CaseFactory(), collector)

    for someone_else in (UserFactory(roles=["collector"]), supervisor):
        with pytest.raises(PermissionDenied):
            escalation_request_withdraw(request=request, by=someone_else)

    assert EscalationRequest.objects.get(pk=request.pk).status == PENDING


def test_a_rule_proposal_cannot_be_withdrawn(collector):
    request = escalation_request_create(
        case=CaseFactory(), target_stage=Stage.ESCALATION, reason="Stage rule Reminder: DPD 31", by=None
    )

    with pytest.raises(PermissionDenied):
        escalation_request_withdraw(request=request, by=collector)


# --- the supervisor's list ---------------------------------------------------------------------


def test_pending_requests_oldest_first_and_by_team(collector, supervisor, django_assert_max_num_queries):
    team, other_team = TeamFactory(supervisor=supervisor), TeamFactory()
    mine = [ask(CaseFactory(team=team), collector) for _ in range(3)]
    theirs = ask(CaseFactory(team=other_team), collector)
    escalation_request_reject(request=mine[1], by=supervisor, reason="No")
    admin = UserFactory(is_superuser=True)

    assert list(escalation_requests_pending(user=supervisor, team=team)) == [mine[0], mine[2]]
    assert list(escalation_requests_pending(user=supervisor)) == [mine[0], mine[2]]  # not the other team's
    assert list(escalation_requests_pending(user=admin)) == [mine[0], mine[2], theirs]
    with django_assert_max_num_queries(1):
        for request in escalation_requests_pending(user=admin):
            str(request.case), request.case.loan.borrower.name, str(request.requested_by)
