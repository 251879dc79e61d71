"""The conduct limits at their edges, and a property: whatever sequence of attempts collectors
log, the accepted ones never break a limit and the refused ones would have."""

import dataclasses
import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from collection.conduct import ConductRule, conduct_check
from collection.exceptions import CollectionError, ConductViolation
from collection.machine import Stage
from collection.models import (
    CONVERSATION_OUTCOMES,
    THIRD_PARTY_OUTCOMES,
    UNANSWERED_OUTCOMES,
    CallConsent,
    ConductPolicy,
    ContactAttempt,
    ContactChannel,
    Outcome,
)
from collection.services import attempt_log, call_consent_record
from loans.models import Contact
from tests.accounts.factories import UserFactory
from tests.collection.factories import case_of, employer_of, mobile_of
from tests.loans.factories import ContactFactory

UTC = datetime.UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = ZoneInfo("Asia/Urumqi")  # UTC+6, two hours behind Beijing time
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
OUTBOUND = ContactAttempt.Direction.OUTBOUND
INBOUND = ContactAttempt.Direction.INBOUND


# --- helpers ------------------------------------------------------------------------------------


def on_record(case, contact, at, *, outcome=Outcome.NO_ANSWER, channel=ContactChannel.CALL, direction=OUTBOUND):
    """An attempt already on record, written straight to the table: the check reads the history."""
    return ContactAttempt.objects.create(
        case=case, contact=contact, channel=channel, direction=direction, attempted_at=at, outcome=outcome
    )


def check(case, contact, at, *, channel=ContactChannel.CALL, **kwargs) -> None:
    conduct_check(case=case, contact=contact, channel=channel, at=at, **kwargs)


def refused(case, contact, at, *, channel=ContactChannel.CALL, **kwargs) -> ConductViolation:
    with pytest.raises(ConductViolation) as caught:
        check(case, contact, at, channel=channel, **kwargs)
    return caught.value


def local(zone, day, hour, minute=0, second=0, month=3, year=2026) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=zone)


def set_policy(**fields) -> None:
    ConductPolicy.current()
    ConductPolicy.objects.filter(pk=1).update(**fields)


# --- quiet hours ----------------------------------------------------------------------------------


def test_quiet_hours_start_at_22_00_00_in_the_borrowers_own_time_zone(db):
    case = case_of(zone=URUMQI)
    mobile = mobile_of(case)

    check(case, mobile, local(URUMQI, 2, 21, 59, 59))
    violation = refused(case, mobile, local(URUMQI, 2, 22, 0, 0))

    assert violation.rule == ConductRule.QUIET_HOURS
    assert violation.next_allowed_at == local(URUMQI, 3, 8)
    assert "Asia/Urumqi" in violation.message


def test_quiet_hours_end_at_08_00_00_in_the_borrowers_own_time_zone(db):
    case = case_of(zone=URUMQI)
    mobile = mobile_of(case)

    violation = refused(case, mobile, local(URUMQI, 3, 7, 59, 59))
    check(case, mobile, local(URUMQI, 3, 8, 0, 0))

    assert violation.rule == ConductRule.QUIET_HOURS
    assert violation.next_allowed_at == local(URUMQI, 3, 8)


def test_the_same_instant_is_allowed_for_one_borrower_and_quiet_for_another(db):
    in_beijing, in_urumqi = case_of(zone=SHANGHAI), case_of(zone=URUMQI)
    instant = datetime.datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Beijing, 20:30 in Urumqi

    check(in_urumqi, mobile_of(in_urumqi), instant)
    violation = refused(in_beijing, mobile_of(in_beijing), instant)

    assert violation.rule == ConductRule.QUIET_HOURS
    assert violation.next_allowed_at == local(SHANGHAI, 3, 8)


def test_quiet_hours_follow_daylight_saving_time(db):
    case = case_of(zone=LOS_ANGELES)
    mobile = mobile_of(case)
    # Clocks in Los Angeles go forward at 02:00 on Sunday 8 March 2026: 08:00 that day is 15:00 UTC.

    violation = refused(case, mobile, local(LOS_ANGELES, 7, 22))
    check(case, mobile, datetime.datetime(2026, 3, 8, 15, 0, tzinfo=UTC))

    assert violation.next_allowed_at == datetime.datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
    assert refused(case, mobile, datetime.datetime(2026, 3, 8, 14, 59, 59, tzinfo=UTC)).rule == ConductRule.QUIET_HOURS


@pytest.mark.parametrize("channel", [ContactChannel.SMS, ContactChannel.EMAIL])
def test_messages_keep_quiet_hours_too(db, channel):
    case = case_of()

    assert refused(case, mobile_of(case), local(SHANGHAI, 2, 23), channel=channel).rule == ConductRule.QUIET_HOURS


def test_a_visit_keeps_quiet_hours(db, collector):
    case = case_of()
    partner = UserFactory(roles=["collector"])

    violation = refused(
        case, None, local(SHANGHAI, 2, 22, 30), channel=ContactChannel.VISIT, by=collector, second_collector=partner
    )

    assert violation.rule == ConductRule.QUIET_HOURS


@pytest.mark.parametrize("channel", [ContactChannel.LETTER, ContactChannel.LAWYER_LETTER])
def test_letters_are_exempt_from_quiet_hours(db, channel):
    case = case_of()

    check(case, None, local(SHANGHAI, 2, 23, 30), channel=channel)


def test_the_borrower_calling_in_at_night_is_recorded(db):
    case = case_of()

    check(case, mobile_of(case), local(SHANGHAI, 2, 23, 30), direction=INBOUND, outcome=Outcome.RIGHT_PARTY_CONTACT)


def test_quiet_hours_come_from_the_policy(db):
    set_policy(quiet_hours_start=datetime.time(21, 0), quiet_hours_end=datetime.time(9, 0))
    case = case_of()
    mobile = mobile_of(case)

    assert refused(case, mobile, local(SHANGHAI, 2, 21, 0)).next_allowed_at == local(SHANGHAI, 3, 9)
    check(case, mobile, local(SHANGHAI, 3, 9, 0))
    check(case, mobile, local(SHANGHAI, 2, 20, 59, 59))


# --- unanswered calls to one number per day ---------------------------------------------------------


def test_the_sixth_unanswered_call_to_a_number_is_allowed_the_seventh_refused(db):
    case = case_of()
    mobile = mobile_of(case)
    for hour in range(9, 14):
        on_record(case, mobile, local(SHANGHAI, 2, hour), outcome=Outcome.NO_ANSWER)

    check(case, mobile, local(SHANGHAI, 2, 14))  # the sixth
    on_record(case, mobile, local(SHANGHAI, 2, 14), outcome=Outcome.BUSY)
    violation = refused(case, mobile, local(SHANGHAI, 2, 15))  # the seventh

    assert violation.rule == ConductRule.UNANSWERED_CALLS_PER_NUMBER
    assert violation.next_allowed_at == local(SHANGHAI, 3, 8)  # the next day, once quiet hours are over


def test_unanswered_calls_are_counted_per_calendar_day_of_the_borrower(db):
    case = case_of(zone=LOS_ANGELES)
    mobile = mobile_of(case)
    # 09:00-14:00 on 2 March in Los Angeles is 17:00-22:00 UTC on 2 March.
    for hour in range(9, 15):
        on_record(case, mobile, local(LOS_ANGELES, 2, hour))

    # 16:30 in Los Angeles is already 3 March in UTC and in Beijing, but still 2 March for the borrower.
    violation = refused(case, mobile, local(LOS_ANGELES, 2, 16, 30))

    assert violation.rule == ConductRule.UNANSWERED_CALLS_PER_NUMBER
    assert violation.next_allowed_at == local(LOS_ANGELES, 3, 8)
    check(case, mobile, local(LOS_ANGELES, 3, 8))  # the count starts again on the borrower's next day


def test_the_borrowers_day_runs_from_midnight_to_midnight(db):
    # No quiet hours, and room in the rolling window: only the daily cap speaks. A policy the desk
    # could not store (it is below the legal floors), given to the check to isolate the cap.
    policy = ConductPolicy(
        quiet_hours_start=datetime.time(0), quiet_hours_end=datetime.time(0), max_calls_per_case_in_window=20
    )
    case = case_of()
    mobile = mobile_of(case)
    for hour in range(18, 23):
        on_record(case, mobile, local(SHANGHAI, 2, hour))
    on_record(case, mobile, local(SHANGHAI, 3, 0, 0, 0))  # the first call of 3 March

    check(case, mobile, local(SHANGHAI, 2, 23, 59, 59), policy=policy)  # the sixth of 2 March
    on_record(case, mobile, local(SHANGHAI, 2, 23, 59, 59))
    violation = refused(case, mobile, local(SHANGHAI, 2, 23, 59, 59), policy=policy)  # a seventh

    assert violation.rule == ConductRule.UNANSWERED_CALLS_PER_NUMBER
    assert violation.next_allowed_at == local(SHANGHAI, 3, 0)  # no quiet hours to wait for


def test_answered_calls_and_other_numbers_do_not_count_toward_the_unanswered_cap(db):
    case = case_of()
    mobile, home = mobile_of(case), ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.HOME)
    for hour in range(9, 15):
        on_record(case, mobile, local(SHANGHAI, 2, hour), outcome=Outcome.NO_ANSWER)

    check(case, home, local(SHANGHAI, 2, 16))
    check(case, mobile, local(SHANGHAI, 2, 16), channel=ContactChannel.SMS)


def test_the_unanswered_cap_is_per_number_across_borrowers(db):
    """An employer's switchboard on two borrowers' lists: whoever answers it is protected."""
    set_policy(max_unanswered_calls_per_number_per_day=2)
    first, second = case_of(lost_contact=True), case_of(lost_contact=True)
    switchboard = "+861088880000"
    first_employer, second_employer = employer_of(first, value=switchboard), employer_of(second, value=switchboard)
    on_record(first, first_employer, local(SHANGHAI, 2, 9))
    on_record(first, first_employer, local(SHANGHAI, 2, 10))

    assert refused(second, second_employer, local(SHANGHAI, 2, 11)).rule == ConductRule.UNANSWERED_CALLS_PER_NUMBER


def test_the_unanswered_cap_comes_from_the_policy(db):
    set_policy(max_unanswered_calls_per_number_per_day=1)
    case = case_of()
    mobile = mobile_of(case)
    on_record(case, mobile, local(SHANGHAI, 2, 9))

    assert refused(case, mobile, local(SHANGHAI, 2, 10)).rule == ConductRule.UNANSWERED_CALLS_PER_NUMBER


# --- call attempts per case in the rolling window -----------------------------------------------------


def test_the_seventh_call_in_seven_days_is_allowed_the_eighth_refused_until_the_first_leaves_the_window(db):
    case = case_of()
    mobile = mobile_of(case)
    first = local(SHANGHAI, 2, 10)
    for day in range(6):  # one unanswered call a day: the daily cap stays out of the way
        on_record(case, mobile, first + datetime.timedelta(days=day))

    check(case, mobile, local(SHANGHAI, 8, 10))  # the seventh
    on_record(case, mobile, local(SHANGHAI, 8, 10))
    violation = refused(case, mobile, local(SHANGHAI, 8, 15))  # the eighth

    assert violation.rule == ConductRule.CALLS_PER_CASE_WINDOW
    assert violation.next_allowed_at == first + datetime.timedelta(days=7)
    assert refused(case, mobile, local(SHANGHAI, 9, 9, 59, 59)).rule == ConductRule.CALLS_PER_CASE_WINDOW
    check(case, mobile, local(SHANGHAI, 9, 10))


def test_calls_to_any_contact_of_the_case_count_in_the_window(db):
    set_policy(max_calls_per_case_in_window=2)
    case = case_of(lost_contact=True)
    on_record(case, mobile_of(case), local(SHANGHAI, 2, 10))
    on_record(case, employer_of(case), local(SHANGHAI, 2, 11), outcome=Outcome.THIRD_PARTY)

    violation = refused(
        case, ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.HOME), local(SHANGHAI, 2, 12)
    )

    assert violation.rule == ConductRule.CALLS_PER_CASE_WINDOW
    assert violation.next_allowed_at == local(SHANGHAI, 9, 10)


def test_messages_and_inbound_calls_do_not_count_as_call_attempts(db):
    set_policy(max_calls_per_case_in_window=1)
    case = case_of()
    mobile = mobile_of(case)
    on_record(case, mobile, local(SHANGHAI, 2, 9), channel=ContactChannel.SMS, outcome=Outcome.SENT)
    on_record(case, mobile, local(SHANGHAI, 2, 10), direction=INBOUND, outcome=Outcome.NO_ANSWER)

    check(case, mobile, local(SHANGHAI, 2, 11))


def test_a_call_logged_late_cannot_overfill_a_later_window(db):
    """Calls on 3-9 March fill the window from 3 March; a call logged afterwards for 2 March noon
    would put eight calls in the seven days from 2 March noon."""
    case = case_of()
    mobile = mobile_of(case)
    for day in range(3, 10):
        on_record(case, mobile, local(SHANGHAI, day, 10))

    violation = refused(case, mobile, local(SHANGHAI, 2, 12))

    assert violation.rule == ConductRule.CALLS_PER_CASE_WINDOW
    # 9 March noon is still in the window of 3-9 March; 10 March 10:00 the call of 3 March has left it.
    assert violation.next_allowed_at == local(SHANGHAI, 10, 10)
    check(case, mobile, local(SHANGHAI, 2, 9))  # the window from 2 March 09:00 ends before 9 March 10:00


# --- the pause after a conversation -------------------------------------------------------------------


def test_no_call_for_seven_days_after_a_conversation(db):
    case = case_of()
    mobile = mobile_of(case)
    talked = local(SHANGHAI, 2, 10)
    on_record(case, mobile, talked, outcome=Outcome.PROMISE_TO_PAY)

    violation = refused(case, mobile, local(SHANGHAI, 9, 9, 59, 59))
    check(case, mobile, local(SHANGHAI, 9, 10))

    assert violation.rule == ConductRule.AFTER_CONVERSATION
    assert violation.next_allowed_at == talked + datetime.timedelta(days=7)


def test_the_pause_stops_calls_only(db):
    case = case_of()
    mobile = mobile_of(case)
    on_record(case, mobile, local(SHANGHAI, 2, 10), outcome=Outcome.RIGHT_PARTY_CONTACT)

    check(case, mobile, local(SHANGHAI, 3, 10), channel=ContactChannel.SMS)
    check(case, None, local(SHANGHAI, 3, 10), channel=ContactChannel.LETTER)


def test_consent_given_after_the_conversation_lifts_the_pause_while_it_runs(db, collector):
    case = case_of()
    mobile = mobile_of(case)
    on_record(case, mobile, local(SHANGHAI, 2, 10), outcome=Outcome.HARDSHIP)
    call_consent_record(case=case, by=collector, given_at=local(SHANGHAI, 2, 10, 5), valid_until=local(SHANGHAI, 4, 12))

    check(case, mobile, local(SHANGHAI, 3, 10))
    check(case, mobile, local(SHANGHAI, 4, 11, 59, 59))
    violation = refused(case, mobile, local(SHANGHAI, 4, 12))

    assert violation.rule == ConductRule.AFTER_CONVERSATION
    assert violation.next_allowed_at == local(SHANGHAI, 9, 10)


def test_consent_given_before_the_conversation_does_not_lift_its_pause(db, collector):
    case = case_of()
    mobile = mobile_of(case)
    call_consent_record(case=case, by=collector, given_at=local(SHANGHAI, 1, 10), valid_until=local(SHANGHAI, 20, 10))
    on_record(case, mobile, local(SHANGHAI, 2, 10), outcome=Outcome.REFUSED)

    assert refused(case, mobile, local(SHANGHAI, 3, 10)).rule == ConductRule.AFTER_CONVERSATION


def test_the_borrower_calling_in_is_a_conversation_too(db):
    case = case_of()
    mobile = mobile_of(case)
    on_record(case, mobile, local(SHANGHAI, 2, 20), outcome=Outcome.RIGHT_PARTY_CONTACT, direction=INBOUND)

    assert refused(case, mobile, local(SHANGHAI, 3, 10)).rule == ConductRule.AFTER_CONVERSATION


def test_talking_to_a_third_party_is_not_a_conversation_with_the_borrower(db):
    case = case_of(lost_contact=True)
    on_record(case, employer_of(case), local(SHANGHAI, 2, 10), outcome=Outcome.REFUSED)

    check(case, mobile_of(case), local(SHANGHAI, 3, 10))


def test_the_pause_comes_from_the_policy(db):
    set_policy(days_without_calls_after_conversation=8)
    case = case_of()
    mobile = mobile_of(case)
    on_record(case, mobile, local(SHANGHAI, 2, 10), outcome=Outcome.RIGHT_PARTY_CONTACT)

    violation = refused(case, mobile, local(SHANGHAI, 9, 11))  # past the default 7 days, within 8

    assert violation.rule == ConductRule.AFTER_CONVERSATION
    assert violation.next_allowed_at == local(SHANGHAI, 10, 10)


def test_next_allowed_is_when_every_time_bound_limit_allows(db):
    """Refused for the pause, whose end falls in quiet hours: next allowed when both allow."""
    case = case_of()
    mobile = mobile_of(case)
    on_record(case, mobile, local(SHANGHAI, 2, 23), outcome=Outcome.RIGHT_PARTY_CONTACT, direction=INBOUND)

    violation = refused(case, mobile, local(SHANGHAI, 3, 10))

    assert violation.rule == ConductRule.AFTER_CONVERSATION
    assert violation.next_allowed_at == local(SHANGHAI, 10, 8)


# --- do-not-contact, wrong, opted out ------------------------------------------------------------------


@pytest.mark.parametrize("channel", [ContactChannel.CALL, ContactChannel.SMS, ContactChannel.EMAIL])
def test_a_do_not_contact_contact_is_never_used(db, channel):
    case = case_of()

    violation = refused(case, mobile_of(case, do_not_contact=True), local(SHANGHAI, 2, 10), channel=channel)

    assert violation.rule == ConductRule.DO_NOT_CONTACT
    assert violation.next_allowed_at is None


@pytest.mark.parametrize("channel", [ContactChannel.CALL, ContactChannel.SMS])
def test_a_wrong_number_is_never_used(db, channel):
    case = case_of()
    wrong = mobile_of(case, verification=Contact.Verification.WRONG)

    violation = refused(case, wrong, local(SHANGHAI, 2, 10), channel=channel)

    assert violation.rule == ConductRule.WRONG_NUMBER
    assert violation.next_allowed_at is None


@pytest.mark.parametrize(
    ("opted_out_of", "channel", "other_channel"),
    [
        ("opt_out_call", ContactChannel.CALL, ContactChannel.SMS),
        ("opt_out_sms", ContactChannel.SMS, ContactChannel.CALL),
        ("opt_out_email", ContactChannel.EMAIL, ContactChannel.CALL),
    ],
)
def test_an_opt_out_closes_that_channel_only(db, opted_out_of, channel, other_channel):
    case = case_of()
    contact = mobile_of(case, **{opted_out_of: True})

    violation = refused(case, contact, local(SHANGHAI, 2, 10), channel=channel)
    check(case, contact, local(SHANGHAI, 2, 10), channel=other_channel)

    assert violation.rule == ConductRule.OPTED_OUT
    assert violation.next_allowed_at is None


def test_a_borrower_calling_in_from_an_opted_out_number_is_recorded(db):
    case = case_of()

    check(
        case,
        mobile_of(case, opt_out_call=True, do_not_contact=True),
        local(SHANGHAI, 2, 10),
        direction=INBOUND,
        outcome=Outcome.RIGHT_PARTY_CONTACT,
    )


def test_another_borrowers_contact_is_never_used(db):
    case, other = case_of(), case_of()

    assert refused(case, mobile_of(other), local(SHANGHAI, 2, 10)).rule == ConductRule.CONTACT_NOT_OF_BORROWER


# --- third parties ----------------------------------------------------------------------------------


def test_a_third_party_is_not_contacted_while_the_borrower_can_be_reached(db):
    case = case_of(lost_contact=False)

    violation = refused(case, employer_of(case), local(SHANGHAI, 2, 10))

    assert violation.rule == ConductRule.THIRD_PARTY_NOT_ALLOWED
    assert violation.next_allowed_at is None


def test_a_third_party_may_be_asked_for_the_borrower_once_contact_is_lost(db):
    case = case_of(lost_contact=True)
    employer = employer_of(case)

    check(case, employer, local(SHANGHAI, 2, 10))
    check(case, employer, local(SHANGHAI, 2, 10), outcome=Outcome.THIRD_PARTY)


@pytest.mark.parametrize("channel", [ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.LETTER])
@pytest.mark.parametrize("outcome", [None, Outcome.SENT])
def test_nothing_written_goes_to_a_third_party_even_once_contact_is_lost(db, channel, outcome):
    """The review's F2b: an SMS "sent" to an employer passed while the borrower was lost. What the
    desk writes is a reminder, and a reminder names the debt."""
    case = case_of(lost_contact=True)
    employer = employer_of(case)

    violation = refused(case, employer, local(SHANGHAI, 2, 10), channel=channel, outcome=outcome)

    assert violation.rule == ConductRule.THIRD_PARTY_CHANNEL
    assert violation.next_allowed_at is None


def test_sent_is_not_an_outcome_for_a_third_party(db):
    case = case_of(lost_contact=True)

    violation = refused(case, employer_of(case), local(SHANGHAI, 2, 10), outcome=Outcome.SENT)

    assert violation.rule == ConductRule.THIRD_PARTY_OUTCOME


def test_a_third_party_writing_in_is_recorded(db):
    case = case_of(lost_contact=False)

    check(case, employer_of(case), local(SHANGHAI, 2, 10), channel=ContactChannel.SMS, direction=INBOUND)


@pytest.mark.usefixtures("in_english")
def test_a_refusal_names_the_contact_by_its_masked_number(db):
    case = case_of()
    mobile = mobile_of(case, value="+8613812345678", do_not_contact=True)

    violation = refused(case, mobile, local(SHANGHAI, 2, 10))

    assert "+86138****5678" in violation.message
    assert "13812345678" not in violation.message


@pytest.mark.parametrize("outcome", [Outcome.PROMISE_TO_PAY, Outcome.RIGHT_PARTY_CONTACT, Outcome.DISPUTE])
def test_a_third_party_attempt_cannot_end_with_debt_talk(db, outcome):
    case = case_of(lost_contact=True)

    violation = refused(case, employer_of(case), local(SHANGHAI, 2, 10), outcome=outcome)

    assert violation.rule == ConductRule.THIRD_PARTY_OUTCOME
    assert violation.next_allowed_at is None


def test_a_third_party_calling_in_is_recorded_but_not_as_debt_talk(db):
    case = case_of(lost_contact=False)
    employer = employer_of(case)

    check(case, employer, local(SHANGHAI, 2, 10), direction=INBOUND, outcome=Outcome.THIRD_PARTY)
    violation = refused(case, employer, local(SHANGHAI, 2, 10), direction=INBOUND, outcome=Outcome.PROMISE_TO_PAY)

    assert violation.rule == ConductRule.THIRD_PARTY_OUTCOME


def test_a_lawyers_letter_never_goes_to_a_third_party(db):
    case = case_of(lost_contact=True)

    violation = refused(case, employer_of(case), local(SHANGHAI, 2, 10), channel=ContactChannel.LAWYER_LETTER)

    assert violation.rule == ConductRule.THIRD_PARTY_CHANNEL


# --- field visits -------------------------------------------------------------------------------------


def test_a_field_visit_needs_a_second_collector(db, collector):
    case = case_of()
    at = local(SHANGHAI, 2, 10)

    alone = refused(case, None, at, channel=ContactChannel.VISIT, by=collector)
    with_self = refused(case, None, at, channel=ContactChannel.VISIT, by=collector, second_collector=collector)
    nobody = refused(case, None, at, channel=ContactChannel.VISIT, second_collector=collector)
    check(case, None, at, channel=ContactChannel.VISIT, by=collector, second_collector=UserFactory(roles=["collector"]))

    assert {alone.rule, with_self.rule, nobody.rule} == {ConductRule.VISIT_NEEDS_SECOND_COLLECTOR}
    assert alone.next_allowed_at is None


# --- the case's stage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [ContactChannel.CALL, ContactChannel.SMS, ContactChannel.LETTER])
def test_a_case_on_hold_gets_no_outbound_contact(db, channel):
    case = case_of(stage=Stage.ON_HOLD)

    violation = refused(case, mobile_of(case), local(SHANGHAI, 2, 10), channel=channel)

    assert violation.rule == ConductRule.CASE_ON_HOLD
    assert violation.next_allowed_at is None


def test_a_case_on_hold_still_hears_the_borrower_call_in(db):
    case = case_of(stage=Stage.ON_HOLD)

    check(case, mobile_of(case), local(SHANGHAI, 2, 10), direction=INBOUND, outcome=Outcome.DISPUTE)


@pytest.mark.parametrize("stage", [Stage.RESOLVED, Stage.SETTLED, Stage.WRITTEN_OFF, Stage.CLOSED])
@pytest.mark.parametrize("direction", [OUTBOUND, INBOUND])
def test_a_closed_case_gets_no_contact(db, stage, direction):
    case = case_of(stage=stage)

    violation = refused(case, mobile_of(case), local(SHANGHAI, 2, 10), direction=direction)

    assert violation.rule == ConductRule.CASE_CLOSED
    assert violation.next_allowed_at is None


@pytest.mark.parametrize("channel", [ContactChannel.CALL, ContactChannel.SMS, ContactChannel.EMAIL])
def test_a_call_or_message_names_its_contact(db, channel):
    with pytest.raises(CollectionError):
        check(case_of(), None, local(SHANGHAI, 2, 10), channel=channel)


def test_the_check_wants_an_aware_time(db):
    case = case_of()

    with pytest.raises(ValueError):
        check(case, mobile_of(case), datetime.datetime(2026, 3, 2, 10))


# --- the property: accepted sequences never break a limit ------------------------------------------------

ZONES = [SHANGHAI, URUMQI, LOS_ANGELES]
START = datetime.datetime(2026, 3, 2, tzinfo=UTC)
# Three weeks: the rolling window and the pause after a conversation are at least 7 days (the legal
# floors), and an attempt must be able to fall on either side of their ends.
SPAN_HOURS = 21 * 24
# Seconds after START. Whole hours, and the second before them, come up often: that is where
# quiet hours begin and end, and where a pause or a window started on the hour runs out.
seconds_strategy = st.one_of(
    st.integers(0, SPAN_HOURS * 3600),
    st.integers(0, SPAN_HOURS).map(lambda hour: hour * 3600),
    st.integers(1, SPAN_HOURS).map(lambda hour: hour * 3600 - 1),
)
QUIET_CHANNELS = {ContactChannel.CALL, ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.VISIT}


@dataclasses.dataclass(frozen=True)
class Logged:
    """An attempt as the independent checker sees it."""

    at: datetime.datetime
    contact: str  # "mobile", "home" or "employer"
    number: str
    channel: str
    outcome: str
    direction: str
    collector: int
    second_collector: int | None

    @property
    def third_party(self) -> bool:
        return self.contact == "employer"

    @property
    def outbound(self) -> bool:
        return self.direction == OUTBOUND


@dataclasses.dataclass(frozen=True)
class World:
    zone: ZoneInfo
    lost_contact: bool
    mobile_opted_out_of_sms: bool
    max_unanswered: int
    max_calls: int
    window: datetime.timedelta
    pause: datetime.timedelta
    consents: tuple[tuple[datetime.datetime, datetime.datetime], ...]  # (given_at, valid_until)


def limits_broken(attempt: Logged, before: list[Logged], world: World) -> list[str]:
    """Which limits `attempt` breaks, given the attempts accepted before it. Written from the rules
    in words, on purpose without the code under test."""
    broken = []
    local_time = attempt.at.astimezone(world.zone)
    if attempt.outbound:
        if attempt.channel in QUIET_CHANNELS and (local_time.hour >= 22 or local_time.hour < 8):
            broken.append("quiet hours")
        same_contact = [a for a in before if a.contact == attempt.contact]
        if any(a.outcome == Outcome.DO_NOT_CONTACT for a in same_contact):
            broken.append("asked not to be contacted")
        if any(a.outcome == Outcome.WRONG_NUMBER for a in same_contact):
            broken.append("wrong number")
        if attempt.contact == "mobile" and attempt.channel == ContactChannel.SMS and world.mobile_opted_out_of_sms:
            broken.append("opted out")
        if attempt.third_party and not world.lost_contact:
            broken.append("third party while the borrower is reachable")
        if attempt.channel == ContactChannel.VISIT and attempt.second_collector in (None, attempt.collector):
            broken.append("visit without a second collector")
    written = {ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.LETTER}
    if attempt.third_party and (
        attempt.outcome not in THIRD_PARTY_OUTCOMES
        or attempt.channel == "lawyer_letter"
        or (attempt.outbound and attempt.channel in written)
    ):
        broken.append("debt talk with a third party")
    if attempt.outbound and attempt.channel == ContactChannel.CALL:
        calls = [a for a in before if a.outbound and a.channel == ContactChannel.CALL]
        unanswered_today = [
            a
            for a in calls
            if a.number == attempt.number
            and a.outcome in UNANSWERED_OUTCOMES
            and a.at.astimezone(world.zone).date() == local_time.date()
        ]
        if len(unanswered_today) >= world.max_unanswered:
            broken.append("unanswered calls to the number today")
        if len([a for a in calls if attempt.at - world.window < a.at]) >= world.max_calls:
            broken.append("calls in the window")
        for talk in before:
            in_pause = (
                talk.outcome in CONVERSATION_OUTCOMES and not talk.third_party and attempt.at < talk.at + world.pause
            )
            consented = any(talk.at <= given <= attempt.at < until for given, until in world.consents)
            if in_pause and not consented:
                broken.append("call after a conversation")
                break
    return broken


attempts_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "second": seconds_strategy,
            "contact": st.sampled_from(["mobile"] * 4 + ["home", "employer"]),
            "channel": st.sampled_from(
                [ContactChannel.CALL] * 5 + [ContactChannel.SMS, ContactChannel.VISIT, ContactChannel.LETTER]
            ),
            "outcome": st.sampled_from(
                [Outcome.NO_ANSWER] * 5
                + [Outcome.BUSY] * 2
                + [
                    Outcome.RIGHT_PARTY_CONTACT,
                    Outcome.PROMISE_TO_PAY,
                    Outcome.REFUSED,
                    Outcome.THIRD_PARTY,
                    Outcome.WRONG_NUMBER,
                    Outcome.DO_NOT_CONTACT,
                    Outcome.DISPUTE,
                    Outcome.SENT,
                ]
            ),
            "direction": st.sampled_from([OUTBOUND] * 5 + [INBOUND]),
            "second_collector": st.sampled_from(["partner", "partner", "self", None]),
        }
    ),
    min_size=1,
    max_size=25,
    unique_by=lambda attempt: attempt["second"],
)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attempts=attempts_strategy,
    zone=st.sampled_from(ZONES),
    lost_contact=st.booleans(),
    mobile_opted_out_of_sms=st.booleans(),
    max_unanswered=st.integers(1, 2),
    max_calls=st.integers(1, 7),
    window_days=st.integers(7, 8),
    pause_days=st.integers(7, 8),
    consents=st.lists(st.tuples(seconds_strategy, st.integers(1, 48).map(lambda hours: hours * 3600)), max_size=2),
)
def test_accepted_attempts_never_break_a_limit_and_refused_ones_would_have(
    db,
    collector,
    attempts,
    zone,
    lost_contact,
    mobile_opted_out_of_sms,
    max_unanswered,
    max_calls,
    window_days,
    pause_days,
    consents,
):
    set_policy(
        max_unanswered_calls_per_number_per_day=max_unanswered,
        max_calls_per_case_in_window=max_calls,
        call_window_days=window_days,
        days_without_calls_after_conversation=pause_days,
    )
    partner = UserFactory(roles=["collector"])
    case = case_of(zone=zone, lost_contact=lost_contact)
    contacts = {
        "mobile": mobile_of(case, opt_out_sms=mobile_opted_out_of_sms),
        "home": ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.HOME),
        "employer": employer_of(case),
    }
    world = World(
        zone=zone,
        lost_contact=lost_contact,
        mobile_opted_out_of_sms=mobile_opted_out_of_sms,
        max_unanswered=max_unanswered,
        max_calls=max_calls,
        window=datetime.timedelta(days=window_days),
        pause=datetime.timedelta(days=pause_days),
        consents=tuple(
            (START + datetime.timedelta(seconds=given), START + datetime.timedelta(seconds=given + lasting))
            for given, lasting in consents
        ),
    )
    for given_at, valid_until in world.consents:
        call_consent_record(case=case, by=collector, given_at=given_at, valid_until=valid_until)

    accepted: list[Logged] = []
    for attempt in sorted(attempts, key=lambda attempt: attempt["second"]):
        second = {"partner": partner, "self": collector, None: None}[attempt["second_collector"]]
        logged = Logged(
            at=START + datetime.timedelta(seconds=attempt["second"]),
            contact=attempt["contact"],
            number=contacts[attempt["contact"]].value,
            channel=attempt["channel"],
            outcome=attempt["outcome"],
            direction=attempt["direction"],
            collector=collector.pk,
            second_collector=second.pk if second else None,
        )
        broken = limits_broken(logged, accepted, world)
        try:
            attempt_log(
                case=case,
                contact=contacts[logged.contact],
                channel=logged.channel,
                by=collector,
                at=logged.at,
                outcome=logged.outcome,
                direction=logged.direction,
                second_collector=second,
            )
        except ConductViolation as violation:
            event(f"refused: {violation.rule}")
            assert broken, f"{logged} was refused for {violation.rule} but breaks no limit"
        else:
            assert not broken, f"{logged} was accepted but breaks {broken}"
            accepted.append(logged)

    assert ContactAttempt.objects.filter(case=case).count() == len(accepted)
    assert case.refusals.count() == len(attempts) - len(accepted)
    assert CallConsent.objects.filter(case=case).count() == len(world.consents)


# --- the legal floors: the policy is tightened, never loosened (review F6) ------------------------------


def floor_policy(**fields) -> ConductPolicy:
    policy = ConductPolicy.current()
    for name, value in fields.items():
        setattr(policy, name, value)
    return policy


@pytest.mark.parametrize(
    "fields",
    [
        {"quiet_hours_start": datetime.time(21, 0), "quiet_hours_end": datetime.time(9, 0)},
        {"quiet_hours_start": datetime.time(22, 0), "quiet_hours_end": datetime.time(8, 0)},
        {"quiet_hours_start": datetime.time(12, 0), "quiet_hours_end": datetime.time(11, 0)},
        {"max_unanswered_calls_per_number_per_day": 1, "max_calls_per_case_in_window": 1},
        {"call_window_days": 30, "days_without_calls_after_conversation": 14},
    ],
)
def test_a_policy_may_be_tightened(db, fields):
    policy = floor_policy(**fields)

    policy.full_clean()
    policy.save()


@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"quiet_hours_start": datetime.time(0), "quiet_hours_end": datetime.time(0)}, "quiet_hours_end", "22:00"),
        ({"quiet_hours_start": datetime.time(22, 30)}, "quiet_hours_start", "22:00"),
        ({"quiet_hours_end": datetime.time(7, 59)}, "quiet_hours_start", "08:00"),
        ({"quiet_hours_start": datetime.time(0), "quiet_hours_end": datetime.time(8)}, "quiet_hours_start", "22:00"),
        ({"max_unanswered_calls_per_number_per_day": 7}, "max_unanswered_calls_per_number_per_day", "at most 6"),
        ({"max_calls_per_case_in_window": 32767}, "max_calls_per_case_in_window", "at most 7"),
        ({"call_window_days": 6}, "call_window_days", "at least 7 days"),
        ({"days_without_calls_after_conversation": 0}, "days_without_calls_after_conversation", "at least 7 days"),
    ],
)
def test_a_policy_looser_than_the_law_is_refused_naming_the_floor(db, fields, field, words):
    policy = floor_policy(**fields)

    with pytest.raises(ValidationError) as caught:
        policy.full_clean()

    [message] = caught.value.message_dict[field]
    assert words in message and "legal floor" in message


@pytest.mark.postgres
@pytest.mark.parametrize(
    "fields",
    [
        {"quiet_hours_start": datetime.time(0), "quiet_hours_end": datetime.time(0)},
        {"quiet_hours_start": datetime.time(23), "quiet_hours_end": datetime.time(8)},
        {"quiet_hours_start": datetime.time(22), "quiet_hours_end": datetime.time(7)},
        {"max_unanswered_calls_per_number_per_day": 32767},
        {"max_calls_per_case_in_window": 8},
        {"call_window_days": 1},
        {"days_without_calls_after_conversation": 0},
    ],
)
def test_the_database_refuses_a_policy_saved_around_its_form(db, fields):
    ConductPolicy.current()

    with pytest.raises(IntegrityError), transaction.atomic():
        ConductPolicy.objects.filter(pk=1).update(**fields)
