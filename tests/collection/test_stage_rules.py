"""Stage rules and reminder steps: the defaults the migration creates, and bad configurations
refused in words, by the model and by the admin form."""

import datetime
from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.urls import reverse
from django.utils.html import escape

from collection.machine import WORKING_STAGES, Stage
from collection.models import ReminderStep, StageRule
from collection.stage_rules import stage_rule_validate, stage_rules_problems

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]


def rules() -> dict[str, StageRule]:
    return {rule.stage: rule for rule in StageRule.objects.all()}


# --- the defaults ------------------------------------------------------------------------------


def test_there_is_one_default_rule_per_working_stage():
    assert sorted(rules()) == sorted(WORKING_STAGES)


def test_reminder_starts_at_dpd_1():
    reminder = rules()[Stage.REMINDER]
    assert reminder.entry_dpd == 1
    assert reminder.requires_approval is False


def test_negotiation_is_entered_on_contact_not_by_dpd():
    assert rules()[Stage.NEGOTIATION].entry_dpd is None


def test_escalation_comes_at_dpd_31_or_after_two_broken_promises():
    by_stage = rules()
    assert by_stage[Stage.ESCALATION].entry_dpd == 31
    for earlier in (Stage.REMINDER, Stage.NEGOTIATION):
        assert by_stage[earlier].escalate_at_dpd == 31
        assert by_stage[earlier].escalate_after_broken_promises == 2
    assert by_stage[Stage.ESCALATION].requires_approval is False


def test_litigation_comes_after_dpd_90_with_a_supervisors_approval():
    by_stage = rules()
    assert by_stage[Stage.ESCALATION].escalate_at_dpd == 91
    assert by_stage[Stage.LITIGATION].entry_dpd == 91
    assert by_stage[Stage.LITIGATION].requires_approval is True
    litigation = by_stage[Stage.LITIGATION]
    assert (
        litigation.escalate_at_dpd,
        litigation.escalate_after_broken_promises,
        litigation.escalate_after_days_without_contact,
    ) == (None, None, None)


def test_the_defaults_have_no_problems():
    assert stage_rules_problems(rules()) == []
    for rule in StageRule.objects.all():
        rule.full_clean()
        stage_rule_validate(rule)


def test_reminder_steps_on_days_1_3_7_and_15_of_the_reminder_stage():
    steps = ReminderStep.objects.filter(stage=Stage.REMINDER, is_active=True).order_by("day_offset")

    assert [(step.day_offset, step.channel) for step in steps] == [
        (1, ReminderStep.Channel.SMS),
        (3, ReminderStep.Channel.SMS),
        (7, ReminderStep.Channel.CALL_TASK),
        (15, ReminderStep.Channel.LETTER),
    ]
    assert {step.offset_from for step in steps} == {ReminderStep.OffsetFrom.STAGE_ENTRY}
    assert {(step.send_window_start, step.send_window_end) for step in steps} == {
        (datetime.time(9, 0), datetime.time(20, 0))
    }


def test_the_default_messages_compile_and_render_the_cases_fields():
    context = Context(
        {
            "company": "示例金融",
            "borrower_name": "张三",
            "account_tail": "1234",
            "days_past_due": 3,
            "overdue_amount": "100.00",
            "hotline": "400-000-0000",
        }
    )
    for step in ReminderStep.objects.exclude(channel=ReminderStep.Channel.CALL_TASK):
        step.full_clean()
        for text in (step.template_zh, step.template_en):
            rendered = Template(text).render(context)
            assert "张三" in rendered and "1234" in rendered and "{{" not in rendered


# --- bad configurations ------------------------------------------------------------------------

# (what the admin changes, on which stage's rule; a phrase of the explanation)
BAD_CONFIGURATIONS: list[tuple[str, dict, str]] = [
    (Stage.LITIGATION, {"entry_dpd": 20}, "each stage must start later than the one before"),
    (Stage.REMINDER, {"escalate_at_dpd": 1}, "which is not after it takes them in at DPD 1"),
    (Stage.LITIGATION, {"escalate_after_broken_promises": 3}, "is the last stage"),
    (Stage.LITIGATION, {"escalate_after_days_without_contact": 30}, "is the last stage"),
    (Stage.NEGOTIATION, {"escalate_at_dpd": 20}, "thresholds must increase from stage to stage"),
]
BAD_IDS = ["entry-not-increasing", "moves-on-before-entry", "last-stage-promises", "last-stage-contact", "decreasing"]


def changed(stage: str, changes: dict) -> StageRule:
    rule = StageRule.objects.get(stage=stage)
    for name, value in changes.items():
        setattr(rule, name, value)
    return rule


def expected_problems(rule: StageRule) -> list[str]:
    return stage_rules_problems({**rules(), rule.stage: rule})


@pytest.mark.parametrize("stage, changes, phrase", BAD_CONFIGURATIONS, ids=BAD_IDS)
def test_a_bad_configuration_is_refused_in_words_by_the_stage_rule_check(stage, changes, phrase):
    rule = changed(stage, changes)
    problems = expected_problems(rule)
    assert problems and any(phrase in problem for problem in problems)

    with pytest.raises(ValidationError) as refused:
        stage_rule_validate(rule)

    assert refused.value.messages == problems


def test_the_explanation_names_the_stages_and_thresholds():
    rule = changed(Stage.LITIGATION, {"entry_dpd": 20})

    with pytest.raises(ValidationError) as refused:
        stage_rule_validate(rule)

    assert refused.value.messages == [
        "Litigation starts at DPD 20, but Escalation already starts at DPD 31: "
        "each stage must start later than the one before."
    ]


def stage_rule_form(rule: StageRule) -> dict:
    def blank_if_none(value):
        return "" if value is None else value

    data = {
        "stage": rule.stage,
        "entry_dpd": blank_if_none(rule.entry_dpd),
        "escalate_at_dpd": blank_if_none(rule.escalate_at_dpd),
        "escalate_after_broken_promises": blank_if_none(rule.escalate_after_broken_promises),
        "escalate_after_days_without_contact": blank_if_none(rule.escalate_after_days_without_contact),
    }
    if rule.requires_approval:
        data["requires_approval"] = "on"
    return data


@pytest.fixture
def english_admin_client(admin_client) -> Callable:
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


@pytest.mark.parametrize("stage, changes, phrase", BAD_CONFIGURATIONS, ids=BAD_IDS)
def test_a_bad_configuration_is_refused_in_words_by_the_admin_form(english_admin_client, stage, changes, phrase):
    before = StageRule.objects.get(stage=stage)
    rule = changed(stage, changes)
    problems = expected_problems(rule)

    response = english_admin_client.post(
        reverse("admin:collection_stagerule_change", args=[rule.pk]), stage_rule_form(rule)
    )

    assert response.status_code == 200  # the form again, not a redirect
    for problem in problems:
        assert escape(problem) in response.content.decode()
    after = StageRule.objects.get(pk=rule.pk)
    assert stage_rule_form(after) == stage_rule_form(before)


def test_a_good_change_is_saved_from_the_admin_form(english_admin_client):
    rule = changed(Stage.LITIGATION, {"entry_dpd": 120})
    StageRule.objects.filter(stage=Stage.ESCALATION).update(escalate_at_dpd=120)

    response = english_admin_client.post(
        reverse("admin:collection_stagerule_change", args=[rule.pk]), stage_rule_form(rule)
    )

    assert response.status_code == 302
    assert StageRule.objects.get(pk=rule.pk).entry_dpd == 120


@pytest.mark.parametrize("field", ["template_zh", "template_en"])
def test_a_reminder_template_that_does_not_compile_is_refused_on_its_field(field):
    step = ReminderStep.objects.get(stage=Stage.REMINDER, day_offset=1)
    setattr(step, field, "{% if days_past_due %}逾期{{ days_past_due }}天")  # no endif

    with pytest.raises(ValidationError) as refused:
        step.full_clean()

    assert list(refused.value.message_dict) == [field]
    assert "does not compile" in refused.value.message_dict[field][0]


def test_a_stage_entered_by_dpd_must_start_after_the_last_one_entered_by_dpd():
    """Negotiation is entered on contact, so escalation is compared with reminder."""
    from types import SimpleNamespace

    from collection.stage_rules import stage_rules_problems

    def rule(stage, entry_dpd, escalate_at_dpd=None):
        return SimpleNamespace(
            stage=stage,
            entry_dpd=entry_dpd,
            escalate_at_dpd=escalate_at_dpd,
            escalate_after_broken_promises=None,
            escalate_after_days_without_contact=None,
        )

    problems = stage_rules_problems(
        {
            "reminder": rule("reminder", 1),
            "negotiation": rule("negotiation", None),
            "escalation": rule("escalation", 1),
        }
    )

    assert problems == [
        "Escalation starts at DPD 1, but Reminder already starts at DPD 1: each stage must start later than the "
        "one before."
    ]
