"""The conduct limits (docs/conduct-limits.md): whether the desk may reach a borrower, or
someone who knows them, on a given contact, channel and moment. `conduct_check` is the one gate
every attempt and every automatic send passes; the numbers come from ConductPolicy.current().

Standing rules (`_check_standing`) refuse with no next allowed time; each time-bound rule is one
function of `_first_time_breach`, and a refusal carries the earliest moment the same attempt
would pass all of them."""

import dataclasses
import datetime
from bisect import bisect_left
from typing import NoReturn
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.desk import desk_day_start
from loans.models import Borrower, Contact
from loans.phones import mask_phone

from .exceptions import CollectionError, ConductViolation
from .machine import CLOSED_STAGES, Stage
from .models import (
    CONVERSATION_OUTCOMES,
    OPT_OUT_FIELD,
    THIRD_PARTY_OUTCOMES,
    UNANSWERED_OUTCOMES,
    CallConsent,
    CollectionCase,
    ConductPolicy,
    ContactAttempt,
    ContactChannel,
    Outcome,
)

__all__ = [
    "QUIET_HOURS_CHANNELS",
    "CaseContactRecord",
    "ConductRule",
    "conduct_rule_label",
    "ContactRecord",
    "RecordedContacts",
    "conduct_check",
    "in_quiet_hours",
]

OUTBOUND = ContactAttempt.Direction.OUTBOUND


class ConductRule(models.TextChoices):
    """The rule a refused attempt broke: the stable code stored on ConductRefusal.rule."""

    CASE_CLOSED = "case_closed", gettext_lazy("Case closed")
    CASE_ON_HOLD = "case_on_hold", gettext_lazy("Case on hold")
    CONTACT_NOT_OF_BORROWER = "contact_not_of_borrower", gettext_lazy("Contact of another borrower")
    DO_NOT_CONTACT = "do_not_contact", gettext_lazy("Do not contact")
    WRONG_NUMBER = "wrong_number", gettext_lazy("Wrong contact")
    OPTED_OUT = "opted_out", gettext_lazy("Opted out of the channel")
    THIRD_PARTY_NOT_ALLOWED = "third_party_not_allowed", gettext_lazy("Third party while the borrower is reachable")
    THIRD_PARTY_CHANNEL = "third_party_channel", gettext_lazy("Channel not for third parties")
    THIRD_PARTY_OUTCOME = "third_party_outcome", gettext_lazy("Outcome not for third parties")
    VISIT_NEEDS_SECOND_COLLECTOR = (
        "visit_needs_second_collector",
        gettext_lazy("Field visit without a second collector"),
    )
    QUIET_HOURS = "quiet_hours", gettext_lazy("Quiet hours")
    UNANSWERED_CALLS_PER_NUMBER = "unanswered_calls_per_number", gettext_lazy("Unanswered calls to one number")
    CALLS_PER_CASE_WINDOW = "calls_per_case_window", gettext_lazy("Calls per case in the rolling window")
    AFTER_CONVERSATION = "after_conversation", gettext_lazy("Pause after a conversation")


def conduct_rule_label(code: str) -> str:
    """The rule's name in words; the code itself for a rule the desk no longer has (an old refusal)."""
    return str(ConductRule(code).label) if code in ConductRule.values else code


# Quiet hours protect a person from being disturbed at night: calls, messages, e-mail and visits.
# Letters and lawyer's letters are exempt: they are posted, and arrive when the post delivers them,
# not at the moment the desk sends them.
QUIET_HOURS_CHANNELS = frozenset({ContactChannel.CALL, ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.VISIT})

# Channels that go to a number or an address on the borrower's contact list.
CHANNELS_NEEDING_A_CONTACT = frozenset(OPT_OUT_FIELD)

# A lawyer's letter is about the debt by its nature: sent to a third party it would disclose it.
THIRD_PARTY_FORBIDDEN_CHANNELS = frozenset({ContactChannel.LAWYER_LETTER})

# What the desk writes (an SMS, an e-mail, a letter) is a reminder, and a reminder names the debt:
# none is sent to a third party, whatever planning picked or the borrower's state. A third party
# is only ever asked, by phone or in person, for the borrower's contact details or to pass on a
# message. (They may still write to the desk: inbound messages are recorded.)
THIRD_PARTY_FORBIDDEN_OUTBOUND_CHANNELS = frozenset({ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.LETTER})

# The values conduct_check accepts (read once: an enum's `values` is made anew at each read).
_CHANNELS = frozenset(ContactChannel.values)
_DIRECTIONS = frozenset(ContactAttempt.Direction.values)
_OUTCOMES = frozenset(Outcome.values)

# Each time-bound rule moves the candidate time strictly forward, so the search for the next
# allowed moment ends; the bound only guards against a pathological history.
_MAX_SEARCH_STEPS = 64


class ContactRecord:
    """What the time-bound rules read of the contact recorded before an attempt. The desk's record
    is the database (RecordedContacts); a caller that writes its attempts later, as the demo's
    history does, keeps its own and passes it to conduct_check."""

    def unanswered_calls(self, *, number: str, since: datetime.datetime, until: datetime.datetime) -> int:
        """Outbound calls to `number` (on anyone's contact list) left unanswered in [since, until)."""
        raise NotImplementedError

    def calls(self, *, case, after: datetime.datetime, before: datetime.datetime) -> list[datetime.datetime]:
        """The case's outbound calls strictly between `after` and `before`, in time order."""
        raise NotImplementedError

    def last_conversation(self, *, case, after: datetime.datetime, at: datetime.datetime) -> datetime.datetime | None:
        """The case's latest conversation with the borrower in (after, at]."""
        raise NotImplementedError

    def consented(self, *, case, since: datetime.datetime, at: datetime.datetime) -> bool:
        """Whether the borrower asked to be called after `since` (and by `at`), for a period running at `at`."""
        raise NotImplementedError


class RecordedContacts(ContactRecord):
    """The contact recorded in the database: contact attempts and call consents."""

    def unanswered_calls(self, *, number, since, until):
        return ContactAttempt.objects.filter(
            contact__value=number,
            channel=ContactChannel.CALL,
            direction=OUTBOUND,
            outcome__in=UNANSWERED_OUTCOMES,
            attempted_at__gte=since,
            attempted_at__lt=until,
        ).count()

    def calls(self, *, case, after, before):
        return sorted(
            ContactAttempt.objects.filter(
                case=case,
                channel=ContactChannel.CALL,
                direction=OUTBOUND,
                attempted_at__gt=after,
                attempted_at__lt=before,
            ).values_list("attempted_at", flat=True)
        )

    def last_conversation(self, *, case, after, at):
        return (
            ContactAttempt.objects.filter(
                case=case, outcome__in=CONVERSATION_OUTCOMES, attempted_at__gt=after, attempted_at__lte=at
            )
            # With the borrower: a visit or letter may be logged without a contact; a refusal by an
            # employer is not a conversation with the borrower.
            .filter(Q(contact__isnull=True) | ~Q(contact__kind__in=Contact.THIRD_PARTY_KINDS))
            .order_by("-attempted_at")
            .values_list("attempted_at", flat=True)
            .first()
        )

    def consented(self, *, case, since, at):
        return CallConsent.objects.filter(case=case, given_at__gte=since, given_at__lte=at, valid_until__gt=at).exists()


class CaseContactRecord(ContactRecord):
    """The contact recorded around one case, read up front in two queries from `since` on: so that
    a page can check every contact of the case against the limits without a query each. Answers
    as RecordedContacts does for any question about times after `since`."""

    def __init__(self, *, case: CollectionCase, numbers: list[str], since: datetime.datetime):
        # The case's attempts, and the other cases' attempts on its numbers, read apart and joined:
        # an OR across the join would make PostgreSQL hash every contact of the desk.
        columns = ("case_id", "contact__value", "contact__kind", "channel", "direction", "outcome", "attempted_at")
        recent = ContactAttempt.objects.filter(attempted_at__gte=since).order_by()
        attempts = (
            recent.filter(case=case)
            .values_list(*columns)
            .union(recent.filter(contact__value__in=numbers).exclude(case=case).values_list(*columns), all=True)
            .order_by("attempted_at")
        )
        self._unanswered, self._calls, self._conversations = [], [], []
        numbers = set(numbers)
        for case_id, value, kind, channel, direction, outcome, at in attempts:
            outbound_call = channel == ContactChannel.CALL and direction == OUTBOUND
            if outbound_call and outcome in UNANSWERED_OUTCOMES and value in numbers:
                self._unanswered.append((value, at))
            if case_id != case.pk:
                continue
            if outbound_call:
                self._calls.append(at)
            # With the borrower: a visit or letter may be logged without a contact; a refusal by an
            # employer is not a conversation with the borrower.
            if outcome in CONVERSATION_OUTCOMES and kind not in Contact.THIRD_PARTY_KINDS:
                self._conversations.append(at)
        self._consents = list(
            CallConsent.objects.filter(case=case, valid_until__gt=since).values_list("given_at", "valid_until")
        )

    def unanswered_calls(self, *, number, since, until):
        return sum(1 for value, at in self._unanswered if value == number and since <= at < until)

    def calls(self, *, case, after, before):
        return [at for at in self._calls if after < at < before]

    def last_conversation(self, *, case, after, at):
        return next((moment for moment in reversed(self._conversations) if after < moment <= at), None)

    def consented(self, *, case, since, at):
        return any(since <= given <= at and until > at for given, until in self._consents)


@dataclasses.dataclass(frozen=True)
class _Attempt:
    """What the time-bound rules look at: the attempt but for its time."""

    case: CollectionCase
    contact: Contact | None
    channel: str
    direction: str
    policy: ConductPolicy
    zone: ZoneInfo
    record: ContactRecord

    @property
    def is_outbound_call(self) -> bool:
        return self.direction == OUTBOUND and self.channel == ContactChannel.CALL


@dataclasses.dataclass(frozen=True)
class _Breach:
    rule: str
    message: str
    until: datetime.datetime  # when this rule alone would allow the attempt


def conduct_check(
    *,
    case: CollectionCase,
    contact: Contact | None,
    channel: str,
    at: datetime.datetime,
    by=None,
    second_collector=None,
    outcome: str | None = None,
    direction: str = OUTBOUND,
    policy: ConductPolicy | None = None,
    record: ContactRecord | None = None,
) -> None:
    """Raise ConductViolation when the conduct limits (docs/conduct-limits.md) forbid this
    attempt; return None when they allow it. `outcome=None` checks before the attempt is made,
    when its outcome is unknown. The limits are the desk's policy and the contact recorded in the
    database unless `policy` and `record` say otherwise. Read-only: the caller records the
    attempt or the refusal."""
    if timezone.is_naive(at):
        raise ValueError("conduct_check needs a time-zone-aware datetime")
    if channel not in _CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if direction not in _DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    if outcome is not None and outcome not in _OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")

    if contact is None and channel in CHANNELS_NEEDING_A_CONTACT:
        # Not a conduct rule but a hole to close: without the contact, its flags go unchecked.
        raise CollectionError(_("A call, SMS or e-mail needs the contact it goes to."))

    borrower = case.loan.borrower
    _check_standing(
        case=case,
        borrower=borrower,
        contact=contact,
        channel=channel,
        direction=direction,
        by=by,
        second_collector=second_collector,
        outcome=outcome,
    )

    attempt = _Attempt(
        case=case,
        contact=contact,
        channel=channel,
        direction=direction,
        policy=policy or ConductPolicy.current(),
        zone=ZoneInfo(borrower.time_zone),
        record=record or RecordedContacts(),
    )
    breach = _first_time_breach(attempt, at)
    if breach is None:
        return
    next_allowed_at = _next_allowed(attempt, breach)
    again = _("Contact is allowed again from %(when)s.") % {"when": _local(next_allowed_at, attempt.zone)}
    message = f"{breach.message} {again}"
    raise ConductViolation(breach.rule, message, next_allowed_at)


# --- standing rules: no waiting lifts them ---------------------------------------------------


def _refuse(rule: str, message: str) -> NoReturn:
    raise ConductViolation(rule, message, None)


def _check_standing(
    *,
    case: CollectionCase,
    borrower: Borrower,
    contact: Contact | None,
    channel: str,
    direction: str,
    by,
    second_collector,
    outcome: str | None,
) -> None:
    outbound = direction == OUTBOUND
    if case.stage in CLOSED_STAGES:
        _refuse(
            ConductRule.CASE_CLOSED,
            _("The case is closed (%(stage)s): no more contact.") % {"stage": case.get_stage_display()},
        )
    if case.stage == Stage.ON_HOLD and outbound:
        _refuse(
            ConductRule.CASE_ON_HOLD,
            _("The case is on hold: no outbound collection contact until it resumes (the borrower may call in)."),
        )
    if contact is not None:
        if contact.borrower_id != borrower.pk:
            _refuse(
                ConductRule.CONTACT_NOT_OF_BORROWER, _("This contact belongs to another borrower, not to this case.")
            )
        if outbound:
            if contact.do_not_contact:
                _refuse(
                    ConductRule.DO_NOT_CONTACT,
                    _("%(contact)s is marked do-not-contact.") % {"contact": _named(contact)},
                )
            if contact.verification == Contact.Verification.WRONG:
                _refuse(
                    ConductRule.WRONG_NUMBER,
                    _("%(contact)s is marked wrong: it does not reach the borrower.") % {"contact": _named(contact)},
                )
            opt_out_field = OPT_OUT_FIELD.get(channel)
            if opt_out_field and getattr(contact, opt_out_field):
                _refuse(
                    ConductRule.OPTED_OUT,
                    _("%(contact)s opted out of %(channel)s.")
                    % {"contact": _named(contact), "channel": ContactChannel(channel).label},
                )
        if contact.is_third_party:
            if outbound and not borrower.lost_contact:
                _refuse(
                    ConductRule.THIRD_PARTY_NOT_ALLOWED,
                    _(
                        "%(contact)s is a third party: third parties are contacted only while the borrower "
                        "cannot be reached (lost contact)."
                    )
                    % {"contact": _named(contact)},
                )
            if channel in THIRD_PARTY_FORBIDDEN_CHANNELS or (
                outbound and channel in THIRD_PARTY_FORBIDDEN_OUTBOUND_CHANNELS
            ):
                _refuse(
                    ConductRule.THIRD_PARTY_CHANNEL,
                    _("%(channel)s is never sent to a third party: it would disclose the debt.")
                    % {"channel": ContactChannel(channel).label},
                )
            if outcome is not None and outcome not in THIRD_PARTY_OUTCOMES:
                _refuse(
                    ConductRule.THIRD_PARTY_OUTCOME,
                    _(
                        "%(contact)s is a third party: an attempt on them cannot end with “%(outcome)s”. "
                        "Third parties are only asked for the borrower's contact details or to pass a message."
                    )
                    % {"contact": _named(contact), "outcome": Outcome(outcome).label},
                )
    two_collectors = by is not None and second_collector is not None and second_collector.pk != by.pk
    if channel == ContactChannel.VISIT and outbound and not two_collectors:
        _refuse(
            ConductRule.VISIT_NEEDS_SECOND_COLLECTOR,
            _("A field visit needs two different collectors on record: name the second collector."),
        )


# --- time-bound rules: each says when it would allow the attempt ------------------------------


def _first_time_breach(attempt: _Attempt, at: datetime.datetime) -> _Breach | None:
    for rule in (_quiet_hours, _unanswered_calls_per_number, _calls_per_case_window, _after_conversation):
        breach = rule(attempt, at)
        if breach is not None:
            return breach
    return None


def _next_allowed(attempt: _Attempt, breach: _Breach) -> datetime.datetime:
    """The earliest moment after the breach at which every time-bound rule allows the attempt:
    e.g. a call refused for the daily cap is next allowed when the borrower's next day begins
    and quiet hours are over."""
    candidate = breach.until
    for _step in range(_MAX_SEARCH_STEPS):
        later = _first_time_breach(attempt, candidate)
        if later is None:
            break
        candidate = later.until
    return candidate


def in_quiet_hours(policy: ConductPolicy, local_time: datetime.time) -> bool:
    """Whether `local_time` (in the borrower's zone) falls in the policy's quiet hours. A stored
    policy's wrap midnight and cover 22:00-08:00 at least (the legal floor, ConductPolicy.clean);
    a policy given to conduct_check unsaved (a test's, the demo's) may differ."""
    start, end = policy.quiet_hours_start, policy.quiet_hours_end
    if start == end:
        return False
    return (local_time >= start or local_time < end) if start > end else (start <= local_time < end)


def _quiet_hours(attempt: _Attempt, at: datetime.datetime) -> _Breach | None:
    policy = attempt.policy
    start, end = policy.quiet_hours_start, policy.quiet_hours_end
    if attempt.direction != OUTBOUND or attempt.channel not in QUIET_HOURS_CHANNELS:
        return None
    local = at.astimezone(attempt.zone)
    if not in_quiet_hours(policy, local.time()):
        return None
    until = datetime.datetime.combine(local.date(), end, tzinfo=attempt.zone)
    if until <= local:
        until = datetime.datetime.combine(local.date() + datetime.timedelta(days=1), end, tzinfo=attempt.zone)
    return _Breach(
        ConductRule.QUIET_HOURS,
        _("No contact between %(start)s and %(end)s in the borrower's time zone: it is %(local)s there.")
        % {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}", "local": _local(at, attempt.zone)},
        until,
    )


def _unanswered_calls_per_number(attempt: _Attempt, at: datetime.datetime) -> _Breach | None:
    if not attempt.is_outbound_call or attempt.contact is None:
        return None
    cap = attempt.policy.max_unanswered_calls_per_number_per_day
    day = at.astimezone(attempt.zone).date()
    day_starts = desk_day_start(day, attempt.zone)
    next_day_starts = desk_day_start(day + datetime.timedelta(days=1), attempt.zone)
    # The same number, whichever borrower's contact list it is on (an employer's switchboard may
    # be on several): the limit protects whoever answers it.
    unanswered = attempt.record.unanswered_calls(number=attempt.contact.value, since=day_starts, until=next_day_starts)
    if unanswered < cap:
        return None
    return _Breach(
        ConductRule.UNANSWERED_CALLS_PER_NUMBER,
        _("%(count)s calls to %(number)s went unanswered on %(day)s (the borrower's day): at most %(cap)s a day.")
        % {"count": unanswered, "number": mask_phone(attempt.contact.value), "day": day.isoformat(), "cap": cap},
        next_day_starts,
    )


def _calls_per_case_window(attempt: _Attempt, at: datetime.datetime) -> _Breach | None:
    if not attempt.is_outbound_call:
        return None
    cap = attempt.policy.max_calls_per_case_in_window
    window = datetime.timedelta(days=attempt.policy.call_window_days)
    # Attempts may be logged after the fact, so the window is looked at on both sides of `at`:
    # every window [start, start + window) that would hold the new call must hold fewer than
    # `cap` calls already. The fullest such window starts at a recorded call or at `at` itself.
    calls = attempt.record.calls(case=attempt.case, after=at - window, before=at + window)
    starts = [call for call in calls if call <= at] + [at]
    full = [start for start in starts if bisect_left(calls, start + window) - bisect_left(calls, start) >= cap]
    if not full:
        return None
    return _Breach(
        ConductRule.CALLS_PER_CASE_WINDOW,
        _("This case already has %(cap)s calls within %(days)s days: at most %(cap)s.")
        % {"cap": cap, "days": attempt.policy.call_window_days},
        max(full) + window,
    )


def _after_conversation(attempt: _Attempt, at: datetime.datetime) -> _Breach | None:
    if not attempt.is_outbound_call:
        return None
    pause = datetime.timedelta(days=attempt.policy.days_without_calls_after_conversation)
    if not pause:
        return None
    last_conversation = attempt.record.last_conversation(case=attempt.case, after=at - pause, at=at)
    if last_conversation is None or attempt.record.consented(case=attempt.case, since=last_conversation, at=at):
        return None
    return _Breach(
        ConductRule.AFTER_CONVERSATION,
        _(
            "The desk spoke with the borrower at %(when)s: no calls for %(days)s days after a conversation "
            "unless the borrower asked to be called (record the consent)."
        )
        % {
            "when": _local(last_conversation, attempt.zone),
            "days": attempt.policy.days_without_calls_after_conversation,
        },
        last_conversation + pause,
    )


# --- helpers ----------------------------------------------------------------------------------


def _named(contact: Contact) -> str:
    """The contact as a refusal names it: its kind and its number masked (refusals are kept and
    shown to whoever reads the compliance report)."""
    return f"{contact.get_kind_display()} {mask_phone(contact.value)}"


def _local(moment: datetime.datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S} ({zone.key})"
