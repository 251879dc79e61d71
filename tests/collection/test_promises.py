"""Promises to pay: taking them, and settling them against the payments that arrive in their window
(from the promise to the end of the day after its due date, Asia/Shanghai)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone, translation
from django_fsm_log.models import StateLog

from collection import services
from collection.exceptions import CollectionError, StaleCase
from collection.machine import Stage
from collection.models import CollectionCase, PromiseToPay
from tests.accounts.factories import UserFactory
from tests.collection.factories import AttemptFactory, CaseFactory, PromiseFactory, at, case_in, days_ago, pay, today

UTC = datetime.UTC


def promise(case, amount="300.00", *, due=None, promised_at=None, **kwargs):
    """A promise taken ten days ago, due five days ago (its grace day four days ago): its window
    has closed by today."""
    return PromiseFactory(
        case=case,
        amount=Decimal(amount),
        due_date=due or days_ago(5),
        promised_at=promised_at or at(days_ago(10), 10),
        **kwargs,
    )


def evaluate():
    return services.promises_evaluate(as_of=today())


# --- taking a promise ---------------------------------------------------------------------------


def test_a_promise_moves_a_case_in_reminder_to_negotiation_with_a_logged_transition(collector):
    case = CaseFactory()
    attempt = AttemptFactory(case=case, channel="call", attempted_at=timezone.now(), outcome="promise_to_pay")

    taken = services.promise_take(case=case, by=collector, amount=Decimal("200.00"), due_date=today(), attempt=attempt)

    assert taken.status == PromiseToPay.Status.PENDING
    assert (taken.amount, taken.due_date, taken.taken_by, taken.attempt) == (
        Decimal("200.00"),
        today(),
        collector,
        attempt,
    )
    case.refresh_from_db()
    assert case.stage == Stage.NEGOTIATION
    log = StateLog.objects.for_(case).get(transition="negotiate")
    assert log.by == collector
    assert (log.source_state, log.state) == (Stage.REMINDER, Stage.NEGOTIATION)


def test_a_promise_in_another_stage_leaves_the_stage_alone(collector):
    case = case_in(Stage.ESCALATION)

    services.promise_take(case=case, by=collector, amount=Decimal("100.00"), due_date=today())

    case.refresh_from_db()
    assert case.stage == Stage.ESCALATION
    assert not StateLog.objects.for_(case).exists()


@pytest.mark.parametrize(
    ("amount", "due_in_days", "words"),
    [
        ("0.00", 3, "more than zero"),
        ("-5.00", 3, "more than zero"),
        ("1344.01", 3, "at most the 1344.00"),
        ("10.005", 3, "yuan and fen"),
        ("100.00", -1, "in the past"),
    ],
)
def test_a_promise_is_refused_when_the_amount_or_date_is_wrong(collector, amount, due_in_days, words):
    case = CaseFactory()  # the default loan owes 1344.00 in all

    with translation.override("en"), pytest.raises(CollectionError, match=words):
        services.promise_take(
            case=case, by=collector, amount=Decimal(amount), due_date=today() + datetime.timedelta(days=due_in_days)
        )
    assert not PromiseToPay.objects.exists()
    case.refresh_from_db()
    assert case.stage == Stage.REMINDER


def test_a_promise_of_the_whole_outstanding_is_accepted(collector):
    case = CaseFactory()

    taken = services.promise_take(case=case, by=collector, amount=Decimal("1344.00"), due_date=today())

    assert taken.amount == Decimal("1344.00")


def test_taking_a_promise_needs_permission_to_work_cases(db):
    outsider = UserFactory()

    with pytest.raises(PermissionDenied):
        services.promise_take(case=CaseFactory(), by=outsider, amount=Decimal("100.00"), due_date=today())
    assert not PromiseToPay.objects.exists()


def test_a_closed_case_takes_no_promise(collector):
    case = case_in(Stage.RESOLVED)

    with pytest.raises(CollectionError):
        services.promise_take(case=case, by=collector, amount=Decimal("100.00"), due_date=today())


def test_an_attempt_of_another_case_is_refused(collector):
    attempt = AttemptFactory(case=CaseFactory(), channel="call", attempted_at=timezone.now(), outcome="rpc")

    with pytest.raises(CollectionError):
        services.promise_take(
            case=CaseFactory(), by=collector, amount=Decimal("100.00"), due_date=today(), attempt=attempt
        )


def test_a_promise_on_a_stale_copy_of_the_case_leaves_nothing_behind(collector):
    case = CaseFactory()
    stale = CollectionCase.objects.get(pk=case.pk)
    services.case_escalate(case=case, by=collector, reason="DPD 31")

    with pytest.raises(StaleCase):
        services.promise_take(case=stale, by=collector, amount=Decimal("100.00"), due_date=today())
    assert not PromiseToPay.objects.exists()


# --- evaluating promises ------------------------------------------------------------------------


def test_a_promise_paid_in_full_within_its_window_is_kept(db):
    case = case_in(Stage.NEGOTIATION)
    kept = promise(case, "300.00")
    pay(case, "100.00", at(days_ago(8)))
    pay(case, "200.00", at(days_ago(5), 20))

    counts = evaluate()

    kept.refresh_from_db()
    assert kept.status == PromiseToPay.Status.KEPT
    assert kept.amount_paid == Decimal("300.00")
    assert kept.evaluated_at is not None
    assert counts["promises_kept"] == 1
    case.refresh_from_db()
    assert case.broken_promises == 0
    assert case.attention_since is None


def test_a_promise_paid_in_part_is_partially_kept_and_does_not_count_as_broken(db):
    case = case_in(Stage.NEGOTIATION)
    partly = promise(case, "300.00")
    pay(case, "120.00", at(days_ago(6)))

    counts = evaluate()

    partly.refresh_from_db()
    assert partly.status == PromiseToPay.Status.PARTIALLY_KEPT
    assert partly.amount_paid == Decimal("120.00")
    assert counts["promises_partially_kept"] == 1
    case.refresh_from_db()
    assert case.broken_promises == 0
    assert case.attention_since is None


def test_a_promise_with_nothing_paid_is_broken_counts_toward_escalation_and_needs_attention(db):
    case = case_in(Stage.NEGOTIATION)
    broken = promise(case)
    before = timezone.now()

    counts = evaluate()

    broken.refresh_from_db()
    assert broken.status == PromiseToPay.Status.BROKEN
    assert broken.amount_paid == Decimal("0.00")
    assert broken.evaluated_at >= before
    assert counts["promises_broken"] == 1
    assert counts["cases_flagged"] == 1
    case.refresh_from_db()
    assert case.broken_promises == 1
    assert case.attention_since >= before
    assert case.stage == Stage.NEGOTIATION  # the counter feeds the stage rules; evaluation moves no case


@pytest.mark.parametrize(
    ("received_at", "status"),
    [
        # due five days ago; the grace day is four days ago and ends at midnight (Shanghai)
        (lambda: at(days_ago(4), 0, 0, 0), PromiseToPay.Status.KEPT),
        (lambda: at(days_ago(4), 23, 59, 59), PromiseToPay.Status.KEPT),
        (lambda: at(days_ago(3), 0, 0, 0), PromiseToPay.Status.BROKEN),
        (lambda: at(days_ago(3), 12), PromiseToPay.Status.BROKEN),
        # 23:30 UTC on the grace day is already the next morning in Shanghai
        (lambda: at(days_ago(4), 23, 30, tz=UTC), PromiseToPay.Status.BROKEN),
        (lambda: at(days_ago(4), 15, 59, 59, tz=UTC), PromiseToPay.Status.KEPT),
    ],
    ids=[
        "grace-day-first-second",
        "grace-day-last-second",
        "day-after-grace-midnight",
        "day-after-grace-noon",
        "grace-day-evening-utc-is-next-day-in-shanghai",
        "grace-day-last-second-in-utc",
    ],
)
def test_a_payment_counts_until_the_end_of_the_grace_day_in_shanghai(db, received_at, status):
    case = case_in(Stage.NEGOTIATION)
    checked = promise(case, "300.00")
    pay(case, "300.00", received_at())

    evaluate()

    checked.refresh_from_db()
    assert checked.status == status


def test_a_late_payment_does_not_mend_a_broken_promise(db):
    case = case_in(Stage.NEGOTIATION)
    late = promise(case, "300.00")
    pay(case, "300.00", at(days_ago(3), 9))  # the day after the grace day

    evaluate()

    late.refresh_from_db()
    assert late.status == PromiseToPay.Status.BROKEN
    assert late.amount_paid == Decimal("0.00")
    case.refresh_from_db()
    assert case.broken_promises == 1


def test_the_window_opens_when_the_promise_is_made(db):
    case = case_in(Stage.NEGOTIATION)
    promised_at = at(days_ago(10), 10)
    checked = promise(case, "300.00", promised_at=promised_at)
    pay(case, "300.00", promised_at - datetime.timedelta(seconds=1))  # before the promise
    pay(case, "50.00", promised_at)  # at the moment of the promise

    evaluate()

    checked.refresh_from_db()
    assert checked.status == PromiseToPay.Status.PARTIALLY_KEPT
    assert checked.amount_paid == Decimal("50.00")


def test_payments_of_another_loan_do_not_count(db):
    case = case_in(Stage.NEGOTIATION)
    other = case_in(Stage.NEGOTIATION)
    checked = promise(case, "300.00")
    pay(other, "300.00", at(days_ago(6)))

    evaluate()

    checked.refresh_from_db()
    assert checked.status == PromiseToPay.Status.BROKEN


def test_a_promise_whose_grace_day_is_today_or_later_stays_pending(db):
    grace_today = promise(case_in(Stage.NEGOTIATION), due=days_ago(1))
    due_today = promise(case_in(Stage.NEGOTIATION), due=today())
    closed_yesterday = promise(case_in(Stage.NEGOTIATION), due=days_ago(2))

    evaluate()

    for waiting in (grace_today, due_today):
        waiting.refresh_from_db()
        assert waiting.status == PromiseToPay.Status.PENDING
        assert waiting.evaluated_at is None
    closed_yesterday.refresh_from_db()
    assert closed_yesterday.status == PromiseToPay.Status.BROKEN


def test_evaluating_twice_for_the_same_day_changes_nothing_the_second_time(db):
    case, other = case_in(Stage.NEGOTIATION), case_in(Stage.NEGOTIATION)
    kept = promise(case, "100.00")
    broken = promise(other, "100.00", promised_at=at(days_ago(3)), due=days_ago(2))
    pay(case, "100.00", at(days_ago(6)))

    def state():
        rows = [CollectionCase.objects.get(pk=c.pk) for c in (case, other)]
        promises = [PromiseToPay.objects.get(pk=p.pk) for p in (kept, broken)]
        return [(c.broken_promises, c.attention_since) for c in rows] + [p.evaluated_at for p in promises]

    first = evaluate()
    after_first = state()

    second = evaluate()

    assert first["promises_kept"] == 1
    assert first["promises_broken"] == 1
    assert all(count == 0 for count in second.values())
    assert state() == after_first
    assert CollectionCase.objects.get(pk=other.pk).broken_promises == 1


def test_several_broken_promises_of_a_case_each_count(db):
    case = case_in(Stage.NEGOTIATION)
    CollectionCase.objects.filter(pk=case.pk).update(broken_promises=1)
    promise(case, "100.00")
    evaluate()
    promise(case, "100.00", due=days_ago(4))  # promised again after the first broke

    evaluate()

    case.refresh_from_db()
    assert case.broken_promises == 3


def test_a_new_promise_replaces_the_pending_one_so_one_payment_keeps_one_promise(db, collector):
    from collection.services import promise_take

    case = case_in(Stage.NEGOTIATION)
    first = promise_take(case=case, by=collector, amount=Decimal("100.00"), due_date=today())
    second = promise_take(case=case, by=collector, amount=Decimal("150.00"), due_date=today())

    first.refresh_from_db()
    assert first.status == PromiseToPay.Status.SUPERSEDED
    assert list(case.promises.filter(status=PromiseToPay.Status.PENDING)) == [second]


def test_a_case_already_waiting_for_attention_keeps_its_place_in_the_queue(db):
    case = case_in(Stage.NEGOTIATION)
    earlier = timezone.now() - datetime.timedelta(days=2)
    CollectionCase.objects.filter(pk=case.pk).update(attention_since=earlier)
    promise(case)

    evaluate()

    case.refresh_from_db()
    assert case.attention_since == earlier
    assert case.broken_promises == 1


def test_promises_of_held_cases_stay_pending_until_the_case_resumes(collector):
    held = case_in(Stage.NEGOTIATION)
    services.case_hold(case=held, by=collector, reason="hardship")
    waiting = promise(held)

    counts = evaluate()

    waiting.refresh_from_db()
    assert waiting.status == PromiseToPay.Status.PENDING
    assert counts["promises_broken"] == 0
    held.refresh_from_db()
    assert held.broken_promises == 0
    assert held.attention_since is None

    services.case_resume(case=held, by=collector)
    evaluate()

    waiting.refresh_from_db()
    assert waiting.status == PromiseToPay.Status.BROKEN
    held.refresh_from_db()
    assert held.broken_promises == 1


def test_promises_of_closed_cases_are_settled_without_touching_the_case(db):
    case = case_in(Stage.WRITTEN_OFF)
    broken = promise(case)

    evaluate()

    broken.refresh_from_db()
    assert broken.status == PromiseToPay.Status.BROKEN
    case.refresh_from_db()
    assert case.broken_promises == 0
    assert case.attention_since is None


def test_promises_cannot_be_evaluated_as_of_a_day_to_come(db):
    with pytest.raises(CollectionError):
        services.promises_evaluate(as_of=today() + datetime.timedelta(days=1))


def test_evaluation_reads_and_writes_promises_in_bulk(db, django_assert_max_num_queries):
    cases = [case_in(Stage.NEGOTIATION) for _ in range(20)]
    for number, case in enumerate(cases):
        promise(case, "100.00")
        if number % 2:
            pay(case, "100.00", at(days_ago(6)))

    with django_assert_max_num_queries(12):
        counts = evaluate()

    assert counts["promises_kept"] == 10
    assert counts["promises_broken"] == 10
    assert sorted(CollectionCase.objects.values_list("broken_promises", flat=True)) == [0] * 10 + [1] * 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_evaluations_at_once_settle_each_promise_once(at_once):
    cases = [case_in(Stage.NEGOTIATION) for _ in range(5)]
    for case in cases:
        promise(case, "100.00")

    broken = sorted(at_once(lambda _: evaluate()["promises_broken"], range(2)))

    assert broken == [0, 5]
    assert list(CollectionCase.objects.values_list("broken_promises", flat=True)) == [1] * 5
