"""Contact attempts, checked against the conduct limits, and what their outcomes change; the
borrower's consent to be called."""

import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from loans.models import Contact

from ..access import case_access_check
from ..conduct import OUTBOUND, conduct_check, in_quiet_hours
from ..exceptions import CollectionError, ConductViolation
from ..machine import WORKING_STAGES, HoldReason, Stage
from ..models import (
    CONVERSATION_OUTCOMES,
    Callback,
    CallConsent,
    CollectionCase,
    ConductPolicy,
    ConductRefusal,
    ContactAttempt,
    Outcome,
)
from .cases import case_negotiate
from .contacts import contact_change_record

__all__ = ["REACHED_REASON", "attempt_log", "call_consent_record"]

# The reason a case moves to negotiation when the borrower is reached.
REACHED_REASON = gettext_lazy("The borrower was reached: %(outcome)s")

# The reason recorded when an attempt's outcome changes its contact.
OUTCOME_CHANGE_REASON = gettext_lazy("Outcome of contact attempt %(attempt)s: %(outcome)s")

# Outcomes after which the collector is offered to put the case on hold, with the hold's reason.
HOLD_OFFERED_BY_OUTCOME = {Outcome.DISPUTE: HoldReason.DISPUTE, Outcome.HARDSHIP: HoldReason.HARDSHIP}


def attempt_log(
    *,
    case: CollectionCase,
    contact: Contact | None,
    channel: str,
    by: User,
    at: datetime.datetime,
    outcome: str,
    note: str = "",
    second_collector: User | None = None,
    direction: str = OUTBOUND,
    duration_seconds: int | None = None,
    callback_at: datetime.datetime | None = None,
) -> ContactAttempt:
    """Record an attempt to reach the borrower or a third party, if the conduct limits allow it;
    a refused one is kept as a ConductRefusal and raises ConductViolation. What an accepted
    attempt changes: a wrong number marks the contact wrong, "do not contact" marks it so,
    reaching the right party verifies it; a conversation with the borrower stamps the case's last
    right-party contact and moves a case in reminder to negotiation. After a dispute or hardship
    claim, `attempt.offers_hold` is the hold to offer (the case is not held here). An accepted
    attempt marks the case's pending callback done; `callback_at` sets the next one (after the
    attempt, outside the borrower's quiet hours). The returned
    attempt's `case` and `contact` are the rows as it left them; the caller's copies may be stale.
    Only someone who reaches the case (collection.access) logs an attempt on it."""
    if not by.has_perm("collection.add_contactattempt"):
        raise PermissionDenied(_("You may not record contact attempts."))
    if callback_at is not None:
        _callback_check(case=case, at=at, callback_at=callback_at)
    violation: ConductViolation | None = None
    # The case, then the contacts, are locked while the limits are counted (docs/conduct-limits.md).
    # A refusal is written inside this block and raised after it, so that it is committed: a caller
    # with its own transaction must catch the violation inside it to keep the refusal.
    with transaction.atomic():
        locked_case = (
            CollectionCase.objects.select_for_update(of=("self",)).select_related("loan__borrower").get(pk=case.pk)
        )
        # Checked on the locked row: a case reassigned a moment ago is no longer the caller's.
        case_access_check(case=locked_case, by=by)
        locked_contact = _lock_contact(contact)
        try:
            conduct_check(
                case=locked_case,
                contact=locked_contact,
                channel=channel,
                at=at,
                by=by,
                second_collector=second_collector,
                outcome=outcome,
                direction=direction,
            )
        except ConductViolation as error:
            violation = error
            ConductRefusal.objects.create(
                case=locked_case,
                contact=locked_contact,
                channel=channel,
                attempted_at=at,
                attempted_by=by,
                rule=error.rule,
                detail=error.message,
                next_allowed_at=error.next_allowed_at,
            )
        else:
            attempt = ContactAttempt.objects.create(
                case=locked_case,
                contact=locked_contact,
                channel=channel,
                direction=direction,
                attempted_at=at,
                duration_seconds=duration_seconds,
                outcome=outcome,
                note=note,
                collector=by,
                second_collector=second_collector,
            )
            _apply_outcome(attempt=attempt, case=locked_case, contact=locked_contact, by=by)
            _callback_replace(case=locked_case, attempt=attempt, callback_at=callback_at, by=by)
    if violation is not None:
        raise violation
    return attempt


def _callback_check(*, case: CollectionCase, at: datetime.datetime, callback_at: datetime.datetime) -> None:
    if callback_at <= at:
        raise CollectionError(_("A callback must be later than the attempt."))
    zone = ZoneInfo(case.loan.borrower.time_zone)
    local = callback_at.astimezone(zone)
    if in_quiet_hours(ConductPolicy.current(), local.time()):
        raise CollectionError(
            _("A callback at %(local)s falls in the borrower's quiet hours: choose a time they may be called.")
            % {"local": f"{local:%Y-%m-%d %H:%M} ({zone.key})"}
        )


def _callback_replace(
    *, case: CollectionCase, attempt: ContactAttempt, callback_at: datetime.datetime | None, by: User
) -> None:
    """The attempt is the work the pending callback asked for: mark it done, and set the next."""
    Callback.objects.filter(case=case, status=Callback.Status.PENDING).update(
        status=Callback.Status.DONE, closed_at=timezone.now()
    )
    if callback_at is not None:
        Callback.objects.create(case=case, due_at=callback_at, attempt=attempt, set_by=by)


def _lock_contact(contact: Contact | None) -> Contact | None:
    """Lock every contact row with the contact's number (the cap on unanswered calls is per
    number, which may be on several borrowers' lists), in id order so that callers never wait
    on each other in a circle; return the fresh copy of the contact itself. The number is read
    from the row, not from the caller's copy, which may be older than a correction of it; once
    the row is locked with the number read, it cannot change until the attempt is written."""
    if contact is None:
        return None
    for _attempt in range(3):
        number = Contact.objects.filter(pk=contact.pk).values_list("value", flat=True).first()
        if number is None:
            raise CollectionError(_("This contact no longer exists."))
        locked = list(Contact.objects.select_for_update().filter(Q(value=number) | Q(pk=contact.pk)).order_by("pk"))
        own = next((row for row in locked if row.pk == contact.pk), None)
        if own is not None and own.value == number:
            return own
    raise CollectionError(_("This contact's number is being changed: try again in a moment."))


def _apply_outcome(*, attempt: ContactAttempt, case: CollectionCase, contact: Contact | None, by: User) -> None:
    outcome = attempt.outcome
    third_party = contact is not None and contact.is_third_party
    conversation = outcome in CONVERSATION_OUTCOMES and not third_party
    reached_right_party = conversation or (third_party and outcome == Outcome.THIRD_PARTY)

    if contact is not None:
        changed = []
        before = {field: getattr(contact, field) for field in ("verification", "do_not_contact")}
        if outcome == Outcome.WRONG_NUMBER:
            contact.verification = Contact.Verification.WRONG
            changed.append("verification")
        elif reached_right_party and contact.verification in (
            Contact.Verification.UNVERIFIED,
            Contact.Verification.STALE,
        ):
            contact.verification = Contact.Verification.VERIFIED
            contact.verified_at = attempt.attempted_at
            changed += ["verification", "verified_at"]
        if outcome == Outcome.DO_NOT_CONTACT and not contact.do_not_contact:
            contact.do_not_contact = True
            changed.append("do_not_contact")
        if changed:
            # A new version: a form opened on the contact before this attempt can no longer save
            # over it (collection.services.contacts).
            diff = {field: [before[field], getattr(contact, field)] for field in changed if field != "verified_at"}
            contact.version += 1
            contact.save(update_fields=[*changed, "version", "updated_at"])
            contact_change_record(
                contact=contact,
                by=by,
                reason=OUTCOME_CHANGE_REASON % {"outcome": attempt.get_outcome_display(), "attempt": attempt.pk},
                diff=diff,
            )

    if conversation:
        # A queryset update: the stage field is protected and its save is concurrency-checked.
        # An attempt logged late does not move the stamp back.
        if case.last_right_party_contact_at is None or case.last_right_party_contact_at < attempt.attempted_at:
            CollectionCase.objects.filter(pk=case.pk).update(last_right_party_contact_at=attempt.attempted_at)
            case.last_right_party_contact_at = attempt.attempted_at
        if case.stage == Stage.REMINDER:
            case_negotiate(
                case=case,
                by=by,
                reason=REACHED_REASON % {"outcome": attempt.get_outcome_display()},
            )

    hold_reason = HOLD_OFFERED_BY_OUTCOME.get(outcome)
    attempt.offers_hold = hold_reason if hold_reason is not None and case.stage in WORKING_STAGES else None


@transaction.atomic
def call_consent_record(
    *,
    case: CollectionCase,
    by: User,
    given_at: datetime.datetime,
    valid_until: datetime.datetime,
    note: str = "",
) -> CallConsent:
    """The borrower asked to be called ("call me back tomorrow at ten"): from `given_at` until
    `valid_until`, calls are allowed within the pause that follows a conversation. Only a consent
    given after the conversation lifts its pause; quiet hours, the caps, opt-outs and
    do-not-contact still apply. Only someone who reaches the case records it."""
    if not by.has_perm("collection.add_callconsent"):
        raise PermissionDenied(_("You may not record a borrower's consent to calls."))
    case_access_check(case=case, by=by)
    if valid_until <= given_at:
        raise CollectionError(_("A consent to calls must end after it was given."))
    if not case.is_open:
        raise CollectionError(_("The case is closed: there is nobody to call."))
    return CallConsent.objects.create(case=case, given_at=given_at, valid_until=valid_until, note=note, recorded_by=by)
