"""The collector's workspace through its pages: who may open which page (and the role next door),
the queue's order, words, filters, search and pages, the reads each page costs, every action of
the case page, and the next-case flow. Pages are read in English (the language cookie), so that
the tests read the desk's words; their Chinese is the catalogue's."""

import datetime
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog

from collection.machine import Stage
from collection.models import (
    Callback,
    CallConsent,
    CaseNote,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    EscalationRequest,
    Outcome,
    PromiseToPay,
    RepaymentPlan,
)
from loans.models import Contact, ContactChange, Loan
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory, case_in
from tests.loans.factories import ContactFactory, make_days_past_due

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]


# --- helpers ------------------------------------------------------------------------------------


def zone_where_it_is(hour: int) -> str:
    """A time zone (Etc/GMT±N) whose local hour is `hour` right now: a test picks the borrower's
    night or day from the clock, so that it never depends on when it runs."""
    offset = (hour - datetime.datetime.now(datetime.UTC).hour) % 24
    if offset > 14:
        offset -= 24
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


DAYTIME = 11  # the borrower's local hour in the tests that call: well clear of quiet hours
NIGHT = 2


def logged_in(client, user):
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def local_input(moment: datetime.datetime) -> str:
    """A moment as a datetime-local field posts it: desk time, to the minute."""
    return f"{timezone.localtime(moment):%Y-%m-%dT%H:%M}"


def with_dpd(case, days: int):
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), days)
    return case


def queue_case(collector, dpd: int = 10, **kwargs) -> CollectionCase:
    """An open case of `collector`'s, `dpd` days past due, on a loan without a schedule (fast)."""
    kwargs.setdefault("loan__installments", False)
    stage = kwargs.pop("stage", None)
    case = case_in(stage, assigned_to=collector, **kwargs) if stage else CaseFactory(assigned_to=collector, **kwargs)
    return with_dpd(case, dpd)


def daytime_case(collector, **kwargs) -> CollectionCase:
    """A case of `collector`'s whose borrower it is late morning for now, with a loan and its schedule."""
    return CaseFactory(assigned_to=collector, loan__borrower__time_zone=zone_where_it_is(DAYTIME), **kwargs)


def mobile(case, **kwargs) -> Contact:
    return ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.MOBILE, **kwargs)


def page(response) -> str:
    return response.content.decode()


def queue_rows(response) -> list[str]:
    """The queue's rows as HTML, in the order shown."""
    body = re.search(r"<tbody>(.*?)</tbody>", page(response), re.S)
    return re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if body else []


def shown_loans(response) -> list[str]:
    return [re.search(r'<td class="nowrap">([^<]+)</td>', row).group(1) for row in queue_rows(response)]


def numbers(*cases) -> list[str]:
    return [case.loan.account_number for case in cases]


def what_the_desk_holds(case) -> dict:
    """What any action of the case page could change: counted, so that a refused post is seen to
    change nothing."""
    fresh = CollectionCase.objects.get(pk=case.pk)
    borrower = fresh.loan.borrower
    return {
        "stage": fresh.stage,
        "attempts": ContactAttempt.objects.filter(case=case).count(),
        "refusals": ConductRefusal.objects.filter(case=case).count(),
        "callbacks": list(Callback.objects.filter(case=case).values_list("pk", "status")),
        "promises": PromiseToPay.objects.filter(case=case).count(),
        "plans": RepaymentPlan.objects.filter(case=case).count(),
        "requests": EscalationRequest.objects.filter(case=case).count(),
        "notes": CaseNote.objects.filter(case=case).count(),
        "consents": CallConsent.objects.filter(case=case).count(),
        "contacts": list(borrower.contacts.order_by("pk").values_list("pk", "verification", "version")),
        "contact_changes": ContactChange.objects.filter(contact__borrower=borrower).count(),
        "lost_contact": borrower.lost_contact,
        "transitions": StateLog.objects.filter(object_id=case.pk).count(),
        "audit": LogEntry.objects.count(),
    }


@pytest.fixture
def other_collector(db):
    return UserFactory(roles=["collector"])


@pytest.fixture
def other_supervisor(db):
    return TeamFactory().supervisor


# --- who may open which page --------------------------------------------------------------------


def test_the_queue_is_the_collectors_page(client, collector):
    assert logged_in(client, collector).get(reverse("collection:queue")).status_code == 200


@pytest.mark.parametrize("role", ["supervisor", "legal_officer", "admin"])
def test_the_queue_is_refused_to_every_other_role(client, role):
    response = logged_in(client, UserFactory(roles=[role], is_staff=True)).get(reverse("collection:queue"))

    assert response.status_code == 403


@pytest.mark.parametrize("name", ["collection:queue", "collection:next_case"])
def test_a_visitor_not_logged_in_is_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={reverse(name)}"


@pytest.mark.parametrize("name", ["collection:case", "collection:case_timeline"])
@pytest.mark.parametrize(
    "who, status",
    [
        ("collector", 200),
        ("other_collector", 404),
        ("supervisor", 200),
        ("other_supervisor", 404),
        ("desk_admin", 200),
        ("legal_officer", 404),
    ],
)
def test_a_case_page_opens_within_reach_and_is_not_found_outside_it(
    client, request, collector, supervisor, name, who, status
):
    case = CaseFactory(loan__installments=False)  # the desk team's, assigned to `collector`
    user = request.getfixturevalue(who)

    response = logged_in(client, user).get(reverse(name, args=[case.pk]))

    assert response.status_code == status
    if status == 200:
        assert case.loan.account_number in page(response)


@pytest.mark.parametrize("name", ["collection:case", "collection:case_timeline"])
def test_a_legal_officer_opens_a_case_in_litigation(client, collector, legal_officer, name):
    case = case_in(Stage.LITIGATION, loan__installments=False)

    assert logged_in(client, legal_officer).get(reverse(name, args=[case.pk])).status_code == 200


def test_a_case_that_does_not_exist_is_not_found(client, collector):
    assert logged_in(client, collector).get(reverse("collection:case", args=[987654])).status_code == 404


def test_a_visitor_not_logged_in_is_sent_to_log_in_from_a_case_page(client, collector):
    case = CaseFactory(loan__installments=False)

    response = client.get(reverse("collection:case", args=[case.pk]))

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


ACTIONS = {
    "attempt_log": {"channel": "call", "direction": "outbound", "outcome": "wrong_number"},
    "promise_take": {"amount": "10.00", "due_date": "2099-01-01"},
    "plan_propose": {"first_due_date": "2099-01-01", "payments": "1", "first_amount": "10", "total": "10"},
    "escalation_request": {"target_stage": "escalation", "reason": "unreachable"},
    "hold": {"hold_reason": "dispute", "reason": "says the debt is not theirs"},
    "resume": {"reason": "settled the dispute"},
    "note_add": {"text": "called the employer"},
    "consent_record": {"valid_until": "2099-01-01T10:00", "note": "call me"},
    "contact_add": {"kind": "mobile", "value": "13912345678", "source": "skip_tracing", "reason": "records"},
    "lost_contact": {"lost": "1", "reason": "every number is dead"},
}


def action_url(name: str, case, contact=None) -> str:
    if name == "contact_mark":
        return reverse("collection:contact_mark", args=[case.pk, contact.pk])
    return reverse(f"collection:{name}", args=[case.pk])


@pytest.mark.parametrize("name", [*ACTIONS, "contact_mark"])
def test_every_action_on_another_collectors_case_is_not_found_and_changes_nothing(
    client, collector, other_collector, name
):
    case = daytime_case(other_collector)
    contact = mobile(case)
    data = {"stage_seen": case.stage, **ACTIONS.get(name, {"verification": "wrong", "version": "1", "reason": "x"})}
    if name == "attempt_log":
        data["contact"] = contact.pk
    before = what_the_desk_holds(case)

    response = logged_in(client, collector).post(action_url(name, case, contact), data)

    assert response.status_code == 404
    assert what_the_desk_holds(case) == before


@pytest.mark.parametrize("name", [*ACTIONS, "contact_mark"])
def test_an_action_answers_only_a_post(client, collector, name):
    case = CaseFactory(loan__installments=False)
    contact = mobile(case)

    response = logged_in(client, collector).get(action_url(name, case, contact))

    assert response.status_code == 405


def test_an_action_without_the_csrf_token_is_refused(collector):
    case = CaseFactory(loan__installments=False)
    client = logged_in(Client(enforce_csrf_checks=True), collector)

    response = client.post(reverse("collection:note_add", args=[case.pk]), {"text": "forged"})

    assert response.status_code == 403
    assert not CaseNote.objects.exists()


def test_the_case_page_carries_the_csrf_token_its_forms_post_with(collector):
    case = CaseFactory(loan__installments=False)
    client = logged_in(Client(enforce_csrf_checks=True), collector)
    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', page(client.get(reverse("collection:case", args=[case.pk])))
    )

    response = client.post(
        reverse("collection:note_add", args=[case.pk]),
        {"text": "with the token", "stage_seen": case.stage, "csrfmiddlewaretoken": token.group(1)},
    )

    assert response.status_code == 302
    assert CaseNote.objects.get().text == "with the token"


# --- each role's landing page ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "roles, is_staff, landing",
    [
        (["collector"], False, "collection:queue"),
        (["collector", "supervisor"], True, "collection:queue"),
        (["supervisor"], True, "admin:collection_escalationrequest_changelist"),
        (["supervisor"], False, "portfolio"),
        (["admin"], True, "admin:index"),
        (["admin"], False, "portfolio"),
        (["legal_officer"], False, "portfolio"),
        ([], False, "portfolio"),
    ],
)
def test_each_role_lands_on_its_own_page(client, roles, is_staff, landing):
    response = logged_in(client, UserFactory(roles=roles, is_staff=is_staff)).get(reverse("home"))

    assert response.status_code == 302
    assert response.url == reverse(landing)


def test_a_superuser_lands_on_the_admin(client):
    response = logged_in(client, UserFactory(is_staff=True, is_superuser=True)).get(reverse("home"))

    assert response.url == reverse("admin:index")


def test_the_landing_page_needs_a_login(client, db):
    response = client.get(reverse("home"))

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- the actions of the case page -----------------------------------------------------------------


@pytest.fixture
def desk(client, collector):
    """The collector's browser, in English."""
    return logged_in(client, collector)


def act(client, case, name, data, contact=None, **extra):
    """Post one of the case page's forms as the page does: with the stage the case was seen in."""
    return client.post(action_url(name, case, contact), {"stage_seen": case.stage, **data}, **extra)


def attempt_data(contact, outcome="no_answer", callback_at=None, **fields):
    data = {"contact": contact.pk, "channel": "call", "direction": "outbound", "outcome": outcome, **fields}
    if callback_at is not None:
        data["callback_at"] = local_input(callback_at)
    return data


def test_logging_an_attempt_with_a_callback_records_both(desk, collector):
    case = daytime_case(collector)
    contact = mobile(case)
    call_back = timezone.now() + datetime.timedelta(hours=2)

    response = act(desk, case, "attempt_log", attempt_data(contact, callback_at=call_back, note="rang out"))

    assert response.status_code == 302
    assert response.url == reverse("collection:case", args=[case.pk])
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.contact, attempt.outcome, attempt.collector, attempt.note) == (
        contact,
        Outcome.NO_ANSWER,
        collector,
        "rang out",
    )
    callback = Callback.objects.get(case=case)
    assert callback.status == Callback.Status.PENDING and callback.attempt == attempt
    assert callback.due_at == call_back.replace(second=0, microsecond=0)
    shown = page(desk.get(response.url))
    assert "Contact attempt logged." in shown
    assert f"{timezone.localtime(callback.due_at):%Y-%m-%d %H:%M}" in shown  # where the case stands


def test_an_outcome_that_does_not_end_the_work_needs_a_callback(desk, collector):
    case = daytime_case(collector)
    contact = mobile(case)

    response = act(desk, case, "attempt_log", attempt_data(contact, outcome="busy"))

    assert response.status_code == 422
    error = re.search(r'<ul class="errorlist" id="id_callback_at_error"><li>(.*?)</li>', page(response))
    assert error and "Set when to call back" in error.group(1) and "Busy" in error.group(1)
    assert not ContactAttempt.objects.exists()


def test_a_callback_in_the_past_is_refused(desk, collector):
    case = daytime_case(collector)
    contact = mobile(case)

    response = act(
        desk, case, "attempt_log", attempt_data(contact, callback_at=timezone.now() - datetime.timedelta(hours=1))
    )

    assert response.status_code == 422
    assert "A callback must be in the future." in page(response)
    assert not ContactAttempt.objects.exists() and not Callback.objects.exists()


def test_a_call_in_the_borrowers_quiet_hours_is_refused_with_the_rule_and_the_next_allowed_time(desk, collector):
    zone = zone_where_it_is(NIGHT)
    case = CaseFactory(assigned_to=collector, loan__borrower__time_zone=zone, loan__installments=False)
    contact = mobile(case)
    # Eight hours on it is ten in the morning for the borrower: the callback itself is allowed.
    call_back = timezone.now() + datetime.timedelta(hours=8)

    response = act(desk, case, "attempt_log", attempt_data(contact, callback_at=call_back))

    assert response.status_code == 422
    refusal = ConductRefusal.objects.get(case=case)
    assert (refusal.rule, refusal.contact, refusal.attempted_by) == ("quiet_hours", contact, collector)
    next_allowed = refusal.next_allowed_at.astimezone(ZoneInfo(zone))
    assert next_allowed > timezone.now() and (next_allowed.hour, next_allowed.minute) == (8, 0)
    shown = page(response)
    assert "Refused by the conduct limits: No contact between 22:00 and 08:00 in the borrower&#x27;s time zone" in shown
    assert f"Contact is allowed again from {next_allowed:%Y-%m-%d %H:%M:%S} ({zone})." in shown
    assert not ContactAttempt.objects.exists() and not Callback.objects.exists()


def test_a_wrong_number_outcome_marks_the_contact_wrong(desk, collector):
    case = daytime_case(collector)
    contact = mobile(case)

    response = act(desk, case, "attempt_log", attempt_data(contact, outcome="wrong_number"))

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.verification == Contact.Verification.WRONG and contact.version == 2
    assert ContactChange.objects.get(contact=contact).changes == {"verification": ["unverified", "wrong"]}


def test_a_dispute_offers_the_hold(desk, collector):
    case = daytime_case(collector)
    contact = mobile(case)

    response = act(desk, case, "attempt_log", attempt_data(contact, outcome="dispute"), follow=True)

    assert response.status_code == 200
    shown = page(response)
    assert '<li class="warning">The borrower raised a Dispute: you may put the case on hold below.</li>' in shown
    assert 'id="action-hold"' in shown
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.NEGOTIATION  # reached: a conversation


def test_a_promise_is_recorded(desk, collector):
    case = daytime_case(collector)
    due = timezone.localdate() + datetime.timedelta(days=3)

    response = act(desk, case, "promise_take", {"amount": "150.00", "due_date": due.isoformat()}, follow=True)

    promise = PromiseToPay.objects.get(case=case)
    assert (promise.amount, promise.due_date, promise.status) == (Decimal("150.00"), due, "pending")
    assert "Promise to pay recorded." in page(response)


def test_a_promise_over_the_balance_is_refused_in_the_services_words(desk, collector):
    case = daytime_case(collector)
    owed = Loan.objects.get(pk=case.loan_id).total_outstanding

    response = act(desk, case, "promise_take", {"amount": str(owed + 1), "due_date": timezone.localdate().isoformat()})

    assert response.status_code == 422
    assert f"A promise must be more than zero and at most the {owed} the loan owes; {owed + 1} is not." in page(
        response
    )
    assert not PromiseToPay.objects.exists()


def plan_data(case, *, first_share: Decimal, payments: int = 3, **fields) -> dict:
    loan = Loan.objects.get(pk=case.loan_id)
    total = loan.total_outstanding
    return {
        "first_due_date": timezone.localdate().isoformat(),
        "payments": str(payments),
        "first_amount": str((total * first_share).quantize(Decimal("0.01"))),
        "total": str(total),
        "waive_penalty": "0",
        **fields,
    }


def test_checking_a_plan_shows_it_within_policy_and_saves_nothing(desk, collector):
    case = daytime_case(collector)

    response = act(desk, case, "plan_propose", {**plan_data(case, first_share=Decimal("0.5")), "check": "1"})

    assert response.status_code == 200
    shown = page(response)
    assert "Within policy" in shown and "Proposed as it stands, this plan is active at once." in shown
    assert not RepaymentPlan.objects.exists()


def test_checking_a_plan_beyond_policy_says_which_limit_it_passes(desk, collector):
    case = daytime_case(collector)

    response = act(desk, case, "plan_propose", {**plan_data(case, first_share=Decimal("0.01")), "check": "1"})

    assert response.status_code == 200
    shown = page(response)
    assert "Beyond policy" in shown and "First payment:" in shown
    assert not RepaymentPlan.objects.exists()


def test_a_plan_within_policy_is_active_at_once(desk, collector):
    case = daytime_case(collector)

    response = act(desk, case, "plan_propose", plan_data(case, first_share=Decimal("0.5")), follow=True)

    plan = RepaymentPlan.objects.get(case=case)
    assert plan.status == RepaymentPlan.Status.ACTIVE and plan.installments.count() == 3
    assert "The repayment plan is agreed and active." in page(response)


def test_a_plan_beyond_policy_waits_for_a_supervisor(desk, collector):
    case = daytime_case(collector)

    response = act(desk, case, "plan_propose", plan_data(case, first_share=Decimal("0.01")), follow=True)

    assert RepaymentPlan.objects.get(case=case).status == RepaymentPlan.Status.PENDING_APPROVAL
    assert "The plan is beyond policy and waits for a supervisor&#x27;s approval." in page(response)


def test_an_escalation_request_is_filed_and_shown_awaiting_a_supervisor(desk, collector):
    case = daytime_case(collector)

    response = act(
        desk, case, "escalation_request", {"target_stage": "escalation", "reason": "never answers"}, follow=True
    )

    request = EscalationRequest.objects.get(case=case)
    assert (request.target_stage, request.requested_by, request.reason) == ("escalation", collector, "never answers")
    shown = page(response)
    assert "Escalation requested: a supervisor decides." in shown
    assert "Awaiting a supervisor" in shown and "never answers" in shown


def test_a_case_is_held_and_resumed_with_reasons(desk, collector):
    case = daytime_case(collector)

    held = act(desk, case, "hold", {"hold_reason": "dispute", "reason": "says the loan is not theirs"}, follow=True)
    case.refresh_from_db()
    resumed = act(desk, case, "resume", {"reason": "the contract is signed"}, follow=True)

    assert "The case is on hold." in page(held)
    assert "The case is resumed." in page(resumed)
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.REMINDER
    timeline = page(desk.get(reverse("collection:case_timeline", args=[case.pk])))
    assert "Stage Reminder → On hold: says the loan is not theirs" in timeline
    assert "Stage On hold → Reminder: the contract is signed" in timeline


def test_a_note_appears_on_the_timeline(desk, collector):
    case = daytime_case(collector)

    act(desk, case, "note_add", {"text": "the borrower moved to Hangzhou"})

    assert CaseNote.objects.get(case=case).written_by == collector
    timeline = page(desk.get(reverse("collection:case_timeline", args=[case.pk])))
    assert "Note: the borrower moved to Hangzhou" in timeline


def test_consent_to_calls_is_recorded(desk, collector):
    case = daytime_case(collector)
    until = timezone.now() + datetime.timedelta(days=2)

    response = act(desk, case, "consent_record", {"valid_until": local_input(until), "note": "call me Friday"})

    assert response.status_code == 302
    consent = CallConsent.objects.get(case=case)
    assert (consent.recorded_by, consent.note) == (collector, "call me Friday")
    assert consent.valid_until == until.replace(second=0, microsecond=0)


def test_skip_tracing_adds_a_contact_with_its_reason(desk, collector):
    case = daytime_case(collector)

    response = act(
        desk,
        case,
        "contact_add",
        {"kind": "mobile", "value": "139 1234 5678", "source": "skip_tracing", "reason": "found in the records"},
    )

    assert response.status_code == 302
    contact = Contact.objects.get(borrower=case.loan.borrower)
    assert (contact.value, contact.source, contact.version) == ("+8613912345678", "skip_tracing", 1)
    change = ContactChange.objects.get(contact=contact)
    assert (change.reason, change.changed_by, change.changes["value"]) == (
        "found in the records",
        collector,
        [None, "+8613912345678"],
    )


@pytest.mark.parametrize("verification", ["verified", "wrong"])
def test_a_number_is_marked_verified_or_wrong(desk, collector, verification):
    case = daytime_case(collector)
    contact = mobile(case)

    response = act(
        desk, case, "contact_mark", {"verification": verification, "version": "1", "reason": "called"}, contact
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.verification, contact.version) == (verification, 2)
    assert ContactChange.objects.get(contact=contact).reason == "called"


def test_marking_a_number_on_a_stale_version_is_refused(desk, collector):
    case = daytime_case(collector)
    contact = mobile(case)
    Contact.objects.filter(pk=contact.pk).update(version=2)  # someone marked it after the page was read

    response = act(desk, case, "contact_mark", {"verification": "verified", "version": "1", "reason": "x"}, contact)

    assert response.status_code == 422
    assert "Someone changed this contact after you opened it" in page(response)
    assert Contact.objects.get(pk=contact.pk).verification == Contact.Verification.UNVERIFIED


def test_marking_another_borrowers_contact_through_ones_own_case_is_not_found(desk, collector, other_collector):
    case = daytime_case(collector)
    strangers = mobile(daytime_case(other_collector))

    response = act(desk, case, "contact_mark", {"verification": "wrong", "version": "1", "reason": "x"}, strangers)

    assert response.status_code == 404
    assert Contact.objects.get(pk=strangers.pk).verification == Contact.Verification.UNVERIFIED


def test_lost_contact_is_flagged_with_its_reason_on_the_timeline(desk, collector):
    case = daytime_case(collector)

    response = act(desk, case, "lost_contact", {"lost": "1", "reason": "every number is dead"}, follow=True)

    assert "What the desk knows of the borrower&#x27;s reach is saved." in page(response)
    assert "Lost contact" in page(response)
    borrower = case.loan.borrower
    borrower.refresh_from_db()
    assert borrower.lost_contact and borrower.lost_contact_since == timezone.localdate()
    timeline = page(desk.get(reverse("collection:case_timeline", args=[case.pk])))
    assert "lost contact: no → yes" in timeline and "every number is dead" in timeline


@pytest.mark.parametrize("name", [*ACTIONS, "contact_mark"])
def test_a_post_from_a_page_older_than_the_cases_stage_is_refused_with_a_reload(desk, collector, name):
    case = daytime_case(collector)
    contact = mobile(case)
    data = dict(ACTIONS.get(name, {"verification": "wrong", "version": "1", "reason": "x"}))
    if name == "attempt_log":
        data.update(contact=contact.pk, callback_at=local_input(timezone.now() + datetime.timedelta(hours=2)))
    if name == "resume":
        CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.ON_HOLD, held_stage=Stage.REMINDER)
        data["stage_seen"] = Stage.NEGOTIATION
    else:
        CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.NEGOTIATION)  # moved since the page was read
        data["stage_seen"] = Stage.REMINDER
    before = what_the_desk_holds(case)

    response = desk.post(action_url(name, case, contact), data)

    assert response.status_code == 422
    assert "Someone else changed this case a moment ago. Reload it and try again." in page(response)
    assert what_the_desk_holds(case) == before


def test_a_refused_htmx_post_answers_422_with_the_case_fragment(desk, collector):
    case = daytime_case(collector)

    response = act(desk, case, "note_add", {"text": "   "}, HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    shown = page(response)
    assert '<div id="case">' in shown and 'id="action-note"' in shown
    assert "This field is required." in shown or "The note is empty." in shown
    assert not CaseNote.objects.exists()
