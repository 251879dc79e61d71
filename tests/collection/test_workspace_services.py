"""The services and reads behind the collector's workspace: notes, the lost-contact flag, callbacks,
the case page's one-read contact record (it must answer as the database does), where a case
stands, and its timeline with notes, callbacks and payments."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collection.conduct import CaseContactRecord, RecordedContacts, conduct_check
from collection.exceptions import CollectionError, ConductViolation
from collection.machine import Stage
from collection.models import (
    Callback,
    CallConsent,
    CaseNote,
    ConductPolicy,
    ConductRefusal,
    ContactAttempt,
    ContactChannel,
    EscalationRequest,
    Outcome,
    PromiseToPay,
    RepaymentPlan,
)
from collection.selectors import case_standing, case_timeline
from collection.services import attempt_log, borrower_lost_contact_set, case_note_add
from collection.services.notes import NOTE_MAX_LENGTH
from loans.models import Borrower, Contact
from tests.accounts.factories import UserFactory
from tests.collection.factories import CaseFactory, case_in, case_of, employer_of, mobile_of, pay
from tests.loans.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)


def hours(count: float) -> datetime.timedelta:
    return datetime.timedelta(hours=count)


# --- notes ----------------------------------------------------------------------------------------


def test_a_note_is_written_on_a_case_within_reach(collector):
    case = CaseFactory(loan__installments=False)

    note = case_note_add(case=case, by=collector, text="  moved to Hangzhou  ")

    assert (note.case, note.written_by, note.text) == (case, collector, "moved to Hangzhou")


@pytest.mark.parametrize("text", ["", "   \n  ", None])
def test_an_empty_note_is_refused(collector, text):
    case = CaseFactory(loan__installments=False)

    with pytest.raises(CollectionError, match="The note is empty."):
        case_note_add(case=case, by=collector, text=text)

    assert not CaseNote.objects.exists()


def test_a_note_holds_at_most_its_length(collector):
    case = CaseFactory(loan__installments=False)

    case_note_add(case=case, by=collector, text="长" * NOTE_MAX_LENGTH)
    with pytest.raises(CollectionError, match=f"at most {NOTE_MAX_LENGTH} characters; this one has 4001"):
        case_note_add(case=case, by=collector, text="长" * (NOTE_MAX_LENGTH + 1))

    assert CaseNote.objects.count() == 1


def test_a_note_on_another_collectors_case_is_refused(collector):
    theirs = CaseFactory(assigned_to=UserFactory(roles=["collector"]), team=None, loan__installments=False)

    with pytest.raises(PermissionDenied):
        case_note_add(case=theirs, by=collector, text="mine now")

    assert not CaseNote.objects.exists()


def test_an_admin_writes_notes_on_any_case_and_a_role_without_the_grant_cannot(collector, desk_admin):
    case = CaseFactory(loan__installments=False)

    assert case_note_add(case=case, by=desk_admin, text="from the admin").written_by == desk_admin
    with pytest.raises(PermissionDenied, match="You may not write notes"):
        case_note_add(case=case, by=UserFactory(is_superuser=False), text="no role")


# --- the lost-contact flag ------------------------------------------------------------------------------


def updates_of(borrower):
    """The audit trail's changes of the borrower (not the entry of its creation)."""
    return LogEntry.objects.get_for_object(borrower).filter(action=LogEntry.Action.UPDATE)


def test_a_borrower_is_marked_lost_with_the_reason_in_the_audit_trail(collector):
    case = CaseFactory(loan__installments=False)

    borrower = borrower_lost_contact_set(
        borrower=case.loan.borrower, by=collector, lost=True, reason="every number is dead"
    )

    stored = Borrower.objects.get(pk=borrower.pk)
    assert stored.lost_contact and stored.lost_contact_since is not None
    assert (borrower.lost_contact, borrower.lost_contact_since) == (True, stored.lost_contact_since)
    entry = updates_of(stored).get()
    assert entry.action == LogEntry.Action.UPDATE and entry.actor == collector
    assert entry.changes_dict == {
        "lost_contact": ["False", "True"],
        "lost_contact_since": ["None", str(stored.lost_contact_since)],
    }
    assert entry.additional_data == {"reason": "every number is dead"}


def test_a_borrower_found_again_is_recorded_too(collector):
    case = CaseFactory(loan__installments=False)
    borrower_lost_contact_set(borrower=case.loan.borrower, by=collector, lost=True, reason="gone")

    borrower_lost_contact_set(borrower=case.loan.borrower, by=collector, lost=False, reason="called in")

    stored = Borrower.objects.get(pk=case.loan.borrower_id)
    assert (stored.lost_contact, stored.lost_contact_since) == (False, None)
    newest = updates_of(stored).order_by("-pk").first()
    assert newest.changes_dict["lost_contact"] == ["True", "False"]
    assert newest.additional_data == {"reason": "called in"}


def test_marking_a_borrower_as_they_already_are_records_nothing(collector):
    case = CaseFactory(loan__installments=False)

    borrower_lost_contact_set(borrower=case.loan.borrower, by=collector, lost=False, reason="still here")

    assert not updates_of(case.loan.borrower).exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_the_lost_contact_flag_needs_a_reason(collector, reason):
    case = CaseFactory(loan__installments=False)

    with pytest.raises(CollectionError, match="Say why"):
        borrower_lost_contact_set(borrower=case.loan.borrower, by=collector, lost=True, reason=reason)

    assert not Borrower.objects.get(pk=case.loan.borrower_id).lost_contact


def test_a_borrower_out_of_reach_is_refused(collector):
    theirs = CaseFactory(assigned_to=UserFactory(roles=["collector"]), team=None, loan__installments=False)

    with pytest.raises(PermissionDenied):
        borrower_lost_contact_set(borrower=theirs.loan.borrower, by=collector, lost=True, reason="gone")

    assert not Borrower.objects.get(pk=theirs.loan.borrower_id).lost_contact
    assert not updates_of(theirs.loan.borrower).exists()


def test_a_legal_officer_does_not_change_what_the_desk_knows_of_a_borrowers_reach(legal_officer):
    case = case_in(Stage.LITIGATION, loan__installments=False)

    with pytest.raises(PermissionDenied):
        borrower_lost_contact_set(borrower=case.loan.borrower, by=legal_officer, lost=True, reason="gone")


# --- callbacks --------------------------------------------------------------------------------------------


def log(case, contact, by, at, outcome=Outcome.NO_ANSWER, **kwargs) -> ContactAttempt:
    return attempt_log(case=case, contact=contact, channel=ContactChannel.CALL, by=by, at=at, outcome=outcome, **kwargs)


def test_an_attempt_sets_the_callback_it_names(collector):
    case = case_of()
    contact = mobile_of(case)

    attempt = log(case, contact, collector, MORNING, callback_at=MORNING + hours(5))

    callback = Callback.objects.get(case=case)
    assert (callback.status, callback.due_at, callback.attempt, callback.set_by) == (
        Callback.Status.PENDING,
        MORNING + hours(5),
        attempt,
        collector,
    )


def test_the_next_attempt_marks_the_pending_callback_done(collector):
    case = case_of()
    contact = mobile_of(case)
    log(case, contact, collector, MORNING, callback_at=MORNING + hours(5))

    log(case, contact, collector, MORNING + hours(5), outcome=Outcome.WRONG_NUMBER)

    callback = Callback.objects.get(case=case)
    assert callback.status == Callback.Status.DONE and callback.closed_at is not None


def test_a_new_callback_replaces_the_pending_one(collector):
    case = case_of()
    contact = mobile_of(case)
    log(case, contact, collector, MORNING, callback_at=MORNING + hours(2))

    log(case, contact, collector, MORNING + hours(2), callback_at=MORNING + hours(6))

    assert list(Callback.objects.filter(case=case).order_by("due_at").values_list("due_at", "status")) == [
        (MORNING + hours(2), Callback.Status.DONE),
        (MORNING + hours(6), Callback.Status.PENDING),
    ]


def test_a_refused_attempt_leaves_the_callback_pending(collector):
    case = case_of()
    contact = mobile_of(case)
    log(case, contact, collector, MORNING, callback_at=MORNING + hours(5))

    with pytest.raises(ConductViolation):
        log(case, contact, collector, MORNING + hours(13))  # 23:00: quiet hours

    assert Callback.objects.get(case=case).status == Callback.Status.PENDING


@pytest.mark.parametrize(
    "zone, local_hour",
    [(SHANGHAI, 23), (SHANGHAI, 7), (ZoneInfo("Asia/Urumqi"), 22)],
)
def test_a_callback_in_the_borrowers_quiet_hours_is_refused(collector, zone, local_hour):
    case = case_of(zone=zone)
    contact = mobile_of(case)
    at = datetime.datetime(2026, 3, 2, 10, tzinfo=zone)
    callback_at = datetime.datetime(2026, 3, 2 if local_hour >= 22 else 3, local_hour, 30, tzinfo=zone)

    with pytest.raises(CollectionError, match="falls in the borrower's quiet hours") as refused:
        log(case, contact, collector, at, callback_at=callback_at)

    assert zone.key in refused.value.message
    assert not ContactAttempt.objects.exists() and not Callback.objects.exists()
    assert not ConductRefusal.objects.exists()  # not a conduct refusal: nothing was attempted


def test_a_callback_in_desk_daytime_may_still_be_the_borrowers_night(collector):
    los_angeles = ZoneInfo("America/Los_Angeles")
    case = case_of(zone=los_angeles)
    at = datetime.datetime(2026, 3, 2, 9, tzinfo=los_angeles)
    desk_afternoon = datetime.datetime(2026, 3, 3, 14, tzinfo=SHANGHAI)  # 22:00 on 2 March in Los Angeles

    with pytest.raises(CollectionError, match="America/Los_Angeles"):
        log(case, mobile_of(case), collector, at, callback_at=desk_afternoon)


@pytest.mark.parametrize("later", [datetime.timedelta(0), -hours(1)])
def test_a_callback_no_later_than_the_attempt_is_refused(collector, later):
    case = case_of()
    contact = mobile_of(case)

    with pytest.raises(CollectionError, match="A callback must be later than the attempt."):
        log(case, contact, collector, MORNING, callback_at=MORNING + later)

    assert not ContactAttempt.objects.exists() and not Callback.objects.exists()


# --- the case page's contact record answers as the database does -------------------------------------------

START = datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC)
SPAN_SECONDS = 20 * 24 * 3600
ZONES = [SHANGHAI, ZoneInfo("Asia/Urumqi"), ZoneInfo("America/Los_Angeles")]
# Whose contact an attempt went to: the borrower's mobile, home phone or employer, a stranger's
# phone with the mobile's number (another borrower's case), or none (a visit, a letter).
CONTACTS = ["mobile", "mobile", "home", "employer", "shared", None]
CHANNELS = [ContactChannel.CALL] * 4 + [ContactChannel.SMS, ContactChannel.VISIT, ContactChannel.LETTER]
OUTCOMES = [Outcome.NO_ANSWER] * 3 + [
    Outcome.BUSY,
    Outcome.RIGHT_PARTY_CONTACT,
    Outcome.PROMISE_TO_PAY,
    Outcome.REFUSED,
    Outcome.THIRD_PARTY,
    Outcome.WRONG_NUMBER,
    Outcome.DISPUTE,
]
seconds = st.one_of(st.integers(0, SPAN_SECONDS), st.integers(0, SPAN_SECONDS // 3600).map(lambda hour: hour * 3600))
history_strategy = st.lists(
    st.tuples(
        seconds,
        st.sampled_from(CONTACTS),
        st.sampled_from(CHANNELS),
        st.sampled_from([ContactAttempt.Direction.OUTBOUND] * 4 + [ContactAttempt.Direction.INBOUND]),
        st.sampled_from(OUTCOMES),
    ),
    max_size=30,
)


def check_with(record, *, case, contact, at, policy):
    """What the conduct check says of a call: None (allowed), or the rule, the next allowed time and the words."""
    try:
        conduct_check(case=case, contact=contact, channel=ContactChannel.CALL, at=at, policy=policy, record=record)
    except ConductViolation as violation:
        return violation.rule, violation.next_allowed_at, violation.message
    return None


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=history_strategy,
    consents=st.lists(st.tuples(seconds, st.integers(1, 72).map(hours)), max_size=3),
    checks=st.lists(seconds, min_size=1, max_size=2),
    zone=st.sampled_from(ZONES),
    max_unanswered=st.integers(1, 3),
    max_calls=st.integers(1, 7),
    window_days=st.integers(7, 9),
    pause_days=st.integers(7, 9),
)
def test_the_case_pages_contact_record_answers_the_conduct_check_as_the_database_does(
    collector, history, consents, checks, zone, max_unanswered, max_calls, window_days, pause_days
):
    policy = ConductPolicy(
        max_unanswered_calls_per_number_per_day=max_unanswered,
        max_calls_per_case_in_window=max_calls,
        call_window_days=window_days,
        days_without_calls_after_conversation=pause_days,
    )
    case = case_of(zone=zone)
    contacts = {
        "mobile": mobile_of(case),
        "home": ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.HOME),
        "employer": employer_of(case),
    }
    strangers = case_of(zone=zone)
    contacts["shared"] = ContactFactory(borrower=strangers.loan.borrower, value=contacts["mobile"].value)
    ContactAttempt.objects.bulk_create(
        ContactAttempt(
            case=strangers if whose == "shared" else case,
            contact=contacts[whose] if whose else None,
            channel=channel,
            direction=direction,
            attempted_at=START + datetime.timedelta(seconds=second),
            outcome=outcome,
        )
        for second, whose, channel, direction, outcome in history
    )
    CallConsent.objects.bulk_create(
        CallConsent(
            case=case,
            given_at=START + datetime.timedelta(seconds=given),
            valid_until=START + datetime.timedelta(seconds=given) + lasting,
            recorded_by=collector,
        )
        for given, lasting in consents
    )
    numbers = [contacts[name].value for name in ("mobile", "home", "employer")]

    # Checked at random moments and an hour after some of the history: within the pause and the
    # day the history starts.
    for second in [*checks, *(attempt[0] + 3600 for attempt in history[:4])]:
        at = START + datetime.timedelta(seconds=second)
        # As the case page reads it: from before the longest look back of the time-bound rules.
        since = at - max(datetime.timedelta(days=window_days), datetime.timedelta(days=pause_days)) - hours(48)
        read_once = CaseContactRecord(case=case, numbers=numbers, since=since)
        for name in ("mobile", "home", "employer"):
            in_database = check_with(RecordedContacts(), case=case, contact=contacts[name], at=at, policy=policy)
            on_the_page = check_with(read_once, case=case, contact=contacts[name], at=at, policy=policy)
            assert on_the_page == in_database, (name, at)
        day_starts = datetime.datetime.combine(at.astimezone(zone).date(), datetime.time.min, tzinfo=zone)
        for number in numbers:
            assert read_once.unanswered_calls(
                number=number, since=day_starts, until=day_starts + hours(24)
            ) == RecordedContacts().unanswered_calls(number=number, since=day_starts, until=day_starts + hours(24))
        pause = datetime.timedelta(days=pause_days)
        talked = read_once.last_conversation(case=case, after=at - pause, at=at)
        assert talked == RecordedContacts().last_conversation(case=case, after=at - pause, at=at)
        for moment in [talked, *(START + datetime.timedelta(seconds=consent[0]) for consent in consents)]:
            if moment is not None:
                assert read_once.consented(case=case, since=moment, at=at) == RecordedContacts().consented(
                    case=case, since=moment, at=at
                )
        window = datetime.timedelta(days=window_days)
        assert read_once.calls(case=case, after=at - window, before=at + window) == RecordedContacts().calls(
            case=case, after=at - window, before=at + window
        )


def test_the_contact_record_reads_in_two_queries_whatever_it_is_asked(collector, django_assert_num_queries):
    case = case_of()
    contact = mobile_of(case)
    for hour in range(9, 14):
        ContactAttempt.objects.create(
            case=case, contact=contact, channel="call", attempted_at=MORNING + hours(hour - 10), outcome="no_answer"
        )

    with django_assert_num_queries(2):
        record = CaseContactRecord(case=case, numbers=[contact.value], since=MORNING - datetime.timedelta(days=10))
    with django_assert_num_queries(0):
        for minutes in range(0, 24 * 60, 90):
            check_with(
                record,
                case=case,
                contact=contact,
                at=MORNING + datetime.timedelta(minutes=minutes),
                policy=ConductPolicy(),
            )


# --- where a case stands ------------------------------------------------------------------------------------------


def test_a_new_case_stands_with_nothing_pending(collector):
    standing = case_standing(case=CaseFactory(loan__installments=False))

    assert (standing.promise_amount, standing.callback_due_at, standing.plan_total, standing.requests_pending) == (
        None,
        None,
        None,
        0,
    )
    assert standing.plan_status_label == "" and standing.request_target_label == "-"


def test_a_case_stands_on_its_pending_promise_callback_live_plan_and_newest_request(collector, supervisor):
    case = CaseFactory(loan__installments=False)
    due = datetime.date(2030, 1, 1)
    PromiseToPay.objects.create(case=case, amount=Decimal("80.00"), due_date=due, status="superseded")
    PromiseToPay.objects.create(case=case, amount=Decimal("120.00"), due_date=due, taken_by=collector)
    Callback.objects.create(case=case, due_at=MORNING, status="done", set_by=collector)
    Callback.objects.create(case=case, due_at=MORNING + hours(3), set_by=collector)
    RepaymentPlan.objects.create(case=case, status="rejected", total_amount=Decimal("999.00"), proposed_by=collector)
    RepaymentPlan.objects.create(
        case=case, status="pending_approval", total_amount=Decimal("600.00"), proposed_by=collector
    )
    EscalationRequest.objects.create(case=case, target_stage="escalation", reason="old one", status="rejected")
    EscalationRequest.objects.create(case=case, target_stage="escalation", reason="no answer for a month")
    EscalationRequest.objects.create(case=case, target_stage="litigation", reason="hides assets")

    standing = case_standing(case=case)

    assert (standing.promise_amount, standing.promise_due_date) == (Decimal("120.00"), due)
    assert standing.callback_due_at == MORNING + hours(3)
    assert (standing.plan_total, standing.plan_status, standing.plan_status_label) == (
        Decimal("600.00"),
        "pending_approval",
        "Awaiting approval",
    )
    assert (standing.requests_pending, standing.request_target, standing.request_reason) == (
        2,
        "litigation",
        "hides assets",
    )
    assert standing.request_target_label == "Litigation"


def test_where_a_case_stands_is_one_read(collector, django_assert_num_queries):
    case = CaseFactory(loan__installments=False)

    with django_assert_num_queries(1):
        case_standing(case=case)


# --- the timeline -----------------------------------------------------------------------------------------------


def test_the_timeline_shows_notes_callbacks_and_payments_newest_first(collector):
    case = CaseFactory()  # a loan with its schedule: payments are allocated to it
    contact = mobile_of(case)
    pay(case, "50.00", MORNING - hours(48))
    log(case, contact, collector, MORNING - hours(24), callback_at=MORNING - hours(20))
    note = case_note_add(case=case, by=collector, text="asked for the statement")

    entries = case_timeline(case=case)

    kinds = [entry.kind for entry in entries]
    assert {"note", "callback", "payment", "attempt"} <= set(kinds)
    by_kind = {entry.kind: entry for entry in entries}
    assert by_kind["note"].summary == "Note: asked for the statement" and by_kind["note"].actor == collector
    assert by_kind["note"].kind_label == "Note"
    local_due = (MORNING - hours(20)).astimezone(SHANGHAI)
    assert by_kind["callback"].summary == f"Callback set for {local_due:%Y-%m-%d %H:%M} (Pending)"
    assert by_kind["callback"].actor == collector
    assert by_kind["payment"].summary.startswith("Payment of ¥50.00 received")
    assert by_kind["payment"].time == MORNING - hours(48)
    times = [entry.time for entry in entries]
    assert times == sorted(times, reverse=True)
    assert entries[0].kind == "note" and entries[0].time == note.written_at


def test_a_done_callback_shows_as_done(collector):
    case = case_of()
    contact = mobile_of(case)
    log(case, contact, collector, MORNING, callback_at=MORNING + hours(2))
    log(case, contact, collector, MORNING + hours(2), outcome=Outcome.WRONG_NUMBER)

    [callback] = [entry for entry in case_timeline(case=case) if entry.kind == "callback"]

    assert callback.summary.endswith("(Done)")


def test_the_timeline_keeps_the_newest_entries_within_its_limit(collector):
    case = case_of()
    CaseNote.objects.bulk_create(
        CaseNote(case=case, text=f"note {index}", written_by=collector, written_at=MORNING + hours(index))
        for index in range(10)
    )

    entries = case_timeline(case=case, limit=3)

    assert [entry.summary for entry in entries] == ["Note: note 9", "Note: note 8", "Note: note 7"]
