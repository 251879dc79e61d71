"""Who may act on which case, in the services and the selectors: each service tried across the
line (a collector on another's case, a supervisor on another team's case, a legal officer on a
case not in litigation) and refused with nothing written; the same within reach, and for an admin
on every case (security review F4)."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.models import User
from collection import services
from collection.access import may_act_on
from collection.exceptions import CollectionError
from collection.machine import Stage
from collection.models import (
    CallConsent,
    CaseAssignment,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    EscalationRequest,
    PromiseToPay,
    RepaymentPlan,
)
from collection.selectors import (
    case_for_user,
    cases_for_user,
    escalation_requests_pending,
    plan_for_user,
    plans_awaiting_approval,
)
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory, case_in, mobile_of

TODAY = timezone.localdate


@pytest.fixture
def desk(db):
    """Two teams as the review found them: supervisor1's team with collector1, supervisor2's with
    collector6; a legal officer; an admin. Each collector has a case in each working stage."""
    supervisor1 = UserFactory(username="supervisor1", roles=["supervisor"])
    supervisor2 = UserFactory(username="supervisor2", roles=["supervisor"])
    collector1 = UserFactory(username="collector1", roles=["collector"])
    collector6 = UserFactory(username="collector6", roles=["collector"])
    team1 = TeamFactory(name="一组", supervisor=supervisor1)
    team2 = TeamFactory(name="二组", supervisor=supervisor2)
    team1.members.add(collector1)
    team2.members.add(collector6)
    return SimpleNamespace(
        supervisor1=supervisor1,
        supervisor2=supervisor2,
        collector1=collector1,
        collector6=collector6,
        team1=team1,
        team2=team2,
        legal=UserFactory(username="legal1", roles=["legal_officer"]),
        admin=UserFactory(username="admin_role", roles=["admin"]),
        system=User.objects.get(username="system"),
        mine=CaseFactory(assigned_to=collector1, team=team1),
        theirs=CaseFactory(assigned_to=collector6, team=team2),
    )


def plan_on(case, *, by, status=RepaymentPlan.Status.ACTIVE) -> RepaymentPlan:
    return RepaymentPlan.objects.create(
        case=case, status=status, total_amount=Decimal("600.00"), proposed_by=by, proposed_at=timezone.now()
    )


def written(case) -> dict:
    """Everything a service may write about a case, to see that a refusal wrote nothing."""
    case = CollectionCase.objects.get(pk=case.pk)
    return {
        "stage": case.stage,
        "assigned_to": case.assigned_to_id,
        "team": case.team_id,
        "logs": StateLog.objects.for_(case).count(),
        "promises": list(PromiseToPay.objects.filter(case=case).values_list("pk", "status")),
        "plans": list(RepaymentPlan.objects.filter(case=case).values_list("pk", "status")),
        "requests": list(EscalationRequest.objects.filter(case=case).values_list("pk", "status")),
        "attempts": ContactAttempt.objects.filter(case=case).count(),
        "refusals": ConductRefusal.objects.filter(case=case).count(),
        "consents": CallConsent.objects.filter(case=case).count(),
        "assignments": CaseAssignment.objects.filter(case=case).count(),
    }


def in_stage(case, stage):
    CollectionCase.objects.filter(pk=case.pk).update(stage=stage)
    case.refresh_from_db()
    return case


# Each: (name, the stage the case is put in, who tries, what they try on `case`).
ACROSS_THE_LINE = [
    (
        "promise_take",
        Stage.REMINDER,
        "collector1",
        lambda d, case: services.promise_take(case=case, by=d.collector1, amount=Decimal("10"), due_date=TODAY()),
    ),
    (
        "plan_propose",
        Stage.NEGOTIATION,
        "collector1",
        lambda d, case: services.plan_propose(case=case, by=d.collector1, installments=[(TODAY(), Decimal("100.00"))]),
    ),
    (
        "plan_cancel",
        Stage.NEGOTIATION,
        "collector1",
        lambda d, case: services.plan_cancel(plan=plan_on(case, by=d.collector6), by=d.collector1, reason="x"),
    ),
    (
        "plan_approve",
        Stage.NEGOTIATION,
        "supervisor1",
        lambda d, case: services.plan_approve(
            plan=plan_on(case, by=d.collector6, status=RepaymentPlan.Status.PENDING_APPROVAL), by=d.supervisor1
        ),
    ),
    (
        "plan_reject",
        Stage.NEGOTIATION,
        "supervisor1",
        lambda d, case: services.plan_reject(
            plan=plan_on(case, by=d.collector6, status=RepaymentPlan.Status.PENDING_APPROVAL),
            by=d.supervisor1,
            reason="no",
        ),
    ),
    (
        "escalation_request_create",
        Stage.REMINDER,
        "collector1",
        lambda d, case: services.escalation_request_create(
            case=case, target_stage=Stage.ESCALATION, reason="no answer", by=d.collector1
        ),
    ),
    (
        "escalation_request_approve",
        Stage.ESCALATION,
        "supervisor1",
        lambda d, case: services.escalation_request_approve(
            request=EscalationRequest.objects.create(
                case=case, target_stage=Stage.LITIGATION, requested_by=d.collector6, reason="assets found"
            ),
            by=d.supervisor1,
        ),
    ),
    (
        "escalation_request_reject",
        Stage.ESCALATION,
        "supervisor1",
        lambda d, case: services.escalation_request_reject(
            request=EscalationRequest.objects.create(
                case=case, target_stage=Stage.LITIGATION, requested_by=d.collector6, reason="assets found"
            ),
            by=d.supervisor1,
            reason="no",
        ),
    ),
    (
        "attempt_log",
        Stage.REMINDER,
        "collector1",
        lambda d, case: services.attempt_log(
            case=case,
            contact=mobile_of(case),
            channel="call",
            by=d.collector1,
            at=timezone.now(),
            outcome="no_answer",
        ),
    ),
    (
        "call_consent_record",
        Stage.NEGOTIATION,
        "collector1",
        lambda d, case: services.call_consent_record(
            case=case, by=d.collector1, given_at=timezone.now(), valid_until=timezone.now() + datetime.timedelta(days=1)
        ),
    ),
    (
        "case_negotiate",
        Stage.REMINDER,
        "collector1",
        lambda d, case: services.case_negotiate(case=case, by=d.collector1),
    ),
    (
        "case_escalate",
        Stage.NEGOTIATION,
        "supervisor1",
        lambda d, case: services.case_escalate(case=case, by=d.supervisor1, reason="x"),
    ),
    (
        "case_litigate",
        Stage.ESCALATION,
        "supervisor1",
        lambda d, case: services.case_litigate(case=case, by=d.supervisor1, reason="x"),
    ),
    (
        "case_de_escalate",
        Stage.ESCALATION,
        "collector1",
        lambda d, case: services.case_de_escalate(case=case, by=d.collector1, reason="x"),
    ),
    (
        "case_hold",
        Stage.NEGOTIATION,
        "collector1",
        lambda d, case: services.case_hold(case=case, by=d.collector1, reason="dispute"),
    ),
    (
        "case_resolve",
        Stage.ESCALATION,
        "collector1",
        lambda d, case: services.case_resolve(case=case, by=d.collector1),
    ),
    (
        "case_settle",
        Stage.LITIGATION,
        "supervisor1",
        lambda d, case: services.case_settle(case=case, by=d.supervisor1),
    ),
    (
        "case_write_off (supervisor)",
        Stage.ESCALATION,
        "supervisor1",
        lambda d, case: services.case_write_off(case=case, by=d.supervisor1, reason="no assets"),
    ),
    (
        "case_write_off (legal officer, not in litigation)",
        Stage.ESCALATION,
        "legal",
        lambda d, case: services.case_write_off(case=case, by=d.legal, reason="no assets"),
    ),
    (
        "attempt_log (legal officer, not in litigation)",
        Stage.ESCALATION,
        "legal",
        lambda d, case: services.attempt_log(
            case=case, contact=mobile_of(case), channel="call", by=d.legal, at=timezone.now(), outcome="no_answer"
        ),
    ),
    (
        "case_assign",
        Stage.REMINDER,
        "supervisor1",
        lambda d, case: services.case_assign(case=case, to=d.collector1, by=d.supervisor1, team=d.team1),
    ),
    (
        "cases_allocate",
        Stage.REMINDER,
        "supervisor1",
        lambda d, case: services.cases_allocate(team=d.team1, cases=[case], by=d.supervisor1),
    ),
]


@pytest.mark.parametrize(("name", "stage", "who", "attempt"), ACROSS_THE_LINE, ids=[row[0] for row in ACROSS_THE_LINE])
def test_each_service_refuses_a_case_out_of_reach(desk, name, stage, who, attempt):
    case = in_stage(desk.theirs, stage)
    before = written(case)

    with pytest.raises(PermissionDenied):
        attempt(desk, case)

    # Only the rows the test itself set up (a plan or a request to decide) are new; none changed.
    after = written(case)
    for key in ("stage", "assigned_to", "team", "logs", "attempts", "refusals", "consents", "assignments"):
        assert after[key] == before[key], key
    assert all(
        status in ("active", "pending_approval", "pending") for _pk, status in after["plans"] + after["requests"]
    )
    assert after["promises"] == before["promises"]


def test_the_same_services_work_within_reach(desk):
    """The other side of the line: collector1 on their own case, supervisor1 on their team's."""
    case = desk.mine
    services.promise_take(case=case, by=desk.collector1, amount=Decimal("10"), due_date=TODAY())
    request = services.escalation_request_create(
        case=case, target_stage=Stage.ESCALATION, reason="no answer", by=desk.collector1
    )
    services.escalation_request_approve(request=request, by=desk.supervisor1)

    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.ESCALATION
    services.plan_cancel(plan=plan_on(case, by=desk.collector1), by=desk.collector1, reason="borrower asked")


def test_collector6_cancelling_collector1s_plan_is_refused(desk):
    """The review's request: plan_cancel(collector1's plan, by=collector6)."""
    plan = plan_on(desk.mine, by=desk.collector1)

    with pytest.raises(PermissionDenied):
        services.plan_cancel(plan=plan, by=desk.collector6, reason="not mine")

    assert RepaymentPlan.objects.get(pk=plan.pk).status == RepaymentPlan.Status.ACTIVE


def test_collector1_taking_a_promise_on_collector5s_case_is_refused(desk):
    """The review's request: promise_take(case 5, by=collector1)."""
    with pytest.raises(PermissionDenied):
        services.promise_take(case=desk.theirs, by=desk.collector1, amount=Decimal("10"), due_date=TODAY())

    assert not PromiseToPay.objects.exists()


def test_a_supervisor_approving_another_teams_litigation_request_is_refused(desk):
    case = in_stage(desk.theirs, Stage.ESCALATION)
    request = EscalationRequest.objects.create(
        case=case, target_stage=Stage.LITIGATION, requested_by=desk.collector6, reason="assets found"
    )

    with pytest.raises(PermissionDenied):
        services.escalation_request_approve(request=request, by=desk.supervisor1)

    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.ESCALATION
    assert EscalationRequest.objects.get(pk=request.pk).status == EscalationRequest.Status.PENDING
    # Its own team's supervisor may.
    services.escalation_request_approve(request=request, by=desk.supervisor2)
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.LITIGATION


def test_an_admin_acts_on_every_case(desk):
    case = in_stage(desk.theirs, Stage.ESCALATION)
    request = EscalationRequest.objects.create(
        case=case, target_stage=Stage.LITIGATION, requested_by=desk.collector6, reason="assets found"
    )

    services.escalation_request_approve(request=request, by=desk.admin)
    services.case_assign(case=desk.mine, to=desk.collector6, by=desk.admin, team=desk.team2, reason="moved")

    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.LITIGATION
    assert CollectionCase.objects.get(pk=desk.mine.pk).assigned_to == desk.collector6


def test_a_legal_officer_reaches_cases_in_litigation_only(desk):
    litigation = in_stage(desk.theirs, Stage.LITIGATION)

    assert may_act_on(desk.legal, litigation)
    assert not may_act_on(desk.legal, desk.mine)
    assert list(cases_for_user(user=desk.legal)) == [litigation]
    services.attempt_log(
        case=litigation,
        contact=mobile_of(litigation),
        channel="call",
        by=desk.legal,
        at=timezone.now().replace(hour=4, minute=0),  # 12:00 in Shanghai
        outcome="no_answer",
    )


# --- four eyes ---------------------------------------------------------------------------------------------


def test_a_supervisor_cannot_approve_their_own_escalation_request(desk):
    case = in_stage(desk.mine, Stage.ESCALATION)
    request = services.escalation_request_create(
        case=case, target_stage=Stage.LITIGATION, reason="assets found", by=desk.supervisor1
    )

    with pytest.raises(PermissionDenied):
        services.escalation_request_approve(request=request, by=desk.supervisor1)

    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.ESCALATION
    assert request not in escalation_requests_pending(user=desk.supervisor1)
    assert request in escalation_requests_pending(user=desk.admin)


def test_a_supervisor_cannot_approve_a_plan_they_proposed(desk):
    plan = plan_on(desk.mine, by=desk.supervisor1, status=RepaymentPlan.Status.PENDING_APPROVAL)

    with pytest.raises(PermissionDenied):
        services.plan_approve(plan=plan, by=desk.supervisor1)

    assert RepaymentPlan.objects.get(pk=plan.pk).status == RepaymentPlan.Status.PENDING_APPROVAL
    assert plan not in plans_awaiting_approval(user=desk.supervisor1)
    assert plan in plans_awaiting_approval(user=desk.admin)


# --- assigning ---------------------------------------------------------------------------------------------


def test_a_supervisor_assigns_only_to_collectors_of_their_teams(desk):
    with pytest.raises(PermissionDenied):
        services.case_assign(case=desk.mine, to=desk.collector6, by=desk.supervisor1)
    with pytest.raises(PermissionDenied):
        services.case_assign(case=desk.mine, to=desk.collector1, by=desk.supervisor1, team=desk.team2)

    colleague = UserFactory(roles=["collector"])
    desk.team1.members.add(colleague)
    services.case_assign(case=desk.mine, to=colleague, by=desk.supervisor1, reason="cover")
    assert CollectionCase.objects.get(pk=desk.mine.pk).assigned_to == colleague


@pytest.mark.parametrize("assignee", ["system", "supervisor2", "inactive"])
def test_nobody_assigns_a_case_to_the_system_account_or_a_non_collector(desk, assignee):
    to = {
        "system": desk.system,
        "supervisor2": desk.supervisor2,
        "inactive": UserFactory(roles=["collector"], is_active=False),
    }[assignee]

    with pytest.raises(CollectionError):
        services.case_assign(case=desk.mine, to=to, by=desk.admin)

    assert CollectionCase.objects.get(pk=desk.mine.pk).assigned_to == desk.collector1


def test_the_nightly_cycles_account_reaches_every_case(desk):
    assert may_act_on(desk.system, desk.mine) and may_act_on(desk.system, desk.theirs)
    services.escalation_request_approve(
        request=EscalationRequest.objects.create(
            case=desk.theirs, target_stage=Stage.ESCALATION, requested_by=None, reason="Stage rule"
        ),
        by=desk.system,
    )
    assert CollectionCase.objects.get(pk=desk.theirs.pk).stage == Stage.ESCALATION


# --- selectors ---------------------------------------------------------------------------------------------


def test_case_for_user_refuses_a_case_out_of_reach_and_says_when_there_is_none(desk):
    assert case_for_user(user=desk.collector1, pk=desk.mine.pk) == desk.mine
    assert case_for_user(user=desk.supervisor2, pk=desk.theirs.pk) == desk.theirs
    assert case_for_user(user=desk.admin, pk=desk.theirs.pk) == desk.theirs
    with pytest.raises(PermissionDenied):
        case_for_user(user=desk.collector1, pk=desk.theirs.pk)
    with pytest.raises(PermissionDenied):
        case_for_user(user=desk.supervisor1, pk=desk.theirs.pk)
    with pytest.raises(CollectionCase.DoesNotExist):
        case_for_user(user=desk.admin, pk=desk.theirs.pk + 1000)


def test_a_plan_is_read_only_within_reach(desk):
    plan = plan_on(desk.theirs, by=desk.collector6)

    assert plan_for_user(user=desk.supervisor2, pk=plan.pk) == plan
    with pytest.raises(PermissionDenied):
        plan_for_user(user=desk.collector1, pk=plan.pk)


def test_pending_escalation_requests_are_those_the_user_may_decide(desk):
    own_team = EscalationRequest.objects.create(
        case=desk.mine, target_stage=Stage.ESCALATION, requested_by=desk.collector1, reason="a"
    )
    other_team = EscalationRequest.objects.create(
        case=desk.theirs, target_stage=Stage.ESCALATION, requested_by=desk.collector6, reason="b"
    )

    assert list(escalation_requests_pending(user=desk.supervisor1)) == [own_team]
    assert list(escalation_requests_pending(user=desk.supervisor2)) == [other_team]
    assert list(escalation_requests_pending(user=desk.admin)) == [own_team, other_team]
    assert list(escalation_requests_pending(user=desk.collector1)) == []  # may not decide at all
    assert list(escalation_requests_pending(user=desk.supervisor1, team=desk.team2)) == []


def test_cases_for_user_by_role(desk):
    assert list(cases_for_user(user=desk.collector1)) == [desk.mine]
    assert list(cases_for_user(user=desk.supervisor2)) == [desk.theirs]
    assert set(cases_for_user(user=desk.admin)) == {desk.mine, desk.theirs}
    assert list(cases_for_user(user=UserFactory())) == []


def test_a_case_put_straight_into_litigation_is_the_legal_officers(desk):
    litigation = case_in(Stage.LITIGATION, assigned_to=desk.collector6, team=desk.team2)

    assert case_for_user(user=desk.legal, pk=litigation.pk) == litigation


def test_a_supervisor_reverses_payments_only_on_their_teams_loans(desk):
    from loans.models import Payment
    from loans.services import payment_record, payment_reverse

    payments = {
        case: payment_record(
            loan=case.loan, amount=Decimal("10.00"), received_at=timezone.now(), reference=f"R-{case.pk}", channel="app"
        )
        for case in (desk.mine, desk.theirs)
    }

    with pytest.raises(PermissionDenied):
        payment_reverse(payment=payments[desk.theirs], by=desk.supervisor1, reason="录入错误")
    payment_reverse(payment=payments[desk.mine], by=desk.supervisor1, reason="录入错误")
    payment_reverse(payment=payments[desk.theirs], by=desk.admin, reason="录入错误")

    assert Payment.objects.filter(reversed_at__isnull=False).count() == 2
