"""The team board and a bulk reassignment in a real browser: a supervisor opens the board, goes to
the team's cases, filters them, ticks several, moves them balanced over the team with a reason,
confirms, and sees who holds them now; axe on each page."""

from decimal import Decimal

from django.urls import reverse
from django.utils.translation import gettext
from playwright.sync_api import expect

from collection.models import CaseAssignment, CollectionCase
from loans.models import Loan
from tests.accounts.factories import UserFactory
from tests.browser.a11y import assert_no_blocking_violations
from tests.browser.desk import day_zone, working_case


def test_a_supervisor_reassigns_a_filtered_selection_balanced_over_the_team(log_in, collector, supervisor):
    team = supervisor.supervised_teams.get()
    amy = UserFactory(username="amy", last_name="王", first_name="小美", roles=["collector"])
    bo = UserFactory(username="bo", last_name="李", first_name="博", roles=["collector"])
    team.members.add(amy, bo)
    zone = day_zone()
    mine = [
        working_case(days_past_due=days, zone=zone, name=name)
        for days, name in ((70, "欧阳春晓"), (40, "慕容秋水"), (10, "上官云飞"))
    ]
    for case, overdue in zip(mine, ("900.00", "500.00", "100.00"), strict=True):
        Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal(overdue))
    working_case(days_past_due=20, zone=zone, name="司马长风", assigned_to=amy)

    page = log_in(supervisor)
    page.goto(reverse("supervision:team"))
    board = page.locator("table.team-board tbody")
    expect(board.locator("tr")).to_have_count(3)
    expect(board).to_contain_text("王小美")
    expect(board).to_contain_text(collector.get_full_name())
    assert_no_blocking_violations(page)

    # To the team's cases, filtered to the collector's own.
    with page.expect_navigation():
        page.get_by_role("link", name=gettext("The team's cases: filter and reassign")).click()
    page.locator("#id_collector").select_option(str(collector.pk))
    with page.expect_navigation():
        page.get_by_role("button", name=gettext("Apply")).click()
    rows = page.locator("table.team-cases tbody tr")
    expect(rows).to_have_count(3)
    assert_no_blocking_violations(page)

    # Tick the two largest, balanced over the team, with a reason.
    for case in mine[:2]:
        page.locator(f"#case-{case.pk}").check()
    assert page.locator("select[name=to]").input_value() == ""  # balanced
    page.locator("textarea[name=reason]").fill("收款员休假，分给组内其他人")
    with page.expect_navigation():
        page.get_by_role("button", name=gettext("Review the move")).click()

    # The confirmation: how many, how much, to whom; nothing moved yet.
    summary = page.locator("#move-summary")
    expect(summary).to_contain_text("¥1,400.00")
    expect(page.locator("main table")).to_contain_text("李博")  # bo carries least
    assert not CaseAssignment.objects.exists()
    assert_no_blocking_violations(page)
    with page.expect_navigation():
        page.get_by_role("button", name=gettext("Confirm and move")).click()

    # The cases just moved, with who holds them now.
    expect(page.locator(".messages li.success")).to_have_count(1)
    moved = page.locator("table.team-cases tbody tr")
    expect(moved).to_have_count(2)
    holders = moved.locator("td.collector").all_inner_texts()
    assert not any(collector.get_full_name() in text for text in holders)
    assert all("李博" in text or "王小美" in text for text in holders)
    assert set(
        CollectionCase.objects.filter(pk__in=[c.pk for c in mine[:2]]).values_list("assigned_to", flat=True)
    ) <= {
        amy.pk,
        bo.pk,
    }
    assert CollectionCase.objects.get(pk=mine[2].pk).assigned_to == collector
    assert set(CaseAssignment.objects.values_list("reason", flat=True)) == {"收款员休假，分给组内其他人"}
    assert_no_blocking_violations(page)
