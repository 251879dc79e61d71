"""Reminders: which due steps become messages, with what text, recipient and time; sending them
through the channel backends within the conduct limits; retries, failures, and running twice or
dying half-way changing nothing."""

import datetime
import json
import threading
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from collection import messaging
from collection.channels import ChannelError
from collection.conduct import ConductRule
from collection.machine import Stage
from collection.messaging import PlanningBlock, messages_dispatch, messages_failed, reminders_plan
from collection.models import (
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    ContactChannel,
    OutboundMessage,
    Outcome,
    ReminderStep,
)
from collection.selectors import case_timeline
from collection.tasks import reminders_dispatch_task
from loans.models import Contact, Loan
from loans.phones import mask_phone
from tests.collection.factories import case_in
from tests.loans.factories import BorrowerFactory, ContactFactory, make_days_past_due

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = datetime.date(2026, 12, 1)
YESTERDAY = AS_OF - datetime.timedelta(days=1)
PLANNED_AT = datetime.datetime(2026, 12, 1, 0, 5, tzinfo=SHANGHAI)
WINDOW_OPENS = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)

QUEUED = OutboundMessage.Status.QUEUED
SENT = OutboundMessage.Status.SENT
FAILED = OutboundMessage.Status.FAILED
BLOCKED = OutboundMessage.Status.BLOCKED

SMS_TEXT = (
    "【{{ company }}】{{ borrower_name }}，尾号{{ account_tail }}已逾期{{ days_past_due }}天，"
    "应还{{ overdue_amount }}元，请致电{{ hotline }}。"
)
LETTER_TEXT = "尊敬的{{ borrower_name }}：您的贷款（尾号{{ account_tail }}）已逾期{{ days_past_due }}天。"


@pytest.fixture(autouse=True)
def outboxes(settings, tmp_path):
    """Every backend writes under the test's own folder."""
    settings.COLLECTION_SMS_BACKEND = "collection.channels.FileSmsBackend"
    settings.COLLECTION_SMS_FILE = str(tmp_path / "sms.jsonl")
    settings.COLLECTION_LETTER_DIR = str(tmp_path / "letters")
    settings.COLLECTION_COMPANY_NAME = "示例消费金融"
    settings.COLLECTION_HOTLINE = "400-800-0000"
    settings.COLLECTION_MESSAGE_MAX_ATTEMPTS = 5
    settings.COLLECTION_MESSAGE_RETRY_BASE_SECONDS = 60
    return SimpleNamespace(sms=tmp_path / "sms.jsonl", letters=tmp_path / "letters")


@pytest.fixture
def steps(db):
    """The desk's cadence for these tests, in place of the default one."""
    ReminderStep.objects.all().delete()

    def step(day, channel, *, stage=Stage.REMINDER, offset_from=ReminderStep.OffsetFrom.STAGE_ENTRY, text=SMS_TEXT):
        return ReminderStep.objects.create(
            stage=stage, day_offset=day, offset_from=offset_from, channel=channel, template_zh=text, template_en="x"
        )

    return SimpleNamespace(
        sms=step(1, ReminderStep.Channel.SMS),
        email=step(3, ReminderStep.Channel.EMAIL),
        call=step(7, ReminderStep.Channel.CALL_TASK, text=""),
        letter=step(15, ReminderStep.Channel.LETTER, text=LETTER_TEXT),
        dpd_sms=step(10, ReminderStep.Channel.SMS, stage=Stage.NEGOTIATION, offset_from=ReminderStep.OffsetFrom.DPD),
    )


def a_case(
    *,
    entered_on: datetime.date = YESTERDAY,
    stage: str = Stage.REMINDER,
    dpd: int = 5,
    overdue: str = "210.00",
    mobile: bool = True,
    **borrower,
) -> CollectionCase:
    """An open case that entered its stage on `entered_on` (10:00 desk time), with the borrower's
    own verified mobile unless `mobile=False`."""
    borrower = BorrowerFactory(**{"name": "张三", "address": "朝阳区建国路1号", **borrower})
    case = case_in(stage, loan__borrower=borrower, loan__installments=False)
    entered_at = datetime.datetime.combine(entered_on, datetime.time(10), tzinfo=SHANGHAI)
    CollectionCase.objects.filter(pk=case.pk).update(stage_entered_at=entered_at)
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), dpd, overdue_amount=Decimal(overdue))
    if mobile:
        ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.VERIFIED)
    case.refresh_from_db()
    return case


def message_of(case, step=None) -> OutboundMessage:
    messages = OutboundMessage.objects.filter(case=case)
    return (messages.filter(step=step) if step else messages).get()


def sms_lines(outboxes) -> list[dict]:
    if not outboxes.sms.exists():
        return []
    return [json.loads(line) for line in outboxes.sms.read_text(encoding="utf-8").splitlines()]


def plan(**kwargs):
    return reminders_plan(as_of=AS_OF, now=PLANNED_AT, **kwargs)


# --- planning ------------------------------------------------------------------------------------------------


def test_planning_writes_a_message_for_each_due_step_and_nothing_else(steps):
    sms_due = a_case(entered_on=YESTERDAY)
    a_case(entered_on=AS_OF - datetime.timedelta(days=2))  # between steps
    email_due = a_case(entered_on=AS_OF - datetime.timedelta(days=3))
    ContactFactory(borrower=email_due.loan.borrower, kind=Contact.Kind.EMAIL, value="zhang@example.cn")
    a_case(entered_on=AS_OF - datetime.timedelta(days=7))  # a call task: not a message
    letter_due = a_case(entered_on=AS_OF - datetime.timedelta(days=15))
    dpd_due = a_case(stage=Stage.NEGOTIATION, entered_on=AS_OF - datetime.timedelta(days=40), dpd=10)
    a_case(stage=Stage.NEGOTIATION, entered_on=YESTERDAY, dpd=11)  # negotiation steps count DPD
    a_case(stage=Stage.ON_HOLD, entered_on=YESTERDAY)
    a_case(stage=Stage.CLOSED, entered_on=YESTERDAY)
    a_case(entered_on=YESTERDAY, dpd=0, overdue="0.00")  # paid back to current since

    counts = plan()

    planned = {(message.case_id, message.step_id) for message in OutboundMessage.objects.all()}
    assert planned == {
        (sms_due.pk, steps.sms.pk),
        (email_due.pk, steps.email.pk),
        (letter_due.pk, steps.letter.pk),
        (dpd_due.pk, steps.dpd_sms.pk),
    }
    assert counts == {"queued": 4, "blocked": 0}


def test_the_message_carries_the_rendered_text_the_own_mobile_and_the_window_start(steps):
    case = a_case(dpd=5, overdue="210.00")
    Loan.objects.filter(pk=case.loan_id).update(account_number="LN0000123456")
    mobile = case.loan.borrower.contacts.get()

    plan()

    message = message_of(case)
    assert message.body == "【示例消费金融】张三，尾号3456已逾期5天，应还210.00元，请致电400-800-0000。"
    assert (message.channel, message.contact, message.recipient) == (ContactChannel.SMS, mobile, mobile.value)
    assert (message.status, message.language, message.attempts) == (QUEUED, "zh-hans", 0)
    assert message.scheduled_at == WINDOW_OPENS
    assert message.idempotency_key == f"{case.pk}:{steps.sms.pk}:2026-12-01"


def test_the_send_window_is_the_borrowers_own(steps):
    case = a_case(time_zone="Asia/Tokyo")

    plan()

    assert message_of(case).scheduled_at == datetime.datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_a_run_within_the_window_schedules_for_now(steps):
    case = a_case()
    noon = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=SHANGHAI)

    reminders_plan(as_of=AS_OF, now=noon)

    assert message_of(case).scheduled_at == noon


def test_a_run_after_the_window_schedules_for_the_next_days_window_rather_than_drop_it(steps):
    case = a_case()

    reminders_plan(as_of=AS_OF, now=datetime.datetime(2026, 12, 1, 21, 0, tzinfo=SHANGHAI))

    assert message_of(case).scheduled_at == WINDOW_OPENS + datetime.timedelta(days=1)


def test_planning_twice_writes_nothing_the_second_time(steps):
    cases = [a_case() for _ in range(3)]
    a_case(mobile=False)
    first = plan()
    before = list(OutboundMessage.objects.order_by("pk").values())

    second = plan()

    assert first == {"queued": 3, "blocked": 1}
    assert second == {"queued": 0, "blocked": 0}
    assert list(OutboundMessage.objects.order_by("pk").values()) == before
    assert OutboundMessage.objects.filter(case__in=cases).count() == 3


def test_planning_works_in_batches_with_a_bounded_number_of_queries(steps, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(messaging, "PLAN_BATCH_SIZE", 4)
    cases = [a_case() for _ in range(10)]

    # Per step: one query per batch and one insert per batch, plus the last, empty, batch; never
    # one per case.
    with django_assert_max_num_queries(12):
        counts = plan()

    assert counts == {"queued": 10, "blocked": 0}
    assert set(OutboundMessage.objects.values_list("case_id", flat=True)) == {case.pk for case in cases}


def test_third_party_contacts_are_never_used(steps):
    case = a_case(mobile=False)
    borrower = case.loan.borrower
    for kind in Contact.THIRD_PARTY_KINDS:
        ContactFactory(borrower=borrower, kind=kind, verification=Contact.Verification.VERIFIED)
    own = ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.UNVERIFIED)

    plan()

    assert message_of(case).contact == own


def test_without_an_own_contact_the_message_is_blocked_for_supervisors_to_see(steps):
    case = a_case(mobile=False, lost_contact=True)
    ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.EMERGENCY, verification=Contact.Verification.VERIFIED)

    plan()

    message = message_of(case)
    assert (message.status, message.blocked_rule, message.contact) == (BLOCKED, PlanningBlock.NO_CONTACT, None)
    assert message.last_error


def test_the_verified_mobile_is_preferred_and_wrong_or_stale_ones_are_not_used(steps):
    case = a_case(mobile=False)
    borrower = case.loan.borrower
    ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.WRONG)
    ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.STALE)
    verified = ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.VERIFIED)
    ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.UNVERIFIED)
    only_bad = a_case(mobile=False)
    ContactFactory(borrower=only_bad.loan.borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.WRONG)

    plan()

    assert message_of(case).contact == verified
    assert message_of(only_bad).blocked_rule == PlanningBlock.NO_CONTACT


def test_a_usable_mobile_is_preferred_to_an_opted_out_one(steps):
    case = a_case(mobile=False)
    borrower = case.loan.borrower
    ContactFactory(
        borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.VERIFIED, opt_out_sms=True
    )
    usable = ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.UNVERIFIED)

    plan()

    assert message_of(case).contact == usable


def test_a_letter_goes_to_the_postal_address_and_without_one_is_blocked(steps):
    case = a_case(entered_on=AS_OF - datetime.timedelta(days=15), province="北京市", city="北京市")
    homeless = a_case(entered_on=AS_OF - datetime.timedelta(days=15), address="")

    plan()

    letter = message_of(case)
    assert (letter.channel, letter.contact, letter.status) == (ContactChannel.LETTER, None, QUEUED)
    assert letter.recipient == "北京市北京市朝阳区建国路1号"
    assert letter.body == f"尊敬的张三：您的贷款（尾号{case.loan.account_number[-4:]}）已逾期5天。"
    assert (message_of(homeless).status, message_of(homeless).blocked_rule) == (
        BLOCKED,
        PlanningBlock.NO_POSTAL_ADDRESS,
    )


def test_an_inactive_step_plans_nothing(steps):
    ReminderStep.objects.filter(pk=steps.sms.pk).update(is_active=False)
    a_case()

    assert plan() == {"queued": 0, "blocked": 0}
    assert not OutboundMessage.objects.exists()


# --- dispatch ------------------------------------------------------------------------------------------------


def test_a_sent_message_is_recorded_as_an_attempt_on_the_case(steps, outboxes, system_user):
    case = a_case()
    plan()

    counts = messages_dispatch(now=WINDOW_OPENS)

    message = message_of(case)
    assert counts == {"sent": 1, "rescheduled": 0, "blocked": 0, "retrying": 0, "failed": 0}
    assert (message.status, message.sent_at, message.attempts) == (SENT, WINDOW_OPENS, 1)
    assert message.provider_reference == f"file:{message.idempotency_key}"
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.channel, attempt.contact, attempt.outcome) == (ContactChannel.SMS, message.contact, Outcome.SENT)
    assert (attempt.collector, attempt.attempted_at, attempt.note) == (system_user, WINDOW_OPENS, message.body)
    assert [entry.kind for entry in case_timeline(case=case)].count("attempt") == 1
    [line] = sms_lines(outboxes)
    assert (line["to"], line["text"], line["idempotency_key"]) == (
        mask_phone(message.recipient),  # the outbox file keeps no full number (F10)
        message.body,
        message.idempotency_key,
    )


def test_a_message_waits_for_its_time(steps, outboxes):
    case = a_case()
    plan()

    counts = messages_dispatch(now=WINDOW_OPENS - datetime.timedelta(minutes=1))

    assert counts["sent"] == 0
    assert message_of(case).status == QUEUED
    assert sms_lines(outboxes) == []


def test_dispatching_twice_sends_nothing_the_second_time(steps, outboxes):
    a_case(), a_case()
    plan()
    messages_dispatch(now=WINDOW_OPENS)

    counts = messages_dispatch(now=WINDOW_OPENS + datetime.timedelta(minutes=15))

    assert counts == {"sent": 0, "rescheduled": 0, "blocked": 0, "retrying": 0, "failed": 0}
    assert len(sms_lines(outboxes)) == 2
    assert ContactAttempt.objects.count() == 2


def test_dispatch_sends_at_most_the_limit(steps):
    for _ in range(3):
        a_case()
    plan()

    assert messages_dispatch(now=WINDOW_OPENS, limit=2)["sent"] == 2
    assert OutboundMessage.objects.filter(status=QUEUED).count() == 1


@pytest.mark.parametrize(
    ("flag", "rule"),
    [
        ({"opt_out_sms": True}, ConductRule.OPTED_OUT),
        ({"do_not_contact": True}, ConductRule.DO_NOT_CONTACT),
        ({"verification": Contact.Verification.WRONG}, ConductRule.WRONG_NUMBER),
    ],
    ids=["opted-out", "do-not-contact", "wrong-number"],
)
def test_a_contact_the_desk_may_not_use_blocks_the_message_with_the_rule(steps, outboxes, flag, rule):
    case = a_case()
    plan()
    Contact.objects.filter(borrower=case.loan.borrower).update(**flag)  # learnt after planning

    counts = messages_dispatch(now=WINDOW_OPENS)

    message = message_of(case)
    assert counts["blocked"] == 1
    assert (message.status, message.blocked_rule, message.attempts) == (BLOCKED, rule, 0)
    assert message.last_error
    assert ConductRefusal.objects.get(case=case).rule == rule
    assert not ContactAttempt.objects.exists()
    assert sms_lines(outboxes) == []


def test_an_opted_out_only_mobile_is_planned_and_then_blocked_with_the_rule(steps):
    case = a_case(mobile=False)
    ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.MOBILE, opt_out_sms=True)
    plan()

    messages_dispatch(now=WINDOW_OPENS)

    assert (message_of(case).status, message_of(case).blocked_rule) == (BLOCKED, ConductRule.OPTED_OUT)


def test_a_case_put_on_hold_after_planning_gets_no_message(steps):
    case = a_case()
    plan()
    CollectionCase.objects.filter(pk=case.pk).update(stage=Stage.ON_HOLD, held_stage=Stage.REMINDER)

    messages_dispatch(now=WINDOW_OPENS)

    assert (message_of(case).status, message_of(case).blocked_rule) == (BLOCKED, ConductRule.CASE_ON_HOLD)


def test_a_message_that_would_land_in_quiet_hours_waits_for_the_morning(steps, outboxes):
    case = a_case()
    plan()
    eleven_at_night = datetime.datetime(2026, 12, 1, 23, 0, tzinfo=SHANGHAI)

    counts = messages_dispatch(now=eleven_at_night)

    message = message_of(case)
    assert counts["rescheduled"] == 1
    assert (message.status, message.attempts) == (QUEUED, 0)
    assert message.scheduled_at == datetime.datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI)
    assert ConductRefusal.objects.get(case=case).rule == ConductRule.QUIET_HOURS
    assert sms_lines(outboxes) == []

    assert messages_dispatch(now=message.scheduled_at)["sent"] == 1
    assert message_of(case).status == SENT


def test_quiet_hours_are_the_borrowers_own(steps):
    tokyo = ZoneInfo("Asia/Tokyo")
    case = a_case(time_zone="Asia/Tokyo")
    plan()
    half_past_nine_in_shanghai = datetime.datetime(2026, 12, 1, 21, 30, tzinfo=SHANGHAI)  # 22:30 in Tokyo

    messages_dispatch(now=half_past_nine_in_shanghai)

    message = message_of(case)
    assert message.status == QUEUED
    assert message.scheduled_at == datetime.datetime(2026, 12, 2, 8, 0, tzinfo=tokyo)


def test_letters_go_into_the_days_print_batch_whatever_the_hour(steps, outboxes):
    case = a_case(entered_on=AS_OF - datetime.timedelta(days=15))
    plan()
    eleven_at_night = datetime.datetime(2026, 12, 1, 23, 0, tzinfo=SHANGHAI)

    messages_dispatch(now=eleven_at_night)

    message = message_of(case)
    assert message.status == SENT
    letter = outboxes.letters / message.provider_reference
    assert letter.parent == outboxes.letters / "2026-12-01"
    assert letter.read_text(encoding="utf-8") == f"{message.recipient}\n张三\n\n{message.body}\n"
    assert ContactAttempt.objects.get(case=case).channel == ContactChannel.LETTER


def test_e_mail_goes_through_djangos_mail(steps):
    case = a_case(entered_on=AS_OF - datetime.timedelta(days=3), mobile=False)
    ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.EMAIL, value="zhang@example.cn")
    plan()

    messages_dispatch(now=WINDOW_OPENS)

    message = message_of(case)
    [email] = mail.outbox
    assert (email.to, email.body) == (["zhang@example.cn"], message.body)
    assert "示例消费金融" in email.subject
    assert email.extra_headers["X-Idempotency-Key"] == message.idempotency_key
    assert (message.status, message.provider_reference) == (SENT, email.extra_headers["Message-ID"])


# --- backend errors --------------------------------------------------------------------------------------------


class RefusingSmsBackend:
    """A gateway that is down."""

    def send(self, message):
        raise ChannelError("503 Service Unavailable")


class RejectingSmsBackend:
    def send(self, message):
        raise ChannelError("400 invalid number", permanent=True)


class BrokenSmsBackend:
    def send(self, message):
        raise RuntimeError("a bug in the backend")


def test_a_backend_error_is_retried_with_backoff_then_failed_for_supervisors(steps, settings):
    settings.COLLECTION_SMS_BACKEND = f"{__name__}.RefusingSmsBackend"
    case = a_case()
    plan()
    now = WINDOW_OPENS
    delays = []

    for _ in range(4):
        counts = messages_dispatch(now=now)
        message = message_of(case)
        assert counts["retrying"] == 1 and message.status == QUEUED
        delays.append((message.scheduled_at - now).total_seconds())
        now = message.scheduled_at
    counts = messages_dispatch(now=now)

    message = message_of(case)
    assert delays == [60, 120, 240, 480]
    assert counts["failed"] == 1
    assert (message.status, message.attempts, message.last_error) == (FAILED, 5, "503 Service Unavailable")
    assert list(messages_failed()) == [message]
    assert not ContactAttempt.objects.exists()  # the attempt recorded before each send went with it
    assert messages_dispatch(now=now + datetime.timedelta(days=1))["failed"] == 0


def test_a_message_the_gateway_refuses_outright_fails_at_once(steps, settings):
    settings.COLLECTION_SMS_BACKEND = f"{__name__}.RejectingSmsBackend"
    case = a_case()
    plan()

    assert messages_dispatch(now=WINDOW_OPENS)["failed"] == 1
    assert (message_of(case).status, message_of(case).attempts) == (FAILED, 1)


def test_a_broken_backend_does_not_stop_the_queue(steps, settings):
    settings.COLLECTION_SMS_BACKEND = f"{__name__}.BrokenSmsBackend"
    sms_case = a_case()
    letter_case = a_case(entered_on=AS_OF - datetime.timedelta(days=15))
    plan()

    counts = messages_dispatch(now=WINDOW_OPENS)

    assert (counts["retrying"], counts["sent"]) == (1, 1)
    assert "a bug in the backend" in message_of(sms_case).last_error
    assert message_of(letter_case).status == SENT


class WorkerKilled(BaseException):
    """What a worker's death looks like from inside: nothing after it runs."""


class DyingSmsBackend:
    sent = 0

    def send(self, message):
        if DyingSmsBackend.sent == 1:
            raise WorkerKilled
        DyingSmsBackend.sent += 1
        return "ok"


def test_a_worker_killed_mid_batch_leaves_nothing_half_done(steps, settings):
    settings.COLLECTION_SMS_BACKEND = f"{__name__}.DyingSmsBackend"
    DyingSmsBackend.sent = 0
    first, second = a_case(), a_case()
    plan()

    with pytest.raises(WorkerKilled):
        messages_dispatch(now=WINDOW_OPENS)

    assert message_of(first).status == SENT
    unsent = message_of(second)
    assert (unsent.status, unsent.attempts, unsent.last_error) == (QUEUED, 0, "")
    assert list(ContactAttempt.objects.values_list("case", flat=True)) == [first.pk]

    settings.COLLECTION_SMS_BACKEND = "collection.channels.FileSmsBackend"
    assert messages_dispatch(now=WINDOW_OPENS + datetime.timedelta(minutes=15))["sent"] == 1
    assert message_of(second).status == SENT


# --- the scheduled task ----------------------------------------------------------------------------------------


def test_the_task_plans_today_and_sends_and_twice_changes_nothing(steps):
    today = timezone.localdate()
    a_case(entered_on=today - datetime.timedelta(days=1))

    first = reminders_dispatch_task()
    rows = list(OutboundMessage.objects.values())
    second = reminders_dispatch_task()

    assert first["planned"] == {"queued": 1, "blocked": 0}
    assert second["planned"] == {"queued": 0, "blocked": 0}
    assert second["dispatched"]["sent"] == 0
    assert list(OutboundMessage.objects.values()) == rows


def test_the_task_keeps_its_recent_runs_and_every_failed_one(steps, settings):
    """Dispatch runs 96 times a day: its succeeded runs older than the days kept go, the failed
    ones stay for supervisors, and other jobs' runs are not its business."""
    from collection.models import JobRun

    settings.COLLECTION_JOB_RUNS_KEPT_DAYS = 30
    today = timezone.localdate()

    def run(job, days_ago, status=JobRun.Status.SUCCEEDED):
        started = timezone.now() - datetime.timedelta(days=days_ago)
        return JobRun.objects.create(
            job=job, as_of=today - datetime.timedelta(days=days_ago), status=status, started_at=started
        ).pk

    old = run(JobRun.Job.REMINDER_DISPATCH, 31)
    kept = run(JobRun.Job.REMINDER_DISPATCH, 29)
    failed = run(JobRun.Job.REMINDER_DISPATCH, 200, JobRun.Status.FAILED)
    promises = run(JobRun.Job.PROMISE_EVALUATION, 200)
    night = run(JobRun.Job.COLLECTION_CYCLE, 200)

    reminders_dispatch_task()

    left = set(JobRun.objects.values_list("pk", flat=True))
    assert old not in left
    assert {kept, failed, promises, night} <= left
    assert JobRun.objects.filter(job=JobRun.Job.REMINDER_DISPATCH, as_of=today, status=JobRun.Status.SUCCEEDED).exists()


def test_a_dispatch_long_idle_still_catches_up_from_its_last_run(steps, settings):
    """The latest succeeded run is never pruned, however old: the next run plans from it."""
    from collection.models import JobRun

    settings.COLLECTION_JOB_RUNS_KEPT_DAYS = 1
    today = timezone.localdate()
    reminders_dispatch_task()
    JobRun.objects.update(
        started_at=timezone.now() - datetime.timedelta(days=5), as_of=today - datetime.timedelta(days=5)
    )
    due_yesterday = a_case(entered_on=today - datetime.timedelta(days=2))

    reminders_dispatch_task()

    assert message_of(due_yesterday).idempotency_key.endswith((today - datetime.timedelta(days=1)).isoformat())
    assert JobRun.objects.filter(job=JobRun.Job.REMINDER_DISPATCH).count() == 1


def test_a_day_on_which_no_dispatch_ran_is_planned_by_the_next_run(steps):
    """Redis was away all of yesterday: today's first run plans yesterday's reminders too, once,
    and sends them; a reminder due three days ago is left alone (stale)."""
    from collection.models import JobRun

    today = timezone.localdate()
    JobRun.objects.create(
        job=JobRun.Job.REMINDER_DISPATCH, as_of=today - datetime.timedelta(days=4), status=JobRun.Status.SUCCEEDED
    )
    due_yesterday = a_case(entered_on=today - datetime.timedelta(days=2))
    due_today = a_case(entered_on=today - datetime.timedelta(days=1))
    stale = a_case(entered_on=today - datetime.timedelta(days=4))

    first = reminders_dispatch_task()
    second = reminders_dispatch_task()

    # Its day-3 e-mail was due yesterday: planned (and blocked, it has no e-mail address).
    assert first["planned"] == {"queued": 2, "blocked": 1}
    assert second["planned"] == {"queued": 0, "blocked": 0}
    assert message_of(due_yesterday).idempotency_key.endswith((today - datetime.timedelta(days=1)).isoformat())
    assert message_of(due_today).idempotency_key.endswith(today.isoformat())
    # Its day-1 SMS was due three days ago: too old to send now.
    assert not OutboundMessage.objects.filter(case=stale, step=steps.sms).exists()
    # Sent now, or held for the morning when the suite runs in quiet hours: either way not lost.
    assert {message_of(due_yesterday).status, message_of(due_today).status} <= {QUEUED, SENT}


def test_without_any_earlier_run_only_today_is_planned(steps):
    today = timezone.localdate()
    a_case(entered_on=today - datetime.timedelta(days=2))
    assert reminders_dispatch_task()["planned"] == {"queued": 0, "blocked": 0}


# --- two dispatchers at once (PostgreSQL) ----------------------------------------------------------------------


class CountingSmsBackend:
    """Counts each send per idempotency key, slowly enough for two dispatchers to overlap."""

    lock = threading.Lock()
    sends: list[str] = []

    def send(self, message):
        import time

        time.sleep(0.01)
        with self.lock:
            CountingSmsBackend.sends.append(message.idempotency_key)
        return "ok"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_dispatchers_at_once_send_each_message_once(settings, steps):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    settings.COLLECTION_SMS_BACKEND = f"{__name__}.CountingSmsBackend"
    CountingSmsBackend.sends = []
    for _ in range(12):
        a_case()
    plan()
    barrier = threading.Barrier(3)

    def dispatcher():
        try:
            barrier.wait()
            return messages_dispatch(now=WINDOW_OPENS)["sent"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=3) as pool:
        sent = [future.result() for future in [pool.submit(dispatcher) for _ in range(3)]]

    assert sum(sent) == 12
    assert sorted(CountingSmsBackend.sends) == sorted(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    assert OutboundMessage.objects.filter(status=SENT).count() == 12
    assert ContactAttempt.objects.filter(outcome=Outcome.SENT).count() == 12


# --- what supervisors see --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "sees_messages", "sees_job_runs", "configures_routing", "sees_snapshots"),
    [
        ("collector", True, False, False, False),
        ("supervisor", True, True, False, True),
        ("admin", True, True, True, True),
    ],
)
def test_the_roles_see_messages_job_runs_and_snapshots(
    db, role, sees_messages, sees_job_runs, configures_routing, sees_snapshots
):
    from tests.accounts.factories import UserFactory

    user = UserFactory(roles=[role])

    assert user.has_perm("collection.view_outboundmessage") is sees_messages
    assert user.has_perm("collection.view_jobrun") is sees_job_runs
    assert all(
        user.has_perm(f"collection.{action}_caserouting") is configures_routing
        for action in ("view", "add", "change", "delete")
    )
    assert user.has_perm("loans.view_portfoliosnapshot") is sees_snapshots


def test_a_supervisor_finds_the_failed_messages_in_the_admin(steps, settings, client):
    from django.urls import reverse
    from django.utils import translation

    from tests.accounts.factories import UserFactory
    from tests.collection.factories import within_reach_of

    settings.COLLECTION_SMS_BACKEND = f"{__name__}.RejectingSmsBackend"
    failed_case, sent_case = a_case(), a_case(entered_on=AS_OF - datetime.timedelta(days=15))
    plan()
    messages_dispatch(now=WINDOW_OPENS)
    supervisor = UserFactory(roles=["supervisor"], is_staff=True)
    for case in (failed_case, sent_case):
        within_reach_of(supervisor, case)  # the supervisor's team's cases
    client.force_login(supervisor)
    changelist = reverse("admin:collection_outboundmessage_changelist")

    with translation.override("en"):
        response = client.get(changelist, {"status__exact": "failed"})
        page = client.get(reverse("admin:collection_outboundmessage_change", args=[message_of(failed_case).pk]))

    assert response.status_code == 200 and page.status_code == 200
    assert list(response.context["cl"].result_list) == [message_of(failed_case)]
    assert "400 invalid number" in response.content.decode()
    assert message_of(sent_case).status == SENT


# --- third parties at send time (review F2b) -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(Contact.THIRD_PARTY_KINDS | {Contact.Kind.HOME, Contact.Kind.WORK}))
def test_a_planned_reminder_whose_contact_became_someone_elses_is_not_sent(steps, outboxes, kind):
    """The review's attack: message planned to the own mobile, then the contact re-kinded as the
    employer and the borrower marked lost; dispatch used to send the debt's figures there."""
    case = a_case(lost_contact=False)
    plan()
    mobile = case.loan.borrower.contacts.get()
    Contact.objects.filter(pk=mobile.pk).update(kind=kind)
    case.loan.borrower.__class__.objects.filter(pk=case.loan.borrower_id).update(lost_contact=True)

    counts = messages_dispatch(now=WINDOW_OPENS)

    message = message_of(case)
    assert counts["blocked"] == 1 and counts["sent"] == 0
    assert (message.status, message.blocked_rule) == (BLOCKED, messaging.SendBlock.NOT_OWN_CONTACT)
    assert mobile.value not in message.last_error
    assert sms_lines(outboxes) == []
    assert not ContactAttempt.objects.exists()


def test_a_planned_reminder_whose_contact_moved_to_another_borrower_is_not_sent(steps, outboxes):
    case = a_case()
    plan()
    other = BorrowerFactory()
    Contact.objects.filter(borrower=case.loan.borrower).update(borrower=other)

    messages_dispatch(now=WINDOW_OPENS)

    message = message_of(case)
    assert (message.status, message.blocked_rule) == (BLOCKED, ConductRule.CONTACT_NOT_OF_BORROWER)
    assert sms_lines(outboxes) == []


def test_a_message_planned_straight_to_an_employer_is_refused_at_send_time(steps, outboxes):
    """Whatever planning decided (a row written around it): a reminder to a third party is blocked."""
    case = a_case(lost_contact=True)
    plan()
    employer = ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.EMPLOYER)
    OutboundMessage.objects.filter(case=case).update(contact=employer, recipient=employer.value)

    messages_dispatch(now=WINDOW_OPENS)

    assert message_of(case).status == BLOCKED
    assert sms_lines(outboxes) == []


def test_the_kind_is_read_again_on_the_locked_contact(steps, outboxes, monkeypatch):
    """The contact is re-kinded between the first look and the send (attempt_log holds its lock
    from there on): the second look, on the locked row, refuses and undoes the attempt."""
    case = a_case()
    plan()
    mobile = case.loan.borrower.contacts.get()
    real_fresh = messaging._fresh

    def fresh_then_rekinded(contact):
        seen = real_fresh(contact)
        Contact.objects.filter(pk=mobile.pk).update(kind=Contact.Kind.HOME)  # the conduct limits allow a home phone
        return seen

    monkeypatch.setattr(messaging, "_fresh", fresh_then_rekinded)

    messages_dispatch(now=WINDOW_OPENS)

    message = message_of(case)
    assert (message.status, message.blocked_rule) == (BLOCKED, messaging.SendBlock.NOT_OWN_CONTACT)
    assert sms_lines(outboxes) == []
    assert not ContactAttempt.objects.filter(case=case).exists()
