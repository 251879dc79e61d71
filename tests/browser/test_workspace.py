"""The collector's workspace in a real browser: the queue, the case page and its actions (posted
with htmx and swapped in place), the conduct limits as the collector meets them, the keyboard
shortcuts, the reach of a collector, and axe on each page."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from collection.conduct import ConductRule
from collection.exceptions import ConductViolation
from collection.models import ConductRefusal, ContactAttempt, PromiseToPay
from collection.web import refusal_message
from loans.models import Contact
from tests.accounts.factories import UserFactory
from tests.browser.a11y import assert_no_blocking_violations
from tests.browser.desk import day_zone, desk_time, night_zone, working_case
from tests.loans.factories import ProductFactory


def case_url(case) -> str:
    return reverse("collection:case", args=[case.pk])


def queue_rows(page):
    return page.locator("table.compact tbody tr")


def borrowers_listed(page) -> list[str]:
    return queue_rows(page).locator("td:nth-child(2) a").all_inner_texts()


def mobile(case) -> Contact:
    return Contact.objects.get(borrower=case.loan.borrower_id, kind=Contact.Kind.MOBILE)


def action(page, name):
    """One action of the case page (templates/collection/_action.html), opened."""
    panel = page.locator(f"#action-{name}")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    return panel


def wait_for_timeline(page):
    """The timeline is loaded into the case page by htmx once it shows (and again after each
    action); until htmx is done, what it is loading is dimmed (.htmx-request), which axe would
    rightly find too faint to read."""
    expect(page.locator("#timeline ol.timeline")).to_be_visible()
    expect(page.locator(".htmx-request")).to_have_count(0)


@pytest.fixture
def desk_cases(collector):
    """Three cases of the collector, of borrowers in a zone where it is midday: two of one product
    (the top of the queue, 75 days late, and one 40 days late), one of another (10 days late); and
    a case of another collector, which the queue never shows."""
    zone = day_zone()
    product, other_product = ProductFactory(name="工薪贷"), ProductFactory(name="装修贷")
    top = working_case(days_past_due=75, zone=zone, name="欧阳春晓", mobile="+8613912344321", loan__product=product)
    second = working_case(days_past_due=40, zone=zone, name="慕容秋水", loan__product=product)
    third = working_case(days_past_due=10, zone=zone, name="上官云飞", loan__product=other_product)
    someone_else = UserFactory(roles=["collector"])
    theirs = working_case(days_past_due=90, zone=zone, name="司马长风", loan__product=product, assigned_to=someone_else)
    return {"top": top, "second": second, "third": third, "theirs": theirs, "product": product}


def test_a_collector_works_a_case_from_the_queue_to_the_next(log_in, collector, desk_cases):
    """(a) Log in and land on the queue; filter it and search it; open the top case; log a call
    that went unanswered with a callback, then a promise, both in place; see both on the case's
    timeline; go on to the next case."""
    top, second = desk_cases["top"], desk_cases["second"]

    page = log_in(collector)
    assert page.url.endswith(reverse("collection:queue"))
    assert borrowers_listed(page) == ["欧阳春晓", "慕容秋水", "上官云飞"]  # not the other collector's

    # Filter by product: the two cases of that product, in working order.
    page.locator("#id_product").select_option(str(desk_cases["product"].pk))
    with page.expect_navigation():
        page.get_by_role("button", name=gettext("Apply")).click()
    assert borrowers_listed(page) == ["欧阳春晓", "慕容秋水"]
    assert f"product={desk_cases['product'].pk}" in page.url

    # Search by the last four digits of the top borrower's phone, within the filter.
    page.locator("#id_q").fill("4321")
    with page.expect_navigation():
        page.locator("#id_q").press("Enter")
    assert borrowers_listed(page) == ["欧阳春晓"]
    assert "q=4321" in page.url and f"product={desk_cases['product'].pk}" in page.url

    # Open the top case.
    with page.expect_navigation():
        queue_rows(page).first.get_by_role("link", name="欧阳春晓").click()
    assert page.url.endswith(case_url(top))
    expect(page.locator("#case-title")).to_contain_text("欧阳春晓")
    wait_for_timeline(page)
    url_before = page.url

    # A call that went unanswered, with a callback in two hours.
    callback_at = timezone.now() + datetime.timedelta(hours=2)
    attempt = action(page, "attempt")
    attempt.locator("[name=contact]").select_option(str(mobile(top).pk))
    attempt.locator("[name=channel]").select_option("call")
    attempt.locator("[name=outcome]").select_option("no_answer")
    attempt.locator("[name=duration_seconds]").fill("25")
    attempt.locator("[name=note]").fill("响铃无人接听")
    attempt.locator("[name=callback_at]").fill(desk_time(callback_at))
    attempt.get_by_role("button", name=gettext("Log attempt")).click()
    expect(page.locator("#case .messages li.success")).to_have_count(1)  # its words: test_..._in_the_users_language
    assert page.url == url_before  # swapped in place, no page load
    callback_shown = f"{timezone.localtime(callback_at):%Y-%m-%d %H:%M}"
    expect(page.locator("#work-title + dl")).to_contain_text(callback_shown)

    # A promise to pay 300 in three days.
    due = timezone.localdate() + datetime.timedelta(days=3)
    promise = action(page, "promise")
    promise.locator("[name=amount]").fill("300.00")
    promise.locator("[name=due_date]").fill(f"{due:%Y-%m-%d}")
    promise.get_by_role("button", name=gettext("Record promise")).click()
    expect(page.locator("#case .messages li.success")).to_have_count(1)
    assert page.url == url_before
    expect(page.locator("#work-title + dl")).to_contain_text(f"{due:%Y-%m-%d}")

    # Both on the case's timeline (reloaded after the swap).
    timeline = page.locator("#timeline")
    expect(timeline.locator("li.entry-attempt")).to_have_count(1)
    expect(timeline.locator("li.entry-callback")).to_contain_text(callback_shown)
    expect(timeline.locator("li.entry-promise")).to_contain_text(f"{due:%Y-%m-%d}")
    assert ContactAttempt.objects.filter(case=top, outcome="no_answer", collector=collector).count() == 1
    assert PromiseToPay.objects.get(case=top).due_date == due

    # Next case: the top case is worked today, so the next most pressing.
    with page.expect_navigation():
        page.locator("header").get_by_role("link", name=re.compile(re.escape(gettext("Next case")))).click()
    assert page.url.endswith(case_url(second))
    expect(page.locator("#case-title")).to_contain_text("慕容秋水")


def test_a_call_in_the_borrowers_quiet_hours_is_refused_with_the_reason_and_when_to_call(log_in, collector):
    """(b) The borrower lives where it is 02:xx now: the case page says the number may not be
    called now, and an attempt is refused, saying why and from when contact is allowed."""
    zone = night_zone()
    case = working_case(days_past_due=30, zone=zone, name="夜间借款人")
    now_there = timezone.now().astimezone(zone)
    allowed_from = datetime.datetime.combine(now_there.date(), datetime.time(8), tzinfo=zone)
    allowed_text = f"{allowed_from:%Y-%m-%d %H:%M:%S} ({zone.key})"

    page = log_in(collector)
    page.goto(case_url(case))
    standing = page.locator(f"#contact-{mobile(case).pk}")
    expect(standing).to_contain_text(allowed_text)

    attempt = action(page, "attempt")
    attempt.locator("[name=contact]").select_option(str(mobile(case).pk))
    attempt.locator("[name=channel]").select_option("call")
    attempt.locator("[name=outcome]").select_option("no_answer")
    # The callback itself is due at 10:xx in the borrower's morning, outside their quiet hours.
    attempt.locator("[name=callback_at]").fill(desk_time(timezone.now() + datetime.timedelta(hours=8)))
    attempt.get_by_role("button", name=gettext("Log attempt")).click()

    refusal = page.locator("#action-attempt .errorlist.nonfield")
    expect(refusal).to_be_visible()
    # The desk's words for a refusal by the conduct limits (collection.web), up to its reason.
    refused = refusal_message(ConductViolation(ConductRule.QUIET_HOURS, "…")).split("…")[0].strip()
    expect(refusal).to_contain_text(refused)
    reason = gettext("No contact between %(start)s and %(end)s in the borrower's time zone: it is %(local)s there.")
    expect(refusal).to_contain_text(reason.split("%(local)s")[0] % {"start": "22:00", "end": "08:00"})
    expect(refusal).to_contain_text(allowed_text)
    expect(page.locator("#timeline li.entry-refusal")).to_have_count(1)
    assert ConductRefusal.objects.get(case=case).rule == "quiet_hours"
    assert not ContactAttempt.objects.filter(case=case).exists()


def test_a_refused_attempt_leaves_no_serious_accessibility_violation(log_in, collector):
    """(d) axe on the case page showing a form's non-field error: a refusal by the conduct limits."""
    case = working_case(days_past_due=30, zone=night_zone())
    page = log_in(collector)
    page.goto(case_url(case))
    attempt = action(page, "attempt")
    attempt.locator("[name=contact]").select_option(str(mobile(case).pk))
    attempt.locator("[name=outcome]").select_option("no_answer")
    attempt.locator("[name=callback_at]").fill(desk_time(timezone.now() + datetime.timedelta(hours=8)))
    attempt.get_by_role("button", name=gettext("Log attempt")).click()
    expect(page.locator("#action-attempt ul.errorlist.nonfield")).to_be_visible()
    wait_for_timeline(page)
    assert_no_blocking_violations(page)


def test_the_case_page_shows_the_time_where_the_borrower_is(log_in, collector):
    zone = night_zone()
    case = working_case(days_past_due=30, zone=zone)
    page = log_in(collector)
    page.goto(case_url(case))
    local = timezone.now().astimezone(zone)
    assert f"{local:%Y-%m-%d %H:}" in page.locator("#borrower-title + dl").inner_text()


def test_a_collector_cannot_open_another_collectors_case(log_in, collector, desk_cases):
    """(c) Another collector's case is not found: the same 404 as a case that does not exist."""
    page = log_in(collector)
    theirs = desk_cases["theirs"]
    response = page.goto(case_url(theirs))
    assert response.status == 404
    assert theirs.loan.borrower.name not in page.content()
    assert theirs.loan.account_number not in page.content()
    assert page.goto(reverse("collection:case", args=[theirs.pk + 1000])).status == 404


def test_the_workspace_pages_have_no_serious_accessibility_violation(log_in, collector, desk_cases):
    """(d) axe on the queue (plain and filtered) and the case page (every action open, the
    timeline loaded, a form's errors shown). The login page: test_login.py."""
    page = log_in(collector)
    assert_no_blocking_violations(page)
    page.goto(reverse("collection:queue") + "?no_contact_7d=1&q=nobody")
    expect(page.locator("#queue-title")).to_be_visible()
    assert_no_blocking_violations(page)

    page.goto(case_url(desk_cases["top"]))
    wait_for_timeline(page)
    for panel in page.locator("details.action").all():
        panel.evaluate("details => details.open = true")
    assert_no_blocking_violations(page)

    promise = action(page, "promise")
    promise.get_by_role("button", name=gettext("Record promise")).click()
    expect(promise.locator("ul.errorlist").first).to_be_visible()
    wait_for_timeline(page)
    assert_no_blocking_violations(page)


def test_the_keyboard_shortcuts_open_the_next_case_and_the_forms(log_in, collector, desk_cases):
    """(e) N opens the next case; on the case page A goes to the attempt form, P to the promise."""
    page = log_in(collector)
    with page.expect_navigation():
        page.keyboard.press("n")
    assert page.url.endswith(case_url(desk_cases["top"]))
    wait_for_timeline(page)

    page.keyboard.press("p")
    expect(page.locator("#action-promise")).to_have_attribute("open", "")
    expect(page.locator("#action-promise [name=amount]")).to_be_focused()
    page.evaluate("document.activeElement.blur()")  # out of the field: shortcuts are off while typing
    page.keyboard.press("a")
    expect(page.locator("#action-attempt [name=contact]")).to_be_focused()
    page.keyboard.press("n")  # in a field: a letter is typing, not a shortcut
    assert page.url.endswith(case_url(desk_cases["top"]))


def test_the_confirmation_of_an_action_is_in_the_users_language(log_in, collector):
    case = working_case(days_past_due=30, zone=day_zone())
    page = log_in(collector)
    for language in ("zh-hans", "en"):
        page.context.add_cookies([{"name": "django_language", "value": language, "url": page.url}])
        page.goto(case_url(case))
        wait_for_timeline(page)
        note = action(page, "note")
        note.locator("[name=text]").fill("借款人下午再联系")
        note.locator("button[type=submit]").click()
        with translation.override(language):
            expected = gettext("Note added.")
        expect(page.locator("#case .messages li.success")).to_have_text(expected, timeout=3_000)
