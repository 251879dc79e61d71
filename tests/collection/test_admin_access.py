"""The admin shows each user only the cases within their reach, and the records and portfolio behind
them; its escalation actions go through the services, so a supervisor cannot decide another team's
requests there either (security review F4)."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from collection.machine import Stage
from collection.models import (
    CallConsent,
    CaseAssignment,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    EscalationRequest,
    PlanInstallment,
    PromiseToPay,
    RepaymentPlan,
)
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory, mobile_of, pay


def staff(username, role):
    return UserFactory(username=username, roles=[role], is_staff=True)


@pytest.fixture
def desk(db):
    supervisor1, supervisor2 = staff("supervisor1", "supervisor"), staff("supervisor2", "supervisor")
    collector1, collector6 = staff("collector1", "collector"), staff("collector6", "collector")
    team1 = TeamFactory(name="一组", supervisor=supervisor1)
    team2 = TeamFactory(name="二组", supervisor=supervisor2)
    team1.members.add(collector1)
    team2.members.add(collector6)
    mine = CaseFactory(assigned_to=collector1, team=team1)
    theirs = CaseFactory(assigned_to=collector6, team=team2)
    for case in (mine, theirs):
        mobile_of(case)
        PromiseToPay.objects.create(
            case=case, amount=Decimal("10"), due_date=timezone.localdate(), taken_by=case.assigned_to
        )
        plan = RepaymentPlan.objects.create(
            case=case,
            status=RepaymentPlan.Status.ACTIVE,
            total_amount=Decimal("10.00"),
            proposed_by=case.assigned_to,
            proposed_at=timezone.now(),
        )
        PlanInstallment.objects.create(plan=plan, sequence=1, due_date=timezone.localdate(), amount=Decimal("10.00"))
        EscalationRequest.objects.create(case=case, target_stage=Stage.ESCALATION, reason="no answer")
        now = timezone.now()
        ContactAttempt.objects.create(
            case=case, channel="call", attempted_at=now, outcome="no_answer", collector=case.assigned_to
        )
        ConductRefusal.objects.create(
            case=case, channel="call", attempted_at=now, attempted_by=case.assigned_to, rule="quiet_hours"
        )
        CallConsent.objects.create(
            case=case, given_at=now, valid_until=now + datetime.timedelta(days=1), recorded_by=case.assigned_to
        )
        CaseAssignment.objects.create(
            case=case, assigned_to=case.assigned_to, team=case.team, assigned_by=case.team.supervisor
        )
    return SimpleNamespace(
        supervisor1=supervisor1,
        supervisor2=supervisor2,
        collector1=collector1,
        collector6=collector6,
        legal=staff("legal1", "legal_officer"),
        admin=staff("admin_role", "admin"),
        mine=mine,
        theirs=theirs,
    )


# The lists of case records, each with the path from a row to its case.
CASE_LISTS = [
    ("collection", "collectioncase", ""),
    ("collection", "promisetopay", "case__"),
    ("collection", "repaymentplan", "case__"),
    ("collection", "planinstallment", "plan__case__"),
    ("collection", "escalationrequest", "case__"),
    ("collection", "contactattempt", "case__"),
    ("collection", "conductrefusal", "case__"),
    ("collection", "callconsent", "case__"),
    ("collection", "caseassignment", "case__"),
]
PORTFOLIO_LISTS = [
    ("loans", "borrower", "loans__collection_cases__"),
    ("loans", "contact", "borrower__loans__collection_cases__"),
    ("loans", "loan", "collection_cases__"),
    ("loans", "installment", "loan__collection_cases__"),
]


def listed(client, app, model):
    response = client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


@pytest.mark.parametrize(("app", "model", "to_case"), CASE_LISTS + PORTFOLIO_LISTS)
@pytest.mark.parametrize("who", ["collector1", "supervisor1", "legal", "admin"])
def test_each_list_shows_the_rows_of_the_cases_within_reach(client, desk, app, model, to_case, who):
    from django.apps import apps

    user = getattr(desk, who)
    # The list itself is open to the user (no role views assignments today): what it shows is the point.
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=f"view_{model}"))
    client.force_login(user)
    rows = apps.get_model(app, model).objects
    reachable = {
        "collector1": [desk.mine],
        "supervisor1": [desk.mine],
        "legal": [],  # neither case is in litigation
        "admin": [desk.mine, desk.theirs],
    }[who]

    shown = listed(client, app, model)

    expected = set(rows.filter(**{f"{to_case}pk__in": [case.pk for case in reachable]}).values_list("pk", flat=True))
    assert shown == expected
    if who != "admin":
        assert not shown & set(rows.filter(**{f"{to_case}pk": desk.theirs.pk}).values_list("pk", flat=True))


def test_a_collector_cannot_open_the_borrower_of_another_collectors_case(client, desk):
    """The review's request: GET /admin/loans/borrower/<borrower of collector5's case>/change/ showed the full
    national ID to collector_staff."""
    client.force_login(desk.collector1)
    borrower = desk.theirs.loan.borrower

    response = client.get(reverse("admin:loans_borrower_change", args=[borrower.pk]), follow=True)

    assert borrower.national_id not in response.content.decode()
    assert response.redirect_chain  # "does not exist": sent back to the admin's index
    own = client.get(reverse("admin:loans_borrower_change", args=[desk.mine.loan.borrower.pk]))
    assert own.status_code == 200


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("collectioncase", lambda desk: desk.theirs),
        ("escalationrequest", lambda desk: desk.theirs.escalation_requests.get()),
    ],
)
def test_a_change_page_out_of_reach_is_not_shown(client, desk, name, target):
    client.force_login(desk.supervisor1)

    response = client.get(reverse(f"admin:collection_{name}_change", args=[target(desk).pk]))

    assert response.status_code == 302  # the admin's "does not exist"


def test_a_supervisor_cannot_approve_another_teams_litigation_request_with_the_admin_action(client, desk):
    """The review's request: supervisor1 approved litigation request 56 of a 二组 case with the admin action."""
    CollectionCase.objects.filter(pk=desk.theirs.pk).update(stage=Stage.ESCALATION)
    request = EscalationRequest.objects.create(
        case=desk.theirs, target_stage=Stage.LITIGATION, requested_by=desk.collector6, reason="assets found"
    )
    client.force_login(desk.supervisor1)

    client.post(
        reverse("admin:collection_escalationrequest_changelist"),
        {"action": "approve_requests", "_selected_action": [request.pk], "reason": ""},
    )

    assert CollectionCase.objects.get(pk=desk.theirs.pk).stage == Stage.ESCALATION
    assert EscalationRequest.objects.get(pk=request.pk).status == EscalationRequest.Status.PENDING


def test_the_admin_action_decides_the_own_teams_requests(client, desk):
    request = desk.mine.escalation_requests.get()
    client.force_login(desk.supervisor1)

    client.post(
        reverse("admin:collection_escalationrequest_changelist"),
        {"action": "approve_requests", "_selected_action": [request.pk], "reason": "agreed"},
    )

    assert EscalationRequest.objects.get(pk=request.pk).status == EscalationRequest.Status.APPROVED


def test_payments_are_listed_for_the_cases_within_reach(client, desk):
    own, other = pay(desk.mine, "10.00", timezone.now()), pay(desk.theirs, "10.00", timezone.now())
    client.force_login(desk.collector1)

    shown = listed(client, "loans", "payment")

    assert own.pk in shown and other.pk not in shown


def test_a_scoped_list_reads_in_a_bounded_number_of_queries(client, desk, django_assert_max_num_queries):
    for _ in range(5):
        CaseFactory(assigned_to=desk.collector1)
    client.force_login(desk.collector1)

    with django_assert_max_num_queries(12):
        client.get(reverse("admin:collection_collectioncase_changelist"))
    with django_assert_max_num_queries(12):
        client.get(reverse("admin:loans_borrower_changelist"))
