"""The team board and the team's case list: who may open them (collectors and legal officers are
told they do not exist, another team's supervisor sees none of this team and cannot move its
cases by a forged post, an admin sees every team), each figure of the board against values
worked out by hand on a small team, the filters, the reassignment with its confirmation, and
what the pages cost. Read in English (the language cookie)."""

import datetime
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from collection.machine import Stage
from collection.models import Callback, CaseAssignment, CaseNote, CollectionCase, ContactAttempt, PromiseToPay
from collection.supervision.team_selectors import desk_periods, team_board
from loans.models import Contact, Loan, Payment
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory
from tests.loans.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
_references = itertools.count(1)


def logged_in(client, user):
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def moment(day: int, hour: int, month: int = 11) -> datetime.datetime:
    """A moment of November 2026 (or `month`), desk time."""
    return datetime.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def case_of(collector, team, overdue="100.00", *, stage=None, opened=None, **fields) -> CollectionCase:
    case = CaseFactory(assigned_to=collector, team=team, loan__installments=False, **fields)
    Loan.objects.filter(pk=case.loan_id).update(overdue_amount=Decimal(overdue))
    CollectionCase.objects.filter(pk=case.pk).update(
        opened_at=opened or moment(1, 9, month=10), **({"stage": stage} if stage else {})
    )
    case.refresh_from_db()
    return case


def attempt(case, collector, at, outcome="no_answer", kind=Contact.Kind.MOBILE):
    contact = ContactFactory(borrower=case.loan.borrower, kind=kind)
    return ContactAttempt.objects.create(
        case=case, contact=contact, channel="call", attempted_at=at, outcome=outcome, collector=collector
    )


def promise(case, collector, promised_at, due, status="pending", evaluated=True):
    return PromiseToPay.objects.create(
        case=case,
        amount=Decimal("100.00"),
        due_date=due,
        promised_at=promised_at,
        taken_by=collector,
        status=status,
        evaluated_at=promised_at + datetime.timedelta(days=10) if evaluated and status != "pending" else None,
    )


def payment(case, amount, received_at, reversed_=False):
    return Payment.objects.create(
        loan=case.loan,
        amount=Decimal(amount),
        received_at=received_at,
        channel="app",
        reference=f"T-{next(_references)}",
        reversed_at=received_at + datetime.timedelta(hours=1) if reversed_ else None,
    )


# --- the hand-built team ------------------------------------------------------------------------

# Wednesday 18 November 2026, 15:00 desk time: within working hours; the week began on Monday
# the 16th, the month on the 1st.
NOW = moment(18, 15)


@pytest.fixture
def desk(supervisor):
    """The desk team of two collectors, ann and ben, with known work (worked out in each test's
    comments), and another team whose collector never shows on this board."""
    team = supervisor.supervised_teams.get()
    ann = UserFactory(username="ann", first_name="Ann", last_name="Lee", roles=["collector"])
    ben = UserFactory(username="ben", first_name="Ben", last_name="Ma", roles=["collector"])
    team.members.add(ann, ben)
    # ann: three open cases (one held), one cured this month, one cured last month.
    a1 = case_of(ann, team, "1000.00")
    a2 = case_of(ann, team, "500.00", stage=Stage.NEGOTIATION)
    a3 = case_of(ann, team, "200.00", stage=Stage.ON_HOLD)
    a4 = case_of(ann, team, "0.00", stage=Stage.RESOLVED)
    CollectionCase.objects.filter(pk=a4.pk).update(closed_at=moment(10, 12))
    a5 = case_of(ann, team, "0.00", stage=Stage.RESOLVED)
    CollectionCase.objects.filter(pk=a5.pk).update(closed_at=moment(20, 12, month=10))
    # ann's attempts: two today (one reached the borrower), a promise on Monday, a refusal by an
    # employer on Tuesday (a third party: no right-party contact), one last Friday on a2.
    attempt(a1, ann, moment(18, 10), "rpc")
    attempt(a1, ann, moment(18, 11))
    attempt(a1, ann, moment(16, 10), "promise_to_pay")
    attempt(a1, ann, moment(17, 9), "refused", kind=Contact.Kind.EMPLOYER)
    attempt(a2, ann, moment(13, 10), "rpc")
    # ann's promises: two made and settled this month (kept, broken), one made this month still
    # pending, one made last month and partly kept this month.
    promise(a1, ann, moment(5, 10), datetime.date(2026, 11, 10), "kept")
    promise(a2, ann, moment(6, 10), datetime.date(2026, 11, 12), "broken")
    promise(a3, ann, moment(16, 10), datetime.date(2026, 11, 25))
    promise(a4, ann, moment(25, 10, month=10), datetime.date(2026, 11, 3), "partially_kept")
    # Payments: 300 on a1 and 800 on the cured a4 this month; one reversed, one last month.
    payment(a1, "300.00", moment(5, 12))
    payment(a1, "100.00", moment(6, 12), reversed_=True)
    payment(a4, "800.00", moment(9, 12))
    payment(a1, "50.00", moment(28, 12, month=10))
    # Callbacks: a1's is past its time, a2's later today, a3's done.
    Callback.objects.create(case=a1, due_at=moment(18, 14), set_by=ann)
    Callback.objects.create(case=a2, due_at=moment(18, 16), set_by=ann)
    Callback.objects.create(case=a3, due_at=moment(10, 10), set_by=ann, status="done")
    CaseNote.objects.create(case=a1, text="left a message", written_by=ann, written_at=moment(18, 13))
    # ben: one case opened yesterday, a note half an hour ago.
    b1 = case_of(ben, team, "300.00", opened=moment(17, 10))
    CaseNote.objects.create(
        case=b1, text="first look", written_by=ben, written_at=moment(18, 14) + datetime.timedelta(minutes=30)
    )
    # Another team's collector, with work of their own.
    other_team = TeamFactory()
    cai = UserFactory(username="cai", first_name="Cai", last_name="Xu", roles=["collector"])
    other_team.members.add(cai)
    c1 = case_of(cai, other_team, "9999.00")
    attempt(c1, cai, moment(18, 9), "rpc")
    return {"team": team, "ann": ann, "ben": ben, "cai": cai, "other_team": other_team, "cases": [a1, a2, a3, b1, c1]}


def board_at(desk, now=NOW, days=3):
    rows = team_board(teams=[desk["team"]], periods=desk_periods(now), no_attempt_days=days)
    return {row.collector.username: row for row in rows}


def test_each_figure_of_the_board_is_what_the_team_did(desk):
    rows = board_at(desk)
    assert list(rows) == ["ann", "ben"]  # by family name: Lee, Ma; never the other team's cai
    ann, ben = rows["ann"], rows["ben"]

    assert (ann.open_cases, ann.overdue) == (3, Decimal("1700.00"))  # the held case counts
    assert (ann.attempts_today, ann.attempts_week, ann.rpc_week) == (2, 4, 2)
    assert ann.rpc_percent == 50
    assert (ann.promises_made, ann.promises_settled, ann.promises_kept) == (3, 3, 1)
    assert round(ann.kept_percent, 1) == 33.3
    assert ann.collected == Decimal("1100.00")
    assert ann.cured == 1
    assert ann.callbacks_overdue == 1
    # No attempt since Monday 00:00: a2 (last tried last Friday) and the held a3 (never tried).
    assert ann.no_attempt == 2
    assert ann.last_activity == moment(18, 13)  # the note, after the last attempt at 11:00
    assert ann.idle  # two hours without anything, within working hours

    assert (ben.open_cases, ben.overdue, ben.attempts_week, ben.collected, ben.cured) == (1, Decimal("300.00"), 0, 0, 0)
    assert ben.rpc_percent is None and ben.kept_percent is None
    assert ben.no_attempt == 0  # opened yesterday: not yet three days without
    assert not ben.idle  # a note half an hour ago


def test_n_days_without_an_attempt_is_the_boards_to_choose(desk):
    # Five days back from Wednesday: since Saturday the 14th: a2's attempt on Friday is older.
    assert board_at(desk, days=5)["ann"].no_attempt == 2
    assert board_at(desk, days=6)["ann"].no_attempt == 1  # since Friday the 13th: a2 was tried
    assert board_at(desk, days=1)["ann"].no_attempt == 2


def test_nobody_is_idle_outside_working_hours(desk):
    assert not board_at(desk, now=moment(18, 20))["ann"].idle
    assert not board_at(desk, now=moment(18, 8))["ann"].idle


# --- who may open the pages -----------------------------------------------------------------------

PAGES = ["supervision:team", "supervision:team_cases"]


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role", ["collector", "legal_officer"])
def test_the_pages_do_not_exist_for_collectors_and_legal_officers(client, name, role):
    response = logged_in(client, UserFactory(roles=[role], is_staff=True)).get(reverse(name))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "method"), [*((name, "get") for name in PAGES), ("supervision:team_reassign", "post")]
)
def test_a_visitor_not_logged_in_is_sent_to_log_in(client, db, name, method):
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("role", ["collector", "legal_officer"])
def test_a_reassignment_posted_by_a_collector_or_legal_officer_is_not_found(client, desk, role):
    case = desk["cases"][0]
    response = logged_in(client, UserFactory(roles=[role])).post(
        reverse("supervision:team_reassign"),
        {"case": [case.pk], "scope": "selected", "reason": "x", "confirmed": "1"},
    )
    assert response.status_code == 404
    assert not CaseAssignment.objects.exists()


def test_the_supervisor_sees_their_collectors_and_cases(client, desk, supervisor):
    board = logged_in(client, supervisor).get(reverse("supervision:team")).content.decode()
    assert "Ann Lee" in board and "Ben Ma" in board and "Cai Xu" not in board
    cases = client.get(reverse("supervision:team_cases")).content.decode()
    shown = {case.loan.account_number for case in desk["cases"] if case.loan.account_number in cases}
    assert shown == {case.loan.account_number for case in desk["cases"][:4]}


def test_another_teams_supervisor_sees_nothing_of_this_team(client, desk):
    other = desk["other_team"].supervisor
    board = logged_in(client, other).get(reverse("supervision:team")).content.decode()
    assert "Cai Xu" in board and "Ann Lee" not in board and "Ben Ma" not in board
    cases = client.get(reverse("supervision:team_cases")).content.decode()
    assert desk["cases"][4].loan.account_number in cases
    assert not any(case.loan.account_number in cases for case in desk["cases"][:4])
    # Asking for this team by id shows their own team instead.
    board = client.get(reverse("supervision:team"), {"team": desk["team"].pk}).content.decode()
    assert "Ann Lee" not in board


def test_another_teams_supervisor_cannot_move_this_teams_cases_by_a_forged_post(client, desk):
    other = desk["other_team"].supervisor
    ours = desk["cases"][0]
    client = logged_in(client, other)
    to_their_own = {
        "case": [ours.pk],
        "scope": "selected",
        "to": desk["cai"].pk,
        "reason": "mine now",
        "confirmed": "1",
    }
    to_ours = {**to_their_own, "to": desk["ben"].pk}

    first = client.post(reverse("supervision:team_reassign"), to_their_own)
    second = client.post(reverse("supervision:team_reassign"), to_ours)

    assert first.status_code in (302, 422) and second.status_code == 422  # ben is no choice of theirs
    assert CollectionCase.objects.get(pk=ours.pk).assigned_to == desk["ann"]
    assert not CaseAssignment.objects.exists()


def test_an_admin_sees_every_team_and_filters_one(client, desk, desk_admin):
    board = logged_in(client, desk_admin).get(reverse("supervision:team")).content.decode()
    assert "Ann Lee" in board and "Ben Ma" in board and "Cai Xu" in board
    one = client.get(reverse("supervision:team"), {"team": desk["other_team"].pk}).content.decode()
    assert "Cai Xu" in one and "Ann Lee" not in one


def test_a_supervisor_of_two_teams_filters_by_team(client, desk, supervisor):
    second = TeamFactory(supervisor=supervisor)
    dan = UserFactory(username="dan", first_name="Dan", last_name="Wu", roles=["collector"])
    second.members.add(dan)
    board = logged_in(client, supervisor).get(reverse("supervision:team")).content.decode()
    assert "Ann Lee" in board and "Dan Wu" in board
    only_second = client.get(reverse("supervision:team"), {"team": second.pk}).content.decode()
    assert "Dan Wu" in only_second and "Ann Lee" not in only_second


# --- the case list and the reassignment -------------------------------------------------------------


def listed(response) -> set[str]:
    body = response.content.decode()
    return {number for number in Loan.objects.values_list("account_number", flat=True) if number in body}


def test_the_case_list_filters(client, desk, supervisor):
    a1, a2, a3, b1, _c1 = desk["cases"]
    client = logged_in(client, supervisor)
    url = reverse("supervision:team_cases")
    number = lambda *cases: {case.loan.account_number for case in cases}  # noqa: E731
    assert listed(client.get(url, {"collector": desk["ben"].pk})) == number(b1)
    assert listed(client.get(url, {"stage": Stage.NEGOTIATION})) == number(a2)
    assert listed(client.get(url, {"on_hold": "on"})) == number(a3)
    # Today, a1's borrower was reached on a call: every other case has had no attempt for three
    # days and never reached its borrower.
    reached = attempt(a1, desk["ann"], timezone.now(), "rpc")
    CollectionCase.objects.filter(pk=a1.pk).update(last_right_party_contact_at=reached.attempted_at)
    assert listed(client.get(url, {"no_rpc_days": "3"})) == number(a2, a3, b1)
    assert listed(client.get(url, {"collector": desk["ann"].pk, "no_attempt_days": "3"})) == number(a2, a3)


def test_a_reassignment_is_confirmed_before_it_is_done(client, desk, supervisor):
    a1, a2, _a3, b1, _c1 = desk["cases"]
    client = logged_in(client, supervisor)
    posted = {"case": [a1.pk, a2.pk], "scope": "selected", "to": desk["ben"].pk, "reason": "Ann is on leave"}

    review = client.post(reverse("supervision:team_reassign"), posted)

    assert review.status_code == 200
    body = review.content.decode()
    assert "2 cases move, ¥1,500.00 overdue" in body and "Ben Ma" in body
    assert CollectionCase.objects.get(pk=a1.pk).assigned_to == desk["ann"]  # nothing moved yet

    done = client.post(reverse("supervision:team_reassign"), {**posted, "confirmed": "1"})

    assert done.status_code == 302
    assert set(CollectionCase.objects.filter(pk__in=[a1.pk, a2.pk]).values_list("assigned_to", flat=True)) == {
        desk["ben"].pk
    }
    assert set(CaseAssignment.objects.values_list("reason", flat=True)) == {"Ann is on leave"}
    after = client.get(done["Location"])
    assert listed(after) == {a1.loan.account_number, a2.loan.account_number}
    assert "2 cases moved (¥1,500.00 overdue)." in after.content.decode()


def test_every_case_the_filters_keep_moves_balanced(client, desk, supervisor):
    a1, a2, a3, b1, _c1 = desk["cases"]
    client = logged_in(client, supervisor)
    posted = {
        "scope": "filtered",
        "filters": f"collector={desk['ann'].pk}",
        "to": "",
        "reason": "spread",
        "confirmed": "1",
    }
    client.post(reverse("supervision:team_reassign"), posted)
    # ben is the only other collector: all three of ann's open cases go to him.
    assert set(CollectionCase.objects.filter(pk__in=[a1.pk, a2.pk, a3.pk]).values_list("assigned_to", flat=True)) == {
        desk["ben"].pk
    }


def test_a_reassignment_without_reason_or_cases_is_refused_in_words(client, desk, supervisor):
    client = logged_in(client, supervisor)
    no_reason = client.post(
        reverse("supervision:team_reassign"), {"case": [desk["cases"][0].pk], "scope": "selected", "reason": ""}
    )
    assert no_reason.status_code == 422 and "This field is required." in no_reason.content.decode()
    no_cases = client.post(reverse("supervision:team_reassign"), {"scope": "selected", "reason": "why"})
    assert no_cases.status_code == 422 and "Tick the cases to move" in no_cases.content.decode()
    assert not CaseAssignment.objects.exists()


# --- what the pages cost ------------------------------------------------------------------------------

# The session, the user, their roles and teams, the header's teams, and the session's save (in a
# savepoint in the tests) around the pages' own reads: the board's six (teams, collectors with
# their last activity, then cases, attempts, promises and payments grouped by collector), the
# list's six (the total, the page of cases, and the filters' and form's choices).
BOARD_READS = 14
CASES_READS = 14


def bigger_team(team, collectors: int, cases_each: int):
    now = timezone.now()
    for _index in range(collectors):
        person = UserFactory(roles=["collector"])
        team.members.add(person)
        for number in range(cases_each):
            case = case_of(person, team, f"{100 + number}.00")
            attempt(case, person, now - datetime.timedelta(hours=number))
            promise(case, person, now - datetime.timedelta(days=2), timezone.localdate(), "kept")
            payment(case, "10.00", now - datetime.timedelta(hours=1))
            Callback.objects.create(case=case, due_at=now - datetime.timedelta(minutes=5), set_by=person)


@pytest.mark.parametrize(("collectors", "cases_each"), [(1, 2), (6, 8)])
def test_the_board_reads_the_same_few_times_whatever_the_team(
    client, desk, supervisor, django_assert_max_num_queries, collectors, cases_each
):
    bigger_team(desk["team"], collectors, cases_each)
    client = logged_in(client, supervisor)
    with django_assert_max_num_queries(BOARD_READS):
        response = client.get(reverse("supervision:team"))
    assert response.status_code == 200


@pytest.mark.parametrize(("collectors", "cases_each"), [(1, 2), (6, 8)])
def test_the_case_list_reads_the_same_few_times_whatever_the_team(
    client, desk, supervisor, django_assert_max_num_queries, collectors, cases_each
):
    bigger_team(desk["team"], collectors, cases_each)
    client = logged_in(client, supervisor)
    with django_assert_max_num_queries(CASES_READS):
        response = client.get(reverse("supervision:team_cases"), {"no_attempt_days": "2", "stage": "reminder"})
    assert response.status_code == 200


def test_every_case_the_filters_keep_is_refused_when_the_filters_do_not_read(client, desk, supervisor):
    posted = {"scope": "filtered", "filters": "no_attempt_days=abc", "reason": "spread", "confirmed": "1"}
    response = logged_in(client, supervisor).post(reverse("supervision:team_reassign"), posted)
    assert response.status_code == 422 and "The filters could not be read" in response.content.decode()
    assert not CaseAssignment.objects.exists()


# The confirmation of a move, named or balanced, 2 or 12 cases: the form's collectors, the
# selection read again within reach, the teams' members (or pools and loads), the session.
REVIEW_READS = 14


@pytest.mark.parametrize("to", ["ben", ""])
@pytest.mark.parametrize("cases", [2, 12])
def test_the_review_of_a_move_reads_the_same_few_times_whatever_the_selection(
    client, desk, supervisor, django_assert_max_num_queries, to, cases
):
    selection = [case_of(desk["ann"], desk["team"], f"{100 + n}.00").pk for n in range(cases)]
    posted = {"case": selection, "scope": "selected", "to": desk[to].pk if to else "", "reason": "spread"}
    client = logged_in(client, supervisor)
    with django_assert_max_num_queries(REVIEW_READS):
        response = client.post(reverse("supervision:team_reassign"), posted)
    assert response.status_code == 200
    assert f"{cases} cases move" in response.content.decode()
