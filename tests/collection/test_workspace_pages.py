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
    PlanInstallment,
    PromiseToPay,
    RepaymentPlan,
)
from loans.models import Contact, ContactChange, DelinquencyBucket, Loan
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory, case_in, pay
from tests.loans.factories import ContactFactory, ProductFactory, make_days_past_due

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
        (["supervisor"], True, "supervision:escalations"),
        (["supervisor"], False, "supervision:escalations"),
        (["admin"], True, "admin:index"),
        (["admin"], False, "portfolio"),
        (["legal_officer"], False, "legal:queue"),
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
    assert (
        "Refused by the conduct limits (Quiet hours): "
        "No contact between 22:00 and 08:00 in the borrower&#x27;s time zone" in shown
    )
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


# --- the queue: its order, its words, its filters, search and pages ---------------------------------


def callback_due(case, by, *, minutes: int = -30) -> Callback:
    return Callback.objects.create(case=case, due_at=timezone.now() + datetime.timedelta(minutes=minutes), set_by=by)


def promise_broken(case, *, days_ago: int) -> None:
    CollectionCase.objects.filter(pk=case.pk).update(
        attention_since=timezone.now() - datetime.timedelta(days=days_ago), broken_promises=1
    )


def promise_due(case, by, due: datetime.date) -> PromiseToPay:
    return PromiseToPay.objects.create(case=case, amount=Decimal("100.00"), due_date=due, taken_by=by)


def plan_payment_due(case, by) -> RepaymentPlan:
    plan = RepaymentPlan.objects.create(
        case=case, status=RepaymentPlan.Status.ACTIVE, total_amount=Decimal("300.00"), proposed_by=by
    )
    PlanInstallment.objects.create(plan=plan, sequence=1, due_date=timezone.localdate(), amount=Decimal("100.00"))
    return plan


def reached(case, *, days_ago: int) -> None:
    CollectionCase.objects.filter(pk=case.pk).update(
        last_right_party_contact_at=timezone.now() - datetime.timedelta(days=days_ago)
    )


def test_the_queue_shows_the_most_pressing_case_first_each_row_saying_why(desk, collector, other_collector):
    held = queue_case(collector, 200, stage=Stage.ON_HOLD)
    CollectionCase.objects.filter(pk=held.pk).update(hold_reason="dispute")
    deep = queue_case(collector, 90)
    shallow = queue_case(collector, 30)
    plan = queue_case(collector, 1)
    plan_payment_due(plan, collector)
    promise_today = queue_case(collector, 2)
    promise_due(promise_today, collector, timezone.localdate())
    broken_lately = queue_case(collector, 3)
    promise_broken(broken_lately, days_ago=1)
    broken_long_ago = queue_case(collector, 3)
    promise_broken(broken_long_ago, days_ago=4)
    call_back = queue_case(collector, 4)
    callback_due(call_back, collector)
    later_callback = queue_case(collector, 5)
    callback_due(later_callback, collector, minutes=120)  # not due yet: ranked by its 5 days
    queue_case(other_collector, 500)
    callback_due(queue_case(other_collector, 1), other_collector)

    response = desk.get(reverse("collection:queue"))

    assert response.status_code == 200
    order = [call_back, broken_long_ago, broken_lately, promise_today, plan, deep, shallow, later_callback, held]
    assert shown_loans(response) == numbers(*order)
    rows = dict(zip(numbers(*order), queue_rows(response), strict=True))
    assert "Callback due since" in rows[call_back.loan.account_number]
    assert "Promise broken" in rows[broken_long_ago.loan.account_number]
    assert "Promise due today" in rows[promise_today.loan.account_number]
    assert "Plan payment due" in rows[plan.loan.account_number]
    assert "90 days past due" in rows[deep.loan.account_number]
    assert "never reached" in rows[deep.loan.account_number]
    assert "Callback due since" not in rows[later_callback.loan.account_number]
    assert "On hold (Dispute)" in rows[held.loan.account_number]
    assert "9 cases" in page(response)


def test_a_row_says_the_last_outcome_and_the_next_step(desk, collector):
    case = queue_case(collector, 12)
    ContactAttempt.objects.create(
        case=case, channel="call", attempted_at=timezone.now() - datetime.timedelta(hours=3), outcome="busy"
    )
    promise_due(case, collector, timezone.localdate() + datetime.timedelta(days=2))
    reached(case, days_ago=9)

    [row] = queue_rows(desk.get(reverse("collection:queue")))

    assert "Busy" in row and "Promise" in row and "¥100.00" in row
    assert "not reached for 9 days" in row


@pytest.fixture
def filtered_queue(collector, other_collector):
    """Six cases of the collector's, each standing differently, and one of another collector's
    that stands every way at once (it must never show)."""
    first, second = DelinquencyBucket.objects.order_by("min_dpd")[1:3]
    cards, cash = ProductFactory(name="Card"), ProductFactory(name="Cash")
    cases = {
        "callback": queue_case(collector, 50, loan__product=cards),
        "broken": queue_case(collector, 40, stage=Stage.NEGOTIATION, loan__product=cards),
        "promise": queue_case(collector, 30, stage=Stage.ESCALATION, loan__product=cash),
        "held": queue_case(collector, 20, stage=Stage.ON_HOLD, loan__product=cash),
        "plain": queue_case(collector, 10, loan__product=cards),
        "later": queue_case(collector, 5, loan__product=cards),
    }
    Loan.objects.filter(pk__in=[cases[name].loan_id for name in ("callback", "promise")]).update(bucket=first)
    Loan.objects.filter(pk__in=[cases[name].loan_id for name in ("broken", "held")]).update(bucket=second)
    callback_due(cases["callback"], collector)
    promise_broken(cases["broken"], days_ago=1)
    promise_due(cases["promise"], collector, timezone.localdate())
    callback_due(cases["later"], collector, minutes=24 * 60)
    for name, days in (("broken", 1), ("promise", 10), ("held", 1), ("plain", 2), ("later", 3)):
        reached(cases[name], days_ago=days)
    theirs = queue_case(other_collector, 60, loan__product=cards)
    Loan.objects.filter(pk=theirs.loan_id).update(bucket=first)
    callback_due(theirs, other_collector)
    promise_broken(theirs, days_ago=1)
    return cases, {"first": first, "second": second, "cards": cards, "cash": cash}


FILTERS = [
    ({"promise_due_today": "1"}, {"promise"}),
    ({"broken_promise": "1"}, {"broken"}),
    ({"callback_due": "1"}, {"callback"}),
    ({"no_contact_7d": "1"}, {"callback", "promise"}),
    ({"on_hold": "1"}, {"held"}),
    ({"stage": "reminder"}, {"callback", "plain", "later"}),
    ({"stage": "negotiation"}, {"broken"}),
    ({"stage": "on_hold"}, {"held"}),
    ({"bucket": "first"}, {"callback", "promise"}),
    ({"bucket": "second"}, {"broken", "held"}),
    ({"product": "cards"}, {"callback", "broken", "plain", "later"}),
    ({"product": "cash"}, {"promise", "held"}),
    ({"product": "cards", "no_contact_7d": "1"}, {"callback"}),
]


@pytest.mark.parametrize("query, expected", FILTERS)
def test_each_filter_keeps_exactly_its_cases(desk, filtered_queue, query, expected):
    cases, named = filtered_queue
    params = {key: str(named[value].pk) if value in named else value for key, value in query.items()}

    response = desk.get(reverse("collection:queue"), params)

    assert set(shown_loans(response)) == set(numbers(*(cases[name] for name in expected)))
    shown = page(response)
    assert f"{len(expected)} case{'s' if len(expected) != 1 else ''} · of 6 open" in shown


def test_each_filter_shows_how_many_cases_it_keeps(desk, filtered_queue):
    _cases, named = filtered_queue

    shown = page(desk.get(reverse("collection:queue")))

    counts = dict(re.findall(r'name="(\w+)" value="1"[^>]*>[^<]*<span class="count">(\d+)</span>', shown))
    assert counts == {
        "promise_due_today": "1",
        "broken_promise": "1",
        "callback_due": "1",
        "no_contact_7d": "2",
        "on_hold": "1",
    }
    for value, label in [
        ("reminder", "Reminder (3)"),
        ("negotiation", "Negotiation (1)"),
        ("escalation", "Escalation (1)"),
        ("litigation", "Litigation (0)"),
        ("on_hold", "On hold (1)"),
        (str(named["first"].pk), f"{named['first'].name} (2)"),
        (str(named["second"].pk), f"{named['second'].name} (2)"),
        (str(named["cards"].pk), "Card (4)"),
        (str(named["cash"].pk), "Cash (2)"),
    ]:
        assert f'<option value="{value}">{label}</option>' in shown
    assert "6 cases" in shown


@pytest.mark.parametrize("search", ["ZX-7788", "zx-7788", "欧阳", "4321"])
def test_search_finds_a_case_by_loan_number_name_start_or_a_phones_last_four_digits(
    desk, collector, other_collector, search
):
    wanted = queue_case(collector, 10, loan__account_number="ZX-778899", loan__borrower__name="欧阳锋")
    ContactFactory(borrower=wanted.loan.borrower, value="+8613800004321")
    queue_case(collector, 20, loan__borrower__name="王欧阳")  # the name holds it, but does not start with it
    ContactFactory(borrower=queue_case(collector, 30).loan.borrower, value="+8643210000000")  # not its last four
    theirs = queue_case(other_collector, 40, loan__account_number="ZX-778800", loan__borrower__name="欧阳克")
    ContactFactory(borrower=theirs.loan.borrower, value="+8613900004321")

    response = desk.get(reverse("collection:queue"), {"q": search})

    assert shown_loans(response) == ["ZX-778899"]


def test_a_search_matching_nothing_says_so(desk, collector):
    queue_case(collector, 10)

    response = desk.get(reverse("collection:queue"), {"q": "nobody"})

    assert shown_loans(response) == []
    assert "No case matches these filters." in page(response)


def test_an_empty_queue_says_so(desk, collector, other_collector):
    queue_case(other_collector, 10)

    response = desk.get(reverse("collection:queue"))

    assert "Your queue is empty." in page(response)


def test_closed_cases_leave_the_queue(desk, collector):
    open_case = queue_case(collector, 10)
    queue_case(collector, 20, stage=Stage.RESOLVED)

    assert shown_loans(desk.get(reverse("collection:queue"))) == numbers(open_case)


def test_the_queue_shows_25_cases_a_page(desk, collector):
    cases = [queue_case(collector, 100 - days) for days in range(30)]  # in working order already

    first = desk.get(reverse("collection:queue"))
    second = desk.get(reverse("collection:queue"), {"page": "2"})

    assert shown_loans(first) == numbers(*cases[:25])
    assert shown_loans(second) == numbers(*cases[25:])
    assert "Page 1 of 2" in page(first) and "page=2" in page(first)
    assert "Page 2 of 2" in page(second) and "30 cases" in page(second)


def test_a_page_past_the_last_sends_the_collector_to_the_last_page(desk, collector):
    for days in range(30):
        queue_case(collector, 100 - days)

    response = desk.get(reverse("collection:queue"), {"stage": "reminder", "page": "9"})

    assert response.status_code == 302
    assert response.url == reverse("collection:queue") + "?stage=reminder&page=2"


def test_pages_keep_the_filters(desk, collector):
    for days in range(27):
        reached(queue_case(collector, 100 - days), days_ago=30)
    reached(queue_case(collector, 200), days_ago=1)  # reached yesterday: not kept by the filter

    second = desk.get(reverse("collection:queue"), {"no_contact_7d": "1", "page": "2"})

    assert len(shown_loans(second)) == 2
    assert "27 cases · of 28 open" in page(second)
    assert "no_contact_7d=1&amp;page=1" in page(second)


# --- what the pages cost ------------------------------------------------------------------------------


def queue_with_history(collector, count: int) -> None:
    """`count` cases of the collector's, each with attempts, a promise and a callback, some held,
    some broken, some with plans."""
    for index in range(count):
        case = queue_case(collector, index + 1, stage=Stage.ON_HOLD if index % 7 == 6 else None)
        contact = mobile(case)
        ContactAttempt.objects.bulk_create(
            ContactAttempt(
                case=case,
                contact=contact,
                channel="call",
                attempted_at=timezone.now() - datetime.timedelta(days=day),
                outcome="no_answer",
                collector=collector,
            )
            for day in range(1, 4)
        )
        promise_due(case, collector, timezone.localdate() + datetime.timedelta(days=index % 3))
        callback_due(case, collector, minutes=60 * (index % 5 - 2))
        if index % 4 == 0:
            promise_broken(case, days_ago=2)
        if index % 5 == 0:
            plan_payment_due(case, collector)


QUEUE_READS = 12


@pytest.mark.parametrize(
    ("count", "query"),
    [
        (3, {}),
        (40, {}),
        (3, {"callback_due": "1", "q": "LN"}),
        (40, {"callback_due": "1", "q": "LN"}),
        (30, {"page": "2"}),
        (60, {"page": "2"}),
    ],
)
def test_the_queue_reads_the_same_few_times_whatever_its_length(
    desk, collector, django_assert_max_num_queries, count, query
):
    queue_with_history(collector, count)

    with django_assert_max_num_queries(QUEUE_READS):
        response = desk.get(reverse("collection:queue"), query)

    assert response.status_code == 200


CASE_PAGE_READS = 20


@pytest.fixture
def long_history(collector, supervisor):
    """A case worked for months: 60 attempts, notes, promises, payments, a plan, requests, holds."""
    case = daytime_case(collector)
    contacts = [mobile(case), mobile(case), ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.EMPLOYER)]
    start = timezone.now() - datetime.timedelta(days=90)
    ContactAttempt.objects.bulk_create(
        ContactAttempt(
            case=case,
            contact=contacts[index % 3],
            channel="call",
            attempted_at=start + datetime.timedelta(hours=index * 30),
            outcome=["no_answer", "busy", "rpc", "third_party"][index % 4],
            collector=collector,
        )
        for index in range(60)
    )
    CaseNote.objects.bulk_create(
        CaseNote(
            case=case, text=f"note {index}", written_by=collector, written_at=start + datetime.timedelta(days=index)
        )
        for index in range(15)
    )
    PromiseToPay.objects.bulk_create(
        PromiseToPay(
            case=case,
            amount=Decimal("50.00"),
            due_date=start.date() + datetime.timedelta(days=index * 7),
            taken_by=collector,
            status="broken",
        )
        for index in range(10)
    )
    promise_due(case, collector, timezone.localdate() + datetime.timedelta(days=5))
    callback_due(case, collector, minutes=90)
    for index in range(8):
        pay(case, "25.00", start + datetime.timedelta(days=index * 10))
    plan_payment_due(case, supervisor)
    EscalationRequest.objects.create(case=case, target_stage="escalation", requested_by=collector, reason="no pay")
    CallConsent.objects.create(
        case=case,
        given_at=timezone.now() - datetime.timedelta(days=1),
        valid_until=timezone.now() + datetime.timedelta(days=1),
        recorded_by=collector,
    )
    other_loan_case = daytime_case(collector, loan__borrower=case.loan.borrower)
    assert other_loan_case.loan.borrower_id == case.loan.borrower_id
    return case


@pytest.mark.parametrize("who", ["collector", "supervisor", "desk_admin"])
def test_the_case_page_reads_a_fixed_few_times_whatever_its_history(
    client, request, long_history, django_assert_max_num_queries, who
):
    client = logged_in(client, request.getfixturevalue(who))

    with django_assert_max_num_queries(CASE_PAGE_READS):
        response = client.get(reverse("collection:case", args=[long_history.pk]))

    assert response.status_code == 200
    shown = page(response)
    assert long_history.loan.account_number in shown and "Allowed now" in shown


def test_the_timeline_fragment_reads_a_fixed_few_times_whatever_its_history(
    desk, long_history, django_assert_max_num_queries
):
    with django_assert_max_num_queries(CASE_PAGE_READS):
        response = desk.get(reverse("collection:case_timeline", args=[long_history.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    shown = page(response)
    assert "<html" not in shown  # the fragment, not a page
    assert shown.count('<li class="entry-') >= 100
    assert "Note: note 14" in shown and "Payment of ¥25.00 received" in shown


def test_the_timeline_without_htmx_is_a_page_of_its_own(desk, long_history):
    response = desk.get(reverse("collection:case_timeline", args=[long_history.pk]))

    assert "<html" in page(response) and "Note: note 14" in page(response)


# --- the next case --------------------------------------------------------------------------------------


def test_next_case_opens_the_most_pressing_case_not_worked_today(desk, collector, other_collector):
    held = queue_case(collector, 300, stage=Stage.ON_HOLD)
    CollectionCase.objects.filter(pk=held.pk).update(attention_since=timezone.now())
    worked = queue_case(collector, 200)
    ContactAttempt.objects.create(
        case=worked, channel="call", attempted_at=timezone.now(), outcome="busy", collector=collector
    )
    worked_by_someone_else = queue_case(collector, 100)
    ContactAttempt.objects.create(
        case=worked_by_someone_else,
        channel="call",
        attempted_at=timezone.now(),
        outcome="busy",
        collector=other_collector,
    )
    worked_yesterday = queue_case(collector, 150)
    ContactAttempt.objects.create(
        case=worked_yesterday,
        channel="call",
        attempted_at=timezone.now() - datetime.timedelta(days=1, hours=1),
        outcome="busy",
        collector=collector,
    )
    queue_case(collector, 50)

    response = desk.get(reverse("collection:next_case"))

    assert response.status_code == 302
    assert response.url == reverse("collection:case", args=[worked_yesterday.pk])


def test_next_case_follows_the_queues_priorities(desk, collector):
    queue_case(collector, 300)
    broken = queue_case(collector, 1)
    promise_broken(broken, days_ago=1)

    assert desk.get(reverse("collection:next_case")).url == reverse("collection:case", args=[broken.pk])


def test_next_case_goes_back_to_the_queue_when_every_case_was_worked_today(desk, collector):
    case = queue_case(collector, 10)
    queue_case(collector, 20, stage=Stage.ON_HOLD)
    ContactAttempt.objects.create(
        case=case, channel="call", attempted_at=timezone.now(), outcome="busy", collector=collector
    )

    response = desk.get(reverse("collection:next_case"), follow=True)

    assert response.redirect_chain == [(reverse("collection:queue"), 302)]
    assert "Every case of your queue has been worked today." in page(response)


@pytest.mark.parametrize("role", ["supervisor", "legal_officer", "admin"])
def test_next_case_is_the_collectors_flow(client, role):
    response = logged_in(client, UserFactory(roles=[role])).get(reverse("collection:next_case"))

    assert response.status_code == 403
