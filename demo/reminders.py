"""The reminders of the seeded days, as collection.messaging plans and sends them: a due reminder
step becomes an outbound message at the day's first dispatch run (00:00, before the nightly
cycle, so a case the cycle closes that night still gets it planned, and the dispatch blocks it),
or at the run after the cycle for a case the cycle made due; it is planned for the step's send
window in the borrower's time zone and sent by the dispatch run of that time through the
conduct limits as the `system` user: sent (with its contact attempt), blocked (with the conduct
refusal, or by planning when the borrower has no usable contact), or failed by the SMS gateway.
A step due on the very day a case enters its stage by day (a collector's move) is not planned:
the desk's steps start the day after."""

import dataclasses
import datetime

from django.conf import settings
from django.template import Context

from collection.channels import GATEWAY_REFUSED
from collection.messaging import NO_OWN_CONTACT
from collection.models import ContactAttempt, ContactChannel, OutboundMessage, Outcome
from loans.models import Contact

from .copy import MESSAGES, utc_text, yuan
from .desk import USABLE, Step
from .limits import standing_refusal

QUEUED, SENT, FAILED, BLOCKED = (
    OutboundMessage.Status.QUEUED,
    OutboundMessage.Status.SENT,
    OutboundMessage.Status.FAILED,
    OutboundMessage.Status.BLOCKED,
)
CONTACT_KIND = {ContactChannel.SMS: Contact.Kind.MOBILE, ContactChannel.EMAIL: Contact.Kind.EMAIL}
PLANNING_RUNS = (5, 4500 + 5)  # the day's first dispatch run (00:00) and the one after the cycle (01:15)
DISPATCH_SECONDS = 3  # a dispatch run starts on the quarter hour and sends within seconds
GATEWAY_FAILURES = 0.02
CALLS_BACK = 0.07  # share of borrowers who call the desk back the day an SMS reaches them


@dataclasses.dataclass
class Message:
    case: object
    step: Step
    day: int
    contact: object | None
    recipient: str
    body: str
    scheduled_at: datetime.datetime
    planned_at: datetime.datetime
    status: str = QUEUED
    blocked_rule: str = ""
    last_error: str = ""

    @property
    def key(self) -> str:
        return f"{self.case.id}:{self.step.id}:{datetime.date.fromordinal(self.day).isoformat()}"


def plan(borrower, day: int, *, after_night: bool) -> None:
    """Plan the reminders due on `day` for the borrower's cases, each once a day."""
    if not after_night:
        borrower.messages = []
    desk = borrower.desk
    steps, offsets = desk.steps_by_stage, desk.entry_offsets
    for case in borrower.cases:
        if case.stage not in steps or case.days_past_due <= 0:
            continue
        if not desk.dpd_steps and (day - case.stage_entered_day) not in offsets[case.stage]:
            continue  # no step of the stage is due this many days after entering it
        for step in steps[case.stage]:
            if _due(case, step, day) and not any(
                message.case is case and message.step is step for message in borrower.messages
            ):
                planned_at = borrower.desk.moment(day, PLANNING_RUNS[after_night])
                borrower.messages.append(_planned(borrower, case, step, day, planned_at))


def _due(case, step: Step, day: int) -> bool:
    if step.counted_from_dpd:
        return case.days_past_due == step.day_offset
    return case.stage_entered_day == day - step.day_offset


def _planned(borrower, case, step: Step, day: int, planned_at: datetime.datetime) -> Message:
    loan = case.loan
    context = Context(
        {
            "company": settings.COLLECTION_COMPANY_NAME,
            "hotline": settings.COLLECTION_HOTLINE,
            "borrower_name": borrower.name,
            "account_tail": loan.account_number[-4:],
            "days_past_due": case.days_past_due,
            "overdue_amount": yuan(loan.overdue(_refreshed_on(case, day, planned_at))),
        },
        autoescape=False,
    )
    scheduled_at = datetime.datetime.combine(datetime.date.fromordinal(day), step.window_start, tzinfo=borrower.zone)
    message = Message(case, step, day, None, "", step.template.render(context), scheduled_at, planned_at)
    if step.channel == ContactChannel.LETTER:
        message.recipient = borrower.postal_address
        return message
    contact = _own_contact(borrower, step.channel)
    if contact is None:
        kind = Contact.Kind(CONTACT_KIND[step.channel]).label
        message.status, message.blocked_rule = BLOCKED, "no_contact"
        message.last_error = str(NO_OWN_CONTACT % {"kind": kind})
    else:
        message.contact, message.recipient = contact, contact.value
    return message


def _refreshed_on(case, day: int, planned_at: datetime.datetime) -> int:
    """The night whose ageing the loan shows at planning: the day's own once its cycle ran."""
    return day if planned_at >= case.desk.night(day) else day - 1


def _own_contact(borrower, channel: str):
    """The borrower's own contact for the channel, neither wrong nor stale; one that is not
    do-not-contact or opted out first, then a verified one first (as planning orders them)."""
    kind = CONTACT_KIND[channel]
    candidates = [c for c in borrower.contacts if c.kind == kind and c.verification in USABLE]
    candidates.sort(
        key=lambda c: (
            c.do_not_contact or _opted_out(c, channel),
            c.verification != Contact.Verification.VERIFIED,
            -c.id,
        )
    )
    return candidates[0] if candidates else None


def _opted_out(contact, channel: str) -> bool:
    return contact.opted_out_of_sms if channel == ContactChannel.SMS else contact.opted_out_of_email


def dispatch(borrower, day: int) -> None:
    """Send the day's planned messages at the dispatch run of their time, through the conduct
    limits; write each message as it ended."""
    desk = borrower.desk
    for message in borrower.messages:
        at = _dispatch_run(desk, message.scheduled_at)
        if message.status == QUEUED:
            _send(borrower, message, at)
        _write(desk, borrower.rows, message, at)


def _dispatch_run(desk, scheduled_at: datetime.datetime) -> datetime.datetime:
    local = scheduled_at.astimezone(desk.zone)
    quarter = (local.hour * 3600 + local.minute * 60 + local.second + 899) // 900 * 900
    return desk.moment(local.date().toordinal(), quarter + DISPATCH_SECONDS)


def _send(borrower, message: Message, at: datetime.datetime) -> None:
    case, contact = message.case, message.contact
    rng = borrower.desk.rng
    opted_out = contact is not None and _opted_out(contact, message.step.channel)
    if not case.is_open or (contact is not None and (contact.do_not_contact or opted_out)):
        refusal = standing_refusal(
            case=case.model(), contact=contact and contact.model(), channel=message.step.channel, at=at
        )
        borrower.rows.refusal(
            case_id=case.id,
            contact_id=contact and contact.id,
            channel=message.step.channel,
            at=at,
            by=borrower.desk.system,
            refusal=refusal,
        )
        message.status, message.blocked_rule, message.last_error = BLOCKED, refusal.rule, refusal.detail
        return
    if message.step.channel == ContactChannel.SMS and rng.random() < GATEWAY_FAILURES:
        detail = '{"code":"isv.MOBILE_NUMBER_ILLEGAL"}'
        message.status, message.last_error = FAILED, str(GATEWAY_REFUSED % {"status": 400, "detail": detail})
        return
    borrower.rows.attempt(
        case_id=case.id,
        contact_id=contact and contact.id,
        channel=message.step.channel,
        direction=ContactAttempt.Direction.OUTBOUND,
        at=at,
        outcome=Outcome.SENT,
        note=message.body,
        by=borrower.desk.system,
    )
    message.status = SENT
    if contact is not None and rng.random() < CALLS_BACK:
        case.calls_back_on = message.day


def _write(desk, rows, message: Message, at: datetime.datetime) -> None:
    sent = message.status == SENT
    handled = message.status != BLOCKED or message.blocked_rule != "no_contact"
    if not sent:
        reference = ""
    elif message.step.channel == ContactChannel.SMS:
        reference = f"file:{message.key}"
    else:
        name = message.key.replace(":", "_").replace("/", "_") + ".txt"
        reference = f"{datetime.date.fromordinal(message.day).isoformat()}/{name}"
    rows.add(
        MESSAGES,
        message.case.id,
        message.contact and message.contact.id,
        message.step.id,
        message.step.channel,
        desk.language,
        message.recipient,
        message.body,
        utc_text(message.scheduled_at),
        message.status,
        1 if message.status in (SENT, FAILED) else 0,
        message.last_error,
        message.blocked_rule,
        utc_text(at) if sent else None,
        reference,
        message.key,
        utc_text(message.planned_at),
        utc_text(at if handled else message.planned_at),
    )
