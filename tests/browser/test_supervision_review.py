"""The escalation review in a real browser: a collector's request waits on the supervisor's review
page with its case in view; the supervisor approves it with a reason from its row, the row goes,
and the case page shows the case in the next stage with the decision on its timeline; axe on
each page, the plans page included."""

from decimal import Decimal

from django.urls import reverse
from django.utils.translation import gettext
from playwright.sync_api import expect

from collection.machine import Stage
from collection.models import CollectionCase, EscalationRequest
from collection.services import escalation_request_create
from loans.models import Loan
from tests.browser.a11y import assert_no_blocking_violations
from tests.browser.desk import day_zone, working_case
from tests.collection.test_plans import case_in_arrears, propose


def test_a_supervisor_approves_an_escalation_from_the_review_page_and_sees_the_case_move(log_in, collector, supervisor):
    zone = day_zone()
    case = working_case(days_past_due=35, zone=zone, name="欧阳春晓")
    Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal("1234.00"))
    other = working_case(days_past_due=12, zone=zone, name="慕容秋水")
    request = escalation_request_create(
        case=case, target_stage=Stage.ESCALATION, reason="三次承诺未兑现，拒接电话", by=collector
    )
    escalation_request_create(case=other, target_stage=Stage.ESCALATION, reason="规则：逾期31天", by=None)

    page = log_in(supervisor)
    page.goto(reverse("supervision:escalations"))
    rows = page.locator("table.review-list tbody tr")
    expect(rows).to_have_count(2)
    row = page.locator(f"#request-{request.pk}")
    expect(row).to_contain_text("欧阳春晓")
    expect(row).to_contain_text("¥1,234.00")
    expect(row).to_contain_text("三次承诺未兑现，拒接电话")
    expect(row).to_contain_text(collector.get_full_name())
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/review-escalations.png", full_page=True)

    row.locator("textarea[name=reason]").fill("同意升级")
    with page.expect_navigation():
        row.get_by_role("button", name=gettext("Approve")).click()

    expect(page.locator(".messages li.success")).to_have_count(1)
    expect(page.locator("table.review-list tbody tr")).to_have_count(1)
    expect(page.locator(f"#request-{request.pk}")).to_have_count(0)
    assert_no_blocking_violations(page)
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_reason) == (
        EscalationRequest.Status.APPROVED,
        supervisor,
        "同意升级",
    )
    assert CollectionCase.objects.get(pk=case.pk).stage == Stage.ESCALATION

    # The case page: the next stage, and the decision on the timeline.
    page.goto(reverse("collection:case", args=[case.pk]))
    expect(page.locator(".case-head .badge").first).to_have_text(str(Stage.ESCALATION.label))
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("同意升级")
    expect(timeline).to_contain_text(supervisor.get_full_name())
    assert_no_blocking_violations(page)

    # The rule's proposal, ticked for a bulk rejection: the confirmation first, nothing decided.
    page.goto(reverse("supervision:escalations"))
    page.locator("table.review-list tbody input[type=checkbox]").check()
    page.locator("#bulk-form select[name=decision]").select_option("reject")
    page.locator("#bulk-form textarea[name=reason]").fill("先再联系一次")
    with page.expect_navigation():
        page.get_by_role("button", name=gettext("Review the decision")).click()
    expect(page.locator("#decision-summary")).to_contain_text("¥")
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/review-confirm.png", full_page=True)
    assert EscalationRequest.objects.filter(status=EscalationRequest.Status.PENDING).count() == 1

    # A plan beyond policy, with the limit it exceeds marked.
    propose(case_in_arrears(), collector, waive="100.00")
    page.goto(reverse("supervision:plans"))
    expect(page.locator("table.plans-list li.exceeded")).to_have_count(1)
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/review-plans.png", full_page=True)
