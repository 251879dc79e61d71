"""The dashboard's filed days: each night the collection cycle files the past days' attempts,
payments and reminders into DashboardFigure (a few dozen rows per team and day), so that the
dashboard reads a long period from there and only the days after the last filed one from the
records themselves (selectors.DeskNumbers). A day's figures count under the team and stage its
cases had when the day was filed; a day is filed again when a record of it was added, reversed or
changed since the last filing, so the filed figures are the live ones as of that night
(docs/dashboard.md, "Filed days").

Filing a day deletes its figures and writes them again from the records, in one transaction
with the other days of its stretch: run twice, or by the cycle and the command at once (an
advisory lock makes them take turns), it leaves the same rows. Days are filed oldest first,
so an interrupted filing leaves every day before the last filed one filed."""

import datetime
import itertools
from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from loans.models import Payment

from ..models import ContactAttempt, DashboardDay, DashboardFigure, OutboundMessage
from .selectors import (
    ATTEMPT_COUNTS,
    FILED_PAYMENTS,
    MESSAGE_COUNTS,
    Period,
    Scope,
    attempts_in,
    collected_rows,
    messages_in,
)

__all__ = ["CHANGES_OVERLAP", "STRETCH_DAYS", "days_file", "days_to_file", "filing_through"]

# Days filed in one transaction, at most (a month's records read once per kind of record).
STRETCH_DAYS = 31
# Records changed this long before the last filing started count as changed since: a payment
# recorded just before a filing but committed after it read the day is filed the next night.
CHANGES_OVERLAP = datetime.timedelta(hours=1)
# pg_advisory_xact_lock's key: one filing at a time.
_LOCK = 0x64617368  # "dash"
_WHOLE_DESK = Scope()


def _day_of(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_default_timezone())


def _days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=offset) for offset in range((last - first).days + 1)]


def _first_record_day() -> datetime.date | None:
    """The desk's first day with an attempt, a payment or a reminder (three index reads)."""
    days = [
        ContactAttempt.objects.aggregate(day=Min(_day_of("attempted_at")))["day"],
        Payment.objects.aggregate(day=Min(_day_of("received_at")))["day"],
        OutboundMessage.objects.aggregate(day=Min(_day_of("scheduled_at")))["day"],
    ]
    return min((day for day in days if day), default=None)


def _changed_days(*, since: datetime.datetime, through: datetime.date) -> set[datetime.date]:
    """Days up to `through` with a record added, reversed or changed since `since`."""
    changed = [
        ContactAttempt.objects.filter(created_at__gte=since).annotate(day=_day_of("attempted_at")),
        Payment.objects.filter(Q(created_at__gte=since) | Q(reversed_at__gte=since)).annotate(
            day=_day_of("received_at")
        ),
        OutboundMessage.objects.filter(updated_at__gte=since).annotate(day=_day_of("scheduled_at")),
    ]
    return {
        day for records in changed for day in records.filter(day__lte=through).values_list("day", flat=True).distinct()
    }


def days_to_file(*, through: datetime.date) -> list[datetime.date]:
    """The days up to `through` the filing has to (re)file, oldest first: every day from the
    desk's first record on that is not filed yet, and the filed days with a record added,
    reversed or changed since the last filing started."""
    first = _first_record_day()
    if first is None or first > through:
        return []
    filed = DashboardDay.objects.filter(day__lte=through).aggregate(last=Max("filed_at"))["last"]
    filed_days = set(DashboardDay.objects.filter(day__gte=first, day__lte=through).values_list("day", flat=True))
    missing = {day for day in _days(first, through) if day not in filed_days}
    changed = _changed_days(since=filed - CHANGES_OVERLAP, through=through) & filed_days if filed else set()
    return sorted(missing | changed)


def _stretches(days: Iterable[datetime.date]) -> list[list[datetime.date]]:
    """Consecutive days in runs of at most STRETCH_DAYS, oldest first."""
    ordered = sorted(set(days))
    runs = [
        [day for _index, day in run]
        for _key, run in itertools.groupby(enumerate(ordered), key=lambda pair: pair[1] - datetime.timedelta(pair[0]))
    ]
    return [run[start : start + STRETCH_DAYS] for run in runs for start in range(0, len(run), STRETCH_DAYS)]


def _figures(period: Period) -> list[DashboardFigure]:
    """The period's figures per day and team, read from its records in three grouped queries."""
    figures: list[DashboardFigure] = []

    def add(day, team, measure, value, stage="", channel=""):
        if value:
            figures.append(
                DashboardFigure(day=day, team_id=team, measure=measure, stage=stage, channel=channel, value=value)
            )

    attempts = (
        attempts_in(scope=_WHOLE_DESK, period=period)
        .annotate(day=_day_of("attempted_at"), team=F("case__team"))
        .values("day", "team")
        .annotate(**ATTEMPT_COUNTS)
        .order_by()
    )
    for row in attempts:
        for measure in ATTEMPT_COUNTS:
            add(row["day"], row["team"], measure, row[measure])
    for row in collected_rows(scope=_WHOLE_DESK, period=period, by_day=True):
        for measure, name in FILED_PAYMENTS.items():
            add(row["day"], row["team"], measure, row[name], stage=row["stage"] or "", channel=row["channel"])
    messages = (
        messages_in(scope=_WHOLE_DESK, period=period)
        .annotate(day=_day_of("scheduled_at"), team=F("case__team"))
        .values("day", "team", "channel")
        .annotate(**MESSAGE_COUNTS)
        .order_by()
    )
    for row in messages:
        for measure in MESSAGE_COUNTS:
            add(row["day"], row["team"], measure, row[measure], channel=row["channel"])
    return figures


def days_file(
    days: Iterable[datetime.date],
    *,
    at: datetime.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """File `days`: per stretch of consecutive days, in one transaction, delete their figures and
    write them again from the records, and mark them filed at `at` (default now);
    `progress(days)` after each stretch. Returns the days filed and the figures written."""
    at = at or timezone.now()
    filed = written = 0
    for stretch in _stretches(days):
        period = Period(stretch[0], stretch[-1])
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
            DashboardFigure.objects.filter(day__gte=period.first, day__lte=period.last).delete()
            figures = DashboardFigure.objects.bulk_create(_figures(period), batch_size=5_000)
            DashboardDay.objects.bulk_create(
                [DashboardDay(day=day, filed_at=at) for day in stretch],
                update_conflicts=True,
                unique_fields=["day"],
                update_fields=["filed_at"],
            )
        filed += len(stretch)
        written += len(figures)
        if progress:
            progress(len(stretch))
    return {"days_filed": filed, "figures_written": written}


def filing_through(as_of: datetime.date) -> datetime.date:
    """The last day a cycle for `as_of` files: the day before it, and never today or later."""
    return min(as_of, timezone.localdate()) - datetime.timedelta(days=1)
