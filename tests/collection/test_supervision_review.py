"""The review pages: the escalation requests and the off-policy plans awaiting a supervisor. Who may
open them and act (collectors and legal officers are told they do not exist, another team's
supervisor sees none of this team's requests and cannot decide them by a forged post, an admin
sees all), what each row shows, approving and rejecting one request, a stale decision refused as a
conflict, the bulk decision with its confirmation, the plans with the limits they exceed and
their decisions with audit rows, the collector's view of decisions, and what the pages cost.
Read in English (the language cookie)."""

import datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from collection.machine import Stage
from collection.models import CollectionCase, ContactAttempt, EscalationRequest, PromiseToPay, RepaymentPlan
from collection.selectors import case_timeline
from collection.services import case_escalate, escalation_request_create
from collection.supervision.review_selectors import escalation_decisions_for_requester
from loans.models import Contact, Loan
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory
from tests.collection.test_plans import case_in_arrears, in_months, propose
from tests.collection.test_workspace_pages import QUEUE_READS
from tests.loans.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

PENDING = EscalationRequest.Status.PENDING
D = Decimal


def logged_in(client, user):
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def ask(case, by, reason="Refuses every call since the promise broke", target=Stage.ESCALATION):
    return escalation_request_create(case=case, target_stage=target, reason=reason, by=by)


def case_owing(collector, team, overdue: str, **fields) -> CollectionCase:
    case = CaseFactory(assigned_to=collector, team=team, **fields)
    Loan.objects.filter(pk=case.loan_id).update(overdue_amount=D(overdue))
    case.refresh_from_db()
    return case


def stage_of(case) -> str:
    return CollectionCase.objects.values_list("stage", flat=True).get(pk=case.pk)


@pytest.fixture
def desk(collector, supervisor):
    """The desk team: two requests of the collector's and a stage rule's proposal; another team
    with its own collector, supervisor and request."""
    team = supervisor.supervised_teams.get()
    first = case_owing(collector, team, "1200.00")
    second = case_owing(collector, team, "800.00")
    by_rule = case_owing(collector, team, "300.00")
    asked = [ask(first, collector), ask(second, collector), ask(by_rule, None, reason="Rule: DPD 31")]
    other_team = TeamFactory()
    cai = UserFactory(username="cai", first_name="Cai", last_name="Xu", roles=["collector"])
    other_team.members.add(cai)
    theirs = case_owing(cai, other_team, "9999.00")
    return {
        "team": team,
        "other_team": other_team,
        "cases": [first, second, by_rule, theirs],
        "requests": [*asked, ask(theirs, cai)],
    }


def decide(client, request, decision="approve", reason="", stage=None):
    return client.post(
        reverse("supervision:escalation_decide"),
        {"request": request.pk, "stage": stage or request.case.stage, "decision": decision, "reason": reason},
    )


# --- who may open the pages and act -----------------------------------------------------------------

PAGES = ["supervision:escalations", "supervision:plans"]
ACTIONS = ["supervision:escalation_decide", "supervision:escalations_bulk", "supervision:plan_decide"]


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role", ["collector", "legal_officer"])
def test_the_pages_do_not_exist_for_collectors_and_legal_officers(client, db, name, role):
    response = logged_in(client, UserFactory(roles=[role], is_staff=True)).get(reverse(name))
    assert response.status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_a_visitor_not_logged_in_is_sent_to_log_in(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("name", ACTIONS)
def test_the_actions_take_post_only(client, supervisor, name):
    assert logged_in(client, supervisor).get(reverse(name)).status_code == 405


def test_a_decision_posted_by_the_requesting_collector_is_not_found(client, desk, collector):
    response = decide(logged_in(client, collector), desk["requests"][0])
    assert response.status_code == 404
    assert EscalationRequest.objects.get(pk=desk["requests"][0].pk).status == PENDING


def listed(response) -> set[str]:
    body = response.content.decode()
    return {number for number in Loan.objects.values_list("account_number", flat=True) if number in body}


def numbers(*cases) -> set[str]:
    return {case.loan.account_number for case in cases}


def test_the_supervisor_sees_their_teams_requests_only(client, desk, supervisor):
    first, second, by_rule, _theirs = desk["cases"]
    response = logged_in(client, supervisor).get(reverse("supervision:escalations"))
    assert response.status_code == 200
    assert listed(response) == numbers(first, second, by_rule)
    assert "3 requests awaiting a decision, on 3 cases, ¥2,300.00 overdue" in response.content.decode()


def test_another_teams_supervisor_sees_and_decides_nothing_of_this_team(client, desk):
    other = desk["other_team"].supervisor
    client = logged_in(client, other)
    assert listed(client.get(reverse("supervision:escalations"))) == numbers(desk["cases"][3])

    ours = desk["requests"][0]
    assert decide(client, ours).status_code == 404
    assert decide(client, ours, "reject", "no").status_code == 404
    bulk = client.post(
        reverse("supervision:escalations_bulk"),
        {"request": [ours.pk], "scope": "selected", "decision": "approve", "confirmed": "1"},
    )
    assert bulk.status_code == 302
    assert EscalationRequest.objects.get(pk=ours.pk).status == PENDING
    assert stage_of(ours.case) == Stage.REMINDER


def test_an_admin_sees_every_request(client, desk, desk_admin):
    response = logged_in(client, desk_admin).get(reverse("supervision:escalations"))
    assert listed(response) == numbers(*desk["cases"])


def test_a_row_shows_what_the_decision_needs(client, desk, supervisor, collector):
    first = desk["cases"][0]
    mobile = ContactFactory(borrower=first.loan.borrower, kind=Contact.Kind.MOBILE, value="+8613812345678")
    ContactAttempt.objects.create(
        case=first,
        contact=mobile,
        channel="call",
        attempted_at=timezone.now() - datetime.timedelta(hours=2),
        outcome="no_answer",
        collector=collector,
    )
    PromiseToPay.objects.create(
        case=first, amount=D("100.00"), due_date=timezone.localdate(), taken_by=collector, status="broken"
    )
    PromiseToPay.objects.create(case=first, amount=D("100.00"), due_date=timezone.localdate(), taken_by=collector)

    body = logged_in(client, supervisor).get(reverse("supervision:escalations")).content.decode()

    row = body[body.index(f'id="request-{desk["requests"][0].pk}"') :]
    row = row[: row.index("</tr>")]
    assert first.loan.borrower.name in row
    assert first.loan.borrower.masked_national_id in row and first.loan.borrower.national_id not in row
    assert "¥1,200.00" in row
    assert "Reminder" in row and "for " in row  # the stage and the time in it
    assert collector.get_full_name() in row
    assert "2 / 1" in row  # promises made / broken
    assert "No answer" in row and "+86138****5678" in row and "13812345678" not in row
    assert "Refuses every call since the promise broke" in row and "To Escalation" in row
    assert reverse("collection:case", args=[first.pk]) in row
    # The stage rule's proposal says so.
    assert "a stage rule" in body and "Rule: DPD 31" in body


def test_the_requests_filter(client, desk, supervisor, collector):
    first, second, by_rule, _theirs = desk["cases"]
    client = logged_in(client, supervisor)
    url = reverse("supervision:escalations")
    assert listed(client.get(url, {"source": "rule"})) == numbers(by_rule)
    assert listed(client.get(url, {"source": "collector"})) == numbers(first, second)
    assert listed(client.get(url, {"collector": collector.pk, "target_stage": Stage.ESCALATION})) == numbers(
        first, second, by_rule
    )
    assert listed(client.get(url, {"target_stage": Stage.LITIGATION})) == set()
    assert listed(client.get(url, {"min_dpd": "10000"})) == set()


# --- one decision ----------------------------------------------------------------------------------


def test_approving_moves_the_case_as_the_supervisor_and_shows_on_the_timeline(client, desk, supervisor, collector):
    request = desk["requests"][0]
    client = logged_in(client, supervisor)

    response = decide(client, request, reason="Three broken promises")

    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_reason) == (
        EscalationRequest.Status.APPROVED,
        supervisor,
        "Three broken promises",
    )
    assert stage_of(request.case) == Stage.ESCALATION
    log = StateLog.objects.for_(request.case).get()
    assert (log.transition, log.by) == ("escalate", supervisor)
    after = client.get(response["Location"]).content.decode()
    assert f"Approved: the case of {request.case.loan.account_number} moved to Escalation." in after
    kinds = {entry.kind for entry in case_timeline(case=request.case)}
    assert {"escalation_decision", "transition"} <= kinds


def test_rejecting_needs_a_reason_and_keeps_the_case_where_it_is(client, desk, supervisor):
    request = desk["requests"][1]
    client = logged_in(client, supervisor)

    refused = decide(client, request, "reject", "   ")

    assert refused.status_code == 422
    assert "Say why the request is rejected." in refused.content.decode()
    assert EscalationRequest.objects.get(pk=request.pk).status == PENDING

    done = decide(client, request, "reject", "Call her once more first")

    assert done.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.decision_reason) == (EscalationRequest.Status.REJECTED, "Call her once more first")
    assert stage_of(request.case) == Stage.REMINDER


def test_an_unknown_decision_is_refused_in_words(client, desk, supervisor):
    response = decide(logged_in(client, supervisor), desk["requests"][0], decision="maybe")
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()


def test_a_request_decided_meanwhile_is_a_conflict(client, desk, supervisor):
    request = desk["requests"][0]
    client = logged_in(client, supervisor)
    decide(client, request, "reject", "not yet")

    again = decide(client, request)

    assert again.status_code == 409
    assert "This request was already rejected by" in again.content.decode()
    assert stage_of(request.case) == Stage.REMINDER


def test_a_request_whose_case_moved_since_the_page_showed_it_is_a_conflict(client, desk, supervisor, desk_admin):
    request = desk["requests"][0]
    seen = request.case.stage
    case_escalate(case=request.case, by=desk_admin, reason="moved by hand")

    response = decide(logged_in(client, supervisor), request, stage=seen)

    assert response.status_code == 409
    assert "The case has moved from Reminder to Escalation since the page showed it" in response.content.decode()
    assert EscalationRequest.objects.get(pk=request.pk).status == PENDING


def test_a_move_the_case_can_no_longer_make_is_a_conflict(client, desk, supervisor, desk_admin):
    request = desk["requests"][0]
    case_escalate(case=request.case, by=desk_admin, reason="moved by hand")
    request.case.refresh_from_db()

    # The page showed the case in escalation already (a stale request to escalate it).
    response = decide(logged_in(client, supervisor), request, stage=Stage.ESCALATION)

    assert response.status_code == 409
    assert "can no longer move to Escalation" in response.content.decode()


def test_a_supervisor_cannot_approve_their_own_request(client, desk, supervisor):
    # Someone both collector and supervisor of the team asks; the list never offers their own
    # request to them, and a forged post is refused: another supervisor decides it.
    both = UserFactory(roles=["collector", "supervisor"])
    desk["team"].members.add(both)
    desk["team"].supervisor = both
    desk["team"].save(update_fields=["supervisor"])
    own = ask(case_owing(both, desk["team"], "50.00"), both)
    client = logged_in(client, both)
    assert own.case.loan.account_number not in client.get(reverse("supervision:escalations")).content.decode()

    response = decide(client, own)

    assert response.status_code == 403
    assert "You cannot approve your own escalation request" in response.content.decode()
    assert EscalationRequest.objects.get(pk=own.pk).status == PENDING


# --- the bulk decision -------------------------------------------------------------------------------


def test_a_bulk_approval_is_confirmed_then_applied_each_on_its_own(client, desk, supervisor, desk_admin):
    first, second, by_rule = desk["requests"][:3]
    client = logged_in(client, supervisor)
    posted = {"request": [first.pk, second.pk, by_rule.pk], "scope": "selected", "decision": "approve"}

    review = client.post(reverse("supervision:escalations_bulk"), posted)

    assert review.status_code == 200
    body = review.content.decode()
    assert "3 requests to approve:" in body and "3 cases move, ¥2,300.00 overdue." in body
    assert not EscalationRequest.objects.exclude(status=PENDING).exists()  # nothing decided yet

    # Meanwhile someone escalates the second case by hand: its request can no longer be approved.
    case_escalate(case=second.case, by=desk_admin, reason="by hand")
    done = client.post(reverse("supervision:escalations_bulk"), {**posted, "confirmed": "1"})

    assert done.status_code == 302
    statuses = dict(EscalationRequest.objects.filter(pk__in=posted["request"]).values_list("pk", "status"))
    assert statuses == {first.pk: "approved", second.pk: PENDING, by_rule.pk: "approved"}
    after = client.get(done["Location"]).content.decode()
    assert "2 requests approved: their cases moved (¥1,500.00 overdue)." in after
    assert "1 request was not decided:" in after
    assert f"{second.case.loan.account_number}: The case is now in Escalation" in after


def test_a_bulk_rejection_of_every_request_the_filters_keep(client, desk, supervisor):
    client = logged_in(client, supervisor)
    posted = {"scope": "filtered", "filters": "source=collector", "decision": "reject", "reason": "not yet"}

    review = client.post(reverse("supervision:escalations_bulk"), posted)

    assert "2 requests to reject:" in review.content.decode()
    assert "2 cases stay where they are, ¥2,000.00 overdue." in review.content.decode()
    ids = [int(pk) for pk in review.context["ids"]]
    client.post(
        reverse("supervision:escalations_bulk"), {**posted, "scope": "selected", "request": ids, "confirmed": "1"}
    )
    statuses = dict(EscalationRequest.objects.values_list("pk", "status"))
    assert [statuses[request.pk] for request in desk["requests"]] == ["rejected", "rejected", PENDING, PENDING]


def test_a_bulk_decision_is_capped(client, desk, supervisor, collector, monkeypatch):
    monkeypatch.setattr("collection.supervision.review_views.BULK_DECISION_CAP", 2)
    posted = {"scope": "filtered", "filters": "", "decision": "approve"}
    review = logged_in(client, supervisor).post(reverse("supervision:escalations_bulk"), posted)
    body = review.content.decode()
    assert "Only the 2 oldest of the 3 requests are decided now" in body
    assert review.context["ids"] == [request.pk for request in desk["requests"][:2]]


def test_a_bulk_decision_without_requests_reason_or_readable_filters_is_refused(client, desk, supervisor):
    client = logged_in(client, supervisor)
    url = reverse("supervision:escalations_bulk")
    nothing = client.post(url, {"scope": "selected", "decision": "approve"})
    assert nothing.status_code == 422 and "Tick the requests to decide" in nothing.content.decode()
    no_reason = client.post(url, {"scope": "selected", "decision": "reject", "request": [desk["requests"][0].pk]})
    assert no_reason.status_code == 422 and "Say why the request is rejected." in no_reason.content.decode()
    unreadable = client.post(url, {"scope": "filtered", "filters": "min_dpd=abc", "decision": "approve"})
    assert unreadable.status_code == 422 and "The filters could not be read" in unreadable.content.decode()
    assert not EscalationRequest.objects.exclude(status=PENDING).exists()


# --- what the requesting collector sees ----------------------------------------------------------------


def test_the_collector_sees_their_requests_decided_in_the_last_week(client, desk, supervisor, collector):
    first, second = desk["requests"][:2]
    logged_in(client, supervisor)
    decide(client, first, reason="go ahead")
    decide(client, second, "reject", "call once more")
    # One decided long ago no longer shows.
    old = ask(case_owing(collector, desk["team"], "10.00"), collector)
    EscalationRequest.objects.filter(pk=old.pk).update(
        status="rejected", decided_by=supervisor, decided_at=timezone.now() - datetime.timedelta(days=8)
    )

    body = logged_in(client, collector).get(reverse("collection:queue")).content.decode()

    section = body[body.index('id="decided-title"') :]
    assert "Approved" in section and "go ahead" in section
    assert "Rejected" in section and "call once more" in section
    assert old.case.loan.account_number not in section


def test_the_collector_sees_at_most_ten_decisions(desk, supervisor, collector):
    for _number in range(12):
        request = ask(case_owing(collector, desk["team"], "10.00"), collector)
        EscalationRequest.objects.filter(pk=request.pk).update(
            status="rejected", decided_by=supervisor, decided_at=timezone.now()
        )
    assert len(escalation_decisions_for_requester(user=collector)) == 10


def test_the_queue_keeps_its_reads_with_decisions_to_show(
    client, desk, supervisor, collector, django_assert_max_num_queries
):
    for _number in range(12):
        request = ask(case_owing(collector, desk["team"], "10.00"), collector)
        EscalationRequest.objects.filter(pk=request.pk).update(
            status="approved", decided_by=supervisor, decided_at=timezone.now(), decision_reason="ok"
        )
    client = logged_in(client, collector)
    with django_assert_max_num_queries(QUEUE_READS):
        response = client.get(reverse("collection:queue"))
    assert len(response.context["decided_requests"]) == 10


# --- plans beyond policy ------------------------------------------------------------------------------


@pytest.fixture
def plans(collector, supervisor):
    """A plan beyond policy on the desk team's case (a penalty waiver of 100.00, the policy allowing
    half of the 100.00 outstanding), and one on another team's case."""
    ours = propose(case_in_arrears(), collector, waive="100.00")
    other_team = TeamFactory()
    cai = UserFactory(username="cai", roles=["collector"])
    other_team.members.add(cai)
    theirs_case = case_in_arrears()
    CollectionCase.objects.filter(pk=theirs_case.pk).update(team=other_team, assigned_to=cai)
    theirs_case.refresh_from_db()
    theirs = propose(theirs_case, cai, waive="100.00")
    assert ours.status == theirs.status == RepaymentPlan.Status.PENDING_APPROVAL
    return {"ours": ours, "theirs": theirs, "other_team": other_team}


def plan_decide(client, plan, decision="approve", reason=""):
    return client.post(reverse("supervision:plan_decide"), {"plan": plan.pk, "decision": decision, "reason": reason})


def test_the_plans_page_shows_the_limits_each_plan_exceeds(client, plans, supervisor):
    response = logged_in(client, supervisor).get(reverse("supervision:plans"))
    body = response.content.decode()
    assert response.status_code == 200
    assert listed(response) == {plans["ours"].case.loan.account_number}
    row = body[body.index(f'id="plan-{plans["ours"].pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<li class="exceeded">Waiver ¥100.00 (at most ¥50.00)</li>' in row
    assert "Term 2 months (at most 12)" in row
    assert "Penalty waiver: 100.00 is more than 50% of the 100.00 outstanding penalty (at most 50.00)." in row


def test_the_limits_are_the_loans_as_it_is_now(client, plans, supervisor):
    # The penalty was paid down to 40.00 since: the policy now allows 20.00 waived.
    Loan.objects.filter(pk=plans["ours"].case.loan_id).update(outstanding_penalty=D("40.00"))
    body = logged_in(client, supervisor).get(reverse("supervision:plans")).content.decode()
    assert "Waiver ¥100.00 (at most ¥20.00)" in body


@pytest.mark.parametrize("role", ["collector", "legal_officer"])
def test_a_plan_decision_by_a_collector_or_legal_officer_is_not_found(client, plans, role):
    response = plan_decide(logged_in(client, UserFactory(roles=[role])), plans["ours"])
    assert response.status_code == 404


def test_another_teams_supervisor_sees_and_decides_no_plan_of_this_team(client, plans):
    client = logged_in(client, plans["other_team"].supervisor)
    assert listed(client.get(reverse("supervision:plans"))) == {plans["theirs"].case.loan.account_number}
    assert plan_decide(client, plans["ours"]).status_code == 404
    assert RepaymentPlan.objects.get(pk=plans["ours"].pk).status == RepaymentPlan.Status.PENDING_APPROVAL


def test_an_admin_sees_every_plan(client, plans, desk_admin):
    response = logged_in(client, desk_admin).get(reverse("supervision:plans"))
    assert listed(response) == {plans["ours"].case.loan.account_number, plans["theirs"].case.loan.account_number}


def test_approving_a_plan_activates_it_with_an_audit_row(client, plans, supervisor):
    plan = plans["ours"]
    response = plan_decide(logged_in(client, supervisor), plan, reason="hardship documented")

    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.decided_by, plan.decision_reason) == ("active", supervisor, "hardship documented")
    entry = LogEntry.objects.get_for_object(plan).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == supervisor
    assert entry.changes_dict["status"] == ["pending_approval", "active"]
    assert entry.changes_dict["decided_by"] == ["None", str(supervisor.pk)]
    assert entry.additional_data == {"reason": "hardship documented"}
    assert "Plan approved" in client.get(response["Location"]).content.decode()


def test_rejecting_a_plan_needs_a_reason(client, plans, supervisor):
    plan = plans["ours"]
    client = logged_in(client, supervisor)

    refused = plan_decide(client, plan, "reject", "")
    assert refused.status_code == 422 and "Say why the request is rejected." in refused.content.decode()

    done = plan_decide(client, plan, "reject", "the borrower can pay more")
    assert done.status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.decision_reason) == ("rejected", "the borrower can pay more")
    entry = LogEntry.objects.get_for_object(plan).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.changes_dict["status"] == ["pending_approval", "rejected"]


def test_a_plan_decided_meanwhile_is_a_conflict(client, plans, supervisor):
    plan = plans["ours"]
    client = logged_in(client, supervisor)
    plan_decide(client, plan, "reject", "no")

    again = plan_decide(client, plan)

    assert again.status_code == 409
    assert "This plan is rejected now, not awaiting approval: nothing was changed." in again.content.decode()


def test_a_plan_on_a_case_closed_since_is_a_conflict(client, plans, supervisor):
    plan = plans["ours"]
    CollectionCase.objects.filter(pk=plan.case_id).update(stage=Stage.CLOSED, closed_at=timezone.now())

    response = plan_decide(logged_in(client, supervisor), plan)

    assert response.status_code == 409
    assert "Cannot approve the plan: the case is Closed." in response.content.decode()
    assert RepaymentPlan.objects.get(pk=plan.pk).status == RepaymentPlan.Status.PENDING_APPROVAL


# --- what the pages cost --------------------------------------------------------------------------------

# The session, the user, their roles and teams, the header's teams, their permissions (two), and
# the session's save (in a savepoint in the tests: three) around the page's own reads: the selection's
# cases and overdue money, its count, the page of requests (with their promise counts), their last
# contacts, and the filters' choices (teams, collectors, buckets). 17 whatever the number of rows.
ESCALATIONS_READS = 17
# The same around the page's own: the teams, the count, the page of plans, their payments.
PLANS_READS = 14


def more_requests(collector, team, count: int):
    for number in range(count):
        case = case_owing(collector, team, f"{100 + number}.00")
        contact = ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.MOBILE)
        for hours in range(5):
            ContactAttempt.objects.create(
                case=case,
                contact=contact,
                channel="call",
                attempted_at=timezone.now() - datetime.timedelta(hours=hours),
                outcome="no_answer",
                collector=collector,
            )
        PromiseToPay.objects.create(case=case, amount=D("10.00"), due_date=timezone.localdate(), taken_by=collector)
        ask(case, collector)


@pytest.mark.parametrize("count", [1, 12])
def test_the_requests_page_reads_the_same_few_times_whatever_its_length(
    client, desk, supervisor, collector, django_assert_max_num_queries, count
):
    more_requests(collector, desk["team"], count)
    client = logged_in(client, supervisor)
    with django_assert_max_num_queries(ESCALATIONS_READS):
        response = client.get(reverse("supervision:escalations"), {"source": "collector"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == count + 2


@pytest.mark.parametrize("count", [1, 8])
def test_the_plans_page_reads_the_same_few_times_whatever_its_length(
    client, supervisor, collector, django_assert_max_num_queries, count
):
    for _number in range(count):
        propose(
            case_in_arrears(),
            collector,
            installments=[(timezone.localdate(), D("10.00")), (in_months(1), D("600.00"))],
        )
    client = logged_in(client, supervisor)
    with django_assert_max_num_queries(PLANS_READS):
        response = client.get(reverse("supervision:plans"))
    assert response.status_code == 200
    assert len(response.context["reviews"]) == count


# The confirmation of a bulk decision, 2 or 12 requests: the selection's totals (two), its oldest
# ids, where the requests move, around the session's and the user's reads.
BULK_REVIEW_READS = 14


@pytest.mark.parametrize("count", [2, 12])
def test_the_review_of_a_bulk_decision_reads_the_same_few_times(
    client, desk, supervisor, collector, django_assert_max_num_queries, count
):
    more_requests(collector, desk["team"], count)
    ids = list(EscalationRequest.objects.filter(case__team=desk["team"]).values_list("pk", flat=True))
    client = logged_in(client, supervisor)
    with django_assert_max_num_queries(BULK_REVIEW_READS):
        response = client.post(
            reverse("supervision:escalations_bulk"), {"request": ids, "scope": "selected", "decision": "approve"}
        )
    assert response.status_code == 200
