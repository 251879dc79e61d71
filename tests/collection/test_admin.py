"""The collection admin: every model's list loads in a bounded number of queries, the records the
services write are read-only, the stage never changes here, and escalation requests are decided
with the admin actions through the services."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django_fsm_log.models import StateLog

from collection.machine import Stage
from collection.models import (
    CallConsent,
    CaseAssignment,
    CollectionCase,
    ConductPolicy,
    ConductRefusal,
    ContactAttempt,
    ContactChannel,
    EscalationRequest,
    Outcome,
    PlanInstallment,
    PromiseToPay,
    ReminderStep,
    RepaymentPlan,
    StageRule,
)
from collection.services import case_hold, escalation_request_create
from collection.stage_rules import stage_rules_problems
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import AttemptFactory, CaseFactory, PromiseFactory
from tests.loans.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

ALL_MODELS = [
    CollectionCase,
    CaseAssignment,
    StageRule,
    ReminderStep,
    EscalationRequest,
    ConductPolicy,
    ContactAttempt,
    ConductRefusal,
    CallConsent,
    PromiseToPay,
    RepaymentPlan,
    PlanInstallment,
]


@pytest.fixture
def client(admin_client):
    """A superuser reading the admin in English."""
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


def url(model, view="changelist", *args):
    return reverse(f"admin:collection_{model._meta.model_name}_{view}", args=args)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def a_case_with_history(index: int) -> CollectionCase:
    """A case with a row of every kind, each by a different user (an N+1 on users would show)."""
    team = TeamFactory()
    collector = UserFactory(roles=["collector"])
    case = CaseFactory(team=team, assigned_to=collector)
    contact = ContactFactory(borrower=case.loan.borrower)
    at = timezone.now() - datetime.timedelta(days=3, minutes=index)
    CaseAssignment.objects.create(case=case, assigned_to=collector, team=team, assigned_by=UserFactory())
    attempt = AttemptFactory(
        case=case,
        contact=contact,
        channel=ContactChannel.CALL,
        attempted_at=at,
        outcome=Outcome.PROMISE_TO_PAY,
        collector=collector,
    )
    ConductRefusal.objects.create(
        case=case,
        contact=contact,
        channel=ContactChannel.CALL,
        attempted_at=at,
        attempted_by=collector,
        rule="quiet_hours",
    )
    CallConsent.objects.create(
        case=case, given_at=at, valid_until=at + datetime.timedelta(days=7), recorded_by=collector
    )
    PromiseFactory(case=case, amount=Decimal("100.00"), due_date=at.date(), taken_by=collector, attempt=attempt)
    plan = RepaymentPlan.objects.create(
        case=case,
        status=RepaymentPlan.Status.ACTIVE,
        total_amount=Decimal("600.00"),
        proposed_by=collector,
        decided_by=UserFactory(),
    )
    for sequence in (1, 2):
        PlanInstallment.objects.create(
            plan=plan,
            sequence=sequence,
            due_date=at.date() + datetime.timedelta(days=30 * sequence),
            amount=Decimal("300.00"),
        )
    escalation_request_create(case=case, target_stage=Stage.ESCALATION, reason="No contact", by=collector)
    return case


@pytest.fixture
def desk():
    return [a_case_with_history(index) for index in range(6)]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_each_list_loads_in_a_bounded_number_of_queries(client, desk, model, django_assert_max_num_queries):
    # Six cases with a row of every kind: a query per row anywhere would go over.
    # 10 for the page, 3 for the session's idle expiry (saved, in a savepoint, on every request)
    with django_assert_max_num_queries(13):
        response = client.get(url(model))

    assert response.status_code == 200
    assert model.objects.exists()


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_each_change_page_loads(client, desk, model, django_assert_max_num_queries):
    row = model.objects.first()

    # The case's page shows its timeline: a query per kind of record in it.
    with django_assert_max_num_queries(24 if model is CollectionCase else 20):
        response = client.get(url(model, "change", row.pk))

    assert response.status_code == 200


def test_the_case_page_shows_its_history(client, desk):
    case = desk[0]

    response = client.get(url(CollectionCase, "change", case.pk))

    content = response.content.decode()
    assert "History (newest first)" in content
    assert "Asked to move the case to Escalation" in content
    assert "Call to" in content


# --- the case ----------------------------------------------------------------------------------


def case_form(case: CollectionCase, **changes) -> dict:
    data = {"assigned_to": case.assigned_to_id or "", "team": case.team_id or ""}
    data.update(changes)
    return data


def test_the_stage_cannot_be_changed_in_the_admin(client):
    case = CaseFactory(assigned_to=UserFactory(roles=["collector"]))

    response = client.post(url(CollectionCase, "change", case.pk), case_form(case, stage=Stage.CLOSED))

    assert response.status_code == 302
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.REMINDER
    assert not StateLog.objects.for_(case).exists()


def test_reassigning_in_the_admin_goes_through_the_assignment_service(client, admin_user):
    first, second = UserFactory(roles=["collector"]), UserFactory(roles=["collector"])
    case = CaseFactory(assigned_to=first)

    response = client.post(
        url(CollectionCase, "change", case.pk), case_form(case, assigned_to=second.pk, reassign_reason="On leave")
    )

    assert response.status_code == 302
    assert CollectionCase.objects.get(pk=case.pk).assigned_to == second
    assignment = CaseAssignment.objects.get(case=case)
    assert (assignment.assigned_to, assignment.previous, assignment.assigned_by) == (second, first, admin_user)
    assert assignment.reason == "On leave"


def test_cases_are_not_added_or_deleted_in_the_admin(client):
    case = CaseFactory()

    assert client.get(url(CollectionCase, "add")).status_code == 403
    assert client.post(url(CollectionCase, "delete", case.pk), {"post": "yes"}).status_code == 403
    assert CollectionCase.objects.filter(pk=case.pk).exists()


# --- records the services write ----------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [CaseAssignment, ContactAttempt, ConductRefusal, CallConsent, PromiseToPay, RepaymentPlan, PlanInstallment],
    ids=lambda model: model.__name__,
)
def test_records_the_services_write_are_read_only(client, desk, model):
    row = model.objects.first()

    assert client.get(url(model, "add")).status_code == 403
    assert client.post(url(model, "change", row.pk), {}).status_code == 403
    assert client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_the_conduct_refusal_page_shows_but_does_not_edit(client, desk):
    refusal = ConductRefusal.objects.first()

    content = client.get(url(ConductRefusal, "change", refusal.pk)).content.decode()

    assert 'name="rule"' not in content
    assert "quiet_hours" in content


# --- configuration -----------------------------------------------------------------------------


def test_the_conduct_policy_is_one_row_that_is_changed_not_added_or_deleted(client):
    policy = ConductPolicy.current()

    assert client.get(url(ConductPolicy, "add")).status_code == 403
    assert client.post(url(ConductPolicy, "delete", policy.pk), {"post": "yes"}).status_code == 403
    response = client.post(
        url(ConductPolicy, "change", policy.pk),
        {
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "08:00",
            "max_unanswered_calls_per_number_per_day": 5,
            "max_calls_per_case_in_window": 7,
            "call_window_days": 7,
            "days_without_calls_after_conversation": 7,
        },
    )
    assert response.status_code == 302
    assert ConductPolicy.current().quiet_hours_start == datetime.time(21, 0)


def test_the_conduct_policy_cannot_be_loosened_past_the_legal_floors(client):
    """The review's F6 request: quiet hours 00:00-00:00, caps 32767 and no pause. Refused, each
    field saying the floor, and nothing stored."""
    policy = ConductPolicy.current()

    response = client.post(
        url(ConductPolicy, "change", policy.pk),
        {
            "quiet_hours_start": "00:00",
            "quiet_hours_end": "00:00",
            "max_unanswered_calls_per_number_per_day": 32767,
            "max_calls_per_case_in_window": 32767,
            "call_window_days": 7,
            "days_without_calls_after_conversation": 0,
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "22:00" in str(errors["quiet_hours_end"])
    assert "at most 6" in str(errors["max_unanswered_calls_per_number_per_day"])
    assert "at most 7" in str(errors["max_calls_per_case_in_window"])
    assert "at least 7 days" in str(errors["days_without_calls_after_conversation"])
    assert "legal floor" in response.content.decode()
    stored = ConductPolicy.current()
    assert (stored.quiet_hours_start, stored.quiet_hours_end) == (datetime.time(22), datetime.time(8))
    assert stored.max_calls_per_case_in_window == 7 and stored.days_without_calls_after_conversation == 7


def test_the_conduct_policy_can_be_added_when_there_is_none(client):
    ConductPolicy.objects.all().delete()

    assert client.get(url(ConductPolicy, "add")).status_code == 200


def test_the_stage_rule_form_explains_a_bad_configuration(client):
    rule = StageRule.objects.get(stage=Stage.LITIGATION)
    rule.escalate_at_dpd = 120
    problems = stage_rules_problems({**{r.stage: r for r in StageRule.objects.all()}, rule.stage: rule})

    response = client.post(
        url(StageRule, "change", rule.pk),
        {"stage": rule.stage, "entry_dpd": 91, "escalate_at_dpd": 120, "requires_approval": "on"},
    )

    assert response.status_code == 200
    assert problems == [
        "Litigation is the last stage: it cannot move cases on, so leave its escalation criteria empty."
    ]
    assert escape(problems[0]) in response.content.decode()
    assert StageRule.objects.get(pk=rule.pk).escalate_at_dpd is None


def test_the_stage_rule_list_warns_about_a_bad_configuration(client):
    StageRule.objects.filter(stage=Stage.NEGOTIATION).update(escalate_at_dpd=20)

    response = client.get(url(StageRule))

    assert any("thresholds must increase" in message for message in messages_of(response))


def test_the_reminder_step_form_shows_a_template_syntax_error(client):
    step = ReminderStep.objects.get(stage=Stage.REMINDER, day_offset=3)

    response = client.post(
        url(ReminderStep, "change", step.pk),
        {
            "stage": step.stage,
            "day_offset": step.day_offset,
            "offset_from": step.offset_from,
            "channel": step.channel,
            "template_zh": "{% if days_past_due %}逾期{{ days_past_due }}天",
            "template_en": step.template_en,
            "send_window_start": "09:00",
            "send_window_end": "20:00",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "The template does not compile" in response.content.decode()
    assert ReminderStep.objects.get(pk=step.pk).template_zh == step.template_zh


# --- escalation requests -----------------------------------------------------------------------


def act(client, action, requests, reason=""):
    return client.post(
        url(EscalationRequest),
        {"action": action, "_selected_action": [request.pk for request in requests], "reason": reason, "index": 0},
        follow=True,
    )


def requests_on(count: int) -> list[EscalationRequest]:
    collector = UserFactory(roles=["collector"])
    return [
        escalation_request_create(
            case=CaseFactory(assigned_to=collector),
            target_stage=Stage.ESCALATION,
            reason="No contact for weeks",
            by=collector,
        )
        for _ in range(count)
    ]


def test_the_list_offers_the_decisions_with_a_reason_box(client):
    requests_on(1)

    content = client.get(url(EscalationRequest)).content.decode()

    assert 'value="approve_requests"' in content
    assert 'value="reject_requests"' in content
    assert 'name="reason"' in content


def test_the_approve_action_escalates_the_cases_through_the_service(client, admin_user):
    requests = requests_on(2)

    response = act(client, "approve_requests", requests, reason="Agreed in the weekly review")

    assert "Approved 2 escalation requests." in messages_of(response)
    for request in requests:
        request.refresh_from_db()
        assert request.status == EscalationRequest.Status.APPROVED
        assert request.decided_by == admin_user
        assert request.decision_reason == "Agreed in the weekly review"
        assert CollectionCase.objects.get(pk=request.case_id).stage == Stage.ESCALATION
        log = StateLog.objects.for_(request.case).get()
        assert (log.by, log.transition) == (admin_user, "escalate")


def test_the_approve_action_reports_each_request_it_could_not_approve(client):
    held, fine = requests_on(2)
    case_hold(case=CollectionCase.objects.get(pk=held.case_id), by=held.requested_by, reason="dispute")

    response = act(client, "approve_requests", [held, fine])

    shown = messages_of(response)
    assert "Approved 1 escalation requests." in shown
    assert any(message.startswith(str(held)) and "stays pending" in message for message in shown)
    assert EscalationRequest.objects.get(pk=held.pk).status == EscalationRequest.Status.PENDING
    assert EscalationRequest.objects.get(pk=fine.pk).status == EscalationRequest.Status.APPROVED


def test_the_reject_action_needs_a_reason(client):
    (request,) = requests_on(1)

    response = act(client, "reject_requests", [request])

    assert any("reason" in message for message in messages_of(response))
    assert EscalationRequest.objects.get(pk=request.pk).status == EscalationRequest.Status.PENDING


def test_the_reject_action_rejects_with_the_reason(client):
    requests = requests_on(2)

    response = act(client, "reject_requests", requests, reason="Borrower is on a plan")

    assert "Rejected 2 escalation requests." in messages_of(response)
    for request in requests:
        request.refresh_from_db()
        assert (request.status, request.decision_reason) == (EscalationRequest.Status.REJECTED, "Borrower is on a plan")
        assert CollectionCase.objects.get(pk=request.case_id).stage == Stage.REMINDER


def test_the_decision_actions_are_offered_only_to_those_who_decide(client):
    (request,) = requests_on(1)
    staff_without_decide = UserFactory(is_staff=True)
    staff_without_decide.user_permissions.add(Permission.objects.get(codename="view_escalationrequest"))
    client.force_login(staff_without_decide)

    response = client.get(url(EscalationRequest))

    assert response.status_code == 200
    assert "approve_requests" not in response.content.decode()
    assert act(client, "approve_requests", [request]).status_code == 200
    assert EscalationRequest.objects.get(pk=request.pk).status == EscalationRequest.Status.PENDING
