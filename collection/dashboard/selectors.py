"""The dashboard's reads: the desk's numbers over a period, for the whole desk or some teams, each
computed in the database (grouped and conditional aggregates, a query per kind of record, whatever
the number of cases). docs/dashboard.md defines every figure; FIGURES below says it in a line,
for the page's hover."""

import contextlib
import dataclasses
import datetime
import functools
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, FilteredRelation, Max, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from config.desk import desk_day_start
from loans.models import ZERO, Contact, Payment, PortfolioSnapshot

from ..conduct import conduct_rule_label
from ..machine import OPEN_STAGES, Stage
from ..models import (
    CONVERSATION_OUTCOMES,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    ContactChannel,
    DashboardDay,
    DashboardFigure,
    JobRun,
    OutboundMessage,
    PromiseToPay,
)
from ..supervision.team_selectors import SETTLED_PROMISE

__all__ = [
    "FIGURES",
    "JOB_RUNS_SHOWN",
    "ROLL_MONTHS",
    "DeskNumbers",
    "Period",
    "Scope",
    "bucket_distribution",
    "case_rates",
    "collected_rows",
    "collected_tables",
    "desk_numbers",
    "last_job_runs",
    "messages_by_status",
    "period_days",
    "recovery_base",
    "refusals_by_rule",
    "roll_rates",
]

ROLL_MONTHS = 6
JOB_RUNS_SHOWN = 10
NO_CASE = "none"

# One line per figure: the page shows it on hover, docs/dashboard.md says it at length.
FIGURES = {
    "buckets": _(
        "Loans and money per delinquency bucket: for the whole desk from the portfolio snapshot of the "
        "period's last day (or the latest before it); for teams, the loans of their open cases now."
    ),
    "roll_rates": _(
        "Balance (total outstanding) in bucket n+1 at the end of a month over the balance in bucket n at "
        "the end of the month before, from the latest daily portfolio snapshot of each month. Whole desk."
    ),
    "cure_rate": _(
        "Cases resolved in the period (the loan current again or paid off) over the cases open at any "
        "moment of the period."
    ),
    "recovery_rate": _(
        "Money collected in the period (payments not reversed) over the overdue amount at the start of the period."
    ),
    "rpc_rate": _("Attempts that reached the borrower (a conversation, not a third party) over all attempts."),
    "ptp_rate": _("Promises to pay taken in the period over the right-party contacts of the period."),
    "kept_rate": _(
        "Promises due in the period that the evaluation settled: kept in full over kept, partly kept and broken."
    ),
    "attempts_per_account": _("Contact attempts in the period over the cases open at any moment of it."),
    "by_stage": _("Payments of the period, not reversed, by the current stage of the loan's latest case."),
    "by_channel": _("Payments of the period, not reversed, by the channel they came through."),
    "messages": _("Reminders scheduled in the period, by what became of them: sent, blocked, failed or queued."),
    "refusals": _("Attempts the conduct limits refused in the period, by the rule that refused them."),
    "jobs": _("The latest runs of the scheduled jobs, whole desk."),
}


@dataclasses.dataclass(frozen=True)
class Period:
    """Days `first` to `last`, both included, in the desk's time zone."""

    first: datetime.date
    last: datetime.date

    @property
    def starts(self) -> datetime.datetime:
        return desk_day_start(self.first)

    @property
    def ends(self) -> datetime.datetime:
        """The moment after the period: midnight after its last day."""
        return desk_day_start(self.last + datetime.timedelta(days=1))

    def window(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.starts, f"{field}__lt": self.ends})


@dataclasses.dataclass(frozen=True)
class Scope:
    """Which cases the numbers count: those of `team_ids`, or every case (teams None, the whole
    desk: an admin without a team filter)."""

    team_ids: tuple[int, ...] | None = None

    @property
    def whole_desk(self) -> bool:
        return self.team_ids is None

    def cases(self, prefix: str = "") -> Q:
        return Q() if self.team_ids is None else Q(**{f"{prefix}team__in": self.team_ids})


def _share(part, whole) -> Decimal | None:
    """part / whole, None when there is nothing to divide by."""
    if not whole:
        return None
    return Decimal(part or 0) / Decimal(whole)


# --- the portfolio ------------------------------------------------------------------------------


def bucket_distribution(*, scope: Scope, period: Period) -> list[dict]:
    """Per bucket (by DPD): loans, total outstanding and overdue amount. The whole desk reads the
    latest portfolio snapshot on or before the period's last day (one row per product and bucket,
    summed); teams read their open cases' loans as they stand."""
    if scope.whole_desk:
        day = PortfolioSnapshot.objects.filter(as_of__lte=period.last).order_by("-as_of").values("as_of")[:1]
        rows = (
            PortfolioSnapshot.objects.filter(as_of=Subquery(day))
            .values("as_of", "bucket__name", "bucket__min_dpd")
            .annotate(loans=Sum("loans"), outstanding=Sum("total_outstanding"), overdue=Sum("overdue_amount"))
            .order_by(F("bucket__min_dpd").asc(nulls_last=True))
        )
    else:
        rows = (
            CollectionCase.objects.filter(scope.cases(), stage__in=OPEN_STAGES)
            .values("loan__bucket__name", "loan__bucket__min_dpd")
            .annotate(
                loans=Count("pk"),
                outstanding=Sum(
                    F("loan__outstanding_principal")
                    + F("loan__outstanding_interest")
                    + F("loan__outstanding_fees")
                    + F("loan__outstanding_penalty")
                ),
                overdue=Sum("loan__overdue_amount"),
            )
            .order_by(F("loan__bucket__min_dpd").asc(nulls_last=True))
        )
    return [
        {
            "bucket": row.get("bucket__name", row.get("loan__bucket__name")) or "-",
            "as_of": row.get("as_of"),
            "loans": row["loans"] or 0,
            "outstanding": row["outstanding"] or ZERO,
            "overdue": row["overdue"] or ZERO,
        }
        for row in rows
    ]


def roll_rates(*, period: Period, months: int = ROLL_MONTHS) -> list[dict]:
    """Month over month, for the `months` months ending with the period's last: per month, the
    balance (total outstanding) in each bucket at the latest snapshot of the month over the balance
    in the bucket before it at the latest snapshot of the month before. One query (the month-end
    snapshots summed per day and bucket); the division is over that handful of rows."""
    last_month = period.last.replace(day=1)
    first_month = _months_before(last_month, months)
    month_ends = (
        PortfolioSnapshot.objects.filter(as_of__gte=first_month, as_of__lte=period.last)
        .annotate(month=TruncMonth("as_of"))
        .values("month")
        .annotate(day=Max("as_of"))
        .values("day")
    )
    rows = (
        PortfolioSnapshot.objects.filter(as_of__in=Subquery(month_ends), bucket__isnull=False)
        .values("as_of", "bucket__name", "bucket__min_dpd")
        .annotate(balance=Sum("total_outstanding"))
        .order_by("as_of", "bucket__min_dpd")
    )
    balances: dict[datetime.date, dict[str, Decimal]] = {}
    order: dict[str, int] = {}
    for row in rows:
        balances.setdefault(row["as_of"].replace(day=1), {})[row["bucket__name"]] = row["balance"] or ZERO
        order[row["bucket__name"]] = row["bucket__min_dpd"]
    buckets = sorted(order, key=order.get)
    result = []
    for month in sorted(balances):
        before = balances.get(_months_before(month, 1))
        if before is None:
            continue
        result.append(
            {
                "month": month,
                "rolls": [
                    {"from": low, "to": high, "rate": _share(balances[month].get(high, ZERO), before.get(low, ZERO))}
                    for low, high in zip(buckets, buckets[1:], strict=False)
                ],
            }
        )
    return result


def _months_before(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 - count
    return datetime.date(index // 12, index % 12 + 1, 1)


# --- the cases and the work on them -------------------------------------------------------------


def case_rates(*, scope: Scope, period: Period) -> dict:
    """Cases open at any moment of the period (opened before its end, not closed before its
    start) and those resolved in it, in one query."""
    open_in_period = Q(opened_at__lt=period.ends) & (Q(closed_at__isnull=True) | Q(closed_at__gte=period.starts))
    return CollectionCase.objects.filter(scope.cases()).aggregate(
        open_in_period=Count("pk", filter=open_in_period),
        resolved=Count("pk", filter=open_in_period & Q(stage=Stage.RESOLVED) & period.window("closed_at")),
    )


# Attempts that reached the borrower: a conversation, with no contact or one that is not a third
# party (the team board's RIGHT_PARTY_ATTEMPT). Read through a join to the third parties' contacts
# only (THIRD_PARTY below): the plain join hashes every contact (1,000,000 at 1M loans, most of
# the query's time) where this one hashes the third parties', found by the contacts' kind index. A
# hash join, it stays one on a desk with millions of them (a NOT IN over their ids would not: past
# work_mem PostgreSQL reads the set again for each attempt). The test checks the two agree.
THIRD_PARTY = "third_party_contact"
RIGHT_PARTY = Q(outcome__in=CONVERSATION_OUTCOMES) & Q(**{f"{THIRD_PARTY}__isnull": True})


# What the page counts of a period's attempts, summed (attempt_counts) or per day and team (filing).
ATTEMPT_COUNTS = {"attempts": Count("pk"), "right_party": Count("pk", filter=RIGHT_PARTY)}


def attempts_in(*, scope: Scope, period: Period) -> QuerySet:
    """The attempts logged in the period on the scope's cases, ready for ATTEMPT_COUNTS."""
    return ContactAttempt.objects.annotate(
        **{THIRD_PARTY: FilteredRelation("contact", condition=Q(contact__kind__in=Contact.THIRD_PARTY_KINDS))}
    ).filter(scope.cases("case__"), period.window("attempted_at"))


def attempt_counts(*, scope: Scope, period: Period) -> dict:
    """Attempts logged in the period on the scope's cases, and those that reached the borrower."""
    return attempts_in(scope=scope, period=period).aggregate(**ATTEMPT_COUNTS)


def promise_counts(*, scope: Scope, period: Period) -> dict:
    """Promises taken in the period, and of those due in it the settled and the kept."""
    due = Q(due_date__gte=period.first, due_date__lte=period.last)
    settled = due & Q(status__in=SETTLED_PROMISE, evaluated_at__isnull=False)
    taken = period.window("promised_at")
    return (
        PromiseToPay.objects.filter(scope.cases("case__"))
        .filter(taken | due)
        .aggregate(
            taken=Count("pk", filter=taken),
            settled=Count("pk", filter=settled),
            kept=Count("pk", filter=settled & Q(status=PromiseToPay.Status.KEPT)),
        )
    )


_COLLECTED_SQL = """
    SELECT {by_day} latest.stage, payment.channel, SUM(payment.amount) AS amount, COUNT(*) AS payments
    FROM {payment} payment
    {join} {case} latest ON latest.loan_id = payment.loan_id{teams} AND NOT EXISTS (
        SELECT 1 FROM {case} later
        WHERE later.loan_id = latest.loan_id
          AND (later.opened_at > latest.opened_at OR (later.opened_at = latest.opened_at AND later.id > latest.id))
    )
    WHERE payment.reversed_at IS NULL AND payment.received_at >= %s AND payment.received_at < %s
    GROUP BY {group}
"""
# The filed measures of payments, as collected_rows names them.
FILED_PAYMENTS = {DashboardFigure.Measure.COLLECTED: "amount", DashboardFigure.Measure.PAYMENTS: "payments"}


def _by_day() -> tuple[str, list]:
    """The columns grouping per day (in the desk's time zone, as the database dialect writes it)
    and team, for the filing (collection.dashboard.filing)."""
    day, params = connection.ops.datetime_cast_date_sql("payment.received_at", (), settings.TIME_ZONE)
    return f"{day} AS day, latest.team_id AS team,", list(params)


def collected_rows(*, scope: Scope, period: Period, by_day: bool = False) -> list[dict]:
    """The period's standing payments summed per stage of their loan's latest case (no later case
    of the loan: opened later, or at the same moment with a higher id) and channel, in one query:
    each payment joined straight to that case by loan (the ORM's path through the loans looked up
    every payment's loan, most of the time at a million loans). For the whole desk a left join,
    the payments of loans without a case grouped under no stage; for teams the latest cases of
    theirs only (a case handed to another team counts for that team). `by_day`: per day and team
    of that case too (the rows carry "day" and "team")."""
    by_day_sql, params = _by_day() if by_day else ("", [])
    teams = ""
    if not scope.whole_desk:
        teams = " AND latest.team_id = ANY(%s)"
        params.append(list(scope.team_ids))
    sql = _COLLECTED_SQL.format(
        payment=Payment._meta.db_table,
        case=CollectionCase._meta.db_table,
        join="LEFT JOIN" if scope.whole_desk else "JOIN",
        teams=teams,
        by_day=by_day_sql,
        group="1, 2, 3, 4" if by_day else "1, 2",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, period.starts, period.ends])
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def collected_tables(rows: list[dict]) -> dict:
    """Money collected by the stage of the loan's latest case ("none" for a loan without a case)
    and by payment channel: collected_rows (a handful, grouped in the database) folded into the
    two tables."""
    by_stage: dict[str, dict] = {}
    by_channel: dict[str, dict] = {}
    for row in rows:
        for table, key in ((by_stage, row["stage"] or NO_CASE), (by_channel, row["channel"])):
            line = table.setdefault(key, {"key": key, "amount": ZERO, "payments": 0})
            line["amount"] += row["amount"]
            line["payments"] += row["payments"]
    stage_labels = {**dict(Stage.choices), NO_CASE: _("No case")}
    stage_order = [*Stage.values, NO_CASE]
    channel_labels = dict(Payment.Channel.choices)
    stages = sorted(by_stage.values(), key=lambda line: stage_order.index(line["key"]))
    channels = sorted(by_channel.values(), key=lambda line: -line["amount"])
    for line in stages:
        line["label"] = stage_labels.get(line["key"], line["key"])
    for line in channels:
        line["label"] = channel_labels.get(line["key"], line["key"])
    return {
        "by_stage": stages,
        "by_channel": channels,
        "total": sum((line["amount"] for line in stages), ZERO),
    }


def recovery_base(*, scope: Scope, period: Period, collected: Decimal, buckets: list[dict]) -> dict:
    """The overdue amount at the start of the period, and where it was read. The whole desk: the
    latest portfolio snapshot before the period's first day (the night before). Teams (no snapshot
    per team): what their open cases' loans owe overdue now (the bucket distribution's sum, read
    already) plus what was collected on them in the period, an estimate that counts installments
    fallen due within the period too."""
    if scope.whole_desk:
        before = PortfolioSnapshot.objects.filter(as_of__lt=period.first).order_by("-as_of").values("as_of")[:1]
        row = PortfolioSnapshot.objects.filter(as_of=Subquery(before)).aggregate(
            day=Max("as_of"), overdue=Sum("overdue_amount")
        )
        return {"overdue": row["overdue"], "as_of": row["day"], "estimated": False}
    overdue = sum((row["overdue"] for row in buckets), ZERO)
    return {"overdue": overdue + collected, "as_of": None, "estimated": True}


# What the page counts of a period's reminders, per channel (messages_by_status) and per day and
# team too (filing).
MESSAGE_COUNTS = {
    status: Count("pk", filter=Q(status=status))
    for status in (
        OutboundMessage.Status.SENT,
        OutboundMessage.Status.BLOCKED,
        OutboundMessage.Status.FAILED,
        OutboundMessage.Status.QUEUED,
    )
}


def messages_in(*, scope: Scope, period: Period) -> QuerySet:
    """The reminders scheduled in the period on the scope's cases, ready for MESSAGE_COUNTS."""
    return OutboundMessage.objects.filter(scope.cases("case__"), period.window("scheduled_at"))


def messages_by_status(*, scope: Scope, period: Period) -> list[dict]:
    """Reminders scheduled in the period, per channel: sent, blocked, failed, queued."""
    rows = messages_in(scope=scope, period=period).values("channel").annotate(**MESSAGE_COUNTS).order_by("channel")
    return list(rows)


def refusals_by_rule(*, scope: Scope, period: Period) -> list[dict]:
    """Attempts refused by the conduct limits in the period, per rule, most first."""
    rows = (
        ConductRefusal.objects.filter(scope.cases("case__"), period.window("attempted_at"))
        .values("rule")
        .annotate(refusals=Count("pk"), cases=Count("case", distinct=True))
        .order_by("-refusals", "rule")
    )
    return [{**row, "label": conduct_rule_label(row["rule"])} for row in rows]


def last_job_runs(*, limit: int = JOB_RUNS_SHOWN) -> list[JobRun]:
    return list(JobRun.objects.order_by("-started_at")[:limit])


# --- the filed days ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PeriodDays:
    """A period cut where the filing stops: `filed` its days up to the last filed day, read from
    DashboardFigure, `live` the days after them, read from the attempts, payments and messages
    themselves; either may be None. The filing files every day from the first with a record on,
    oldest first (collection.dashboard.filing), so the days before the last filed one are filed."""

    filed: Period | None
    live: Period | None


def period_days(period: Period) -> PeriodDays:
    last_filed = DashboardDay.objects.filter(day__lte=period.last).aggregate(last=Max("day"))["last"]
    if last_filed is None or last_filed < period.first:
        return PeriodDays(filed=None, live=period)
    if last_filed >= period.last:
        return PeriodDays(filed=period, live=None)
    return PeriodDays(
        filed=Period(period.first, last_filed), live=Period(last_filed + datetime.timedelta(days=1), period.last)
    )


def filed_figures(*, scope: Scope, period: Period) -> dict[tuple[str, str, str], Decimal]:
    """The filed figures of the period's days summed per measure, stage and channel, in one query
    (a few dozen rows per team and day)."""
    rows = (
        DashboardFigure.objects.filter(scope.cases(), day__gte=period.first, day__lte=period.last)
        .values("measure", "stage", "channel")
        .annotate(total=Sum("value"))
        .order_by()
    )
    return {(row["measure"], row["stage"], row["channel"]): row["total"] for row in rows}


# --- everything the page shows ------------------------------------------------------------------


class DeskNumbers:
    """Every figure of the dashboard for a scope and a period, each read from the database the
    first time it is asked for (and kept): the page reads them all, ten queries for teams and
    eleven for the whole desk (the snapshot before the period), whatever the portfolio's size; a
    CSV export only those of its table."""

    def __init__(self, *, scope: Scope, period: Period):
        self.scope, self.period = scope, period

    @functools.cached_property
    def buckets(self) -> list[dict]:
        return bucket_distribution(scope=self.scope, period=self.period)

    @functools.cached_property
    def roll_rates(self) -> list[dict]:
        return roll_rates(period=self.period)

    @functools.cached_property
    def cases(self) -> dict:
        return case_rates(scope=self.scope, period=self.period)

    @functools.cached_property
    def days(self) -> PeriodDays:
        return period_days(self.period)

    @functools.cached_property
    def filed(self) -> dict[tuple[str, str, str], Decimal]:
        return filed_figures(scope=self.scope, period=self.days.filed) if self.days.filed else {}

    @functools.cached_property
    def attempts(self) -> dict:
        live = self.days.live
        counts = attempt_counts(scope=self.scope, period=live) if live else dict.fromkeys(ATTEMPT_COUNTS, 0)
        for (measure, _stage, _channel), value in self.filed.items():
            if measure in ATTEMPT_COUNTS:
                counts[measure] += int(value)
        return counts

    @functools.cached_property
    def promises(self) -> dict:
        return promise_counts(scope=self.scope, period=self.period)

    @functools.cached_property
    def collected(self) -> dict:
        live = self.days.live
        rows = collected_rows(scope=self.scope, period=live) if live else []
        filed: dict[tuple[str, str], dict] = {}
        for (measure, stage, channel), value in self.filed.items():
            if measure in FILED_PAYMENTS:
                line = filed.setdefault((stage, channel), {"amount": ZERO, "payments": 0})
                line[FILED_PAYMENTS[measure]] += value if measure == DashboardFigure.Measure.COLLECTED else int(value)
        rows += [{"stage": stage or None, "channel": channel, **sums} for (stage, channel), sums in filed.items()]
        return collected_tables(rows)

    @functools.cached_property
    def recovery(self) -> dict:
        buckets = [] if self.scope.whole_desk else self.buckets
        return recovery_base(scope=self.scope, period=self.period, collected=self.collected["total"], buckets=buckets)

    @functools.cached_property
    def messages(self) -> list[dict]:
        live = self.days.live
        by_channel = {row["channel"]: row for row in messages_by_status(scope=self.scope, period=live)} if live else {}
        for (measure, _stage, channel), value in self.filed.items():
            if measure in MESSAGE_COUNTS:
                row = by_channel.setdefault(channel, {"channel": channel, **dict.fromkeys(MESSAGE_COUNTS, 0)})
                row[measure] += int(value)
        labels = dict(ContactChannel.choices)
        return [{**by_channel[channel], "label": labels.get(channel, channel)} for channel in sorted(by_channel)]

    @functools.cached_property
    def refusals(self) -> list[dict]:
        return refusals_by_rule(scope=self.scope, period=self.period)

    @functools.cached_property
    def job_runs(self) -> list[JobRun]:
        return last_job_runs()

    @property
    def cure_rate(self) -> Decimal | None:
        return _share(self.cases["resolved"], self.cases["open_in_period"])

    @property
    def recovery_rate(self) -> Decimal | None:
        return _share(self.collected["total"], self.recovery["overdue"])

    @property
    def rpc_rate(self) -> Decimal | None:
        return _share(self.attempts["right_party"], self.attempts["attempts"])

    @property
    def ptp_rate(self) -> Decimal | None:
        return _share(self.promises["taken"], self.attempts["right_party"])

    @property
    def kept_rate(self) -> Decimal | None:
        return _share(self.promises["kept"], self.promises["settled"])

    @property
    def attempts_per_account(self) -> Decimal | None:
        return _share(self.attempts["attempts"], self.cases["open_in_period"])


@contextlib.contextmanager
def period_scans():
    """Lets PostgreSQL read the dashboard's periods with parallel workers, then gives the
    connection back as it was. The dashboard reads every attempt, payment and reminder of a
    period (hundreds of thousands of rows at a million loans), where parallel workers halve the
    time; the web service turns them off for the pages' short index reads
    (DESK_DB_PARALLEL_WORKERS=0, config/settings/base.py). DESK_DASHBOARD_PARALLEL_WORKERS says
    how many (default 2; 0 leaves the connection's setting alone)."""
    workers = settings.DESK_DASHBOARD_PARALLEL_WORKERS
    if connection.vendor != "postgresql" or not workers:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        before = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', %s, false)", [str(workers)])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('max_parallel_workers_per_gather', %s, false)", [before])


def desk_numbers(*, scope: Scope, period: Period) -> DeskNumbers:
    """The dashboard's figures for `scope` over `period` (DeskNumbers: read when first asked for)."""
    return DeskNumbers(scope=scope, period=period)
