"""Reminder templates (review F9): refused on save when they cannot render, rendered by a
restricted engine, and at dispatch one bad step never stops another step's messages."""

import datetime
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from collection import tasks
from collection.machine import Stage
from collection.messaging import messages_dispatch, reminders_plan
from collection.models import CollectionCase, JobRun, OutboundMessage, ReminderStep
from collection.validators import reminder_context, reminder_render, reminder_template
from loans.models import Contact, Loan
from tests.collection.factories import case_in
from tests.loans.factories import BorrowerFactory, ContactFactory, make_days_past_due

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = datetime.date(2026, 12, 1)
PLANNED_AT = datetime.datetime(2026, 12, 1, 0, 5, tzinfo=SHANGHAI)
WINDOW_OPENS = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
GOOD = "{{ borrower_name }}，您已逾期{{ days_past_due }}天，应还{{ overdue_amount }}元。"

# The review's templates: each compiled under the old check and stopped every reminder, or could.
HOSTILE = [
    "{% load log %}{% get_admin_log 5 as x %}提醒",
    '{% include "does/not/exist.txt" %}',
    "{% lorem 100000 w %}",
    '{% extends "admin/base.html" %}',
    "{% debug %}",
    '{{ borrower_name|rjust:"1000000000" }}',
    '{{ overdue_amount|floatformat:"100000000" }}',
    '{{ overdue_amount|floatformat:"100000000g" }}',
    "{% for a in borrower_name %}{% for b in borrower_name %}{{ a }}{{ b }}{% endfor %}{% endfor %}",
    # A text doubled at each level grows past any reminder long before it exhausts a worker.
    "{% with a=company %}" + "{% with a=a|add:a %}" * 24 + "{{ a }}" + "{% endwith %}" * 25,
]


@pytest.fixture(autouse=True)
def outboxes(settings, tmp_path):
    settings.COLLECTION_SMS_BACKEND = "collection.channels.FileSmsBackend"
    settings.COLLECTION_SMS_FILE = str(tmp_path / "sms.jsonl")
    settings.COLLECTION_LETTER_DIR = str(tmp_path / "letters")
    return tmp_path


def a_step(**fields) -> ReminderStep:
    return ReminderStep(
        stage=Stage.REMINDER,
        day_offset=fields.pop("day_offset", 99),
        channel=fields.pop("channel", ReminderStep.Channel.SMS),
        template_zh=fields.pop("template_zh", GOOD),
        template_en=fields.pop("template_en", "Dear {{ borrower_name }}, {{ overdue_amount }} is overdue."),
        **fields,
    )


@pytest.mark.parametrize("template", HOSTILE)
@pytest.mark.parametrize("field", ["template_zh", "template_en"])
def test_a_template_that_cannot_render_is_refused_when_saved(template, field):
    step = a_step(**{field: template})

    with pytest.raises(ValidationError) as refused:
        step.full_clean()

    assert field in refused.value.message_dict


def test_a_good_template_is_kept_and_renders_in_both_languages():
    step = a_step(
        template_zh="{{ borrower_name }}，尾号{{ account_tail }}{% if days_past_due > 7 %}已逾期{% endif %}，"
        '应还{{ overdue_amount|floatformat:2 }}元，{% now "Y年" %}',
        template_en="{{ borrower_name|upper }}: {{ days_past_due }} day{{ days_past_due|pluralize }} late.",
    )

    step.full_clean()


def test_the_desks_own_templates_pass_the_restricted_engine():
    for step in ReminderStep.objects.exclude(channel=ReminderStep.Channel.CALL_TASK):
        step.full_clean()


@pytest.mark.usefixtures("in_english")
def test_the_admin_refuses_the_reviews_template_and_says_why(admin_client):
    """The review's request: POST /admin/collection/reminderstep/add/ with {% load log %} → 302."""
    admin_client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    ReminderStep.objects.filter(stage=Stage.REMINDER, day_offset=2).delete()

    response = admin_client.post(
        reverse("admin:collection_reminderstep_add"),
        {
            "stage": Stage.REMINDER,
            "day_offset": 2,
            "offset_from": ReminderStep.OffsetFrom.STAGE_ENTRY,
            "channel": ReminderStep.Channel.SMS,
            "template_zh": HOSTILE[0],
            "template_en": "",
            "send_window_start": "09:00",
            "send_window_end": "20:00",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "The template does not compile" in response.content.decode()
    assert not ReminderStep.objects.filter(stage=Stage.REMINDER, day_offset=2).exists()


def test_the_rendered_text_is_plain_and_capped():
    template = reminder_template("{{ borrower_name }}")
    context = reminder_context(
        borrower_name="<b>张三</b>", account_number="LN1", days_past_due=1, overdue_amount=Decimal("1.00")
    )

    assert reminder_render(template, context) == "<b>张三</b>"


# --- at dispatch -------------------------------------------------------------------------------


def a_case(*, entered_on=AS_OF - datetime.timedelta(days=1)) -> CollectionCase:
    borrower = BorrowerFactory(name="张三", address="朝阳区建国路1号")
    case = case_in(Stage.REMINDER, loan__borrower=borrower, loan__installments=False)
    entered_at = datetime.datetime.combine(entered_on, datetime.time(10), tzinfo=SHANGHAI)
    CollectionCase.objects.filter(pk=case.pk).update(stage_entered_at=entered_at)
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), 5, overdue_amount=Decimal("210.00"))
    ContactFactory(borrower=borrower, kind=Contact.Kind.MOBILE, verification=Contact.Verification.VERIFIED)
    return case


@pytest.fixture
def two_steps(db):
    """Day 1 by SMS with a template saved around its form (as the review's was), day 3 a good one."""
    ReminderStep.objects.all().delete()
    bad = a_step(day_offset=1)
    bad.save()
    ReminderStep.objects.filter(pk=bad.pk).update(template_zh=HOSTILE[0])
    good = a_step(day_offset=3)
    good.save()
    return bad, good


def test_a_bad_step_fails_its_own_messages_and_not_the_others(two_steps, outboxes):
    bad, good = two_steps
    bad_case = a_case(entered_on=AS_OF - datetime.timedelta(days=1))
    good_case = a_case(entered_on=AS_OF - datetime.timedelta(days=3))

    planned = reminders_plan(as_of=AS_OF, now=PLANNED_AT)
    sent = messages_dispatch(now=WINDOW_OPENS)

    failed = OutboundMessage.objects.get(case=bad_case)
    assert (failed.step, failed.status, failed.body) == (bad, OutboundMessage.Status.FAILED, "")
    assert failed.last_error
    message = OutboundMessage.objects.get(case=good_case)
    assert (message.step, message.status) == (good, OutboundMessage.Status.SENT)
    assert planned == {"queued": 1, "blocked": 0, "failed": 1}
    assert sent["sent"] == 1
    [line] = [json.loads(line) for line in (outboxes / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert "张三" in line["text"]


def test_the_task_sends_the_queued_messages_even_when_planning_fails(two_steps, monkeypatch):
    """Whatever breaks planning (here: a failure nobody foresaw), what is queued still goes out,
    and the run is recorded failed with the error."""
    case = a_case()
    # A letter: posted whatever the hour, so that the test does not depend on when it runs.
    OutboundMessage.objects.create(
        case=case,
        channel="letter",
        recipient="北京市朝阳区建国路1号",
        body="提醒",
        scheduled_at=datetime.datetime(2020, 1, 1, 10, tzinfo=SHANGHAI),
        idempotency_key="queued-before",
    )

    def planning_breaks(**kwargs):
        raise RuntimeError("planning broke")

    monkeypatch.setattr(tasks, "reminders_plan_due", planning_breaks)

    with pytest.raises(RuntimeError):
        tasks.reminders_dispatch_task()

    assert OutboundMessage.objects.get(idempotency_key="queued-before").status == OutboundMessage.Status.SENT
    run = JobRun.objects.get(job=JobRun.Job.REMINDER_DISPATCH)
    assert run.status == JobRun.Status.FAILED
    assert "planning broke" in run.errors
    assert run.counts["dispatched"]["sent"] == 1
