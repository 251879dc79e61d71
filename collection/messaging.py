"""Reminders: due reminder steps become outbound messages, and queued messages are sent through
their channel's backend within the conduct limits.

The database rows are the source of truth. Planning writes each reminder once (its idempotency
key is "case:step:day", unique in the table); dispatch claims one queued message at a time in
its own transaction, and every retry is a new `scheduled_at` on the row, not a Celery retry. So a
job run twice changes nothing the second time, a worker killed mid-batch leaves every message
either as it was or fully handled, and when Redis or a worker is away the next run picks up
whatever waited."""

import datetime
import logging
from collections import Counter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, CharField, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Cast, Concat
from django.template import Template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from config.desk import desk_day_start, in_desk_language
from loans.models import Contact

from .channels import ChannelError, Outgoing, channel_backend
from .conduct import ConductRule
from .exceptions import CollectionError, ConductViolation
from .jobs import Step
from .models import OPT_OUT_FIELD, CollectionCase, ContactChannel, JobRun, OutboundMessage, Outcome, ReminderStep
from .selectors import system_user
from .services.attempts import attempt_log
from .validators import ReminderTemplateError, reminder_context, reminder_render, reminder_template

__all__ = [
    "DISPATCH_STEPS",
    "NO_OWN_CONTACT",
    "PlanningBlock",
    "SendBlock",
    "messages_dispatch",
    "messages_failed",
    "reminders_plan",
    "reminders_plan_due",
]

logger = logging.getLogger(__name__)

PLAN_BATCH_SIZE = 1000

# The borrower's own contact each messaging channel goes to. Never a third party's (employer,
# emergency contact...): a reminder carries the debt's details.
CONTACT_KIND = {ContactChannel.SMS: Contact.Kind.MOBILE, ContactChannel.EMAIL: Contact.Kind.EMAIL}
USABLE_VERIFICATION = [Contact.Verification.VERIFIED, Contact.Verification.UNVERIFIED]

QUEUED = OutboundMessage.Status.QUEUED
SENT = OutboundMessage.Status.SENT
FAILED = OutboundMessage.Status.FAILED
BLOCKED = OutboundMessage.Status.BLOCKED

# The steps of a reminder dispatch run, as its JobRun keeps their counts.
DISPATCH_STEPS = (
    Step(
        "planned",
        gettext_lazy("Reminders planned"),
        {
            "queued": gettext_lazy("queued"),
            "blocked": gettext_lazy("blocked"),
            "failed": gettext_lazy("failed"),
            "steps_failed": gettext_lazy("steps failed"),
        },
    ),
    Step(
        "dispatched",
        gettext_lazy("Reminders dispatched"),
        {
            "sent": gettext_lazy("sent"),
            "rescheduled": gettext_lazy("rescheduled"),
            "blocked": gettext_lazy("blocked"),
            "retrying": gettext_lazy("to retry"),
            "failed": gettext_lazy("failed"),
        },
    ),
)


NO_OWN_CONTACT = gettext_lazy(
    "The borrower has no usable %(kind)s of their own (third parties are never sent reminders)."
)


class PlanningBlock(models.TextChoices):
    """Why planning blocked a reminder (stored in OutboundMessage.blocked_rule beside the conduct
    rules that dispatch stores there)."""

    NO_CONTACT = "no_contact", gettext_lazy("No usable contact of the borrower's own")
    NO_POSTAL_ADDRESS = "no_postal_address", gettext_lazy("No postal address")


class SendBlock(models.TextChoices):
    """Why dispatch refused a message at send time, whatever planning decided (stored in
    OutboundMessage.blocked_rule beside the conduct rules)."""

    NOT_OWN_CONTACT = "not_own_contact", gettext_lazy("Not the borrower's own contact")


# --- planning ----------------------------------------------------------------------------------


def reminders_plan(*, as_of: datetime.date, now: datetime.datetime | None = None) -> dict[str, int]:
    """Write the reminders due on `as_of` as outbound messages, each once (key "case:step:day").
    A case is due for an active step when it is open in the step's stage with its loan overdue and
    entered the stage `day_offset` days before `as_of` (for steps counted in DPD: its loan is
    `day_offset` days past due). A message goes to the borrower's own contact for the channel,
    never a third party's; without one it is written blocked (PlanningBlock) for supervisors to
    see. Call-task steps are not messages and are not planned. Returns the counts written."""
    now = now or timezone.now()
    counts = Counter(queued=0, blocked=0)
    steps = ReminderStep.objects.filter(is_active=True).exclude(channel=ReminderStep.Channel.CALL_TASK)
    for step in steps.order_by("pk"):
        # One step failing in a way nobody foresaw stops neither the other steps nor the sending.
        try:
            counts.update(_plan_step(step=step, as_of=as_of, now=now))
        except Exception:
            logger.exception("Planning reminder step %s for %s failed", step.pk, as_of)
            counts["steps_failed"] += 1
    return dict(counts)


def _plan_step(*, step: ReminderStep, as_of: datetime.date, now: datetime.datetime) -> Counter:
    counts = Counter()
    # The step's text in the desk's language: the Chinese one, unless the desk speaks English and
    # the step has an English text; rendered with the loan's figures as of planning.
    language = settings.LANGUAGE_CODE
    use_english = language.startswith("en") and bool(step.template_en)
    # The restricted engine that checked the step when it was saved. A step whose text fails
    # anyway (saved around its form, or made bad by a change of the engine) fails its own
    # messages, with the reason, and no other step's.
    try:
        template = reminder_template(step.template_en if use_english else step.template_zh)
    except ReminderTemplateError as error:
        template = error
    suffix = f":{step.pk}:{as_of.isoformat()}"
    due = _cases_due(step=step, as_of=as_of).exclude(
        Exists(
            OutboundMessage.objects.filter(
                idempotency_key=Concat(Cast(OuterRef("pk"), CharField()), Value(suffix), output_field=CharField())
            )
        )
    )
    if step.channel in CONTACT_KIND:
        contacts = _own_contacts(channel=step.channel)
        due = due.annotate(
            contact_pk=Subquery(contacts.values("pk")[:1], output_field=IntegerField()),
            contact_value=Subquery(contacts.values("value")[:1], output_field=CharField()),
        )
    fields = [
        "pk",
        "loan__account_number",
        "loan__days_past_due",
        "loan__overdue_amount",
        "loan__borrower__name",
        "loan__borrower__time_zone",
        "loan__borrower__province",
        "loan__borrower__city",
        "loan__borrower__address",
    ]
    if step.channel in CONTACT_KIND:
        fields += ["contact_pk", "contact_value"]

    last_pk = 0
    while True:
        rows = list(due.filter(pk__gt=last_pk).order_by("pk").values(*fields)[:PLAN_BATCH_SIZE])
        if not rows:
            break
        last_pk = rows[-1]["pk"]
        messages = []
        with in_desk_language():
            for row in rows:
                messages.append(
                    _planned_message(
                        row=row, step=step, template=template, language=language, suffix=suffix, as_of=as_of, now=now
                    )
                )
        # One statement per batch: a worker killed mid-plan leaves whole batches, and the next run
        # plans the rest.
        OutboundMessage.objects.bulk_create(messages, ignore_conflicts=True)
        counts.update(message.status for message in messages)
    return counts


def _cases_due(*, step: ReminderStep, as_of: datetime.date) -> QuerySet[CollectionCase]:
    cases = CollectionCase.objects.filter(stage=step.stage, loan__days_past_due__gt=0)
    if step.offset_from == ReminderStep.OffsetFrom.DPD:
        return cases.filter(loan__days_past_due=step.day_offset)
    # The stage-entry day on the desk's calendar, as a range over the (stage, stage_entered_at) index.
    entered_on = as_of - datetime.timedelta(days=step.day_offset)
    return cases.filter(
        stage_entered_at__gte=desk_day_start(entered_on),
        stage_entered_at__lt=desk_day_start(entered_on + datetime.timedelta(days=1)),
    )


def _own_contacts(*, channel: str) -> QuerySet[Contact]:
    """The case's borrower's own contacts for the channel, best first: never one marked wrong or
    stale; a verified one before an unverified one; a usable one before one that is do-not-contact
    or opted out of the channel (so that dispatch blocks the message with that rule, for
    supervisors to see, rather than planning losing it)."""
    usable = Q(do_not_contact=False) & Q(**{OPT_OUT_FIELD[channel]: False})
    return (
        Contact.objects.filter(
            borrower_id=OuterRef("loan__borrower_id"), kind=CONTACT_KIND[channel], verification__in=USABLE_VERIFICATION
        )
        .annotate(
            flagged=Case(When(usable, then=0), default=1, output_field=IntegerField()),
            unverified=Case(
                When(verification=Contact.Verification.VERIFIED, then=0), default=1, output_field=IntegerField()
            ),
        )
        .order_by("flagged", "unverified", "-pk")
    )


def _planned_message(
    *,
    row: dict,
    step: ReminderStep,
    template: Template | ReminderTemplateError,
    language: str,
    suffix: str,
    as_of: datetime.date,
    now: datetime.datetime,
) -> OutboundMessage:
    failure = template if isinstance(template, ReminderTemplateError) else None
    body = ""
    if failure is None:
        context = reminder_context(
            borrower_name=row["loan__borrower__name"],
            account_number=row["loan__account_number"],
            days_past_due=row["loan__days_past_due"],
            overdue_amount=row["loan__overdue_amount"],
        )
        try:
            body = reminder_render(template, context)
        except ReminderTemplateError as error:
            failure = error
    message = OutboundMessage(
        case_id=row["pk"],
        step=step,
        channel=step.channel,
        language=language,
        body=body,
        scheduled_at=_scheduled_at(step=step, as_of=as_of, zone=_zone(row["loan__borrower__time_zone"]), now=now),
        idempotency_key=f"{row['pk']}{suffix}",
    )
    if failure is not None:
        logger.warning("Reminder step %s cannot be rendered for case %s", step.pk, row["pk"])
        message.status = FAILED
        message.last_error = _("The reminder step's text cannot be rendered: %(error)s") % {"error": failure}
    if step.channel in CONTACT_KIND:
        message.contact_id = row["contact_pk"]
        message.recipient = row["contact_value"] or ""
        if message.contact_id is None and failure is None:
            _block(
                message,
                PlanningBlock.NO_CONTACT,
                NO_OWN_CONTACT % {"kind": Contact.Kind(CONTACT_KIND[step.channel]).label},
            )
    else:
        address = row["loan__borrower__address"].strip()
        message.recipient = f"{row['loan__borrower__province']}{row['loan__borrower__city']}{address}"
        if not address and failure is None:
            _block(
                message, PlanningBlock.NO_POSTAL_ADDRESS, _("The borrower has no postal address to send a letter to.")
            )
    return message


def _block(message: OutboundMessage, rule: str, reason: str) -> None:
    message.status = BLOCKED
    message.blocked_rule = rule
    message.last_error = reason


def _scheduled_at(
    *, step: ReminderStep, as_of: datetime.date, zone: ZoneInfo, now: datetime.datetime
) -> datetime.datetime:
    """The start of the step's send window on `as_of` in the borrower's time zone; `now` when that
    is later but within the window; the next day's window start when the window has closed (a late
    run delays a reminder, it does not drop it)."""
    window_starts = datetime.datetime.combine(as_of, step.send_window_start, tzinfo=zone)
    window_ends = datetime.datetime.combine(as_of, step.send_window_end, tzinfo=zone)
    if now <= window_starts:
        return window_starts
    if now < window_ends:
        return now
    return datetime.datetime.combine(as_of + datetime.timedelta(days=1), step.send_window_start, tzinfo=zone)


_zones: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    """The borrower's time zone; the desk's when the stored name is unknown (the model validates
    it, an import might not): one bad row must not stop everyone's reminders."""
    if name not in _zones:
        try:
            _zones[name] = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            _zones[name] = timezone.get_default_timezone()
    return _zones[name]


# Days a late dispatch still plans: a day on which no dispatch ran (Redis or the workers away)
# has its reminders planned by the next run, a day late, rather than lost; older ones are stale.
CATCH_UP_DAYS = 2


def reminders_plan_due(*, today: datetime.date, now: datetime.datetime | None = None) -> dict[str, int]:
    """Plan today's reminders and those of the days since the last successful dispatch run, at
    most CATCH_UP_DAYS back (none before the first run the desk recorded). The keys make every
    day's planning happen once, however often this runs."""
    last = (
        JobRun.objects.filter(
            job=JobRun.Job.REMINDER_DISPATCH, status=JobRun.Status.SUCCEEDED, dry_run=False, as_of__lt=today
        )
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    first_day = (
        today
        if last is None
        else max(last + datetime.timedelta(days=1), today - datetime.timedelta(days=CATCH_UP_DAYS))
    )
    counts: Counter = Counter()
    day = first_day
    while day <= today:
        counts.update(reminders_plan(as_of=day, now=now))
        day += datetime.timedelta(days=1)
    return dict(counts)


# --- dispatch ----------------------------------------------------------------------------------


def messages_dispatch(*, now: datetime.datetime | None = None, limit: int | None = None) -> dict[str, int]:
    """Send the queued messages whose time has come, oldest first, at most `limit`. Each passes the
    conduct limits at send time (as the `system` user, recorded as a contact attempt "sent"): a
    time-bound refusal (quiet hours...) reschedules it to when contact is next allowed, a standing
    one (do-not-contact, case on hold...) blocks it with the rule. A backend error is retried after
    COLLECTION_MESSAGE_RETRY_BASE_SECONDS x 1, 2, 4...; after COLLECTION_MESSAGE_MAX_ATTEMPTS tries,
    or at once when retrying cannot help, the message is failed. Returns the counts per outcome."""
    now = now or timezone.now()
    system = system_user()
    counts = Counter(sent=0, rescheduled=0, blocked=0, retrying=0, failed=0)
    backends: dict[str, object] = {}
    handled = 0
    while limit is None or handled < limit:
        # One message per transaction, claimed with SKIP LOCKED: two dispatchers never send one
        # twice, and a worker killed mid-batch leaves each message queued or fully handled. The
        # backend is called before the commit, so a worker dying in between sends it again on the
        # next run (at least once, under the same idempotency key for the backend to drop).
        with transaction.atomic():
            message = (
                OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("case__loan__borrower", "contact", "step")
                .filter(status=QUEUED, scheduled_at__lte=now)
                .order_by("scheduled_at", "pk")
                .first()
            )
            if message is None:
                break
            counts[_dispatch_one(message=message, now=now, by=system, backends=backends)] += 1
        handled += 1
    return dict(counts)


def _dispatch_one(*, message: OutboundMessage, now: datetime.datetime, by: User, backends: dict) -> str:
    """Handle one claimed message; the caller's transaction holds its lock. Returns the count it
    falls under."""
    refusal = _recipient_refusal(message=message, contact=_fresh(message.contact))
    if refusal is not None:
        return _refused_at_send(message, *refusal)
    try:
        # A savepoint: when the backend fails, the attempt recorded for the send goes with it.
        with transaction.atomic():
            try:
                attempt = attempt_log(
                    case=message.case,
                    contact=message.contact,
                    channel=message.channel,
                    by=by,
                    at=now,
                    outcome=Outcome.SENT,
                    note=message.body,
                )
            except ConductViolation as violation:
                # Caught inside the savepoint so that attempt_log's ConductRefusal is kept.
                return _held_back(message=message, violation=violation, now=now)
            except CollectionError as error:  # a message for a channel that needs a contact, without one
                _block(message, PlanningBlock.NO_CONTACT, error.message)
                _save(message, "status", "blocked_rule", "last_error")
                return "blocked"
            # Once more on the contact as attempt_log locked it: it cannot change until the send
            # is committed. A refusal here undoes the attempt with the savepoint.
            refusal = _recipient_refusal(message=message, contact=attempt.contact)
            if refusal is not None:
                raise _RefusedAtSend(*refusal)
            # The contact's number as it is now (a collector may have corrected it since planning).
            if attempt.contact is not None:
                message.recipient = attempt.contact.value
            backend = backends.get(message.channel)
            if backend is None:
                backend = backends[message.channel] = channel_backend(message.channel)
            reference = backend.send(
                Outgoing(
                    idempotency_key=message.idempotency_key,
                    channel=message.channel,
                    recipient=message.recipient,
                    body=message.body,
                    language=message.language,
                    sent_at=now,
                    addressee=message.case.loan.borrower.name,
                )
            )
    except _RefusedAtSend as refused:
        return _refused_at_send(message, refused.rule, refused.reason)
    except ChannelError as error:
        return _send_failed(message=message, reason=error.message, permanent=error.permanent, now=now)
    except Exception as error:  # a broken backend must not stop the queue behind this message
        logger.exception("Sending outbound message %s failed", message.pk)
        return _send_failed(message=message, reason=f"{type(error).__name__}: {error}", permanent=False, now=now)
    message.status = SENT
    message.sent_at = now
    message.provider_reference = (reference or "")[:100]
    message.attempts += 1
    message.last_error = ""
    _save(message, "status", "sent_at", "provider_reference", "attempts", "last_error", "recipient")
    return "sent"


class _RefusedAtSend(Exception):
    def __init__(self, rule: str, reason: str):
        super().__init__(rule, reason)
        self.rule, self.reason = rule, reason


def _fresh(contact: Contact | None) -> Contact | None:
    """The contact as it is stored now, not as it was when the message was claimed."""
    if contact is None:
        return None
    return Contact.objects.filter(pk=contact.pk).first()


def _recipient_refusal(*, message: OutboundMessage, contact: Contact | None) -> tuple[str, str] | None:
    """Why `message` may not go to `contact` now, as (rule, reason); None when it may. Whatever
    planning picked, a reminder names the debt: it goes only to the borrower's own contact of the
    channel's kind (own mobile for SMS, own e-mail) and still the borrower's; a letter goes to the
    borrower's own address, never to a contact. (Do-not-contact, opt-outs and third parties are the
    conduct check's, which attempt_log runs on the locked contact and records when it refuses.)
    The texts name no number."""
    borrower_id = message.case.loan.borrower_id
    if message.channel in CONTACT_KIND:
        if contact is None:
            return None  # attempt_log refuses a message without a contact (PlanningBlock.NO_CONTACT)
        if contact.borrower_id != borrower_id:
            return (
                ConductRule.CONTACT_NOT_OF_BORROWER,
                _("The contact no longer belongs to this case's borrower: nothing was sent."),
            )
        own_kind = Contact.Kind(CONTACT_KIND[message.channel])
        if contact.kind != own_kind:
            return (
                SendBlock.NOT_OWN_CONTACT,
                _(
                    "The contact is now “%(kind)s”, not “%(own)s” of the borrower's own: a reminder names the debt, "
                    "nothing was sent."
                )
                % {"kind": contact.get_kind_display(), "own": own_kind.label},
            )
    elif contact is not None:
        return (
            SendBlock.NOT_OWN_CONTACT,
            _("A letter goes to the borrower's own address, not to a contact: nothing was sent."),
        )
    return None


def _refused_at_send(message: OutboundMessage, rule: str, reason: str) -> str:
    _block(message, rule, reason)
    _save(message, "status", "blocked_rule", "last_error")
    return "blocked"


def _held_back(*, message: OutboundMessage, violation: ConductViolation, now: datetime.datetime) -> str:
    if violation.next_allowed_at is not None:
        # Strictly later than now, so that this run does not pick the message up again.
        message.scheduled_at = max(violation.next_allowed_at, now + datetime.timedelta(seconds=1))
        message.last_error = violation.message
        _save(message, "scheduled_at", "last_error")
        return "rescheduled"
    _block(message, violation.rule, violation.message)
    _save(message, "status", "blocked_rule", "last_error")
    return "blocked"


def _send_failed(*, message: OutboundMessage, reason: str, permanent: bool, now: datetime.datetime) -> str:
    message.attempts += 1
    message.last_error = reason
    if permanent or message.attempts >= settings.COLLECTION_MESSAGE_MAX_ATTEMPTS:
        message.status = FAILED
        _save(message, "status", "attempts", "last_error")
        return "failed"
    base = max(1, settings.COLLECTION_MESSAGE_RETRY_BASE_SECONDS)
    message.scheduled_at = now + datetime.timedelta(seconds=base * 2 ** (message.attempts - 1))
    _save(message, "scheduled_at", "attempts", "last_error")
    return "retrying"


def _save(message: OutboundMessage, *fields: str) -> None:
    message.save(update_fields=[*fields, "updated_at"])


# --- reads -------------------------------------------------------------------------------------


def messages_failed() -> QuerySet[OutboundMessage]:
    """The messages the desk gave up sending, newest first, for supervisors to follow up."""
    return (
        OutboundMessage.objects.filter(status=FAILED)
        .select_related("case__loan__borrower", "contact", "step")
        .order_by("-updated_at")
    )
