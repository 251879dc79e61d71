import datetime

from django.contrib.auth.hashers import make_password
from django.db import migrations

from accounts.roles import grant_role_permissions, revoke_role_permissions

SYSTEM_USERNAME = "system"

STAGE_RULES = [
    # stage, entry DPD, moves on at DPD, after broken promises, after days without contact, approval
    ("reminder", 1, 31, 2, None, False),
    ("negotiation", None, 31, 2, None, False),
    ("escalation", 31, 91, None, None, False),
    ("litigation", 91, None, None, None, True),
]

REMINDER_TEXT = {
    "sms": (
        "【{{ company }}】尊敬的{{ borrower_name }}，您尾号{{ account_tail }}的账户已逾期{{ days_past_due }}天，"
        "应还{{ overdue_amount }}元。请尽快还款，如有困难请致电{{ hotline }}与我们协商。",
        "[{{ company }}] Dear {{ borrower_name }}, your account ending {{ account_tail }} is {{ days_past_due }} "
        "days past due with {{ overdue_amount }} yuan overdue. Please pay soon, or call {{ hotline }} to discuss.",
    ),
    "letter": (
        "尊敬的{{ borrower_name }}：\n您在本公司的贷款（账号尾号{{ account_tail }}）已逾期{{ days_past_due }}天，"
        "逾期金额{{ overdue_amount }}元。请于收到本函后尽快还款；如您遇到困难，请致电{{ hotline }}，我们愿意与您协商还款安排。",
        "Dear {{ borrower_name }},\nYour loan (account ending {{ account_tail }}) is {{ days_past_due }} days past "
        "due with {{ overdue_amount }} yuan overdue. Please pay soon after receiving this letter; if you are in "
        "difficulty, call {{ hotline }} and we will work out an arrangement with you.",
    ),
}

REMINDER_STEPS = [
    # stage, day after entering the stage, channel
    ("reminder", 1, "sms"),
    ("reminder", 3, "sms"),
    ("reminder", 7, "call_task"),
    ("reminder", 15, "letter"),
]

VIEW = [
    f"view_{model}"
    for model in (
        "collectioncase",
        "stagerule",
        "reminderstep",
        "escalationrequest",
        "conductpolicy",
        "contactattempt",
        "conductrefusal",
        "callconsent",
        "promisetopay",
        "repaymentplan",
        "planinstallment",
    )
]
WORK = [
    "work_case",
    "escalate_case",
    "hold_case",
    "add_contactattempt",
    "add_promisetopay",
    "add_repaymentplan",
    "add_escalationrequest",
    "add_callconsent",
]
SUPERVISE = [
    "litigate_case",
    "settle_case",
    "write_off_case",
    "assign_case",
    "decide_escalation",
    "approve_plan",
    "change_escalationrequest",
    "change_repaymentplan",
]
CONFIGURE = [
    "close_case",
    "add_stagerule",
    "change_stagerule",
    "add_reminderstep",
    "change_reminderstep",
    "delete_reminderstep",
    "change_conductpolicy",
]
GRANTS = {
    "collector": VIEW + WORK,
    "supervisor": VIEW + WORK + SUPERVISE,
    "legal_officer": VIEW + ["work_case", "add_contactattempt"],
    "admin": VIEW + WORK + SUPERVISE + CONFIGURE,
}


def forwards(apps, schema_editor):
    StageRule = apps.get_model("collection", "StageRule")
    for stage, entry, at_dpd, broken, no_contact, approval in STAGE_RULES:
        StageRule.objects.get_or_create(
            stage=stage,
            defaults={
                "entry_dpd": entry,
                "escalate_at_dpd": at_dpd,
                "escalate_after_broken_promises": broken,
                "escalate_after_days_without_contact": no_contact,
                "requires_approval": approval,
            },
        )
    ReminderStep = apps.get_model("collection", "ReminderStep")
    for stage, day, channel in REMINDER_STEPS:
        text_zh, text_en = REMINDER_TEXT.get(channel, ("", ""))
        ReminderStep.objects.get_or_create(
            stage=stage,
            day_offset=day,
            offset_from="stage_entry",
            channel=channel,
            defaults={
                "template_zh": text_zh,
                "template_en": text_en,
                "send_window_start": datetime.time(9, 0),
                "send_window_end": datetime.time(20, 0),
            },
        )
    apps.get_model("collection", "ConductPolicy").objects.get_or_create(pk=1)
    grant_role_permissions(apps, "collection", GRANTS)

    # The actor of the scheduled jobs: it cannot log in and holds exactly the case permissions.
    User = apps.get_model("accounts", "User")
    Permission = apps.get_model("auth", "Permission")
    system, _created = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"password": make_password(None), "first_name": "系统", "is_active": True},
    )
    system.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="collection", codename__in=WORK + SUPERVISE)
    )


def backwards(apps, schema_editor):
    revoke_role_permissions(apps, "collection", GRANTS)
    # The system user stays (it may be the actor of logged transitions); only its grants go.
    system = apps.get_model("accounts", "User").objects.filter(username=SYSTEM_USERNAME).first()
    if system is not None:
        system.user_permissions.remove(
            *apps.get_model("auth", "Permission").objects.filter(content_type__app_label="collection")
        )
    apps.get_model("collection", "StageRule").objects.all().delete()
    apps.get_model("collection", "ReminderStep").objects.all().delete()
    apps.get_model("collection", "ConductPolicy").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("collection", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
