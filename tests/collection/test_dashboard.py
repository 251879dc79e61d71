"""The dashboard: who may open it (collectors and legal officers are told it does not exist, a
supervisor sees their team, another team's supervisor none of it, an admin the whole desk or one
team), every figure against values worked out by hand on a small fixed portfolio (November 2026),
the filters (a bad one is answered 400 with the form's errors), the CSV exports (streamed, cells
neutralised against formulas) and what the page costs in queries. Read in English."""

import csv
import datetime
import io
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, F
from django.urls import reverse
from django.utils import timezone

from collection import cycle
from collection.dashboard.exports import neutralised
from collection.dashboard.filing import days_file, days_to_file
from collection.dashboard.selectors import Period, Scope, collected_rows, collected_tables, desk_numbers
from collection.machine import Stage
from collection.models import (
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    DashboardDay,
    DashboardFigure,
    JobRun,
    OutboundMessage,
    PromiseToPay,
)
from loans.models import Contact, DelinquencyBucket, Loan, Payment, PortfolioSnapshot
from loans.services import payment_reverse
from tests.accounts.factories import TeamFactory, UserFactory
from tests.collection.factories import CaseFactory
from tests.loans.factories import ContactFactory, LoanFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = Period(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
NOVEMBER_QUERY = {"period": "custom", "start": "2026-11-01", "end": "2026-11-30"}
URL = "/dashboard/"
_keys = itertools.count(1)


def moment(day: int, hour: int = 12, month: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def logged_in(client, user):
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def bucket(name: str) -> DelinquencyBucket:
    return DelinquencyBucket.objects.get(name=name)


def case_of(
    collector, team, *, stage=None, opened=None, closed=None, overdue="0.00", outstanding="0.00", in_bucket=None
):
    case = CaseFactory(assigned_to=collector, team=team, loan__installments=False)
    Loan.objects.filter(pk=case.loan_id).update(
        overdue_amount=Decimal(overdue),
        outstanding_principal=Decimal(outstanding),
        bucket=bucket(in_bucket) if in_bucket else None,
    )
    CollectionCase.objects.filter(pk=case.pk).update(
        opened_at=opened or moment(1, month=10), closed_at=closed, **({"stage": stage} if stage else {})
    )
    case.refresh_from_db()
    return case


def attempt(case, collector, at, outcome="no_answer", kind=Contact.Kind.MOBILE):
    contact = ContactFactory(borrower=case.loan.borrower, kind=kind)
    return ContactAttempt.objects.create(
        case=case, contact=contact, channel="call", attempted_at=at, outcome=outcome, collector=collector
    )


def promise(case, collector, promised_at, due, status="pending"):
    return PromiseToPay.objects.create(
        case=case,
        amount=Decimal("100.00"),
        due_date=due,
        promised_at=promised_at,
        taken_by=collector,
        status=status,
        evaluated_at=None if status == "pending" else promised_at + datetime.timedelta(days=20),
    )


def payment(loan, amount, received_at, channel="app", reversed_=False):
    return Payment.objects.create(
        loan=loan,
        amount=Decimal(amount),
        received_at=received_at,
        channel=channel,
        reference=f"D-{next(_keys)}",
        reversed_at=received_at + datetime.timedelta(hours=1) if reversed_ else None,
    )


def message(case, at, status, channel="sms", rule=""):
    return OutboundMessage.objects.create(
        case=case,
        channel=channel,
        body="reminder",
        scheduled_at=at,
        status=status,
        blocked_rule=rule,
        idempotency_key=f"dash:{next(_keys)}",
    )


def refusal(case, at, rule):
    return ConductRefusal.objects.create(case=case, channel="call", attempted_at=at, rule=rule)


def snapshot(day: datetime.date, product, rows: dict[str, tuple[str, str]]):
    """rows: bucket name -> (total outstanding, overdue amount)."""
    for name, (outstanding, overdue) in rows.items():
        PortfolioSnapshot.objects.create(
            as_of=day,
            product=product,
            bucket=bucket(name),
            loans=3,
            delinquent_loans=2,
            outstanding_principal=Decimal(outstanding),
            total_outstanding=Decimal(outstanding),
            overdue_amount=Decimal(overdue),
        )


@pytest.fixture
def desk(supervisor):
    """Two teams' November (each figure is worked out in the tests below):

    team A (the `supervisor`'s; collector ann):
      a1 reminder, M2, overdue 1000, outstanding 3000; a2 negotiation, M1, overdue 500, outstanding 800;
      a3 resolved on 10 Nov; a4 resolved on 20 Oct (not open in November); a6 written off on 5 Nov.
    team B (collector cai, supervisor bo): b1 reminder, M3, overdue 9999; b2 resolved on 3 Nov.
    """
    team_a = supervisor.supervised_teams.get()
    ann = UserFactory(username="ann", roles=["collector"])
    team_a.members.add(ann)
    bo = UserFactory(username="bo", roles=["supervisor"])
    team_b = TeamFactory(supervisor=bo)
    cai = UserFactory(username="cai", roles=["collector"])
    team_b.members.add(cai)

    a1 = case_of(ann, team_a, overdue="1000.00", outstanding="3000.00", in_bucket="M2")
    a2 = case_of(ann, team_a, stage=Stage.NEGOTIATION, overdue="500.00", outstanding="800.00", in_bucket="M1")
    a3 = case_of(ann, team_a, stage=Stage.RESOLVED, closed=moment(10))
    case_of(ann, team_a, stage=Stage.RESOLVED, closed=moment(20, month=10))
    case_of(ann, team_a, stage=Stage.WRITTEN_OFF, closed=moment(5))
    b1 = case_of(cai, team_b, overdue="9999.00", outstanding="9999.00", in_bucket="M3")
    case_of(cai, team_b, stage=Stage.RESOLVED, closed=moment(3))

    # Attempts: team A four in November (two reach the borrower; the employer's refusal is a third
    # party's), one in October; team B one right-party contact.
    attempt(a1, ann, moment(5), "rpc")
    attempt(a1, ann, moment(6))
    attempt(a1, ann, moment(7), "promise_to_pay")
    attempt(a1, ann, moment(8), "refused", kind=Contact.Kind.EMPLOYER)
    attempt(a1, ann, moment(30, month=10), "rpc")
    attempt(b1, cai, moment(5), "rpc")

    # Promises: team A took p1 (kept) and p3 (pending, due in December) in November; p2, taken in
    # October, fell due and broke in November. Team B: p4 partly kept.
    promise(a1, ann, moment(7), datetime.date(2026, 11, 15), "kept")
    promise(a2, ann, moment(20, month=10), datetime.date(2026, 11, 3), "broken")
    promise(a2, ann, moment(20), datetime.date(2026, 12, 5))
    promise(b1, cai, moment(5), datetime.date(2026, 11, 10), "partially_kept")

    # Payments in November: 300 by app on a1, 800 by bank transfer on the resolved a3, 50 in cash on
    # b1, 70 by card on a loan without a case; a reversed one and an October one count for nothing.
    payment(a1.loan, "300.00", moment(5))
    payment(a1.loan, "100.00", moment(6), reversed_=True)
    payment(a3.loan, "800.00", moment(9), channel="bank_transfer")
    payment(b1.loan, "50.00", moment(12), channel="cash")
    payment(LoanFactory(installments=False), "70.00", moment(15), channel="card")
    payment(a1.loan, "50.00", moment(28, month=10))

    # Messages scheduled in November: team A sms sent, blocked, failed, e-mail sent; team B sms sent.
    message(a1, moment(3), "sent")
    message(a1, moment(4), "blocked", rule="quiet_hours")
    message(a1, moment(5), "failed")
    message(a1, moment(6), "sent", channel="email")
    message(a1, moment(6, month=10), "sent")
    message(b1, moment(3), "sent")

    # Refusals: team A quiet hours twice on a1, the call cap once on a2; team B quiet hours once.
    refusal(a1, moment(3), "quiet_hours")
    refusal(a1, moment(4), "quiet_hours")
    refusal(a2, moment(4), "call_cap")
    refusal(b1, moment(4), "quiet_hours")
    refusal(b1, moment(4, month=10), "call_cap")

    # Month-end snapshots (total outstanding, overdue): September, October (and a mid-October
    # one that is not a month's end), November.
    product = ProductFactory()
    snapshot(datetime.date(2026, 9, 30), product, {"M1": ("1000.00", "100.00"), "M2": ("500.00", "100.00")})
    snapshot(datetime.date(2026, 10, 15), product, {"M1": ("9999.00", "9999.00")})
    snapshot(
        datetime.date(2026, 10, 31),
        product,
        {"M1": ("2000.00", "3000.00"), "M2": ("400.00", "800.00"), "M3": ("100.00", "200.00")},
    )
    snapshot(
        datetime.date(2026, 11, 30),
        product,
        {"M1": ("1500.00", "10.00"), "M2": ("600.00", "20.00"), "M3": ("200.00", "30.00"), "M4+": ("50.00", "40.00")},
    )
    JobRun.objects.create(job="collection_cycle", as_of=datetime.date(2026, 11, 30), status="succeeded")
    JobRun.objects.create(job="reminder_dispatch", as_of=datetime.date(2026, 11, 30), status="failed", errors="=boom")
    return {"team_a": team_a, "team_b": team_b, "bo": bo, "ann": ann, "cai": cai}


# --- the figures, by hand ------------------------------------------------------------------------

# Each figure is the same read live, from the filed days, or from both: none filed, the days up to
# 10 November filed (the rest of the month live), every day of November filed.
FILED_THROUGH = pytest.mark.parametrize(
    "filed_through",
    [None, datetime.date(2026, 11, 10), datetime.date(2026, 11, 30)],
    ids=["live", "filed-to-10-nov", "filed"],
)


def file_through(day: datetime.date | None) -> None:
    """File the dashboard's days up to `day` as the nightly cycle does (nothing for None)."""
    if day is not None:
        days_file(days_to_file(through=day))


@FILED_THROUGH
def test_a_teams_figures_are_what_its_cases_did(desk, filed_through):
    file_through(filed_through)
    numbers = desk_numbers(scope=Scope((desk["team_a"].pk,)), period=NOVEMBER)

    # Open at some moment of November: a1, a2, a3 (resolved on the 10th), a6 (written off on the 5th).
    assert numbers.cases == {"open_in_period": 4, "resolved": 1}
    assert numbers.cure_rate == Decimal("0.25")
    assert numbers.attempts == {"attempts": 4, "right_party": 2}
    assert numbers.rpc_rate == Decimal("0.5")
    assert numbers.attempts_per_account == Decimal(1)
    # Taken in November: p1 and p3; due in November and settled: p1 (kept) and p2 (broken).
    assert numbers.promises == {"taken": 2, "settled": 2, "kept": 1}
    assert numbers.ptp_rate == Decimal(1)
    assert numbers.kept_rate == Decimal("0.5")
    # 300 on a1 (reminder) and 800 on a3 (resolved).
    assert numbers.collected["total"] == Decimal("1100.00")
    assert [(line["key"], line["amount"]) for line in numbers.collected["by_stage"]] == [
        ("reminder", Decimal("300.00")),
        ("resolved", Decimal("800.00")),
    ]
    assert [(line["key"], line["amount"]) for line in numbers.collected["by_channel"]] == [
        ("bank_transfer", Decimal("800.00")),
        ("app", Decimal("300.00")),
    ]
    # No snapshot per team: overdue now on the open cases (1000 + 500) plus what was collected (1100).
    assert numbers.recovery == {"overdue": Decimal("2600.00"), "as_of": None, "estimated": True}
    assert numbers.recovery_rate == Decimal("1100") / Decimal("2600")
    # The team's open cases now: a2 in M1, a1 in M2.
    assert [(row["bucket"], row["loans"], row["outstanding"], row["overdue"]) for row in numbers.buckets] == [
        ("M1", 1, Decimal("800.00"), Decimal("500.00")),
        ("M2", 1, Decimal("3000.00"), Decimal("1000.00")),
    ]
    assert [(row["channel"], row["sent"], row["blocked"], row["failed"]) for row in numbers.messages] == [
        ("email", 1, 0, 0),
        ("sms", 1, 1, 1),
    ]
    assert [(row["rule"], row["refusals"], row["cases"]) for row in numbers.refusals] == [
        ("quiet_hours", 2, 1),
        ("call_cap", 1, 1),
    ]


@FILED_THROUGH
def test_the_whole_desks_figures_count_every_case_and_the_portfolio_snapshots(desk, filed_through):
    file_through(filed_through)
    numbers = desk_numbers(scope=Scope(None), period=NOVEMBER)

    assert numbers.cases == {"open_in_period": 6, "resolved": 2}
    assert numbers.cure_rate == Decimal(2) / Decimal(6)
    assert numbers.attempts == {"attempts": 5, "right_party": 3}
    assert numbers.promises == {"taken": 3, "settled": 3, "kept": 1}
    assert numbers.ptp_rate == Decimal(1)
    assert numbers.collected["total"] == Decimal("1220.00")
    assert [(line["key"], line["amount"], line["payments"]) for line in numbers.collected["by_stage"]] == [
        ("reminder", Decimal("350.00"), 2),
        ("resolved", Decimal("800.00"), 1),
        ("none", Decimal("70.00"), 1),
    ]
    # Overdue at the start: the snapshot of 31 October (3000 + 800 + 200).
    assert numbers.recovery == {"overdue": Decimal("4000.00"), "as_of": datetime.date(2026, 10, 31), "estimated": False}
    assert numbers.recovery_rate == Decimal("0.305")
    # The portfolio on 30 November, from its snapshot.
    assert [(row["bucket"], row["outstanding"], row["as_of"]) for row in numbers.buckets] == [
        ("M1", Decimal("1500.00"), datetime.date(2026, 11, 30)),
        ("M2", Decimal("600.00"), datetime.date(2026, 11, 30)),
        ("M3", Decimal("200.00"), datetime.date(2026, 11, 30)),
        ("M4+", Decimal("50.00"), datetime.date(2026, 11, 30)),
    ]
    assert [(row["rule"], row["refusals"], row["cases"]) for row in numbers.refusals] == [
        ("quiet_hours", 3, 2),
        ("call_cap", 1, 1),
    ]
    assert numbers.refusals[0]["label"] == "Quiet hours"


def test_roll_rates_divide_a_months_end_by_the_month_befores(desk):
    numbers = desk_numbers(scope=Scope(None), period=NOVEMBER)

    rates = {
        month["month"].strftime("%Y-%m"): {f"{roll['from']}>{roll['to']}": roll["rate"] for roll in month["rolls"]}
        for month in numbers.roll_rates
    }
    # October over September: M2 400 / M1 1000, M3 100 / M2 500, M4+ nothing over M3 nothing.
    # November over October (31st, not the 15th): 600 / 2000, 200 / 400, 50 / 100.
    assert rates == {
        "2026-10": {"M1>M2": Decimal("0.4"), "M2>M3": Decimal("0.2"), "M3>M4+": None},
        "2026-11": {"M1>M2": Decimal("0.3"), "M2>M3": Decimal("0.5"), "M3>M4+": Decimal("0.5")},
    }


def test_nothing_to_divide_by_is_no_figure(db):
    numbers = desk_numbers(scope=Scope(None), period=NOVEMBER)

    assert (numbers.cure_rate, numbers.recovery_rate, numbers.rpc_rate, numbers.kept_rate) == (None,) * 4
    assert numbers.roll_rates == [] and numbers.buckets == []


# --- who may open the page ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["collector", "legal_officer"])
def test_the_dashboard_does_not_exist_for_collectors_and_legal_officers(client, role):
    logged_in(client, UserFactory(roles=[role]))

    assert client.get(URL).status_code == 404
    assert client.get(URL, {"export": "rates"}).status_code == 404


def test_a_visitor_not_logged_in_is_sent_to_log_in(client, db):
    response = client.get(URL)

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_supervisor_sees_their_team(client, desk, supervisor):
    response = logged_in(client, supervisor).get(URL, NOVEMBER_QUERY)

    assert response.status_code == 200
    numbers = response.context["numbers"]
    assert numbers.scope == Scope((desk["team_a"].pk,))
    assert numbers.collected["total"] == Decimal("1100.00")
    page = response.content.decode()
    assert "Cure rate" in page and "25.0%" in page
    assert '<svg class="bars"' in page
    assert "The whole desk" not in page


def test_another_teams_supervisor_sees_only_their_own(client, desk):
    response = logged_in(client, desk["bo"]).get(URL, NOVEMBER_QUERY)

    assert response.context["numbers"].scope == Scope((desk["team_b"].pk,))
    assert response.context["numbers"].collected["total"] == Decimal("50.00")
    # Asking for the other team is a filter that does not read.
    refused = client.get(URL, {**NOVEMBER_QUERY, "team": desk["team_a"].pk})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()


def test_an_admin_sees_the_whole_desk_and_filters_one_team(client, desk, desk_admin):
    logged_in(client, desk_admin)

    whole = client.get(URL, NOVEMBER_QUERY)
    one = client.get(URL, {**NOVEMBER_QUERY, "team": desk["team_b"].pk})

    assert whole.context["numbers"].scope == Scope(None)
    assert whole.context["numbers"].collected["total"] == Decimal("1220.00")
    assert one.context["numbers"].scope == Scope((desk["team_b"].pk,))
    assert one.context["numbers"].cases == {"open_in_period": 2, "resolved": 1}


def test_the_last_job_runs_show_to_supervisors_too(client, desk, supervisor):
    page = logged_in(client, supervisor).get(URL, NOVEMBER_QUERY).content.decode()

    assert "Nightly collection cycle" in page and "Reminder dispatch" in page


# --- the filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, field",
    [
        ({"period": "someday"}, "period"),
        ({"period": "custom", "start": "2026-11-30", "end": "2026-11-01"}, "end"),
        ({"period": "custom", "end": "2026-11-01"}, "start"),
        ({"period": "custom", "start": "2025-01-01", "end": "2026-11-01"}, "end"),
        ({"period": "custom", "start": "yesterday", "end": "2026-11-01"}, "start"),
        ({"team": "999999"}, "team"),
        ({"export": "passwords"}, "export"),
    ],
)
def test_a_bad_filter_is_answered_400_with_the_forms_errors(client, desk, supervisor, query, field):
    response = logged_in(client, supervisor).get(URL, query)

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize(
    "period, first, last",
    [
        ("this_month", datetime.date(2026, 11, 1), datetime.date(2026, 11, 18)),
        ("last_month", datetime.date(2026, 10, 1), datetime.date(2026, 10, 31)),
        ("last_30", datetime.date(2026, 10, 20), datetime.date(2026, 11, 18)),
        ("last_90", datetime.date(2026, 8, 21), datetime.date(2026, 11, 18)),
    ],
)
def test_the_periods_count_from_today(period, first, last):
    from accounts.models import Team
    from collection.dashboard.forms import DashboardFilterForm

    form = DashboardFilterForm(
        {"period": period}, teams=Team.objects.none(), whole_desk_label="all", today=datetime.date(2026, 11, 18)
    )

    assert form.is_valid(), form.errors
    assert form.period_chosen() == Period(first, last)


# --- the exports -------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body)))


def test_every_table_exports_to_csv_streamed_with_the_same_filters(client, desk, supervisor):
    logged_in(client, supervisor)

    by_stage = client.get(URL, {**NOVEMBER_QUERY, "export": "by_stage"})

    assert by_stage.status_code == 200 and by_stage.streaming
    assert by_stage["Content-Type"].startswith("text/csv")
    assert 'filename="dashboard-by_stage-2026-11-01-2026-11-30.csv"' in by_stage["Content-Disposition"]
    assert _csv(by_stage) == [["Stage", "Payments", "Amount"], ["Reminder", "1", "300.00"], ["Resolved", "1", "800.00"]]
    for name in ("buckets", "roll_rates", "rates", "by_channel", "messages", "refusals", "jobs"):
        response = client.get(URL, {**NOVEMBER_QUERY, "export": name})
        assert response.status_code == 200 and response.streaming, name
        assert len(_csv(response)) > 1, name


def test_exported_cells_cannot_run_as_formulas(client, desk, supervisor):
    jobs = _csv(logged_in(client, supervisor).get(URL, {**NOVEMBER_QUERY, "export": "jobs"}))

    assert [row[-1] for row in jobs if row[-1].endswith("boom")] == ["'=boom"]
    assert [neutralised(cell) for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "plain")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "plain",
    ]
    assert neutralised(Decimal("-5.00")) == Decimal("-5.00")


# --- what the page costs -------------------------------------------------------------------------

# The figures' queries (ten for teams, eleven for the desk), the teams for the filter, the
# session, the user, their roles and teams, the navigation's teams and the session's save: the
# same whatever the number of cases; and three to give the figures' reads parallel workers and
# the connection its own setting back (period_scans). The desk reads one fewer than it did: the
# payments of loans without a case come in the same query as those of the latest cases.
TEAM_READS = 23
DESK_READS = 23
EXPORT_READS = 12
# The pins hold with part of the period filed and the rest live, the most the page reads: the last
# filed day and the filed figures, then the live reads of the days after.
PART_FILED = datetime.date(2026, 11, 10)


def test_the_team_view_reads_the_same_few_times_whatever_the_team(
    client, desk, supervisor, django_assert_max_num_queries
):
    for _ in range(5):
        extra = case_of(desk["ann"], desk["team_a"], overdue="10.00", in_bucket="M1")
        attempt(extra, desk["ann"], moment(9), "rpc")
        payment(extra.loan, "10.00", moment(9))
    file_through(PART_FILED)
    logged_in(client, supervisor)

    with django_assert_max_num_queries(TEAM_READS):
        assert client.get(URL, NOVEMBER_QUERY).status_code == 200


def test_the_desk_view_reads_the_same_few_times_whatever_the_desk(
    client, desk, desk_admin, django_assert_max_num_queries
):
    for _ in range(5):
        extra = case_of(desk["cai"], desk["team_b"], overdue="10.00", in_bucket="M1")
        attempt(extra, desk["cai"], moment(9), "rpc")
        payment(extra.loan, "10.00", moment(9), channel="cash")
    file_through(PART_FILED)
    logged_in(client, desk_admin)

    with django_assert_max_num_queries(DESK_READS):
        assert client.get(URL, NOVEMBER_QUERY).status_code == 200


def test_an_export_reads_only_its_table(client, desk, desk_admin, django_assert_max_num_queries):
    file_through(PART_FILED)
    logged_in(client, desk_admin)

    # The session, the user and their roles, the last filed day and the filed figures, the
    # payments after it (of the latest cases and of loans without a case, one query), the
    # session's save: none of the other figures.
    with django_assert_max_num_queries(EXPORT_READS):
        response = client.get(URL, {**NOVEMBER_QUERY, "export": "by_stage"})
        rows = _csv(response)

    assert rows[-1] == ["No case", "1", "70.00"]


def _parallel_workers():
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_the_figures_are_read_with_parallel_workers_and_the_connection_gets_its_setting_back(
    client, desk, desk_admin, monkeypatch
):
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")  # as the web service's connections
    seen = []
    reads = desk_numbers.__globals__["attempt_counts"]
    monkeypatch.setitem(
        desk_numbers.__globals__, "attempt_counts", lambda **kwargs: seen.append(_parallel_workers()) or reads(**kwargs)
    )
    logged_in(client, desk_admin)

    assert client.get(URL, NOVEMBER_QUERY).status_code == 200

    assert seen == [str(django_settings.DESK_DASHBOARD_PARALLEL_WORKERS)]
    assert _parallel_workers() == "0"


def test_a_supervisor_of_no_team_sees_nothing_counted(client, desk):
    lonely = UserFactory(roles=["supervisor"])

    response = logged_in(client, lonely).get(URL, NOVEMBER_QUERY)

    assert response.status_code == 200
    numbers = response.context["numbers"]
    assert numbers.scope == Scope(())
    assert numbers.cases == {"open_in_period": 0, "resolved": 0}
    assert numbers.collected["total"] == 0 and numbers.buckets == []


# --- the fast reads say what the plain ones say -------------------------------------------------


def _plain_attempt_counts(scope: Scope, period: Period) -> dict:
    """The attempts as the team board counts them: through a join to the contacts."""
    from collection.supervision.team_selectors import RIGHT_PARTY_ATTEMPT

    return ContactAttempt.objects.filter(scope.cases("case__"), period.window("attempted_at")).aggregate(
        attempts=Count("pk"), right_party=Count("pk", filter=RIGHT_PARTY_ATTEMPT)
    )


def _plain_collected(scope: Scope, period: Period) -> set[tuple]:
    """The payments per stage of the loan's latest case and channel, worked out payment by payment."""
    rows: dict[tuple, list] = {}
    for paid in Payment.objects.standing().filter(period.window("received_at")):
        latest = CollectionCase.objects.filter(loan_id=paid.loan_id).order_by("-opened_at", "-pk").first()
        if latest is None and not scope.whole_desk:
            continue
        if latest is not None and not scope.whole_desk and latest.team_id not in scope.team_ids:
            continue
        line = rows.setdefault((latest.stage if latest else None, paid.channel), [Decimal(0), 0])
        line[0] += paid.amount
        line[1] += 1
    return {(stage, channel, amount, count) for (stage, channel), (amount, count) in rows.items()}


@FILED_THROUGH
def test_the_fast_reads_count_what_the_plain_ones_count(desk, filed_through):
    """Attempts without a contact or on a third party, a loan whose latest case went to the other
    team, two cases of a loan opened at the same moment: the dashboard's set-based reads agree
    with the plain computation, for each team and the whole desk."""
    a1 = CollectionCase.objects.filter(team=desk["team_a"], stage=Stage.REMINDER).first()
    ContactAttempt.objects.create(
        case=a1, contact=None, channel="call", attempted_at=moment(9), outcome="rpc", collector=desk["ann"]
    )
    attempt(a1, desk["ann"], moment(9), "hardship", kind=Contact.Kind.EMERGENCY)
    # The loan's older case was team A's; its latest, opened later, team B's.
    older = case_of(desk["ann"], desk["team_a"], stage=Stage.RESOLVED, closed=moment(2))
    CaseFactory(loan=older.loan, assigned_to=desk["cai"], team=desk["team_b"])
    payment(older.loan, "40.00", moment(12), channel="cash")
    # Two cases of one loan opened at the same moment (one closed, one open): the higher id counts.
    twin = case_of(desk["ann"], desk["team_a"], stage=Stage.RESOLVED, closed=moment(1))
    second = CaseFactory(loan=twin.loan, assigned_to=desk["cai"], team=desk["team_b"])
    CollectionCase.objects.filter(pk=second.pk).update(opened_at=twin.opened_at, stage=Stage.NEGOTIATION)
    payment(twin.loan, "25.00", moment(13))

    file_through(filed_through)

    for scope in (Scope(), Scope((desk["team_a"].pk,)), Scope((desk["team_b"].pk,)), Scope(())):
        numbers = desk_numbers(scope=scope, period=NOVEMBER)
        assert numbers.attempts == _plain_attempt_counts(scope, NOVEMBER)
        fast = {
            (row["stage"], row["channel"], row["amount"], row["payments"])
            for row in collected_rows(scope=scope, period=NOVEMBER)
        }
        plain = _plain_collected(scope, NOVEMBER)
        assert fast == plain
        keys = ("stage", "channel", "amount", "payments")
        assert numbers.collected == collected_tables([dict(zip(keys, row, strict=True)) for row in plain])


# --- the filed days ------------------------------------------------------------------------------

FIRST_RECORD = datetime.date(2026, 10, 6)  # the desk's first reminder; its first payment is of 28 October
LAST_OF_NOVEMBER = datetime.date(2026, 11, 30)


def filed_figures_now() -> list[tuple]:
    return sorted(
        (day, team or 0, measure, stage, channel, value)
        for day, team, measure, stage, channel, value in DashboardFigure.objects.values_list(
            "day", "team", "measure", "stage", "channel", "value"
        )
    )


def a_night_later() -> None:
    """As if the records so far had been made two days ago and filed the night after: what
    changes from now on is the next night's to file."""
    day = datetime.timedelta(days=1)
    DashboardDay.objects.update(filed_at=F("filed_at") - day)
    ContactAttempt.objects.update(created_at=F("created_at") - 2 * day)
    Payment.objects.update(created_at=F("created_at") - 2 * day)
    OutboundMessage.objects.update(updated_at=F("updated_at") - 2 * day)


def event_figures(scope: Scope, period: Period = NOVEMBER) -> tuple:
    numbers = desk_numbers(scope=scope, period=period)
    return numbers.attempts, numbers.collected, numbers.messages


def live_figures(scope: Scope, period: Period = NOVEMBER) -> tuple:
    """The figures read from the records alone, as if no day were filed."""
    with transaction.atomic():
        DashboardDay.objects.all().delete()
        figures = event_figures(scope, period)
        transaction.set_rollback(True)
    return figures


def test_filing_files_every_day_from_the_first_record_and_again_leaves_the_same_figures(desk):
    days = days_to_file(through=LAST_OF_NOVEMBER)
    assert (days[0], days[-1], len(days)) == (FIRST_RECORD, LAST_OF_NOVEMBER, 26 + 30)

    counts = days_file(days)
    figures = filed_figures_now()
    again = days_file(days)

    assert counts["days_filed"] == again["days_filed"] == 56
    assert filed_figures_now() == figures
    assert counts["figures_written"] == len(figures)
    # Team A on 5 November: the right-party call on a1, 300 by app on a1 (reminder), a failed sms.
    team_a = desk["team_a"].pk
    assert [row[2:] for row in figures if row[:2] == (datetime.date(2026, 11, 5), team_a)] == [
        ("attempts", "", "", Decimal(1)),
        ("collected", "reminder", "app", Decimal("300.00")),
        ("failed", "", "sms", Decimal(1)),
        ("payments", "reminder", "app", Decimal(1)),
        ("right_party", "", "", Decimal(1)),
    ]
    # A night later nothing has changed: nothing to file.
    a_night_later()
    assert days_to_file(through=LAST_OF_NOVEMBER) == []


def test_a_day_whose_records_changed_after_it_was_filed_is_filed_again_the_next_night(desk, desk_admin):
    file_through(LAST_OF_NOVEMBER)
    a_night_later()
    # The 300 of 5 November reversed, a payment of 20 November recorded late, the 3 November sms
    # to team B failed after all.
    reversal = payment_reverse(
        payment=Payment.objects.get(amount=Decimal("300.00")), by=desk_admin, reason="Paid twice by mistake"
    )
    assert reversal.status == "reversed"
    b1 = CollectionCase.objects.get(team=desk["team_b"], stage=Stage.REMINDER)
    payment(b1.loan, "25.00", moment(20), channel="bank_transfer")
    sms = OutboundMessage.objects.get(case=b1, scheduled_at=moment(3))
    sms.status = OutboundMessage.Status.FAILED
    sms.save()
    scopes = (Scope(), Scope((desk["team_a"].pk,)), Scope((desk["team_b"].pk,)))
    live = [live_figures(scope) for scope in scopes]
    assert [event_figures(scope) for scope in scopes] != live  # the filed days do not know yet

    assert days_to_file(through=LAST_OF_NOVEMBER) == [datetime.date(2026, 11, day) for day in (3, 5, 20)]
    counts = cycle.cycle_step_run(step="dashboard", as_of=datetime.date(2026, 12, 1), at=timezone.now())

    assert counts["days_filed"] == 3
    assert [event_figures(scope) for scope in scopes] == live
    assert desk_numbers(scope=scopes[0], period=NOVEMBER).collected["total"] == Decimal("1220.00") - 300 + 25


def test_the_filed_days_keep_the_team_and_stage_a_case_had_when_they_were_filed(desk):
    file_through(LAST_OF_NOVEMBER)
    a1 = CollectionCase.objects.get(team=desk["team_a"], stage=Stage.REMINDER)
    CollectionCase.objects.filter(pk=a1.pk).update(team=desk["team_b"], stage=Stage.NEGOTIATION)

    # November is filed: a1's calls and its 300 stay with team A, in the reminder stage.
    team_a = desk_numbers(scope=Scope((desk["team_a"].pk,)), period=NOVEMBER)
    assert team_a.attempts == {"attempts": 4, "right_party": 2}
    assert ("reminder", Decimal("300.00")) in [(line["key"], line["amount"]) for line in team_a.collected["by_stage"]]
    # The days after the last filed one count by the case as it is now: team B's.
    december = Period(datetime.date(2026, 12, 1), datetime.date(2026, 12, 1))
    attempt(a1, desk["ann"], moment(1, month=12), "rpc")
    assert desk_numbers(scope=Scope((desk["team_b"].pk,)), period=december).attempts == {
        "attempts": 1,
        "right_party": 1,
    }
    assert desk_numbers(scope=Scope((desk["team_a"].pk,)), period=december).attempts == {
        "attempts": 0,
        "right_party": 0,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_filings_at_once_take_turns_and_leave_one_set_of_figures(desk, at_once):
    days = days_to_file(through=LAST_OF_NOVEMBER)

    first, second = at_once(lambda _which: days_file(days), ["cycle", "command"])

    assert first == second
    figures = filed_figures_now()
    days_file(days)
    assert filed_figures_now() == figures
    assert DashboardDay.objects.count() == 56


def test_the_command_files_the_history_with_a_progress_bar_and_says_what_it_did(desk, capsys):
    out = io.StringIO()
    call_command("file_dashboard_days", "--through", "2026-11-30", stdout=out)
    written = len(filed_figures_now())
    assert out.getvalue().strip() == f"Filed 56 days (2026-10-06 to 2026-11-30): {written} figures written."
    assert "dashboard days" in capsys.readouterr().err

    a_night_later()
    out = io.StringIO()
    call_command("file_dashboard_days", "--through", "2026-11-30", stdout=out)
    assert out.getvalue().strip() == "Nothing to file: every day up to 2026-11-30 is filed and unchanged since."

    out = io.StringIO()
    call_command("file_dashboard_days", "--through", "2026-11-30", "--again", stdout=out)
    assert out.getvalue().startswith("Filed 56 days (2026-10-06 to 2026-11-30)")


def test_the_command_refuses_today_and_days_to_come_and_files_nothing(desk):
    today = timezone.localdate()
    with pytest.raises(CommandError, match=rf"--through {today}: only past days are filed, up to yesterday"):
        call_command("file_dashboard_days", "--through", today.isoformat(), stdout=io.StringIO())
    with pytest.raises(CommandError, match="is not a day: write it as YYYY-MM-DD"):
        call_command("file_dashboard_days", "--through", "30/11/2026", stdout=io.StringIO())
    assert not DashboardDay.objects.exists() and not DashboardFigure.objects.exists()
