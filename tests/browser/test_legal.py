"""The legal track in a real browser: a legal officer walks a legal case from `preparing` to
`closed` on its page, through a lawyer's letter, the suit (the claim and the filing fee computed),
a hearing, the judgment, enforcement and one receipt that pays the loan off; axe on each step, the
queue and the supervisor's legal portfolio included; and a freeze released (a refused day shown
beside it first) and a hearing the court moved."""

import datetime
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from legal.limitation import limitation_flags_set
from legal.machine import LegalState
from legal.models import Enforcement, FrozenAsset, Hearing, LegalCase, LegalCost
from loans.models import Loan
from tests.browser.a11y import assert_no_blocking_violations
from tests.collection.factories import at
from tests.legal.factories import CourtFactory, LawFirmFactory, legal_case_in


def _act(page, action: str, fields: dict[str, str], *, selects: dict[str, str] | None = None) -> None:
    """Open the action's panel, fill it in and submit it; htmx swaps the case in place."""
    panel = page.locator(f"#action-{action}")
    panel.locator("summary").click()
    for name, value in fields.items():
        panel.locator(f"[name={name}]").fill(value)
    for name, value in (selects or {}).items():
        panel.locator(f"select[name={name}]").select_option(value)
    panel.locator("button[type=submit]").click()


def test_a_legal_officer_walks_a_case_from_preparing_to_closed(log_in, legal_officer, supervisor, collector):
    legal_case = legal_case_in(LegalState.PREPARING)
    loan = legal_case.case.loan
    firm = LawFirmFactory(name="上海明理律师事务所")
    court = CourtFactory(name="上海市浦东新区人民法院")
    today = timezone.localdate()
    day = today - datetime.timedelta(days=40)

    page = log_in(legal_officer)
    page.goto(reverse("legal:queue"))
    expect(page.locator(f"#legal-case-{legal_case.pk}")).to_contain_text(loan.borrower.name)
    assert_no_blocking_violations(page)
    page.locator(f"#legal-case-{legal_case.pk} a").click()
    expect(page.locator("#legal-state")).to_have_text(str(LegalState.PREPARING.label))
    assert_no_blocking_violations(page)

    state = page.locator("#legal-state")
    _act(
        page, "letter", {"number": "明理律函〔2026〕88号", "sent_on": f"{day:%Y-%m-%d}"}, selects={"firm": str(firm.pk)}
    )
    expect(state).to_have_text(str(LegalState.LETTER_SENT.label))
    expect(page.locator("#letters-title")).to_be_visible()

    _act(
        page,
        "suit",
        {"docket_number": "(2026)沪0115民初1234号", "filed_on": f"{day + datetime.timedelta(days=5):%Y-%m-%d}"},
        selects={"court": str(court.pk), "procedure": "simplified"},
    )
    expect(state).to_have_text(str(LegalState.FILED.label))
    expect(page.locator("table.claim")).to_contain_text("¥")
    assert_no_blocking_violations(page)

    _act(
        page,
        "hearing",
        {"held_at": f"{day + datetime.timedelta(days=20):%Y-%m-%d}T09:30", "place": "第三法庭"},
    )
    expect(state).to_have_text(str(LegalState.IN_HEARING.label))

    _act(
        page,
        "judgment",
        {
            "ruled_on": f"{day + datetime.timedelta(days=21):%Y-%m-%d}",
            "awarded_amount": str(loan.total_outstanding),
            "costs_awarded": "25.00",
            "served_on": f"{day + datetime.timedelta(days=22):%Y-%m-%d}",
            "effective_on": f"{day + datetime.timedelta(days=38):%Y-%m-%d}",
        },
    )
    expect(state).to_have_text(str(LegalState.JUDGMENT.label))

    _act(
        page,
        "enforcement",
        {"applied_on": f"{today:%Y-%m-%d}", "amount_applied": str(loan.total_outstanding)},
        selects={"court": str(court.pk)},
    )
    expect(state).to_have_text(str(LegalState.ENFORCEMENT.label))
    assert_no_blocking_violations(page)

    _act(
        page,
        "receipt",
        {"received_on": f"{today:%Y-%m-%d}", "amount": str(loan.total_outstanding), "reference": "FY-2026-1"},
    )
    expect(page.locator("#enforcement-title").locator("..")).to_contain_text("FY-2026-1")

    _act(page, "close", {"reason": "执行款已全额到账"}, selects={"outcome": "paid"})
    expect(state).to_have_text(str(LegalState.CLOSED.label))
    expect(page.locator("#timeline")).to_contain_text("执行款已全额到账")
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/legal-case-closed.png", full_page=True)

    legal_case = LegalCase.objects.get(pk=legal_case.pk)
    assert (legal_case.state, legal_case.outcome) == (LegalState.CLOSED, "paid")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID_OFF
    assert set(LegalCost.objects.filter(legal_case=legal_case).values_list("kind", flat=True)) == {
        "court_fee",
        "enforcement_fee",
    }

    # The supervisor's legal portfolio counts it, closed, with what it recovered.
    page.context.clear_cookies()
    page = log_in(supervisor)
    page.goto(reverse("legal:portfolio"))
    expect(page.locator("#state-closed")).to_contain_text("1")
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/legal-portfolio.png", full_page=True)


def test_the_queue_shows_the_next_deadlines_and_the_limitation_flag(log_in, legal_officer):
    today = timezone.localdate()
    soon = legal_case_in(LegalState.IN_HEARING)
    Hearing.objects.create(
        legal_case=soon,
        held_at=at(today + datetime.timedelta(days=2), 9, 30),
        place="第三法庭",
        recorded_by=legal_officer,
    )
    flagged = legal_case_in(LegalState.LETTER_SENT)
    LegalCase.objects.filter(pk=flagged.pk).update(limitation_from=today - datetime.timedelta(days=3 * 365 - 30))
    limitation_flags_set(as_of=today)

    page = log_in(legal_officer)
    page.goto(reverse("legal:queue"))
    rows = page.locator("table.legal-list tbody tr")
    expect(rows.nth(0)).to_have_id(f"legal-case-{soon.pk}")
    expect(rows.nth(1)).to_have_id(f"legal-case-{flagged.pk}")
    expect(rows.nth(1).locator(".badge.bad")).to_be_visible()
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/legal-queue.png", full_page=True)

    rows.nth(0).locator("a").click()
    expect(page.locator("#next-deadline")).to_be_visible()
    expect(page.locator("#deadlines")).to_contain_text("09:30 第三法庭")
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/legal-case-deadlines.png", full_page=True)


def test_a_legal_officer_releases_a_freeze_and_moves_a_hearing(log_in, legal_officer):
    today = timezone.localdate()
    enforced = legal_case_in(LegalState.ENFORCEMENT)
    enforcement = Enforcement.objects.create(
        legal_case=enforced,
        court=CourtFactory(),
        applied_on=today - datetime.timedelta(days=120),
        amount_applied=Decimal("10000.00"),
        recorded_by=legal_officer,
    )
    account = FrozenAsset.objects.create(
        legal_case=enforced,
        enforcement=enforcement,
        kind=FrozenAsset.Kind.BANK_DEPOSIT,
        description="工商银行账户 6222****1234",
        frozen_on=today - datetime.timedelta(days=100),
        recorded_by=legal_officer,
    )
    heard = legal_case_in(LegalState.IN_HEARING)
    hearing = Hearing.objects.create(
        legal_case=heard,
        held_at=at(today + datetime.timedelta(days=2), 9, 30),
        place="第三法庭",
        recorded_by=legal_officer,
    )

    page = log_in(legal_officer)
    page.goto(reverse("legal:case", args=[enforced.pk]))
    expect(page.locator("#deadlines")).to_contain_text(account.description)
    # A day before the freeze is refused beside the day, the choice kept.
    _act(
        page,
        "freeze_release",
        {"released_on": f"{today - datetime.timedelta(days=101):%Y-%m-%d}"},
        selects={"frozen_asset": str(account.pk)},
    )
    expect(page.locator("#id_release_released_on_error")).to_contain_text(f"{account.frozen_on:%Y-%m-%d}")
    expect(page.locator("#action-freeze_release select[name=frozen_asset]")).to_have_value(str(account.pk))
    assert_no_blocking_violations(page)
    # caret="initial": hiding the caret of the focused field takes an inline style, which the CSP refuses.
    page.screenshot(path="/tmp/legal-freeze-release-refused.png", full_page=True, caret="initial")
    page.locator("#action-freeze_release [name=released_on]").fill(f"{today:%Y-%m-%d}")
    page.locator("#action-freeze_release button[type=submit]").click()
    expect(page.locator(f"#frozen-asset-{account.pk} td").nth(3)).to_contain_text(f"{today:%Y-%m-%d}")
    expect(page.locator("#deadlines")).to_have_count(0)
    expect(page.locator("#action-freeze_release")).to_have_count(0)
    expect(page.locator("#action-freeze_renew")).to_have_count(0)
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/legal-freeze-released.png", full_page=True)

    page.goto(reverse("legal:case", args=[heard.pk]))
    later = today + datetime.timedelta(days=30)
    _act(
        page,
        "hearing_reschedule",
        {"held_at": f"{later:%Y-%m-%d}T14:00", "place": "第五法庭", "reason": "法院通知延期"},
        selects={"hearing": str(hearing.pk)},
    )
    expect(page.locator("#deadlines")).to_contain_text("14:00 第五法庭")
    expect(page.locator("#hearings-title").locator("..")).to_contain_text(f"{later:%Y-%m-%d} 14:00")
    assert_no_blocking_violations(page)
    page.screenshot(path="/tmp/legal-hearing-moved.png", full_page=True)

    hearing.refresh_from_db()
    assert (hearing.held_at, hearing.place) == (at(later, 14, 0), "第五法庭")
