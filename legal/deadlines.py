"""The deadlines of a legal case: what the desk must do, or watch happen, by when
(docs/legal-deadlines.md). Each comes from one record and is open while the case is in the step
it belongs to and nothing recorded has answered it yet:

- a hearing to come (in hearing), on its day in the desk's time zone; past that day it is gone;
- the payment order's objection period (a payment order served and not objected to);
- the judicial confirmation of a mediated agreement, 30 days after it (agreed, not confirmed,
  while the case is in mediation);
- the appeal period of a judgment (served, not recorded as in effect);
- the application for enforcement, within 2 years of the deadline to perform (DOMAIN.md). The
  desk keeps no deadline to perform, so the day it is taken from is the day the obligation became
  enforceable: the judgment's effective day, the end of the payment order's objection period, the
  day the mediated agreement was confirmed. A judgment usually gives a few days more to pay, so
  the desk's deadline falls on or before the court's: the safe side. Open until the case moves
  into enforcement;
- each freeze's lapse, for its renewal: a frozen asset not released and not renewed (a renewal is
  a later record of the same enforcement with the same kind and description), while the case is
  active;
- the check for assets six months after the current round of enforcement ended, then every six
  months from that day, until enforcement resumes (the latest `suspended_on` of the case);
- the debt's limitation period (`LegalCase.limitation_ends`) while no court has the claim: before
  a payment order or a suit, and again after a payment order was objected to (the application
  restarted it and the desk must now sue). A suit, a payment order running its course or
  enforcement interrupts it, and the court's own periods above take over.

A deadline is open whether or not its day has passed (an objection period that ran out is the cue
to apply for enforcement, a freeze that lapsed is to be recorded released); the hearing and the
asset check are the exceptions, a hearing being an event and the checks recurring. A closed case
has none.

`legal_case_deadlines` reads one case (its records prefetched by `with_deadline_records` when
reading many); `legal_cases_with_next_deadline` puts the same rules in SQL, so a list of cases
orders by its next deadline without a loop. The two must agree (tests/legal/test_deadlines.py)."""

import dataclasses
import datetime

from dateutil.relativedelta import relativedelta
from django.db import models
from django.db.models import Case, Exists, F, Func, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce, ExtractMonth, ExtractYear, Greatest, Least, NullIf, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from config.desk import desk_day_start

from .machine import ACTIVE_STATES, LegalState
from .models import DeadlineKind, Enforcement, FrozenAsset, Hearing, Judgment, LegalCase, Mediation, PaymentOrder

__all__ = [
    "ASSET_CHECK_MONTHS",
    "DEADLINE_RECORDS",
    "ENFORCEMENT_APPLICATION_YEARS",
    "Deadline",
    "DeadlineKind",
    "frozen_assets_in_force",
    "freezes_in_force",
    "legal_case_deadlines",
    "legal_cases_with_deadline_days",
    "legal_cases_with_next_deadline",
    "limitation_ends_sql",
    "limitation_running",
    "next_asset_check",
    "next_deadline_kind",
    "next_deadline",
    "with_deadline_records",
]

ENFORCEMENT_APPLICATION_YEARS = 2
ASSET_CHECK_MONTHS = 6
CONFIRMATION_DAYS = 30
LIMITATION_YEARS = 3

# Before any court has the claim: the limitation period runs.
BEFORE_COURT = (LegalState.PREPARING, LegalState.LETTER_SENT, LegalState.MEDIATION)
# The records the deadlines are read from (prefetch them when reading many cases).
DEADLINE_RECORDS = ("hearings", "payment_orders", "mediations", "judgments", "enforcements", "frozen_assets")

# The order of kinds falling on the same day.
_KIND_ORDER = {kind: position for position, kind in enumerate(DeadlineKind.values)}


@dataclasses.dataclass(frozen=True)
class Deadline:
    """One open deadline of a legal case: its kind, its day, what it is about in a few words, and
    the record it comes from (the legal case itself for the limitation period)."""

    kind: str
    due_on: datetime.date
    what: str
    record: models.Model

    @property
    def label(self) -> str:
        return str(DeadlineKind(self.kind).label)

    @property
    def record_id(self) -> int:
        return self.record.pk

    def days_left(self, today: datetime.date) -> int:
        """Days from `today` to the deadline: 0 on its day, below 0 once it passed."""
        return (self.due_on - today).days

    def sort_key(self) -> tuple:
        return (self.due_on, _KIND_ORDER[self.kind], self.record.pk)


# --- one case --------------------------------------------------------------------------------------


def _months_later(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, or the month's last day when it has none (31 August + 6
    months = 28 February); the same as the SQL's AddMonths."""
    return day + relativedelta(months=months)


def next_asset_check(suspended_on: datetime.date, *, today: datetime.date) -> datetime.date:
    """The first six-monthly check for assets on or after `today`: six months after the round of
    enforcement ended, then every six months counted from that day (not from the last check, so
    a short month does not shift the checks after it)."""
    checks = 1
    while (check := _months_later(suspended_on, ASSET_CHECK_MONTHS * checks)) < today:
        checks += 1
    return check


def freezes_in_force(freezes: list[FrozenAsset]) -> list[FrozenAsset]:
    """Of `freezes` (a case's frozen assets, read once), those in force: neither released nor
    renewed (a renewal: a later freeze of the same enforcement, kind and description). The same
    rule as frozen_assets_in_force, on records already read."""
    return [
        freeze
        for freeze in freezes
        if freeze.released_on is None
        and not any(
            other.enforcement_id == freeze.enforcement_id
            and other.kind == freeze.kind
            and other.description == freeze.description
            and other.frozen_on > freeze.frozen_on
            for other in freezes
        )
    ]


def frozen_assets_in_force(frozen_assets: QuerySet[FrozenAsset] | None = None) -> QuerySet[FrozenAsset]:
    """Of `frozen_assets` (default: all), those in force, in SQL: the rule of freezes_in_force,
    which the deadlines, the services releasing and renewing a freeze and the case page's
    choices share."""
    frozen_assets = FrozenAsset.objects.all() if frozen_assets is None else frozen_assets
    renewal = FrozenAsset.objects.filter(
        enforcement=OuterRef("enforcement"),
        kind=OuterRef("kind"),
        description=OuterRef("description"),
        frozen_on__gt=OuterRef("frozen_on"),
    )
    return frozen_assets.filter(released_on__isnull=True).exclude(Exists(renewal))


def legal_case_deadlines(legal_case: LegalCase, *, today: datetime.date) -> list[Deadline]:
    """Every open deadline of `legal_case` on `today`, the earliest first (the module's docstring
    says when each kind is open)."""
    if not legal_case.is_active:
        return []
    state = legal_case.state
    found: list[Deadline] = []

    def add(kind, due_on, what, record):
        found.append(Deadline(kind=kind, due_on=due_on, what=str(what), record=record))

    if state == LegalState.IN_HEARING:
        zone = timezone.get_default_timezone()
        for hearing in legal_case.hearings.all():
            held_at = timezone.localtime(hearing.held_at, zone)
            if held_at.date() >= today:
                add(DeadlineKind.HEARING, held_at.date(), f"{held_at:%H:%M} {hearing.place}", hearing)

    payment_orders = list(legal_case.payment_orders.all()) if state == LegalState.PAYMENT_ORDER else []
    for order in payment_orders:
        if order.objection_deadline is not None and order.objected_on is None:
            add(DeadlineKind.OBJECTION, order.objection_deadline, order, order)
            add(
                DeadlineKind.ENFORCEMENT_APPLICATION,
                _months_later(order.objection_deadline, 12 * ENFORCEMENT_APPLICATION_YEARS),
                order,
                order,
            )

    if state == LegalState.MEDIATION:
        for mediation in legal_case.mediations.all():
            if mediation.agreed_on is not None and mediation.confirmed_on is None:
                add(DeadlineKind.CONFIRMATION, mediation.confirmation_deadline, mediation, mediation)
            if mediation.confirmed_on is not None:
                add(
                    DeadlineKind.ENFORCEMENT_APPLICATION,
                    _months_later(mediation.confirmed_on, 12 * ENFORCEMENT_APPLICATION_YEARS),
                    mediation.confirmation_ruling or mediation,
                    mediation,
                )

    if state == LegalState.JUDGMENT:
        for judgment in legal_case.judgments.all():
            if judgment.appeal_deadline is not None and judgment.effective_on is None:
                add(DeadlineKind.APPEAL, judgment.appeal_deadline, judgment, judgment)
            if judgment.effective_on is not None:
                add(
                    DeadlineKind.ENFORCEMENT_APPLICATION,
                    _months_later(judgment.effective_on, 12 * ENFORCEMENT_APPLICATION_YEARS),
                    judgment,
                    judgment,
                )

    for freeze in freezes_in_force(list(legal_case.frozen_assets.all())):
        add(DeadlineKind.FREEZE_RENEWAL, freeze.expires_on, freeze.description, freeze)

    if state == LegalState.ENFORCEMENT_SUSPENDED:
        ended = [enforcement for enforcement in legal_case.enforcements.all() if enforcement.suspended_on]
        if ended:
            latest = max(ended, key=lambda enforcement: (enforcement.suspended_on, enforcement.pk))
            add(DeadlineKind.ASSET_CHECK, next_asset_check(latest.suspended_on, today=today), latest, latest)

    objected = any(order.objected_on is not None for order in payment_orders)
    if state in BEFORE_COURT or objected:
        add(
            DeadlineKind.LIMITATION,
            legal_case.limitation_ends,
            _("runs from %(day)s") % {"day": legal_case.limitation_from},
            legal_case,
        )

    return sorted(found, key=Deadline.sort_key)


def next_deadline(legal_case: LegalCase, *, today: datetime.date) -> Deadline | None:
    """The earliest open deadline of `legal_case` (an overdue one first), or None."""
    deadlines = legal_case_deadlines(legal_case, today=today)
    return deadlines[0] if deadlines else None


def with_deadline_records(legal_cases: QuerySet[LegalCase]) -> QuerySet[LegalCase]:
    """`legal_cases` with the records their deadlines are read from, in one query per kind."""
    return legal_cases.prefetch_related(*DEADLINE_RECORDS)


# --- many cases, in SQL ------------------------------------------------------------------------


class AddMonths(Func):
    """The date `months` months after a date: the same day, or the month's last day when it has
    none (as relativedelta: 31 August + 6 months = 28 February; 29 February + 24 months = 28
    February)."""

    arity = 2
    output_field = models.DateField()

    def as_postgresql(self, compiler, connection, **extra_context):
        (day, day_params), (months, months_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return f"CAST(({day} + make_interval(months => CAST({months} AS integer))) AS date)", (
            *day_params,
            *months_params,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite rolls 31 August + 6 months over into March; the last day of the month
        # `months` on is the cap.
        (day, day_params), (months, months_params) = (compiler.compile(e) for e in self.get_source_expressions())
        sql = (
            f"MIN(date({day}, '+' || ({months}) || ' months'), "
            f"date({day}, 'start of month', '+' || (({months}) + 1) || ' months', '-1 day'))"
        )
        return sql, (*day_params, *months_params, *day_params, *months_params)


class AddDays(Func):
    """The date `days` days after a date."""

    arity = 2
    output_field = models.DateField()

    def as_postgresql(self, compiler, connection, **extra_context):
        (day, day_params), (days, days_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return f"({day} + CAST({days} AS integer))", (*day_params, *days_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        (day, day_params), (days, days_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return f"date({day}, '+' || ({days}) || ' days')", (*day_params, *days_params)


_DATE = models.DateField()
_INTEGER = models.IntegerField()
# The far day a missing deadline counts as within LEAST (_least).
_NO_DEADLINE = datetime.date(9999, 12, 31)


def _earliest(records: QuerySet, due) -> Subquery:
    """The earliest `due` among `records` of the outer legal case."""
    return Subquery(
        records.filter(legal_case=OuterRef("pk")).annotate(due=due).order_by("due").values("due")[:1],
        output_field=_DATE,
    )


def _when(condition: Q, due) -> Case:
    return Case(When(condition, then=due), default=Value(None, output_field=_DATE), output_field=_DATE)


def _asset_check_sql(today: datetime.date) -> Subquery:
    """next_asset_check in SQL, for the latest end of a round of the outer legal case: with m the
    months from that day's month to today's, the first check on or after today is the
    max(1, ceil(m / 6))-th or the one after it."""
    months = Value(today.year * 12 + today.month) - (
        Cast(ExtractYear("suspended_on"), _INTEGER) * 12 + Cast(ExtractMonth("suspended_on"), _INTEGER)
    )
    checks = Greatest(Value(1), (months + 5) / ASSET_CHECK_MONTHS, output_field=_INTEGER)
    ended = (
        Enforcement.objects.filter(legal_case=OuterRef("pk"), suspended_on__isnull=False)
        .annotate(
            check=AddMonths("suspended_on", checks * ASSET_CHECK_MONTHS),
            check_after=AddMonths("suspended_on", (checks + 1) * ASSET_CHECK_MONTHS),
        )
        .annotate(due=Case(When(check__gte=today, then=F("check")), default=F("check_after"), output_field=_DATE))
        .order_by("-suspended_on", "-pk")
        .values("due")[:1]
    )
    return Subquery(ended, output_field=_DATE)


def limitation_running() -> Q:
    """The legal cases whose debt's limitation period runs, no court having the claim: before a
    payment order or a suit, or a payment order was objected to (as legal_case_deadlines)."""
    objected = Exists(PaymentOrder.objects.filter(legal_case=OuterRef("pk"), objected_on__isnull=False))
    return Q(state__in=BEFORE_COURT) | Q(objected, state=LegalState.PAYMENT_ORDER)


def limitation_ends_sql() -> AddMonths:
    """LegalCase.limitation_ends in SQL."""
    return AddMonths("limitation_from", Value(12 * LIMITATION_YEARS))


def _deadline_days_sql(today: datetime.date) -> dict[str, list]:
    """For each kind, the SQL of the earliest open deadline of the outer legal case, by the same
    rules as legal_case_deadlines (None where it has none); a kind read from several records has
    one expression for each."""
    enforceable_years = Value(12 * ENFORCEMENT_APPLICATION_YEARS)
    order_running = PaymentOrder.objects.filter(objection_deadline__isnull=False, objected_on__isnull=True)
    hearings = Hearing.objects.filter(held_at__gte=desk_day_start(today))
    return {
        DeadlineKind.HEARING: [
            _when(
                Q(state=LegalState.IN_HEARING),
                _earliest(hearings, TruncDate("held_at", tzinfo=timezone.get_default_timezone())),
            )
        ],
        DeadlineKind.OBJECTION: [
            _when(Q(state=LegalState.PAYMENT_ORDER), _earliest(order_running, F("objection_deadline")))
        ],
        DeadlineKind.CONFIRMATION: [
            _when(
                Q(state=LegalState.MEDIATION),
                _earliest(
                    Mediation.objects.filter(agreed_on__isnull=False, confirmed_on__isnull=True),
                    AddDays("agreed_on", Value(CONFIRMATION_DAYS)),
                ),
            )
        ],
        DeadlineKind.APPEAL: [
            _when(
                Q(state=LegalState.JUDGMENT),
                _earliest(
                    Judgment.objects.filter(appeal_deadline__isnull=False, effective_on__isnull=True),
                    F("appeal_deadline"),
                ),
            )
        ],
        DeadlineKind.ENFORCEMENT_APPLICATION: [
            _when(
                Q(state=LegalState.PAYMENT_ORDER),
                _earliest(order_running, AddMonths("objection_deadline", enforceable_years)),
            ),
            _when(
                Q(state=LegalState.MEDIATION),
                _earliest(
                    Mediation.objects.filter(confirmed_on__isnull=False), AddMonths("confirmed_on", enforceable_years)
                ),
            ),
            _when(
                Q(state=LegalState.JUDGMENT),
                _earliest(
                    Judgment.objects.filter(effective_on__isnull=False), AddMonths("effective_on", enforceable_years)
                ),
            ),
        ],
        DeadlineKind.FREEZE_RENEWAL: [
            _when(
                Q(state__in=ACTIVE_STATES),
                _earliest(frozen_assets_in_force(), F("expires_on")),
            )
        ],
        DeadlineKind.ASSET_CHECK: [_when(Q(state=LegalState.ENFORCEMENT_SUSPENDED), _asset_check_sql(today))],
        DeadlineKind.LIMITATION: [_when(limitation_running(), limitation_ends_sql())],
    }


def _least(expressions: list):
    """The earliest of `expressions`, None when all are. PostgreSQL's LEAST skips NULLs, SQLite's
    MIN does not: every missing deadline counts as the far day, which then means none."""
    if len(expressions) == 1:
        return expressions[0]
    no_deadline = Value(_NO_DEADLINE, output_field=_DATE)
    earliest = Least(*(Coalesce(expression, no_deadline, output_field=_DATE) for expression in expressions))
    return NullIf(earliest, no_deadline, output_field=_DATE)


def legal_cases_with_deadline_days(legal_cases: QuerySet[LegalCase], *, today: datetime.date) -> QuerySet[LegalCase]:
    """`legal_cases` annotated with `<kind>_due_on` for each DeadlineKind (`hearing_due_on`,
    `appeal_due_on`, ...): the day of each one's earliest open deadline of that kind, or None."""
    return legal_cases.annotate(
        **{f"{kind}_due_on": _least(expressions) for kind, expressions in _deadline_days_sql(today).items()}
    )


def legal_cases_with_next_deadline(
    legal_cases: QuerySet[LegalCase], *, today: datetime.date, by_kind: bool = False
) -> QuerySet[LegalCase]:
    """`legal_cases` annotated with `next_deadline_on`: the day of each one's next deadline (None
    for a case without any), the same as next_deadline's, computed by the database so that a list
    orders by it (`order_by(F("next_deadline_on").asc(nulls_last=True))`) or filters on it.
    `by_kind` annotates each kind's day as well (legal_cases_with_deadline_days), for a list that
    says which deadline is next (next_deadline_kind)."""
    if by_kind:
        legal_cases = legal_cases_with_deadline_days(legal_cases, today=today)
        every = [F(f"{kind}_due_on") for kind in DeadlineKind.values]
    else:
        every = [expression for expressions in _deadline_days_sql(today).values() for expression in expressions]
    return legal_cases.annotate(next_deadline_on=_least(every))


def next_deadline_kind(legal_case: LegalCase) -> str | None:
    """The kind of the next deadline of a case read with legal_cases_with_next_deadline(by_kind=
    True): of the kinds falling on its day, the first in DeadlineKind's order (as next_deadline);
    None for a case without any."""
    if legal_case.next_deadline_on is None:
        return None
    day = legal_case.next_deadline_on
    return next(kind for kind in DeadlineKind.values if getattr(legal_case, f"{kind}_due_on") == day)
