"""The admin's configuration in a real browser: an admin reassigns cases from the case list (ticks
cases, picks "Reassign the selected cases", chooses the collector by name on the intermediate form,
gives a reason, sees the cases move), and previews a reminder step in both languages without
saving it; axe on the forms' content."""

from django.urls import reverse
from django.utils.translation import gettext
from playwright.sync_api import expect

from accounts.models import Team
from collection.models import CaseAssignment, CollectionCase, ReminderStep
from tests.accounts.factories import UserFactory
from tests.browser.a11y import BLOCKING, describe
from tests.browser.a11y import _axe as axe
from tests.collection.factories import CaseFactory

SCREENSHOT = "/tmp/admincfg-reassign.png"
PREVIEW_SCREENSHOT = "/tmp/admincfg-reminder-preview.png"


def assert_no_blocking_violations_in(page, selector: str):
    """axe on the part of the page the desk wrote (the admin's own frame is Django's). axe's
    preloading of the page's style sheets is off: it applies inline styles, which the desk's
    Content-Security-Policy refuses (and the test would fail on the browser's report of it)."""
    results = axe.run(page, context=selector, options={"resultTypes": ["violations"], "preload": False})
    violations = [violation for violation in results.response["violations"] if violation["impact"] in BLOCKING]
    assert not violations, f"axe on {page.url} ({selector}):\n{describe(violations)}"


def test_an_admin_reassigns_cases_from_the_case_list_through_the_intermediate_form(log_in):
    admin = UserFactory(username="desk-admin", roles=["admin"], is_staff=True)
    holder = UserFactory(username="holder", last_name="张", first_name="伟", roles=["collector"])
    wanted = UserFactory(username="wanted", last_name="欧阳", first_name="春晓", roles=["collector"])
    team = Team.objects.create(name="一组", supervisor=UserFactory(roles=["supervisor"]))
    team.members.add(holder, wanted)
    cases = [CaseFactory(assigned_to=holder, team=team, loan__installments=False) for _ in range(3)]

    page = log_in(admin, next_url=reverse("admin:collection_collectioncase_changelist"))
    page.goto(reverse("admin:collection_collectioncase_changelist"))
    for case in cases[:2]:
        page.locator(f"input[name=_selected_action][value='{case.pk}']").check()
    page.locator("select[name=action]").select_option("reassign_cases")
    with page.expect_navigation():
        page.locator("button[name=index]").click()

    # The intermediate form: the two cases, the collector chosen by name.
    content = page.locator("#content-main")
    expect(content.locator("tbody tr")).to_have_count(2)
    page.locator("#id_collector + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill("欧阳")
    option = page.locator(".select2-results__option", has_text="欧阳春晓")
    expect(option).to_have_count(1)
    option.click()
    page.locator("#id_reason").fill("张伟休假，案件交给欧阳春晓")
    assert_no_blocking_violations_in(page, "#content-main")
    page.screenshot(path=SCREENSHOT, full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name=gettext("Reassign")).click()

    expect(page.locator("ul.messagelist")).to_contain_text("2")
    moved = CollectionCase.objects.filter(pk__in=[case.pk for case in cases]).order_by("pk")
    assert [case.assigned_to_id for case in moved] == [wanted.pk, wanted.pk, holder.pk]
    reasons = set(CaseAssignment.objects.filter(case__in=cases).values_list("reason", "assigned_by"))
    assert reasons == {("张伟休假，案件交给欧阳春晓", admin.pk)}


def test_an_admin_previews_a_reminder_step_in_both_languages_before_saving(log_in):
    admin = UserFactory(username="desk-admin", roles=["admin"], is_staff=True)
    step = ReminderStep.objects.filter(channel=ReminderStep.Channel.SMS).order_by("pk").first()
    saved = step.template_en

    page = log_in(admin, next_url=reverse("admin:collection_reminderstep_change", args=[step.pk]))
    page.goto(reverse("admin:collection_reminderstep_change", args=[step.pk]))
    expect(page.locator("dl.desk-variables")).to_contain_text("{{ borrower_name }}")
    page.locator("#id_template_zh").fill("{{ borrower_name }}，您已逾期{{ days_past_due }}天。")
    page.locator("#id_template_en").fill("Dear {{ borrower_name }}, you are {{ days_past_due }} days late.")
    with page.expect_navigation():
        page.locator("input[name=_preview]").click()

    preview = page.locator("table.desk-reminder-preview")
    expect(preview.locator("td[lang=zh-hans]")).to_have_text("张三，您已逾期30天。")
    expect(preview.locator("td[lang=en]")).to_have_text("Dear 张三, you are 30 days late.")
    expect(page.locator("#id_template_en")).to_have_value(
        "Dear {{ borrower_name }}, you are {{ days_past_due }} days late."
    )
    assert_no_blocking_violations_in(page, "#content-main form")
    page.locator("#preview").scroll_into_view_if_needed()
    page.screenshot(path=PREVIEW_SCREENSHOT, full_page=True)
    step.refresh_from_db()
    assert step.template_en == saved  # nothing saved
