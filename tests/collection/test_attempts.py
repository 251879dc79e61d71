"""Logging contact attempts: what each outcome changes, the refusals kept for the compliance
report, and two collectors calling at once."""

import contextlib
import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django_fsm_log.models import StateLog

from collection.conduct import ConductRule
from collection.exceptions import CollectionError, ConductViolation
from collection.machine import HoldReason, Stage
from collection.models import (
    CallConsent,
    CollectionCase,
    ConductPolicy,
    ConductRefusal,
    ContactAttempt,
    ContactChannel,
    Outcome,
)
from collection.services import attempt_log, call_consent_record
from loans.models import Contact
from tests.accounts.factories import UserFactory
from tests.collection.factories import case_of, employer_of, mobile_of, within_reach_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
OUTBOUND = ContactAttempt.Direction.OUTBOUND
INBOUND = ContactAttempt.Direction.INBOUND


def fresh(*rows):
    """The rows as the database holds them now."""
    for row in rows:
        row.refresh_from_db()
    return rows[0] if len(rows) == 1 else rows


def call(case, contact, by, *, at=MORNING, outcome=Outcome.NO_ANSWER, **kwargs) -> ContactAttempt:
    return attempt_log(case=case, contact=contact, channel=ContactChannel.CALL, by=by, at=at, outcome=outcome, **kwargs)


# --- what outcomes change ------------------------------------------------------------------------------


def test_an_accepted_attempt_is_recorded_with_who_when_and_how(db, collector):
    case = case_of()
    mobile = mobile_of(case)

    attempt = call(case, mobile, collector, outcome=Outcome.BUSY, note="忙音", duration_seconds=12)

    stored = ContactAttempt.objects.get()
    assert stored == attempt
    assert (stored.case, stored.contact, stored.channel, stored.direction) == (
        case,
        mobile,
        ContactChannel.CALL,
        OUTBOUND,
    )
    assert (stored.attempted_at, stored.outcome, stored.note, stored.duration_seconds) == (
        MORNING,
        Outcome.BUSY,
        "忙音",
        12,
    )
    assert stored.collector == collector
    assert attempt.offers_hold is None


def test_a_wrong_number_marks_the_contact_wrong_and_it_is_not_called_again(db, collector):
    case = case_of()
    mobile = mobile_of(case)

    attempt = call(case, mobile, collector, outcome=Outcome.WRONG_NUMBER)

    assert fresh(mobile).verification == Contact.Verification.WRONG
    assert attempt.contact.verification == Contact.Verification.WRONG
    with pytest.raises(ConductViolation) as refused:
        call(case, mobile, collector, at=MORNING + datetime.timedelta(hours=1))
    assert refused.value.rule == ConductRule.WRONG_NUMBER


def test_a_conversation_stamps_the_case_and_moves_it_from_reminder_to_negotiation(db, collector):
    case = case_of()

    attempt = call(case, mobile_of(case), collector, outcome=Outcome.RIGHT_PARTY_CONTACT)

    assert attempt.case.stage == Stage.NEGOTIATION  # the case as the attempt left it
    fresh(case)
    assert case.stage == Stage.NEGOTIATION
    assert case.last_right_party_contact_at == MORNING
    log = StateLog.objects.for_(case).get()
    assert (log.transition, log.source_state, log.state, log.by) == (
        "negotiate",
        Stage.REMINDER,
        Stage.NEGOTIATION,
        collector,
    )


@pytest.mark.parametrize("outcome", [Outcome.PROMISE_TO_PAY, Outcome.REFUSED, Outcome.ALREADY_PAID])
def test_every_conversation_outcome_stamps_the_right_party_contact(db, collector, outcome):
    case = case_of(stage=Stage.ESCALATION)

    call(case, mobile_of(case), collector, outcome=outcome)

    fresh(case)
    assert case.last_right_party_contact_at == MORNING
    assert case.stage == Stage.ESCALATION  # only a case in reminder moves
    assert not StateLog.objects.for_(case).exists()


def test_the_borrower_calling_in_is_a_right_party_contact(db, collector):
    case = case_of()

    call(case, mobile_of(case), collector, outcome=Outcome.RIGHT_PARTY_CONTACT, direction=INBOUND)

    fresh(case)
    assert case.stage == Stage.NEGOTIATION
    assert case.last_right_party_contact_at == MORNING


def test_a_conversation_logged_late_does_not_move_the_stamp_back(db, collector):
    case = case_of(stage=Stage.NEGOTIATION)
    mobile = mobile_of(case)
    call(case, mobile, collector, outcome=Outcome.RIGHT_PARTY_CONTACT)

    call(case, mobile, collector, at=MORNING - datetime.timedelta(days=1), outcome=Outcome.PROMISE_TO_PAY)

    assert fresh(case).last_right_party_contact_at == MORNING


def test_no_answer_changes_nothing(db, collector):
    case = case_of()
    mobile = mobile_of(case)

    call(case, mobile, collector, outcome=Outcome.NO_ANSWER)

    fresh(case, mobile)
    assert case.stage == Stage.REMINDER and case.last_right_party_contact_at is None
    assert mobile.verification == Contact.Verification.UNVERIFIED and not mobile.do_not_contact


@pytest.mark.parametrize("verification", [Contact.Verification.UNVERIFIED, Contact.Verification.STALE])
def test_reaching_the_borrower_verifies_the_contact(db, collector, verification):
    case = case_of()
    mobile = mobile_of(case, verification=verification)

    call(case, mobile, collector, outcome=Outcome.RIGHT_PARTY_CONTACT)

    fresh(mobile)
    assert mobile.verification == Contact.Verification.VERIFIED
    assert mobile.verified_at == MORNING


def test_reaching_the_third_party_verifies_their_contact_but_is_no_conversation_with_the_borrower(db, collector):
    case = case_of(lost_contact=True)
    employer = employer_of(case)

    call(case, employer, collector, outcome=Outcome.THIRD_PARTY)

    fresh(case, employer)
    assert employer.verification == Contact.Verification.VERIFIED
    assert case.last_right_party_contact_at is None and case.stage == Stage.REMINDER


def test_asking_not_to_be_contacted_makes_the_contact_do_not_contact(db, collector):
    case = case_of(lost_contact=True)
    employer = employer_of(case)

    call(case, employer, collector, outcome=Outcome.DO_NOT_CONTACT)

    assert fresh(employer).do_not_contact
    with pytest.raises(ConductViolation) as refused:
        attempt_log(
            case=case,
            contact=employer,
            channel=ContactChannel.SMS,
            by=collector,
            at=MORNING + datetime.timedelta(days=1),
            outcome=Outcome.SENT,
        )
    assert refused.value.rule == ConductRule.DO_NOT_CONTACT


@pytest.mark.parametrize(
    ("outcome", "reason"), [(Outcome.DISPUTE, HoldReason.DISPUTE), (Outcome.HARDSHIP, HoldReason.HARDSHIP)]
)
def test_a_dispute_or_hardship_offers_the_hold(db, collector, outcome, reason):
    case = case_of()

    attempt = call(case, mobile_of(case), collector, outcome=outcome)

    assert attempt.offers_hold == reason
    assert fresh(case).stage == Stage.NEGOTIATION  # offered, not taken


def test_a_case_already_on_hold_is_not_offered_the_hold_again(db, collector):
    case = case_of(stage=Stage.ON_HOLD)

    attempt = call(case, mobile_of(case), collector, outcome=Outcome.DISPUTE, direction=INBOUND)

    assert attempt.offers_hold is None


def test_a_field_visit_records_both_collectors(db, collector):
    case = case_of()
    partner = UserFactory(roles=["collector"])

    attempt = attempt_log(
        case=case,
        contact=None,
        channel=ContactChannel.VISIT,
        by=collector,
        second_collector=partner,
        at=MORNING,
        outcome=Outcome.RIGHT_PARTY_CONTACT,
    )

    assert (attempt.collector, attempt.second_collector) == (collector, partner)


# --- refusals ---------------------------------------------------------------------------------------------


def test_a_refused_attempt_is_recorded_with_its_rule_and_next_allowed_time(db, collector):
    case = case_of()
    mobile = mobile_of(case)
    night = datetime.datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI)

    with pytest.raises(ConductViolation) as refused:
        call(case, mobile, collector, at=night)

    refusal = ConductRefusal.objects.get()
    assert (refusal.case, refusal.contact, refusal.channel, refusal.attempted_at, refusal.attempted_by) == (
        case,
        mobile,
        ContactChannel.CALL,
        night,
        collector,
    )
    assert refusal.rule == refused.value.rule == ConductRule.QUIET_HOURS
    assert refusal.next_allowed_at == refused.value.next_allowed_at == datetime.datetime(2026, 3, 3, 8, tzinfo=SHANGHAI)
    assert refusal.detail == refused.value.message
    assert not ContactAttempt.objects.exists()


def test_a_refused_attempt_changes_nothing_in_the_world(db, collector):
    case = case_of()
    wrong = mobile_of(case, do_not_contact=True)

    with pytest.raises(ConductViolation):
        call(case, wrong, collector, outcome=Outcome.RIGHT_PARTY_CONTACT)

    case.refresh_from_db()
    assert case.stage == Stage.REMINDER and case.last_right_party_contact_at is None
    assert ConductRefusal.objects.get().next_allowed_at is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_refusal_survives_the_violation_being_raised():
    collector = UserFactory(roles=["collector"])
    case = within_reach_of(collector, case_of())
    mobile = mobile_of(case)
    ConductPolicy.objects.filter(pk=1).update(max_unanswered_calls_per_number_per_day=1)
    call(case, mobile, collector)

    with pytest.raises(ConductViolation):
        call(case, mobile, collector, at=MORNING + datetime.timedelta(hours=1))

    assert ConductRefusal.objects.filter(case=case, rule=ConductRule.UNANSWERED_CALLS_PER_NUMBER).count() == 1
    assert ContactAttempt.objects.filter(case=case).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_caller_catching_the_violation_in_its_own_transaction_keeps_the_refusal():
    collector = UserFactory(roles=["collector"])
    case = within_reach_of(collector, case_of(stage=Stage.ON_HOLD))

    with transaction.atomic(), contextlib.suppress(ConductViolation):
        call(case, mobile_of(case), collector)

    assert ConductRefusal.objects.filter(case=case, rule=ConductRule.CASE_ON_HOLD).count() == 1


def test_logging_needs_the_permission(db):
    case = case_of()
    outsider = UserFactory()

    with pytest.raises(PermissionDenied):
        call(case, mobile_of(case), outsider)

    assert not ContactAttempt.objects.exists() and not ConductRefusal.objects.exists()


# --- consent to calls ----------------------------------------------------------------------------------------


def test_a_consent_is_recorded_by_the_collector(db, collector):
    case = case_of()

    consent = call_consent_record(
        case=case, by=collector, given_at=MORNING, valid_until=MORNING + datetime.timedelta(days=1), note="明天十点回电"
    )

    assert CallConsent.objects.get() == consent
    assert (consent.recorded_by, consent.note) == (collector, "明天十点回电")


def test_a_consent_must_end_after_it_was_given(db, collector):
    with pytest.raises(CollectionError):
        call_consent_record(case=case_of(), by=collector, given_at=MORNING, valid_until=MORNING)


def test_a_consent_needs_the_permission(db, legal_officer):
    with pytest.raises(PermissionDenied):
        call_consent_record(
            case=case_of(), by=legal_officer, given_at=MORNING, valid_until=MORNING + datetime.timedelta(days=1)
        )


def test_a_consent_lets_the_collector_call_back_within_the_pause(db, collector):
    case = case_of()
    mobile = mobile_of(case)
    call(case, mobile, collector, outcome=Outcome.RIGHT_PARTY_CONTACT)
    tomorrow = MORNING + datetime.timedelta(days=1)
    with pytest.raises(ConductViolation):
        call(case, mobile, collector, at=tomorrow)

    call_consent_record(case=case, by=collector, given_at=MORNING, valid_until=tomorrow + datetime.timedelta(hours=2))
    call(case, mobile, collector, at=tomorrow, outcome=Outcome.PROMISE_TO_PAY)

    assert ContactAttempt.objects.filter(case=case).count() == 2


# --- collectors calling at once (PostgreSQL) ---------------------------------------------------------------


def _log(arguments):
    try:
        attempt_log(**arguments)
        return "accepted"
    except ConductViolation as violation:
        return violation.rule


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_collectors_calling_one_number_at_once_cannot_pass_the_daily_cap_together(at_once):
    ConductPolicy.objects.filter(pk=1).update(max_unanswered_calls_per_number_per_day=1)
    case = case_of()
    mobile = mobile_of(case)
    # One collector working the case from five places at once (only the case's collector may call).
    the_collector = UserFactory(roles=["collector"])
    within_reach_of(the_collector, case)
    collectors = [the_collector] * 5

    results = at_once(
        _log,
        [
            {
                "case": CollectionCase.objects.get(pk=case.pk),
                "contact": Contact.objects.get(pk=mobile.pk),
                "channel": ContactChannel.CALL,
                "by": collector,
                "at": MORNING + datetime.timedelta(minutes=number),
                "outcome": Outcome.NO_ANSWER,
            }
            for number, collector in enumerate(collectors)
        ],
    )

    assert sorted(results) == ["accepted"] + [ConductRule.UNANSWERED_CALLS_PER_NUMBER] * 4
    assert ContactAttempt.objects.filter(contact=mobile).count() == 1
    assert ConductRefusal.objects.filter(case=case, rule=ConductRule.UNANSWERED_CALLS_PER_NUMBER).count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_collectors_calling_different_numbers_of_one_case_at_once_cannot_pass_the_window_cap_together(at_once):
    ConductPolicy.objects.filter(pk=1).update(max_calls_per_case_in_window=2)
    case = case_of()
    contacts = [mobile_of(case) for _ in range(5)]
    # One collector working the case from five places at once (only the case's collector may call).
    the_collector = UserFactory(roles=["collector"])
    within_reach_of(the_collector, case)
    collectors = [the_collector] * 5

    results = at_once(
        _log,
        [
            {
                "case": CollectionCase.objects.get(pk=case.pk),
                "contact": contact,
                "channel": ContactChannel.CALL,
                "by": collector,
                "at": MORNING,
                "outcome": Outcome.NO_ANSWER,
            }
            for contact, collector in zip(contacts, collectors, strict=True)
        ],
    )

    assert sorted(results) == ["accepted"] * 2 + [ConductRule.CALLS_PER_CASE_WINDOW] * 3
    assert ContactAttempt.objects.filter(case=case).count() == 2
