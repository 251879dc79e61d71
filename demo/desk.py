"""What the worked history needs to know of the desk, read once before any row is generated: the
stage rules, the conduct policy, the reminder steps, the people, and the next free key of each
history table; and how a row of each kind is written."""

import dataclasses
import datetime
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max
from django.template import Template
from django.utils import timezone

from accounts import roles
from accounts.models import Team, User
from collection.cycle import resolve_reasons
from collection.machine import WORKING_STAGES, Stage
from collection.models import CollectionCase, ConductPolicy, ReminderStep
from collection.selectors import system_user
from collection.services import ALLOCATION_REASON
from collection.stage_rules import reminder_entry_dpd, rule_criteria, rule_move, stage_rules_in_force
from config.desk import desk_day_start
from loans.models import Contact

from .copy import (
    ASSIGNMENTS,
    ATTEMPTS,
    CONSENTS,
    HISTORY_NAMES,
    HISTORY_TABLES,
    REFUSALS,
    TRANSITIONS,
    Table,
    utc_text,
    yuan,
)
from .people import TEAMS

# How far back the desk's work is written: contact attempts, reminders, promises, plans,
# decisions and reassignments of the last HISTORY_DAYS days before the as-of day.
HISTORY_DAYS = 60
# The contacts reminders and calls may use: neither wrong nor stale.
USABLE = (Contact.Verification.VERIFIED.value, Contact.Verification.UNVERIFIED.value)
CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True)
class Collector:
    id: int
    team_id: int
    supervisor_id: int
    teammates: tuple[int, ...]  # the other collectors of the team


@dataclasses.dataclass(frozen=True)
class Step:
    """An active reminder step that sends a message, with its template compiled."""

    id: int
    stage: str
    day_offset: int
    counted_from_dpd: bool
    channel: str
    template: Template
    window_start: datetime.time


def money(fen: int) -> Decimal:
    return Decimal(yuan(fen))


class Desk:
    """The desk as the history sees it, and the keys and rows it writes."""

    def __init__(self, *, seed: int, as_of: datetime.date):
        self._texts: dict[int, str] = {}
        self.rng = random.Random(f"demo-history-{seed}")
        self.as_of = as_of.toordinal()
        self.first_day = self.as_of - HISTORY_DAYS
        self.zone = timezone.get_default_timezone()
        self.rules = stage_rules_in_force()
        self.entry_dpd = reminder_entry_dpd()
        # Where a stage rule moves a case on, and by which transition; each criterion's reason.
        moves = {stage: rule_move(stage) for stage in WORKING_STAGES}
        self.rule_moves = {stage: move for stage, move in moves.items() if move is not None}
        self.rule_reasons = {
            stage: {criterion.code: criterion.reason for criterion in rule_criteria(rule, as_of=as_of)}
            for stage, rule in self.rules.items()
        }
        self.resolve_reasons = resolve_reasons()
        self.allocation_reason = self.text(ALLOCATION_REASON)
        self.policy = ConductPolicy.current()
        self.language = settings.LANGUAGE_CODE
        self.steps = self._steps()
        self.dpd_steps = any(step.counted_from_dpd for step in self.steps)
        self.steps_by_stage: dict[str, list[Step]] = {}
        self.entry_offsets: dict[str, set[int]] = {}  # days after entering a stage on which a step is due
        for step in self.steps:
            self.steps_by_stage.setdefault(step.stage, []).append(step)
            if not step.counted_from_dpd:
                self.entry_offsets.setdefault(step.stage, set()).add(step.day_offset)
        self.collectors, self.legal_officer = self._people()
        self.system = system_user().pk
        self.case_type = ContentType.objects.get_for_model(CollectionCase).pk
        self.next_ids = {
            table: (table.model.objects.aggregate(last=Max("pk"))["last"] or 0) + 1 for table in HISTORY_TABLES
        }
        self.first_ids = dict(self.next_ids)
        self.stage_labels = {stage.value: str(stage.label) for stage in Stage}
        self._midnights: dict[tuple[int, str], datetime.datetime] = {}
        self._nights: dict[int, datetime.datetime] = {}

    def _steps(self) -> list[Step]:
        english = self.language.startswith("en")
        steps = ReminderStep.objects.filter(is_active=True).exclude(channel=ReminderStep.Channel.CALL_TASK)
        return [
            Step(
                id=step.pk,
                stage=step.stage,
                day_offset=step.day_offset,
                counted_from_dpd=step.offset_from == ReminderStep.OffsetFrom.DPD,
                channel=step.channel,
                template=Template(step.template_en if english and step.template_en else step.template_zh),
                window_start=step.send_window_start,
            )
            for step in steps.order_by("pk")
        ]

    @staticmethod
    def _people() -> tuple[list[Collector], int | None]:
        """The demo teams' active collectors (each with their team and its supervisor) and the
        legal officer."""
        collectors = []
        for team in Team.objects.filter(name__in=TEAMS).order_by("pk"):
            members = list(
                team.members.filter(is_active=True, groups__name=roles.COLLECTOR)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            for member in members:
                teammates = tuple(other for other in members if other != member)
                collectors.append(Collector(member, team.pk, team.supervisor_id, teammates))
        legal = User.objects.filter(groups__name=roles.LEGAL_OFFICER, is_active=True).order_by("pk").first()
        return collectors, legal.pk if legal else None

    # --- the calendar ---

    def midnight(self, day: int, zone: ZoneInfo | None = None) -> datetime.datetime:
        """The start of the day with ordinal `day` in `zone` (the desk's by default)."""
        zone = zone or self.zone
        key = (day, zone.key)
        start = self._midnights.get(key)
        if start is None:
            start = self._midnights[key] = desk_day_start(datetime.date.fromordinal(day), zone)
        return start

    def moment(self, day: int, seconds: int, zone: ZoneInfo | None = None) -> datetime.datetime:
        """`seconds` after midnight of the day with ordinal `day`, in `zone` (the desk's by default)."""
        return self.midnight(day, zone) + datetime.timedelta(seconds=seconds)

    def night(self, day: int) -> datetime.datetime:
        """When the nightly cycle of `day` runs (01:00 desk time)."""
        night = self._nights.get(day)
        if night is None:
            night = self._nights[day] = self.moment(day, 3600)
        return night

    def window_end(self, due_day: int) -> datetime.datetime:
        """The end of a promise's window: midnight (desk time) after the day after its due date."""
        return self.moment(due_day + 2, 0)

    def desk_day(self, moment: datetime.datetime) -> int:
        return moment.astimezone(self.zone).date().toordinal()

    def text(self, lazy) -> str:
        """A lazily translated text in the desk's language, rendered once per seeding."""
        key = id(lazy)
        rendered = self._texts.get(key)
        if rendered is None:
            rendered = self._texts[key] = str(lazy)
        return rendered

    # --- keys and rows ---

    def next_id(self, table: Table) -> int:
        key = self.next_ids[table]
        self.next_ids[table] = key + 1
        return key

    def rows_written(self) -> dict[str, int]:
        """How many rows of each kind the history wrote, by the name the seeding summary uses."""
        return {HISTORY_NAMES[table]: key - self.first_ids[table] for table, key in self.next_ids.items()}


class Rows:
    """Appends history rows to a chunk of generated rows."""

    def __init__(self, desk: Desk, rows: dict[Table, list[tuple]]):
        self.desk = desk
        self.rows = rows

    def add(self, table: Table, *values) -> int:
        key = self.desk.next_id(table)
        self.rows[table].append((key, *values))
        return key

    def transition(self, *, case_id: int, name: str, source: str, target: str, at, by: int, reason: str) -> None:
        self.add(TRANSITIONS, utc_text(at), by, source, target, name, self.desk.case_type, case_id, reason)

    def assignment(self, *, case_id: int, to: int, previous: int | None, team: int, by: int, at, reason: str) -> None:
        self.add(ASSIGNMENTS, case_id, to, previous, team, by, utc_text(at), reason)

    def attempt(
        self,
        *,
        case_id: int,
        contact_id: int | None,
        channel: str,
        direction: str,
        at,
        outcome: str,
        note: str,
        by: int,
        duration: int | None = None,
        second: int | None = None,
    ) -> int:
        text = utc_text(at)
        return self.add(
            ATTEMPTS, case_id, contact_id, channel, direction, text, duration, outcome, note, by, second, text
        )

    def refusal(self, *, case_id: int, contact_id: int | None, channel: str, at, by: int, refusal) -> None:
        text = utc_text(at)
        next_allowed = refusal.next_allowed_at and utc_text(refusal.next_allowed_at)
        self.add(REFUSALS, case_id, contact_id, channel, text, by, refusal.rule, refusal.detail, next_allowed, text)

    def consent(self, *, case_id: int, given_at, valid_until, note: str, by: int) -> None:
        self.add(CONSENTS, case_id, utc_text(given_at), utc_text(valid_until), note, by)


def working(stage: str | None) -> bool:
    return stage in WORKING_STAGES
