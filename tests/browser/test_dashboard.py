"""The dashboard in a real browser: a supervisor opens it, sees the rates and a chart drawn (inline
SVG, nothing from elsewhere: the Content-Security-Policy would report it), reads a definition,
changes the period with the filter form, and the page passes axe."""

from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from playwright.sync_api import expect

from collection.models import ContactAttempt
from loans.models import Loan, Payment
from tests.browser.a11y import assert_no_blocking_violations
from tests.browser.desk import day_zone, working_case

SCREENSHOT = "/tmp/dash-dashboard.png"


def test_a_supervisor_reads_the_dashboard_and_changes_the_period(log_in, collector, supervisor):
    zone = day_zone()
    cases = [
        working_case(days_past_due=days, zone=zone, name=name)
        for days, name in ((70, "欧阳春晓"), (40, "慕容秋水"), (10, "上官云飞"))
    ]
    now = timezone.now()
    for case, (amount, channel) in zip(
        cases, (("900.00", "app"), ("500.00", "bank_transfer"), ("120.00", "cash")), strict=True
    ):
        Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal(amount) * 2)
        Payment.objects.create(
            loan=case.loan, amount=Decimal(amount), received_at=now, channel=channel, reference=f"B-{case.pk}"
        )
        contact = case.loan.borrower.contacts.first()
        ContactAttempt.objects.create(
            case=case, contact=contact, channel="call", attempted_at=now, outcome="rpc", collector=collector
        )

    page = log_in(supervisor)
    page.goto(reverse("dashboard:index"))

    expect(page.get_by_role("heading", level=1)).to_contain_text(gettext("Dashboard"))
    expect(page.locator("[data-figure=rpc_rate]")).to_have_text("100.0%")
    chart = page.locator("#chart-channel-title").locator("xpath=..")
    expect(chart.locator("rect")).to_have_count(3)
    assert chart.locator("rect").first.bounding_box()["width"] > 100  # the largest bar is drawn long
    expect(page.locator("#table-by-stage")).to_contain_text("¥1,520.00")
    # A definition, one click (or hover) away.
    definition = page.locator("details.definition").first
    definition.locator("summary").click()
    expect(definition.locator("p")).to_be_visible()
    assert_no_blocking_violations(page)
    page.screenshot(path=SCREENSHOT, full_page=True)

    # The last 90 days, through the form.
    page.locator("#id_period").select_option("last_90")
    with page.expect_navigation():
        page.get_by_role("button", name=gettext("Show")).click()
    assert "period=last_90" in page.url
    expect(page.locator("#table-by-channel tbody tr")).to_have_count(3)
    assert_no_blocking_violations(page)
