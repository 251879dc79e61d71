"""The conduct limits while the history is written. Every attempt is checked by the desk's own
collection.conduct.conduct_check, on the case and contact as they stand in memory. Its time-bound
rules (unanswered calls per number per day, calls per case in the rolling window, the pause after
a conversation) read the contact recorded before the attempt; while the history is generated that
record is not in the database yet, so the ledgers below keep it and conduct_check reads them."""

import dataclasses
import datetime
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from zoneinfo import ZoneInfo

from collection.conduct import QUIET_HOURS_CHANNELS, ContactRecord, conduct_check, in_quiet_hours
from collection.exceptions import ConductViolation
from collection.models import ConductPolicy
from config.desk import desk_day_start


@dataclasses.dataclass(frozen=True)
class Refusal:
    rule: str
    detail: str
    next_allowed_at: datetime.datetime | None


def conduct_refusal(
    *,
    case,
    contact,
    channel: str,
    at: datetime.datetime,
    policy: ConductPolicy | None = None,
    record: ContactRecord | None = None,
) -> Refusal | None:
    """conduct_check's refusal of the attempt, or None when it allows it. A standing rule refuses
    before the policy or the record are read; for the time-bound ones, pass both."""
    try:
        conduct_check(case=case, contact=contact, channel=channel, at=at, policy=policy, record=record)
    except ConductViolation as violation:
        return Refusal(violation.rule, violation.message, violation.next_allowed_at)
    return None


def standing_refusal(*, case, contact, channel: str, at: datetime.datetime) -> Refusal:
    """The refusal of an attempt that a standing rule forbids (a closed case, a contact marked
    do-not-contact or wrong or opted out of the channel, a third party while the borrower is
    reachable): only call this for such attempts."""
    refusal = conduct_refusal(case=case, contact=contact, channel=channel, at=at)
    if refusal is None or refusal.next_allowed_at is not None:
        raise ValueError(f"not a standing refusal: {refusal}")
    return refusal


class BorrowerLedger:
    """The unanswered outbound calls to each of a borrower's numbers."""

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self.unanswered: dict[str, list[datetime.datetime]] = defaultdict(list)

    def record_unanswered(self, value: str, at: datetime.datetime) -> None:
        insort(self.unanswered[value], at)

    def unanswered_between(self, value: str, since: datetime.datetime, until: datetime.datetime) -> int:
        times = self.unanswered.get(value, [])
        return bisect_left(times, until) - bisect_left(times, since)

    def unanswered_on(self, value: str, at: datetime.datetime) -> int:
        """On the borrower's calendar day of `at`."""
        day = at.astimezone(self.zone).date()
        starts = desk_day_start(day, self.zone)
        return self.unanswered_between(value, starts, starts + datetime.timedelta(days=1))


@dataclasses.dataclass
class CaseLedger(ContactRecord):
    """One case's record of contact, as conduct_check reads it: its outbound calls, conversations
    with the borrower and consents to calls, and the borrower's unanswered calls."""

    policy: ConductPolicy
    borrower: BorrowerLedger
    call_times: list[datetime.datetime] = dataclasses.field(default_factory=list)
    conversations: list[datetime.datetime] = dataclasses.field(default_factory=list)
    consents: list[tuple[datetime.datetime, datetime.datetime]] = dataclasses.field(default_factory=list)

    def record_call(self, at: datetime.datetime) -> None:
        insort(self.call_times, at)

    def record_conversation(self, at: datetime.datetime) -> None:
        insort(self.conversations, at)

    def record_consent(self, given_at: datetime.datetime, valid_until: datetime.datetime) -> None:
        self.consents.append((given_at, valid_until))

    def message_is_quiet(self, channel: str, at: datetime.datetime) -> bool:
        return channel in QUIET_HOURS_CHANNELS and in_quiet_hours(self.policy, at.astimezone(self.borrower.zone).time())

    # --- ContactRecord: what conduct_check reads ---

    def unanswered_calls(self, *, number, since, until):
        return self.borrower.unanswered_between(number, since, until)

    def calls(self, *, case, after, before):
        return self.call_times[bisect_right(self.call_times, after) : bisect_left(self.call_times, before)]

    def last_conversation(self, *, case, after, at):
        index = bisect_right(self.conversations, at)
        if index and self.conversations[index - 1] > after:
            return self.conversations[index - 1]
        return None

    def consented(self, *, case, since, at):
        return any(since <= given <= at < until for given, until in self.consents)
