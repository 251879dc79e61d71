"""Admin configuration that explains itself: a reminder step lists the variables its texts may use,
previews the step for a sample case in both languages without saving, and refuses an unknown
variable by name; a stage rule previews how many cases it would move today (the nightly cycle's
own count); the conduct policy's help texts give each legal floor and its source; people are
chosen by name; only a superuser changes roles; cases are reassigned from the admin's list and
page, with a reason, through cases_reassign, by those allowed to. Read in English."""

from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry as AuditLogEntry
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import User
from collection.cycle import _stage_rules
from collection.machine import Stage
from collection.models import CaseAssignment, CollectionCase, ConductPolicy, ReminderStep, StageRule
from collection.validators import VARIABLE_MEANINGS, reminder_context
from loans.models import Loan
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

REASSIGN = reverse("admin:collection_collectioncase_reassign")


def logged_in(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def client(admin_client):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return admin_client


def ids_of(cases) -> str:
    return ",".join(str(case.pk) for case in cases)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- reminder steps ----------------------------------------------------------------------------


def step_form(step: ReminderStep, **changes) -> dict:
    data = {
        "stage": step.stage,
        "day_offset": step.day_offset,
        "offset_from": step.offset_from,
        "channel": step.channel,
        "is_active": "on",
        "send_window_start": "09:00",
        "send_window_end": "20:00",
        "template_zh": step.template_zh,
        "template_en": step.template_en,
    }
    data.update(changes)
    return data


@pytest.fixture
def sms_step():
    return ReminderStep.objects.filter(channel=ReminderStep.Channel.SMS).order_by("pk").first()


def test_the_variables_a_template_may_use_are_listed_beside_it(client, sms_step):
    content = client.get(reverse("admin:collection_reminderstep_change", args=[sms_step.pk])).content.decode()

    assert set(VARIABLE_MEANINGS) == set(
        reminder_context(
            **dict.fromkeys(("borrower_name", "account_number", "days_past_due", "overdue_amount"), "0000")
        )
    )
    for name, meaning in VARIABLE_MEANINGS.items():
        assert f"<code>{{{{ {name} }}}}</code>" in content
        assert str(meaning).replace("'", "&#x27;") in content
    assert content.index("desk-variables") < content.index('name="template_zh"')


def test_the_preview_renders_the_step_in_both_languages_and_saves_nothing(client, sms_step):
    before = ReminderStep.objects.count(), sms_step.template_zh, sms_step.template_en

    response = client.post(
        reverse("admin:collection_reminderstep_change", args=[sms_step.pk]),
        step_form(
            sms_step,
            template_zh="{{ borrower_name }}，尾号{{ account_tail }}，逾期{{ days_past_due }}天",
            template_en="Dear {{ borrower_name }}, {{ overdue_amount|floatformat:2 }} is overdue.",
            _preview="Preview",
        ),
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert '<td lang="zh-hans">张三，尾号1234，逾期30天</td>' in content
    assert '<td lang="en">Dear 张三, 1080.59 is overdue.</td>' in content
    assert "Nothing was saved" in content
    assert "errornote" not in content
    sms_step.refresh_from_db()
    assert (ReminderStep.objects.count(), sms_step.template_zh, sms_step.template_en) == before


def test_the_preview_of_a_new_step_adds_no_row(client):
    count = ReminderStep.objects.count()
    data = step_form(
        ReminderStep(stage=Stage.REMINDER, day_offset=77, channel=ReminderStep.Channel.SMS),
        template_zh="{{ company }}提醒您",
        template_en="",
        _preview="Preview",
    )

    response = client.post(reverse("admin:collection_reminderstep_add"), data)

    assert response.status_code == 200
    # Without an English text the English reader gets the Chinese one, as the desk sends it.
    assert f'<td lang="en">{settings.COLLECTION_COMPANY_NAME}提醒您</td>' in (response.content.decode())
    assert ReminderStep.objects.count() == count


def test_an_unknown_variable_is_refused_naming_it(client, sms_step):
    response = client.post(
        reverse("admin:collection_reminderstep_change", args=[sms_step.pk]),
        step_form(sms_step, template_en="Dear {{ borrower_name }}, call {{ collector_phone }}."),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["template_en"]
    assert "{{ collector_phone }}" in errors["template_en"][0]
    assert "borrower_name" in errors["template_en"][0]  # and says which names it may use
    sms_step.refresh_from_db()
    assert "collector_phone" not in sms_step.template_en


@pytest.mark.parametrize(
    "template",
    [
        "{% if loan.balance > 0 %}x{% endif %}",
        "{{ borrower_name|default:secret }}",
        "{% firstof nickname borrower_name %}",
        "{% with a=company %}{{ a }}{{ b }}{% endwith %}",
    ],
)
def test_an_unknown_variable_is_found_wherever_the_template_reads_it(sms_step, template):
    step = ReminderStep(stage=sms_step.stage, day_offset=88, channel=sms_step.channel, template_zh=template)

    with pytest.raises(Exception, match="which a reminder does not know"):
        step.full_clean()


# --- stage rules -------------------------------------------------------------------------------


def rule_form(rule: StageRule, **changes) -> dict:
    data = {
        "stage": rule.stage,
        "entry_dpd": rule.entry_dpd if rule.entry_dpd is not None else "",
        "escalate_at_dpd": rule.escalate_at_dpd if rule.escalate_at_dpd is not None else "",
        "escalate_after_broken_promises": rule.escalate_after_broken_promises or "",
        "escalate_after_days_without_contact": rule.escalate_after_days_without_contact or "",
        "reassign_after_days_without_contact": rule.reassign_after_days_without_contact or "",
    }
    if rule.requires_approval:
        data["requires_approval"] = "on"
    data.update(changes)
    return data


@pytest.fixture
def portfolio():
    """Cases of a hand-built portfolio by stage and broken promises: in reminder 3, 2, 2 and 1
    broken promises (and one at 4 on hold), in negotiation 5. Every loan current (DPD 0)."""
    team = TeamFactory()
    collector = UserFactory(roles=["collector"])
    team.members.add(collector)
    cases = {}
    for name, stage, broken in [
        ("three", Stage.REMINDER, 3),
        ("two", Stage.REMINDER, 2),
        ("two_more", Stage.REMINDER, 2),
        ("one", Stage.REMINDER, 1),
        ("held", Stage.ON_HOLD, 4),
        ("negotiating", Stage.NEGOTIATION, 5),
    ]:
        case = CaseFactory(assigned_to=collector, team=team, loan__installments=False)
        CollectionCase.objects.filter(pk=case.pk).update(stage=stage, broken_promises=broken)
        cases[name] = case
    Loan.objects.filter(collection_cases__in=cases.values()).update(grace_ends_on=None, overdue_amount=Decimal(0))
    return cases


@pytest.mark.parametrize(("broken", "expected"), [(2, 3), (3, 1), (4, 0)])
def test_the_stage_rule_preview_counts_the_cases_it_would_move_today(client, portfolio, broken, expected):
    rule = StageRule.objects.get(stage=Stage.REMINDER)
    saved = rule_form(rule)

    response = client.post(
        reverse("admin:collection_stagerule_change", args=[rule.pk]),
        rule_form(rule, escalate_after_broken_promises=broken, _preview="Preview"),
    )

    assert response.status_code == 200
    content = response.content.decode()
    noun = "case" if expected == 1 else "cases"
    assert f"the rule would move {expected} {noun} now in Reminder on to" in content
    rule.refresh_from_db()
    assert rule_form(rule) == saved  # nothing saved


def test_the_stage_rule_preview_agrees_with_the_nightly_cycle(client, portfolio, system_user):
    rule = StageRule.objects.get(stage=Stage.REMINDER)
    form = rule_form(rule, escalate_after_broken_promises=3)
    preview = client.post(reverse("admin:collection_stagerule_change", args=[rule.pk]), {**form, "_preview": "1"})
    assert "would move 1 case now in Reminder" in preview.content.decode()

    client.post(reverse("admin:collection_stagerule_change", args=[rule.pk]), form)
    counts = _stage_rules(as_of=timezone.localdate(), at=timezone.now(), actor=system_user)

    in_reminder = [portfolio[name].pk for name in ("three", "two", "two_more", "one")]
    moved = CollectionCase.objects.filter(pk__in=in_reminder).exclude(stage=Stage.REMINDER)
    assert list(moved.values_list("pk", flat=True)) == [portfolio["three"].pk]
    assert counts  # the cycle moved them (negotiation's own rule moves its case too)


def test_the_stage_rule_preview_of_a_move_needing_approval_counts_proposals(client, portfolio):
    rule = StageRule.objects.get(stage=Stage.REMINDER)
    # Wherever the reminder stage moves cases on to, moving there now needs a supervisor's approval.
    StageRule.objects.exclude(stage=Stage.REMINDER).update(requires_approval=True)

    response = client.post(
        reverse("admin:collection_stagerule_change", args=[rule.pk]),
        rule_form(rule, escalate_after_broken_promises=2, _preview="1"),
    )

    assert "the rule would propose moving 3 cases now in Reminder on to" in response.content.decode()


def test_the_stage_rule_preview_counts_the_cases_it_would_reassign(client, portfolio):
    rule = StageRule.objects.get(stage=Stage.REMINDER)
    long_ago = timezone.now() - timedelta(days=30)
    CollectionCase.objects.filter(pk__in=[portfolio["three"].pk, portfolio["two"].pk]).update(opened_at=long_ago)

    response = client.post(
        reverse("admin:collection_stagerule_change", args=[rule.pk]),
        rule_form(rule, reassign_after_days_without_contact=10, _preview="1"),
    )

    assert "It would move 2 cases to another collector of their team" in response.content.decode()
    assert StageRule.objects.get(pk=rule.pk).reassign_after_days_without_contact is None


def test_the_stage_rule_preview_shows_a_problem_instead_of_a_count(client):
    rule = StageRule.objects.get(stage=Stage.REMINDER)

    response = client.post(
        reverse("admin:collection_stagerule_change", args=[rule.pk]),
        rule_form(rule, escalate_at_dpd=1, _preview="1"),
    )

    content = response.content.decode()
    assert "errornote" in content
    assert "the rule would move" not in content


# --- conduct policy ----------------------------------------------------------------------------


def test_every_conduct_limit_says_its_legal_floor_and_where_it_comes_from(client):
    policy = ConductPolicy.current()
    content = client.get(reverse("admin:collection_conductpolicy_change", args=[policy.pk])).content.decode()

    for field in ConductPolicy._meta.get_fields():
        if getattr(field, "editable", False) and field.name not in ("id", "updated_at"):
            help_text = str(field.help_text)
            assert "floor:" in help_text.lower(), field.name
            assert any(source in help_text for source in ("Regulation F", "guideline", "conduct limits")), field.name
            assert help_text in content


# --- people chosen by name, roles by a superuser -------------------------------------------------


def test_a_cases_collector_is_chosen_by_name(client):
    case = CaseFactory()
    wanted = UserFactory(roles=["collector"], last_name="朱", first_name="建国")
    UserFactory(roles=["supervisor"], last_name="朱", first_name="建民")  # not a collector
    UserFactory(roles=["collector"], last_name="王", first_name="芳")

    page = client.get(reverse("admin:collection_collectioncase_change", args=[case.pk])).content.decode()
    found = client.get(
        reverse("admin:autocomplete"),
        {"term": "朱建", "app_label": "collection", "model_name": "collectioncase", "field_name": "assigned_to"},
    ).json()

    assert 'class="admin-autocomplete' in page
    assert 'name="assigned_to"' in page and "vForeignKeyRawIdAdminField" not in page.split('name="team"')[0]
    assert [result["id"] for result in found["results"]] == [str(wanted.pk)]
    assert found["results"][0]["text"] == str(wanted)


def test_a_teams_supervisor_and_members_are_chosen_by_name(client):
    team = TeamFactory()

    page = client.get(reverse("admin:accounts_team_change", args=[team.pk])).content.decode()

    assert page.count("admin-autocomplete") >= 2


def test_call_scripts_routing_teams_and_users_are_in_the_admin(client):
    for name in ("collection_callscript", "collection_caserouting", "accounts_team", "accounts_user"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200


def user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
        "phone_extension": "",
    }
    data.update(changes)
    return data


def test_only_a_superuser_changes_a_users_roles(client, desk_admin):
    someone = UserFactory(roles=["collector"])
    supervisor_group = Group.objects.get(name=roles.SUPERVISOR)
    change = reverse("admin:accounts_user_change", args=[someone.pk])
    asked = user_form(someone, groups=[supervisor_group.pk], is_staff="on", is_superuser="on")

    desk_admin.is_staff = True
    desk_admin.save()
    admin_page = logged_in(client.__class__(), desk_admin)
    form = admin_page.get(change).context["adminform"].form
    assert not {"groups", "is_staff", "is_superuser"} & set(form.fields)  # shown read-only
    assert admin_page.post(change, asked).status_code == 302
    someone = User.objects.get(pk=someone.pk)
    assert roles.user_roles(someone) == {roles.COLLECTOR}
    assert not someone.is_staff and not someone.is_superuser

    assert client.post(change, asked).status_code == 302
    someone = User.objects.get(pk=someone.pk)
    assert roles.SUPERVISOR in roles.user_roles(someone)
    assert someone.is_staff and someone.is_superuser


# --- reassigning cases from the admin ----------------------------------------------------------


@pytest.fixture
def team_cases():
    team = TeamFactory()
    first, second = UserFactory(roles=["collector"]), UserFactory(roles=["collector"])
    team.members.add(first, second)
    cases = [CaseFactory(assigned_to=first, team=team, loan__installments=False) for _ in range(3)]
    return team, first, second, cases


def test_the_list_action_asks_for_collector_team_and_reason_on_an_intermediate_page(
    client, team_cases, django_assert_max_num_queries
):
    _team, _first, _second, cases = team_cases

    with django_assert_max_num_queries(20):
        response = client.post(
            reverse("admin:collection_collectioncase_changelist"),
            {"action": "reassign_cases", "_selected_action": [case.pk for case in cases]},
        )

    assert response.status_code == 200
    content = response.content.decode()
    assert f'action="{REASSIGN}"' in content
    for name in ("collector", "team", "reason"):
        assert f'name="{name}"' in content
    assert f'name="ids" value="{",".join(str(case.pk) for case in cases)}"' in content
    assert "3 cases" in content


def test_reassigning_the_selection_goes_through_the_service_with_the_reason(client, admin_user, team_cases):
    team, first, second, cases = team_cases

    response = client.post(REASSIGN, {"ids": ids_of(cases), "collector": second.pk, "reason": "Leave"})

    assert response.status_code == 302
    assert set(CollectionCase.objects.filter(pk__in=[c.pk for c in cases]).values_list("assigned_to", flat=True)) == {
        second.pk
    }
    moves = CaseAssignment.objects.filter(case__in=cases)
    assert {(m.previous_id, m.assigned_to_id, m.assigned_by_id, m.reason) for m in moves} == {
        (first.pk, second.pk, admin_user.pk, "Leave")
    }
    assert AuditLogEntry.objects.filter(object_pk__in=[str(case.pk) for case in cases]).count() >= 3
    assert "Reassigned 3 cases" in " ".join(messages_of(response))


def test_reassigning_balanced_to_another_team(client, team_cases):
    _team, _first, _second, cases = team_cases
    other_team = TeamFactory()
    newcomer = UserFactory(roles=["collector"])
    other_team.members.add(newcomer)

    client.post(REASSIGN, {"ids": ids_of(cases[:1]), "team": other_team.pk, "reason": "New team"})

    cases[0].refresh_from_db()
    assert (cases[0].assigned_to, cases[0].team) == (newcomer, other_team)


def test_a_reassignment_needs_its_reason(client, team_cases):
    _team, first, second, cases = team_cases

    response = client.post(REASSIGN, {"ids": ids_of(cases[:1]), "collector": second.pk, "reason": " "})

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert CollectionCase.objects.get(pk=cases[0].pk).assigned_to == first


def test_the_case_page_links_to_its_reassignment(client, team_cases):
    _team, _first, _second, cases = team_cases

    page = client.get(reverse("admin:collection_collectioncase_change", args=[cases[0].pk])).content.decode()
    reassign = client.get(REASSIGN, {"ids": cases[0].pk})

    assert f"{REASSIGN}?ids={cases[0].pk}" in page
    assert reassign.status_code == 200
    assert 'name="from_case"' in reassign.content.decode()


def test_changing_the_collector_on_the_case_page_needs_a_reason(client, team_cases):
    _team, first, second, cases = team_cases
    change = reverse("admin:collection_collectioncase_change", args=[cases[0].pk])

    refused = client.post(change, {"assigned_to": second.pk, "team": cases[0].team_id, "reassign_reason": ""})
    done = client.post(change, {"assigned_to": second.pk, "team": cases[0].team_id, "reassign_reason": "Cover"})

    assert refused.status_code == 200
    assert "reassign_reason" in refused.context["adminform"].form.errors
    assert done.status_code == 302
    assert CaseAssignment.objects.get(case=cases[0]).reason == "Cover"


def test_a_supervisor_reassigns_their_teams_cases_from_the_admin(client, team_cases):
    team, _first, second, cases = team_cases
    supervisor = UserFactory(roles=["supervisor"], is_staff=True)
    team.supervisor = supervisor
    team.save()
    others = CaseFactory(team=TeamFactory(), assigned_to=UserFactory(roles=["collector"]))
    desk = logged_in(client.__class__(), supervisor)

    response = desk.post(
        REASSIGN,
        {"ids": ids_of([cases[0], others]), "collector": second.pk, "reason": "Balance"},
    )

    assert response.status_code == 302
    assert CollectionCase.objects.get(pk=cases[0].pk).assigned_to == second
    assert CollectionCase.objects.get(pk=others.pk).assigned_to != second  # out of reach: ignored


def test_a_staff_user_not_allowed_to_assign_is_refused(client, team_cases):
    _team, first, second, cases = team_cases
    # The case's own collector, let into the admin: they see the case, and may not assign cases.
    first.is_staff = True
    first.save()
    desk = logged_in(client.__class__(), first)

    listed = desk.get(reverse("admin:collection_collectioncase_changelist")).content.decode()
    page = desk.get(REASSIGN, {"ids": cases[0].pk})
    posted = desk.post(REASSIGN, {"ids": ids_of(cases[:1]), "collector": second.pk, "reason": "x"})
    action = desk.post(
        reverse("admin:collection_collectioncase_changelist"),
        {"action": "reassign_cases", "_selected_action": [cases[0].pk]},
    )

    assert "reassign_cases" not in listed
    shown = desk.get(reverse("admin:collection_collectioncase_change", args=[cases[0].pk]))
    assert shown.status_code == 200
    assert "reassign_reason" not in shown.content.decode() and REASSIGN not in shown.content.decode()
    assert (page.status_code, posted.status_code) == (403, 403)
    assert action.status_code != 200 or 'name="reason"' not in action.content.decode()
    assert CollectionCase.objects.get(pk=cases[0].pk).assigned_to == first


def test_at_most_a_thousand_cases_are_reassigned_at_once(client):
    response = client.post(REASSIGN, {"ids": ",".join(str(pk) for pk in range(1, 1003)), "reason": "x"})

    assert response.status_code == 403


def test_the_reassignment_page_costs_a_bounded_number_of_queries(client, team_cases, django_assert_max_num_queries):
    team, first, _second, _cases = team_cases
    many = [CaseFactory(assigned_to=first, team=team, loan__installments=False) for _ in range(25)]

    with django_assert_max_num_queries(15):
        response = client.get(REASSIGN, {"ids": ",".join(str(case.pk) for case in many)})

    assert response.status_code == 200
    assert "and 5 more cases" in response.content.decode()
