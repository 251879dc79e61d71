"""The team board's reads: one row per collector of the teams a supervisor steers, each figure
computed set-based (a grouped query per kind of record, whatever the number of collectors), and
the team's open cases for reassignment. docs/supervision.md defines every figure."""

import dataclasses
import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import roles
from accounts.models import Team, User
from config.desk import desk_day_start
from loans.models import ZERO, Contact, Payment

from ..access import cases_visible_to, sees_everything, supervised_team_ids
from ..machine import OPEN_STAGES, Stage
from ..models import (
    CONVERSATION_OUTCOMES,
    Callback,
    CaseNote,
    CollectionCase,
    ContactAttempt,
    PromiseToPay,
)

__all__ = [
    "IDLE_AFTER",
    "NO_ATTEMPT_DAYS",
    "CollectorRow",
    "DeskPeriods",
    "desk_periods",
    "no_attempt_for",
    "no_right_party_contact_for",
    "team_board",
    "team_cases",
    "team_cases_totals",
    "team_collectors",
    "teams_for_board",
]

# "Open cases with no attempt for N days": N unless the board is asked for another.
NO_ATTEMPT_DAYS = 3
# Idle: no attempt, note or promise for this long within today's working hours.
IDLE_AFTER = datetime.timedelta(hours=1)

# An attempt that reached the borrower: a conversation outcome, not through a third party.
RIGHT_PARTY_ATTEMPT = Q(outcome__in=CONVERSATION_OUTCOMES) & ~Q(contact__kind__in=Contact.THIRD_PARTY_KINDS)
SETTLED_PROMISE = (PromiseToPay.Status.KEPT, PromiseToPay.Status.PARTIALLY_KEPT, PromiseToPay.Status.BROKEN)


@dataclasses.dataclass(frozen=True)
class DeskPeriods:
    """The board's periods, in the desk's time zone: today, this week (from Monday), this month."""

    now: datetime.datetime
    today: datetime.date
    day_start: datetime.datetime
    week_start: datetime.datetime
    month_start: datetime.datetime
    working_start: datetime.datetime
    working_end: datetime.datetime


def desk_periods(now: datetime.datetime | None = None) -> DeskPeriods:
    now = now or timezone.now()
    today = timezone.localdate(now)
    opens, closes = settings.DESK_WORKING_HOURS
    zone = timezone.get_default_timezone()
    return DeskPeriods(
        now=now,
        today=today,
        day_start=desk_day_start(today),
        week_start=desk_day_start(today - datetime.timedelta(days=today.weekday())),
        month_start=desk_day_start(today.replace(day=1)),
        working_start=datetime.datetime.combine(today, opens, tzinfo=zone),
        working_end=datetime.datetime.combine(today, closes, tzinfo=zone),
    )


def _cutoff(days: int, today: datetime.date) -> datetime.datetime:
    # N days or more without: nothing since the start of day today - N + 1 (the stage rules' count).
    return desk_day_start(today - datetime.timedelta(days=max(days, 1) - 1))


def no_attempt_for(days: int, *, today: datetime.date) -> Q:
    """Cases with no contact attempt (by anyone, on any channel) for `days` days or more, counted
    from the case's opening when it never had one."""
    cutoff = _cutoff(days, today)
    recent = ContactAttempt.objects.filter(case=OuterRef("pk"), attempted_at__gte=cutoff)
    return Q(opened_at__lt=cutoff) & ~Exists(recent)


def no_right_party_contact_for(days: int, *, today: datetime.date) -> Q:
    """Cases whose borrower has not been reached for `days` days or more (counted from the case's
    opening when never reached): the stage rules' criterion."""
    cutoff = _cutoff(days, today)
    return Q(last_right_party_contact_at__lt=cutoff) | Q(last_right_party_contact_at__isnull=True, opened_at__lt=cutoff)


def teams_for_board(*, user: User) -> QuerySet[Team]:
    """The teams whose board `user` may read: every team for an admin, their own for a supervisor."""
    teams = Team.objects.order_by("name")
    return teams if sees_everything(user) else teams.filter(pk__in=supervised_team_ids(user))


def team_collectors(*, teams) -> QuerySet[User]:
    """The active collectors of `teams`, by name."""
    return (
        User.objects.filter(teams__in=teams, groups__name=roles.COLLECTOR, is_active=True)
        .exclude(username=roles.SYSTEM_USERNAME)
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


@dataclasses.dataclass
class CollectorRow:
    """One collector's line of the board (docs/supervision.md defines each figure)."""

    collector: User
    open_cases: int = 0
    overdue: Decimal = ZERO
    attempts_today: int = 0
    attempts_week: int = 0
    rpc_week: int = 0
    promises_made: int = 0
    promises_kept: int = 0
    promises_settled: int = 0
    collected: Decimal = ZERO
    cured: int = 0
    callbacks_overdue: int = 0
    no_attempt: int = 0
    last_activity: datetime.datetime | None = None
    idle: bool = False

    @property
    def rpc_percent(self) -> float | None:
        """Right-party contacts over attempts this week, in %; None without attempts."""
        return 100 * self.rpc_week / self.attempts_week if self.attempts_week else None

    @property
    def kept_percent(self) -> float | None:
        """Kept over settled promises due this month, in %; None without any settled."""
        return 100 * self.promises_kept / self.promises_settled if self.promises_settled else None


def _latest(queryset, field: str):
    return Subquery(queryset.order_by(f"-{field}").values(field)[:1])


def team_board(*, teams, periods: DeskPeriods, no_attempt_days: int = NO_ATTEMPT_DAYS) -> list[CollectorRow]:
    """A row per active collector of `teams`: six queries, whatever the number of collectors or
    cases. Case figures count their cases in `teams`; attempts, promises and activity are the
    collector's own."""
    teams = list(teams)
    collector = OuterRef("pk")
    collectors = list(
        team_collectors(teams=teams).annotate(
            last_attempt_at=_latest(ContactAttempt.objects.filter(collector=collector), "attempted_at"),
            last_note_at=_latest(CaseNote.objects.filter(written_by=collector), "written_at"),
            last_promise_at=_latest(PromiseToPay.objects.filter(taken_by=collector), "promised_at"),
        )
    )
    rows = {user.pk: CollectorRow(collector=user) for user in collectors}
    if not rows:
        return []
    ids = list(rows)

    is_open = Q(stage__in=OPEN_STAGES)
    callback_overdue = Callback.objects.filter(
        case=OuterRef("pk"), status=Callback.Status.PENDING, due_at__lt=periods.now
    )
    cases = (
        CollectionCase.objects.filter(team__in=teams, assigned_to__in=ids)
        .filter(is_open | Q(stage=Stage.RESOLVED, closed_at__gte=periods.month_start))
        .values("assigned_to")
        .annotate(
            open_cases=Count("pk", filter=is_open),
            overdue=Sum("loan__overdue_amount", filter=is_open),
            no_attempt=Count("pk", filter=is_open & no_attempt_for(no_attempt_days, today=periods.today)),
            callbacks_overdue=Count("pk", filter=is_open & Q(Exists(callback_overdue))),
            cured=Count("pk", filter=Q(stage=Stage.RESOLVED)),
        )
        .order_by()
    )
    for row in cases:
        line = rows[row["assigned_to"]]
        line.open_cases, line.overdue = row["open_cases"], row["overdue"] or ZERO
        line.no_attempt, line.callbacks_overdue, line.cured = row["no_attempt"], row["callbacks_overdue"], row["cured"]

    attempts = (
        ContactAttempt.objects.filter(collector__in=ids, attempted_at__gte=periods.week_start)
        .values("collector")
        .annotate(
            today=Count("pk", filter=Q(attempted_at__gte=periods.day_start)),
            week=Count("pk"),
            rpc=Count("pk", filter=RIGHT_PARTY_ATTEMPT),
        )
        .order_by()
    )
    for row in attempts:
        line = rows[row["collector"]]
        line.attempts_today, line.attempts_week, line.rpc_week = row["today"], row["week"], row["rpc"]

    due_this_month = Q(due_date__gte=periods.month_start.date(), due_date__lte=periods.today)
    settled = due_this_month & Q(status__in=SETTLED_PROMISE, evaluated_at__isnull=False)
    promises = (
        PromiseToPay.objects.filter(taken_by__in=ids)
        .filter(Q(promised_at__gte=periods.month_start) | due_this_month)
        .values("taken_by")
        .annotate(
            made=Count("pk", filter=Q(promised_at__gte=periods.month_start)),
            settled=Count("pk", filter=settled),
            kept=Count("pk", filter=settled & Q(status=PromiseToPay.Status.KEPT)),
        )
        .order_by()
    )
    for row in promises:
        line = rows[row["taken_by"]]
        line.promises_made, line.promises_settled, line.promises_kept = row["made"], row["settled"], row["kept"]

    # A payment counts for whoever holds the loan's latest case (in these teams).
    latest_case = CollectionCase.objects.filter(loan=OuterRef("loan_id")).order_by("-opened_at", "-pk")
    collected = (
        Payment.objects.standing()
        .filter(received_at__gte=periods.month_start, received_at__lte=periods.now)
        .annotate(
            holder=Subquery(latest_case.values("assigned_to")[:1]),
            holder_team=Subquery(latest_case.values("team")[:1]),
        )
        .filter(holder__in=ids, holder_team__in=[team.pk for team in teams])
        .values("holder")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in collected:
        rows[row["holder"]].collected = row["total"] or ZERO

    for user in collectors:
        line = rows[user.pk]
        moments = [moment for moment in (user.last_attempt_at, user.last_note_at, user.last_promise_at) if moment]
        line.last_activity = max(moments) if moments else None
        line.idle = _idle(line.last_activity, periods)
    return [rows[user.pk] for user in collectors]


def _idle(last_activity: datetime.datetime | None, periods: DeskPeriods) -> bool:
    """Within today's working hours, nothing done for IDLE_AFTER (counted from the day's opening
    when the last activity was before it)."""
    if not periods.working_start <= periods.now < periods.working_end:
        return False
    since = max(last_activity, periods.working_start) if last_activity else periods.working_start
    return periods.now - since >= IDLE_AFTER


def team_cases(*, user: User, teams, now: datetime.datetime | None = None) -> QuerySet[CollectionCase]:
    """The open cases of `teams` within `user`'s reach, largest overdue amount first, with their
    last attempt."""
    now = now or timezone.now()
    last_attempt = ContactAttempt.objects.filter(case=OuterRef("pk")).order_by("-attempted_at")
    cases = CollectionCase.objects.filter(team__in=teams, stage__in=OPEN_STAGES)
    return (
        cases_visible_to(user, cases)
        .select_related("loan", "loan__borrower", "loan__bucket", "assigned_to", "team")
        .annotate(last_attempt_at=Subquery(last_attempt.values("attempted_at")[:1]))
        .order_by("-loan__overdue_amount", "pk")
    )


def team_cases_totals(cases: QuerySet[CollectionCase]) -> dict:
    """How many cases and how much overdue money a filtered list holds (one query)."""
    return cases.order_by().aggregate(count=Count("pk"), overdue=Coalesce(Sum("loan__overdue_amount"), ZERO))
