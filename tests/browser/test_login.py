"""The login page in a real browser: it logs a user in, and axe finds nothing serious on it."""

from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.a11y import assert_no_blocking_violations


def test_login_page_has_no_serious_accessibility_violation(page):
    page.goto(reverse("login"))
    assert_no_blocking_violations(page)


def test_a_wrong_password_keeps_the_user_on_the_login_page_with_an_error(page, collector):
    page.goto(reverse("login"))
    page.locator("#id_username").fill(collector.username)
    page.locator("#id_password").fill("not the password")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert page.url.endswith(reverse("login"))
    assert page.locator("ul.errorlist").is_visible()
    assert_no_blocking_violations(page)


def test_a_user_logs_in_through_the_form(log_in, collector):
    page = log_in(collector)
    expect(page.locator("header .person")).to_contain_text(collector.get_full_name())
