"""The legal pages per role: the queue and a legal case for legal officers, supervisors (their
teams' cases) and admins; collectors and another team's supervisor are told they do not exist;
the portfolio for supervisors and admins. The case page's actions: offered by state and
permission, refused in words, a stale copy refused as a conflict. Query counts pinned. In English."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from legal.machine import LegalState
from legal.models import EnforcementReceipt, FrozenAsset, Hearing, Judgment, LegalCase, LegalCost, LimitationEvent
from loans.services import payment_record
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import at
from tests.legal.factories import CourtFactory, LawFirmFactory, legal_case_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

NOV_1 = datetime.date(2026, 11, 1)
QUEUE = "/legal/"
PORTFOLIO = "/legal/portfolio/"


def logged_in(client, user):
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def case_url(legal_case) -> str:
    return f"/legal/{legal_case.pk}/"


def act_url(legal_case, action: str) -> str:
    return f"/legal/{legal_case.pk}/{action}/"


@pytest.fixture
def ours(supervisor, collector):
    return legal_case_in(LegalState.PREPARING)


@pytest.fixture
def theirs(db):
    other = UserFactory(roles=["supervisor"])
    return legal_case_in(LegalState.FILED, team=TeamFactory(supervisor=other), assigned_to=None)


# --- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "queue", "our_case", "their_case", "portfolio"),
    [
        ("legal_officer", 200, 200, 200, 404),
        ("supervisor", 200, 200, 404, 200),
        ("admin", 200, 200, 200, 200),
        ("collector", 404, 404, 404, 404),
    ],
)
def test_each_role_opens_what_it_may(
    client, ours, theirs, supervisor, collector, role, queue, our_case, their_case, portfolio
):
    user = {"supervisor": supervisor, "collector": collector}.get(role) or UserFactory(roles=[role])
    logged_in(client, user)

    assert client.get(QUEUE).status_code == queue
    assert client.get(case_url(ours)).status_code == our_case
    assert client.get(case_url(theirs)).status_code == their_case
    assert client.get(PORTFOLIO).status_code == portfolio


def test_a_visitor_not_logged_in_is_sent_to_log_in(client, ours):
    for url in (QUEUE, case_url(ours), PORTFOLIO):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_legal_officer_lands_on_the_legal_cases(client, legal_officer):
    response = logged_in(client, legal_officer).get("/")
    assert response.status_code == 302 and response["Location"] == QUEUE


def test_the_queue_lists_the_cases_masked_and_filters_by_state_and_court(client, ours, theirs, legal_officer):
    court = CourtFactory(name="杭州互联网法院")
    theirs.filings.create(
        court=court,
        docket_number="(2026)浙0192民初1号",
        filed_on=datetime.date(2026, 11, 2),
        claimed_principal=Decimal("1000.00"),
        claimed_interest=Decimal("10.00"),
        claimed_fees=Decimal("0.00"),
        claimed_penalty=Decimal("5.00"),
        claimed_costs=Decimal("0.00"),
        claimed_amount=Decimal("1015.00"),
        recorded_by=legal_officer,
    )
    logged_in(client, legal_officer)

    page = client.get(QUEUE).content.decode()
    borrower = ours.case.loan.borrower
    assert borrower.name in page and borrower.masked_national_id in page
    assert borrower.national_id not in page
    assert "(2026)浙0192民初1号" in page and "¥1,015.00" in page

    filed = client.get(QUEUE, {"state": "filed"}).content.decode()
    assert f"legal-case-{theirs.pk}" in filed and f"legal-case-{ours.pk}" not in filed
    at_court = client.get(QUEUE, {"court": court.pk}).content.decode()
    assert f"legal-case-{theirs.pk}" in at_court and f"legal-case-{ours.pk}" not in at_court
    assert client.get(QUEUE, {"state": "nonsense"}).status_code == 400


# --- the actions ---------------------------------------------------------------------------------


def test_a_legal_officer_sends_the_lawyers_letter_from_the_case_page(client, ours, legal_officer):
    firm = LawFirmFactory()
    logged_in(client, legal_officer)

    page = client.get(case_url(ours)).content.decode()
    assert 'id="action-letter"' in page and 'id="action-judgment"' not in page and 'id="action-withdraw"' not in page
    response = client.post(
        act_url(ours, "letter"),
        {"number": "LS-2026-001", "firm": firm.pk, "sent_on": "2026-11-20", "reason": "No reply to notices"},
    )

    assert response.status_code == 302 and response["Location"] == case_url(ours)
    ours.refresh_from_db()
    assert ours.state == LegalState.LETTER_SENT and ours.firm == firm
    assert ours.limitation_from == datetime.date(2026, 11, 20)
    assert LimitationEvent.objects.get(legal_case=ours).kind == "demand"
    page = client.get(case_url(ours)).content.decode()
    assert "LS-2026-001" in page and "The lawyer&#x27;s letter is recorded." in page


def test_a_form_with_errors_is_shown_again_with_them_and_nothing_changes(client, ours, legal_officer):
    logged_in(client, legal_officer)

    response = client.post(act_url(ours, "letter"), {"number": "", "sent_on": "2099-01-01"})

    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    ours.refresh_from_db()
    assert ours.state == LegalState.PREPARING


def test_a_letter_dated_in_the_future_is_refused_in_words(client, ours, legal_officer):
    logged_in(client, legal_officer)

    response = client.post(
        act_url(ours, "letter"), {"number": "LS-1", "firm": LawFirmFactory().pk, "sent_on": "2099-01-01"}
    )

    assert response.status_code == 422
    assert "The day the letter was sent cannot be a day still to come." in response.content.decode()
    ours.refresh_from_db()
    assert ours.state == LegalState.PREPARING and not ours.letters.exists()


def test_an_action_not_open_now_is_refused(client, ours, legal_officer):
    logged_in(client, legal_officer)

    assert client.post(act_url(ours, "judgment"), {}).status_code == 403
    assert client.post(act_url(ours, "withdraw"), {"reason": "x"}).status_code == 403
    assert client.post(act_url(ours, "no-such-action"), {}).status_code == 404
    ours.refresh_from_db()
    assert ours.state == LegalState.PREPARING


def test_a_supervisor_withdraws_their_teams_case_with_a_reason(client, ours, supervisor):
    logged_in(client, supervisor)

    assert client.post(act_url(ours, "withdraw"), {"reason": ""}).status_code == 422
    response = client.post(act_url(ours, "withdraw"), {"reason": "Borrower deceased"})

    assert response.status_code == 302
    ours.refresh_from_db()
    assert (ours.state, ours.outcome) == (LegalState.CLOSED, "withdrawn")


def test_a_collector_cannot_act_on_a_legal_case(client, ours, collector):
    logged_in(client, collector)

    assert client.post(act_url(ours, "letter"), {"number": "x"}).status_code == 404
    ours.refresh_from_db()
    assert ours.state == LegalState.PREPARING


def test_a_decision_on_a_case_someone_else_moved_first_is_a_conflict(client, ours, legal_officer):
    firm = LawFirmFactory()
    logged_in(client, legal_officer)
    client.get(case_url(ours))
    # Someone else starts mediation meanwhile; this officer's page still offers the letter.
    LegalCase.objects.filter(pk=ours.pk).update(state=LegalState.MEDIATION)

    response = client.post(act_url(ours, "letter"), {"number": "LS-9", "firm": firm.pk, "sent_on": "2026-11-20"})

    assert response.status_code == 403  # the letter is not open in mediation
    ours.refresh_from_db()
    assert ours.state == LegalState.MEDIATION and not ours.letters.exists()


# --- the portfolio -------------------------------------------------------------------------------


def test_the_portfolio_sums_claims_awards_recoveries_and_costs_per_state(
    client, ours, theirs, desk_admin, legal_officer
):
    court = CourtFactory()
    enforced = legal_case_in(LegalState.ENFORCEMENT)
    enforcement = enforced.enforcements.create(
        court=court, applied_on=datetime.date(2026, 11, 1), amount_applied=Decimal("900.00"), recorded_by=legal_officer
    )
    payment = payment_record(
        loan=enforced.case.loan,
        amount=Decimal("300.00"),
        received_at=datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC),
        reference="ENF-1",
        channel="bank_transfer",
        source="court_enforcement",
    )
    EnforcementReceipt.objects.create(
        legal_case=enforced,
        enforcement=enforcement,
        received_on=datetime.date(2026, 11, 20),
        amount=Decimal("300.00"),
        payment=payment,
        recorded_by=legal_officer,
    )
    for legal_case, amount, borne_by in (
        (enforced, "50.00", "borrower"),
        (enforced, "200.00", "desk"),
        (ours, "80.00", "desk"),
    ):
        LegalCost.objects.create(
            legal_case=legal_case,
            kind="counsel",
            amount=Decimal(amount),
            incurred_on=datetime.date(2026, 11, 5),
            borne_by=borne_by,
            recorded_by=legal_officer,
        )
    enforced.judgments.create(
        ruled_on=datetime.date(2026, 10, 1),
        awarded_amount=Decimal("1100.00"),
        costs_awarded=Decimal("50.00"),
        recorded_by=legal_officer,
    )

    page = logged_in(client, desk_admin).get(PORTFOLIO).content.decode()

    row = page.split('id="state-enforcement"')[1].split("</tr>")[0]
    # cases, claimed, awarded, recovered, costs, the desk's costs, net (300 - 250)
    assert [cell.split(">")[-1] for cell in row.split("</td>")[:-1]] == [
        "1",
        "¥0.00",
        "¥1,100.00",
        "¥300.00",
        "¥250.00",
        "¥200.00",
        "¥50.00",
    ]
    total = page.split('id="state-total"')[1].split("</tr>")[0]
    assert ">3<" in total and "¥330.00" in total  # three cases; costs 250 + 80


# --- what a page costs ---------------------------------------------------------------------------

QUEUE_READS = 12  # the page's collection cases, loans and borrowers in a query of their own
# The deadlines read the frozen assets of the case once more; the forms releasing and renewing a
# freeze each list the freezes in force (one query each: a choice field reads its own queryset).
CASE_READS = 30


def test_the_queue_reads_the_same_few_times_whatever_the_number_of_cases(
    client, legal_officer, django_assert_max_num_queries
):
    for _ in range(6):
        legal_case_in(LegalState.FILED, assigned_to=None)
    logged_in(client, legal_officer)

    with django_assert_max_num_queries(QUEUE_READS):
        assert client.get(QUEUE).status_code == 200


def test_the_case_page_reads_the_same_few_times_whatever_its_records(
    client, legal_officer, django_assert_max_num_queries
):
    legal_case = legal_case_in(LegalState.ENFORCEMENT)
    court = CourtFactory()
    for number in range(3):
        enforcement = legal_case.enforcements.create(
            court=court,
            applied_on=datetime.date(2026, 11, 1),
            amount_applied=Decimal("10.00"),
            recorded_by=legal_officer,
        )
        enforcement.frozen_assets.create(
            legal_case=legal_case,
            kind="bank_deposit",
            description=f"account {number}",
            frozen_on=datetime.date(2026, 11, 2),
            recorded_by=legal_officer,
        )
        LegalCost.objects.create(
            legal_case=legal_case,
            kind="other",
            amount=Decimal("1.00"),
            incurred_on=datetime.date(2026, 11, 3),
            recorded_by=legal_officer,
        )
    logged_in(client, legal_officer)

    with django_assert_max_num_queries(CASE_READS):
        assert client.get(case_url(legal_case)).status_code == 200


# --- the queue by next deadline ------------------------------------------------------------------


def test_the_queue_puts_the_nearest_deadline_first_an_overdue_one_before_all(client, legal_officer):
    today = timezone.localdate()
    later = legal_case_in(LegalState.PREPARING)  # the limitation period, years off
    hearing = legal_case_in(LegalState.IN_HEARING)
    Hearing.objects.create(
        legal_case=hearing,
        held_at=at(today + datetime.timedelta(days=3), 9, 30),
        place="第1法庭",
        recorded_by=legal_officer,
    )
    overdue = legal_case_in(LegalState.JUDGMENT)
    Judgment.objects.create(
        legal_case=overdue,
        ruled_on=today - datetime.timedelta(days=20),
        served_on=today - datetime.timedelta(days=17),
        awarded_amount=Decimal("1000.00"),
        costs_awarded=Decimal("0.00"),
        recorded_by=legal_officer,
    )
    without = legal_case_in(LegalState.ENFORCEMENT)  # nothing to watch
    closed = legal_case_in(LegalState.CLOSED)
    LegalCase.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    logged_in(client, legal_officer)

    page = client.get(QUEUE).content.decode()

    order = [
        page.index(f'id="legal-case-{legal_case.pk}"') for legal_case in (overdue, hearing, later, without, closed)
    ]
    assert order == sorted(order)
    row = page.split(f'id="legal-case-{overdue.pk}"')[1].split("</tr>")[0]
    assert "2 days overdue" in row and "Appeal period of the judgment" in row
    row = page.split(f'id="legal-case-{hearing.pk}"')[1].split("</tr>")[0]
    assert "in 3 days" in row and "Hearing" in row

    case_page = client.get(case_url(hearing)).content.decode()
    next_one = case_page.split('id="next-deadline"')[1].split("</span></span>")[0]
    assert "Hearing" in next_one and "in 3 days" in next_one
    deadlines = case_page.split('id="deadlines"')[1].split("</table>")[0]
    assert "09:30 第1法庭" in deadlines and "Limitation period" not in deadlines


# --- a freeze released or renewed, a hearing moved -------------------------------------------------


def enforced_with_a_freeze(officer, *, frozen_on: datetime.date) -> tuple[LegalCase, FrozenAsset]:
    """A legal case in enforcement, `officer`'s, on the desk's team, with a bank deposit frozen."""
    legal_case = legal_case_in(LegalState.ENFORCEMENT)
    LegalCase.objects.filter(pk=legal_case.pk).update(officer=officer)
    enforcement = legal_case.enforcements.create(
        court=CourtFactory(), applied_on=frozen_on, amount_applied=Decimal("1000.00"), recorded_by=officer
    )
    freeze = enforcement.frozen_assets.create(
        legal_case=legal_case,
        kind="bank_deposit",
        description="工商银行账户 6222****1234",
        frozen_on=frozen_on,
        recorded_by=officer,
    )
    return legal_case, freeze


def in_hearing_with(officer, *, held_at: datetime.datetime) -> tuple[LegalCase, Hearing]:
    legal_case = legal_case_in(LegalState.IN_HEARING)
    LegalCase.objects.filter(pk=legal_case.pk).update(officer=officer)
    hearing = Hearing.objects.create(legal_case=legal_case, held_at=held_at, place="第三法庭", recorded_by=officer)
    return legal_case, hearing


def days_from_today(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


# The legal officer of the case and a legal officer of another case act (the legal department
# works the whole legal portfolio: legal/access.py); the supervisor of the case's team sees the
# case but does not work it (legal.work_legal_case is the legal officers' and admins'), so is not
# offered the action and is refused it; a collector is told the case does not exist.
ROLES = [("its legal officer", 302), ("another legal officer", 302), ("supervisor", 403), ("collector", 404)]


def refused(status: int, page, response) -> bool:
    """For a role that may not act: the page and the post refused as `status` says."""
    if status == 404:
        assert page.status_code == response.status_code == 404
    else:
        assert page.status_code == 200 and response.status_code == 403
        assert 'id="action-freeze_' not in page.content.decode()
        assert 'id="action-hearing_reschedule"' not in page.content.decode()
    return True


def user_in(role, legal_officer, supervisor, collector):
    return {
        "its legal officer": legal_officer,
        "another legal officer": UserFactory(roles=["legal_officer"]),
        "supervisor": supervisor,
        "collector": collector,
    }[role]


@pytest.mark.parametrize(("role", "status"), ROLES)
def test_who_may_work_the_case_releases_a_freeze_from_its_page(
    client, legal_officer, supervisor, collector, role, status
):
    legal_case, freeze = enforced_with_a_freeze(legal_officer, frozen_on=days_from_today(-100))
    logged_in(client, user_in(role, legal_officer, supervisor, collector))

    page = client.get(case_url(legal_case))
    response = client.post(
        act_url(legal_case, "freeze_release"), {"frozen_asset": freeze.pk, "released_on": days_from_today(-1)}
    )

    freeze.refresh_from_db()
    if status != 302 and refused(status, page, response):
        assert freeze.released_on is None
        return
    content = page.content.decode()
    assert 'id="action-freeze_release"' in content and 'id="action-freeze_renew"' in content
    assert response.status_code == 302 and response["Location"] == case_url(legal_case)
    assert freeze.released_on == days_from_today(-1)
    content = client.get(case_url(legal_case)).content.decode()
    assert "The release is recorded; the freeze no longer needs renewing." in content
    assert f"Released on {days_from_today(-1):%Y-%m-%d}" in content.split(f'id="frozen-asset-{freeze.pk}"')[1]
    # A released freeze offers neither release nor renewal, nor is a deadline any more.
    assert 'id="action-freeze_release"' not in content and 'id="action-freeze_renew"' not in content
    assert 'id="deadlines"' not in content


@pytest.mark.parametrize(("role", "status"), ROLES)
def test_who_may_work_the_case_renews_a_freeze_from_its_page(
    client, legal_officer, supervisor, collector, role, status
):
    legal_case, freeze = enforced_with_a_freeze(legal_officer, frozen_on=days_from_today(-360))
    logged_in(client, user_in(role, legal_officer, supervisor, collector))

    page = client.get(case_url(legal_case))
    response = client.post(
        act_url(legal_case, "freeze_renew"), {"frozen_asset": freeze.pk, "renewed_on": days_from_today(-1)}
    )

    renewals = FrozenAsset.objects.filter(legal_case=legal_case).exclude(pk=freeze.pk)
    if status != 302 and refused(status, page, response):
        assert not renewals.exists()
        return
    assert response.status_code == 302
    renewal = renewals.get()
    assert (renewal.description, renewal.frozen_on) == (freeze.description, days_from_today(-1))
    content = client.get(case_url(legal_case)).content.decode()
    assert "Renewed" in content.split(f'id="frozen-asset-{freeze.pk}"')[1].split("</tr>")[0]
    assert "In force" in content.split(f'id="frozen-asset-{renewal.pk}"')[1].split("</tr>")[0]
    deadlines = content.split('id="deadlines"')[1].split("</table>")[0]
    assert f"{renewal.expires_on:%Y-%m-%d}" in deadlines and f"{freeze.expires_on:%Y-%m-%d}" not in deadlines


@pytest.mark.parametrize(("role", "status"), ROLES)
def test_who_may_work_the_case_moves_a_hearing_from_its_page(
    client, legal_officer, supervisor, collector, role, status
):
    legal_case, hearing = in_hearing_with(legal_officer, held_at=at(days_from_today(3), 9, 30))
    logged_in(client, user_in(role, legal_officer, supervisor, collector))

    page = client.get(case_url(legal_case))
    response = client.post(
        act_url(legal_case, "hearing_reschedule"),
        {
            "hearing": hearing.pk,
            "held_at": f"{days_from_today(30):%Y-%m-%d}T14:00",
            "place": "第五法庭",
            "reason": "法院通知延期",
        },
    )

    hearing.refresh_from_db()
    if status != 302 and refused(status, page, response):
        assert hearing.held_at == at(days_from_today(3), 9, 30)
        return
    assert 'id="action-hearing_reschedule"' in page.content.decode()
    assert response.status_code == 302
    assert (hearing.held_at, hearing.place) == (at(days_from_today(30), 14, 0), "第五法庭")
    content = client.get(case_url(legal_case)).content.decode()
    assert "The hearing is moved; its deadline follows the new day." in content
    assert "14:00 第五法庭" in content.split('id="deadlines"')[1].split("</table>")[0]


def test_a_hearing_with_its_result_is_not_offered_for_moving(client, legal_officer):
    legal_case, hearing = in_hearing_with(legal_officer, held_at=at(days_from_today(-3), 9, 30))
    Hearing.objects.filter(pk=hearing.pk).update(result="择期宣判")
    logged_in(client, legal_officer)

    content = client.get(case_url(legal_case)).content.decode()
    response = client.post(
        act_url(legal_case, "hearing_reschedule"),
        {"hearing": hearing.pk, "held_at": f"{days_from_today(30):%Y-%m-%d}T14:00"},
    )

    assert 'id="action-hearing_reschedule"' not in content
    assert response.status_code == 422
    assert "This hearing has its result recorded: it can no longer be moved." in response.content.decode()
    hearing.refresh_from_db()
    assert hearing.held_at == at(days_from_today(-3), 9, 30)


def test_a_freeze_released_since_the_page_was_read_is_refused_on_its_field_keeping_what_was_typed(
    client, legal_officer
):
    legal_case, freeze = enforced_with_a_freeze(legal_officer, frozen_on=days_from_today(-100))
    logged_in(client, legal_officer)
    client.get(case_url(legal_case))
    # Someone else records the release meanwhile; this officer's page still offers the freeze.
    FrozenAsset.objects.filter(pk=freeze.pk).update(released_on=days_from_today(-2))

    response = client.post(
        act_url(legal_case, "freeze_renew"), {"frozen_asset": freeze.pk, "renewed_on": days_from_today(-1)}
    )

    assert response.status_code == 422
    form = response.content.decode().split('id="action-freeze_renew"')[1].split("</details>")[0]
    error = form.split('id="id_renew_frozen_asset_error"')[1].split("</ul>")[0]
    assert "This freeze is no longer in force: it was released or renewed." in error
    assert f'value="{days_from_today(-1):%Y-%m-%d}"' in form
    assert not FrozenAsset.objects.exclude(pk=freeze.pk).exists()


def test_a_release_day_the_service_refuses_is_shown_beside_the_day(client, legal_officer):
    legal_case, freeze = enforced_with_a_freeze(legal_officer, frozen_on=days_from_today(-100))
    logged_in(client, legal_officer)

    response = client.post(
        act_url(legal_case, "freeze_release"), {"frozen_asset": freeze.pk, "released_on": days_from_today(-101)}
    )

    assert response.status_code == 422
    form = response.content.decode().split('id="action-freeze_release"')[1].split("</details>")[0]
    error = form.split('id="id_release_released_on_error"')[1].split("</ul>")[0]
    assert f"A freeze is released on or after the day it was frozen, {days_from_today(-100)}." in error
    assert f'<option value="{freeze.pk}" selected>' in form
    freeze.refresh_from_db()
    assert freeze.released_on is None


def test_the_case_page_reads_the_same_few_times_with_a_hearing_to_move(
    client, legal_officer, django_assert_max_num_queries
):
    legal_case, _hearing = in_hearing_with(legal_officer, held_at=at(days_from_today(3), 9, 30))
    for number in range(3):
        Hearing.objects.create(
            legal_case=legal_case,
            held_at=at(days_from_today(4 + number), 9, 30),
            place=f"第{number}法庭",
            recorded_by=legal_officer,
        )
    logged_in(client, legal_officer)

    with django_assert_max_num_queries(CASE_READS):
        assert client.get(case_url(legal_case)).status_code == 200
