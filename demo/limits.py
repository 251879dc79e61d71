"""The conduct limits while the history is written: which attempt a collector may make at a
moment, given the attempts recorded before it, and how the desk words a refusal.

Standing rules (closed case, do-not-contact, wrong number, opt-outs, third parties) need no
history: they are checked by collection.conduct.conduct_check itself, on the case and contact as
they stand in memory, and its ConductViolation is what the refusal records. The time-bound rules
(quiet hours, unanswered calls per number per day, calls per case in the rolling window, the pause
after a conversation) read the attempts recorded so far; while the history is generated those are
not in the database yet, so the ledger below keeps them and applies the same rules to them. A
test replays the whole seeded history through conduct_check to prove that both agree."""

import dataclasses
import datetime
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from zoneinfo import ZoneInfo

from collection.conduct import QUIET_HOURS_CHANNELS, conduct_check
from collection.exceptions import ConductViolation
from collection.models import ConductPolicy

from . import texts

SEARCH_STEPS = 64
DAY = datetime.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Refusal:
    rule: str
    detail: str
    next_allowed_at: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class _Breach:
    rule: str
    describe: Callable[[], str]  # the words, made only for a refusal that is recorded
    until: datetime.datetime


@dataclasses.dataclass
class Policy:
    """The conduct policy's numbers, read once."""

    quiet_start: datetime.time
    quiet_end: datetime.time
    unanswered_per_number: int
    calls_per_window: int
    window: datetime.timedelta
    pause: datetime.timedelta

    @classmethod
    def current(cls) -> "Policy":
        policy = ConductPolicy.current()
        return cls(
            quiet_start=policy.quiet_hours_start,
            quiet_end=policy.quiet_hours_end,
            unanswered_per_number=policy.max_unanswered_calls_per_number_per_day,
            calls_per_window=policy.max_calls_per_case_in_window,
            window=datetime.timedelta(days=policy.call_window_days),
            pause=datetime.timedelta(days=policy.days_without_calls_after_conversation),
        )

    def is_quiet(self, local: datetime.time) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        return (local >= start or local < end) if start > end else (start <= local < end)


def standing_refusal(*, case, contact, channel: str, at: datetime.datetime) -> Refusal:
    """conduct_check's refusal of an attempt that a standing rule forbids (a closed case, a
    contact marked do-not-contact or wrong or opted out of the channel, a third party while the
    borrower is reachable). The case and contact are rows in memory: a standing rule refuses
    before conduct_check reads anything from the database, so only call this for such attempts."""
    try:
        conduct_check(case=case, contact=contact, channel=channel, at=at)
    except ConductViolation as violation:
        if violation.next_allowed_at is not None:
            raise ValueError(f"not a standing refusal: {violation.rule}") from violation
        return Refusal(violation.rule, violation.message, None)
    raise ValueError("conduct_check allows this attempt: it is no refusal")


class BorrowerLedger:
    """The unanswered outbound calls to each of a borrower's numbers per local day."""

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self.unanswered: dict[tuple[str, datetime.date], int] = defaultdict(int)

    def record_unanswered(self, value: str, at: datetime.datetime) -> None:
        self.unanswered[value, at.astimezone(self.zone).date()] += 1

    def unanswered_on(self, value: str, at: datetime.datetime) -> int:
        return self.unanswered.get((value, at.astimezone(self.zone).date()), 0)


@dataclasses.dataclass
class CaseLedger:
    """One case's outbound calls, conversations with the borrower and consents to calls."""

    policy: Policy
    borrower: BorrowerLedger
    calls: list[datetime.datetime] = dataclasses.field(default_factory=list)
    conversations: list[datetime.datetime] = dataclasses.field(default_factory=list)
    consents: list[tuple[datetime.datetime, datetime.datetime]] = dataclasses.field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return self.borrower.zone

    def record_call(self, at: datetime.datetime) -> None:
        self.calls.append(at)
        self.calls.sort()

    def record_conversation(self, at: datetime.datetime) -> None:
        self.conversations.append(at)
        self.conversations.sort()

    def record_consent(self, given_at: datetime.datetime, valid_until: datetime.datetime) -> None:
        self.consents.append((given_at, valid_until))

    # --- the time-bound rules, as collection.conduct words and applies them ---

    def call_refusal(self, *, value: str, at: datetime.datetime) -> Refusal | None:
        """Why an outbound call to `value` at `at` would be refused by a time-bound rule, or None."""
        breach = self._first_breach(value, at)
        if breach is None:
            return None
        candidate = breach.until
        for _step in range(SEARCH_STEPS):
            later = self._first_breach(value, candidate)
            if later is None:
                break
            candidate = later.until
        again = texts.ALLOWED_AGAIN % {"when": texts.local_moment(candidate, self.zone)}
        return Refusal(breach.rule, f"{breach.describe()} {again}", candidate)

    def call_allowed(self, *, value: str, at: datetime.datetime) -> bool:
        return self._first_breach(value, at) is None

    def message_is_quiet(self, channel: str, at: datetime.datetime) -> bool:
        return channel in QUIET_HOURS_CHANNELS and self.policy.is_quiet(at.astimezone(self.zone).time())

    def _first_breach(self, value: str, at: datetime.datetime) -> _Breach | None:
        for rule in (self._quiet_hours, self._unanswered, self._calls_in_window, self._after_conversation):
            breach = rule(value, at)
            if breach is not None:
                return breach
        return None

    def _quiet_hours(self, value: str, at: datetime.datetime) -> _Breach | None:
        policy, zone = self.policy, self.zone
        local = at.astimezone(zone)
        if not policy.is_quiet(local.time()):
            return None
        until = datetime.datetime.combine(local.date(), policy.quiet_end, tzinfo=zone)
        if until <= local:
            until = datetime.datetime.combine(local.date() + DAY, policy.quiet_end, tzinfo=zone)

        def describe() -> str:
            return texts.QUIET_HOURS % {
                "start": f"{policy.quiet_start:%H:%M}",
                "end": f"{policy.quiet_end:%H:%M}",
                "local": texts.local_moment(at, zone),
            }

        return _Breach("quiet_hours", describe, until)

    def _unanswered(self, value: str, at: datetime.datetime) -> _Breach | None:
        cap, count = self.policy.unanswered_per_number, self.borrower.unanswered_on(value, at)
        if count < cap:
            return None
        day = at.astimezone(self.zone).date()

        def describe() -> str:
            return texts.UNANSWERED_CALLS % {"count": count, "number": value, "day": day.isoformat(), "cap": cap}

        return _Breach(
            "unanswered_calls_per_number",
            describe,
            datetime.datetime.combine(day + DAY, datetime.time(0), tzinfo=self.zone),
        )

    def _calls_in_window(self, value: str, at: datetime.datetime) -> _Breach | None:
        cap, window = self.policy.calls_per_window, self.policy.window
        calls = [call for call in self.calls if at - window < call < at + window]
        starts = [call for call in calls if call <= at] + [at]
        full = [start for start in starts if bisect_left(calls, start + window) - bisect_left(calls, start) >= cap]
        if not full:
            return None

        def describe() -> str:
            return texts.CALLS_PER_CASE % {"cap": cap, "days": window.days}

        return _Breach("calls_per_case_window", describe, max(full) + window)

    def _after_conversation(self, value: str, at: datetime.datetime) -> _Breach | None:
        pause = self.policy.pause
        if not pause:
            return None
        recent = [moment for moment in self.conversations if at - pause < moment <= at]
        if not recent:
            return None
        last = recent[-1]
        if any(last <= given <= at < until for given, until in self.consents):
            return None

        def describe() -> str:
            return texts.AFTER_CONVERSATION % {"when": texts.local_moment(last, self.zone), "days": pause.days}

        return _Breach("after_conversation", describe, last + pause)
