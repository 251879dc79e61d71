"""A collector's day on a case, within the conduct limits: calls with the outcomes real calls
have, a second try when nobody answered, an SMS when calls must wait, field visits with a
colleague, borrowers calling back; what the outcomes change (promises, plans, holds, requests,
consents, contact flags, the right-party stamp, the move to negotiation); and the attempts the
limits refuse, recorded as attempt_log records them."""

import datetime

from collection.machine import Stage
from collection.models import CONVERSATION_OUTCOMES, ContactAttempt, ContactChannel, Outcome, RepaymentPlan
from collection.services.attempts import REACHED_REASON
from collection.services.plans import plan_policy_breaches
from loans.models import ZERO, Contact

from . import texts
from .copy import PLAN_INSTALLMENTS, PLANS, PROMISES, utc_text, yuan
from .desk import money, working
from .history import LOGGED_AFTER, CaseStory, ContactState, Plan, PlanPart, Promise
from .limits import standing_refusal

OUTBOUND, INBOUND = ContactAttempt.Direction.OUTBOUND, ContactAttempt.Direction.INBOUND
CALL = ContactChannel.CALL
UNANSWERED = (Outcome.NO_ANSWER, Outcome.BUSY)
# How likely a collector works a case on a given day, by its stage.
WORK_SHARE = {Stage.REMINDER: 0.3, Stage.NEGOTIATION: 0.22, Stage.ESCALATION: 0.3, Stage.LITIGATION: 0.06}
# Unanswered calls a collector makes to one number in a day (the policy allows more).
UNANSWERED_A_DAY = 2
HOUR = 3600


def day(case: CaseStory, today: int) -> None:
    """What happens to the case on `today` besides the nightly cycle and the reminders."""
    if not case.is_open:
        return
    rng = case.desk.rng
    if case.letter_on == today and case.stage == Stage.LITIGATION:
        _lawyer_letter(case, today)
        return
    if case.reassign_on is None:
        case.reassign_on = today + rng.randint(0, 59) if rng.random() < 0.07 else 0
    if case.reassign_on == today:
        case.reassign(today)
    if case.calls_back_on == today and working(case.stage):
        _inbound(case, today)
    callback = case.callback
    if callback is not None and callback[0] == today:
        case.callback = None
        if working(case.stage):
            _session(case, today, at=callback[1], callback=True)
        return
    if working(case.stage) and rng.random() < _work_share(case, today):
        _session(case, today)


def _work_share(case: CaseStory, today: int) -> float:
    if case.unreachable:
        return 0.85
    share = WORK_SHARE[case.stage]
    if case.attention_since is not None and today - case.desk.desk_day(case.attention_since) <= 3:
        share = 0.7
    promise = case.pending_promise
    if promise is not None and promise.due_day >= today:
        share = 0.06
    if datetime.date.fromordinal(today).weekday() == 6:  # Sundays the desk is thinly staffed
        share *= 0.4
    return share


# --- a working session ---


def _session(case: CaseStory, today: int, *, at: datetime.datetime | None = None, callback: bool = False) -> None:
    rng, borrower = case.desk.rng, case.borrower
    start, end = case.block
    at = at or borrower.local(today, start + int(rng.random() * max(end - start - 3 * HOUR, 60)))
    _maybe_mistake(case, today, at)
    if case.stage in (Stage.ESCALATION, Stage.LITIGATION) and rng.random() < 0.06 and case.collector.teammates:
        _visit(case, at)
        return
    contact = borrower.own_mobile() if callback else _contact_to_call(case, today, at)
    if contact is None or not contact.callable():
        return
    refusal = case.call_refusal(contact, at)
    if refusal is not None:
        if rng.random() < (0.3 if case.unreachable else 0.06):  # the collector tries anyway
            _record_refusal(case, contact, at, refusal)
        if rng.random() < 0.5:
            _text(case, at + datetime.timedelta(minutes=3))
        return
    outcome = _call(case, contact, at)
    if outcome in UNANSWERED and rng.random() < (0.9 if case.unreachable else 0.35):
        again = at + datetime.timedelta(seconds=HOUR + int(rng.random() * 2 * HOUR))
        if (
            again < borrower.local(today, end)
            and borrower.ledger.unanswered_on(contact.value, again) < UNANSWERED_A_DAY
            and case.call_refusal(contact, again) is None
        ):
            _call(case, contact, again)


def _contact_to_call(case: CaseStory, today: int, at: datetime.datetime) -> ContactState | None:
    """Whom the collector calls: the borrower's own numbers; once the borrower is lost, mostly
    the people who know them. Never a number called unanswered twice today already."""
    borrower, rng = case.borrower, case.desk.rng
    own = [c for c in borrower.contacts if not c.is_third_party and c.kind != Contact.Kind.EMAIL and c.callable()]
    if borrower.is_lost_on(today):
        others = [c for c in borrower.contacts if c.is_third_party and c.callable()]
        candidates = others if others and rng.random() < 0.8 else own
    else:
        mobile = [c for c in own if c.kind == Contact.Kind.MOBILE]
        candidates = mobile if mobile and rng.random() < 0.75 else own
    candidates = [c for c in candidates if borrower.ledger.unanswered_on(c.value, at) < UNANSWERED_A_DAY]
    return rng.choice(candidates) if candidates else None


def _maybe_mistake(case: CaseStory, today: int, at: datetime.datetime) -> None:
    """Now and then a collector tries what the limits forbid: the attempt is refused and recorded."""
    rng = case.desk.rng
    roll = rng.random()
    if roll < 0.012:
        _standing_mistake(case, at - datetime.timedelta(minutes=5))
    elif roll < 0.02 and case.block[0] == case.borrower.cases[0].block[0]:
        _early_call(case, today)


def _standing_mistake(case: CaseStory, at: datetime.datetime) -> None:
    borrower = case.borrower
    clear = [c for c in borrower.contacts if c.kind != Contact.Kind.EMAIL]
    flagged = [c for c in clear if c.do_not_contact or c.is_wrong or c.opted_out_of_calls]
    third = [] if borrower.lost_contact else [c for c in clear if c.is_third_party and c.callable()]
    candidates = flagged + third
    if not candidates:
        return
    contact = case.desk.rng.choice(candidates)
    refusal = standing_refusal(case=case.model(), contact=contact.model(), channel=CALL, at=at)
    _record_refusal(case, contact, at, refusal)


def _early_call(case: CaseStory, today: int) -> None:
    """A call before the borrower's quiet hours end (a collector in Beijing calling Urumqi at
    half past nine, or starting before eight)."""
    borrower, policy = case.borrower, case.desk.policy
    mobile = borrower.own_mobile()
    if mobile is None or not mobile.callable():
        return
    end = policy.quiet_hours_end.hour * HOUR + policy.quiet_hours_end.minute * 60
    at = borrower.local(today, end - 300 - int(case.desk.rng.random() * 1200))
    if case.ledger.message_is_quiet(ContactChannel.CALL, at):
        _record_refusal(case, mobile, at, case.call_refusal(mobile, at))


def _record_refusal(case: CaseStory, contact: ContactState | None, at: datetime.datetime, refusal) -> None:
    case.rows.refusal(
        case_id=case.id,
        contact_id=contact and contact.id,
        channel=CALL,
        at=at,
        by=case.collector.id,
        refusal=refusal,
    )


# --- calls and what they change ---


def _call(case: CaseStory, contact: ContactState, at: datetime.datetime, direction: str = OUTBOUND) -> str:
    if direction == INBOUND:
        outcome = _inbound_outcome(case, at)
    elif contact.is_third_party:
        outcome = _third_party_outcome(case, contact)
    else:
        outcome = _own_outcome(case, contact, at)
    _logged(case, contact, at, outcome, channel=CALL, direction=direction)
    return outcome


def _own_outcome(case: CaseStory, contact: ContactState, at: datetime.datetime) -> str:
    rng, verification = case.desk.rng, contact.verification
    # A borrower the desk has lost never answers on their own numbers (which are stale or wrong).
    lost = case.borrower.lost_contact
    answers = {"verified": 0.55, "unverified": 0.42, "stale": 0.12}.get(verification, 0.0)
    if contact.kind != Contact.Kind.MOBILE:
        answers *= 0.7
    if case.unreachable or lost:
        answers = 0.3 if lost and verification != "verified" else 0.0
    if rng.random() >= answers:
        return Outcome.NO_ANSWER if rng.random() < 0.75 else Outcome.BUSY
    if verification != "verified" and (lost or rng.random() < (0.5 if verification == "stale" else 0.1)):
        return Outcome.WRONG_NUMBER
    if rng.random() < 0.06:
        return Outcome.THIRD_PARTY
    return _conversation(case, at)


def _conversation(case: CaseStory, at: datetime.datetime) -> str:
    rng, loan = case.desk.rng, case.loan
    if any(at - datetime.timedelta(days=2) <= payment.received_at < at for payment in loan.payments):
        return Outcome.ALREADY_PAID if rng.random() < 0.8 else Outcome.RIGHT_PARTY_CONTACT
    if case.pending_promise is not None or case.live_plan is not None:
        return _weighted(rng, ((Outcome.RIGHT_PARTY_CONTACT, 75), (Outcome.REFUSED, 10), (Outcome.HARDSHIP, 15)))
    coming = loan.next_payment(at)
    promise_weight = 50 if coming is not None and coming.day - case.desk.desk_day(at) <= 10 else 30
    return _weighted(
        rng,
        (
            (Outcome.PROMISE_TO_PAY, promise_weight),
            (Outcome.RIGHT_PARTY_CONTACT, 30),
            (Outcome.REFUSED, 13),
            (Outcome.HARDSHIP, 10),
            (Outcome.DISPUTE, 4),
        ),
    )


def _inbound_outcome(case: CaseStory, at: datetime.datetime) -> str:
    rng = case.desk.rng
    if case.pending_promise is None and case.live_plan is None and rng.random() < 0.4:
        return Outcome.PROMISE_TO_PAY
    if any(at - datetime.timedelta(days=2) <= payment.received_at < at for payment in case.loan.payments):
        return Outcome.ALREADY_PAID
    return Outcome.HARDSHIP if rng.random() < 0.3 else Outcome.RIGHT_PARTY_CONTACT


def _third_party_outcome(case: CaseStory, contact: ContactState) -> str:
    rng = case.desk.rng
    choices = [(Outcome.THIRD_PARTY, 35), (Outcome.NO_ANSWER, 35), (Outcome.BUSY, 10), (Outcome.REFUSED, 10)]
    choices.append((Outcome.DO_NOT_CONTACT, 5))
    if contact.verification != "verified":
        choices.append((Outcome.WRONG_NUMBER, 5))
    return _weighted(rng, choices)


def _weighted(rng, choices) -> str:
    pick = rng.random() * sum(weight for _outcome, weight in choices)
    for outcome, weight in choices:
        pick -= weight
        if pick < 0:
            return outcome
    return choices[-1][0]


def _duration(rng, outcome: str) -> int | None:
    if outcome in UNANSWERED or outcome == Outcome.SENT:
        return None
    if outcome in (Outcome.WRONG_NUMBER, Outcome.REFUSED, Outcome.DO_NOT_CONTACT):
        return 8 + int(rng.random() * 40)
    return 60 + int(rng.random() * 540)


def _logged(
    case: CaseStory,
    contact: ContactState | None,
    at: datetime.datetime,
    outcome: str,
    *,
    channel: str,
    direction: str = OUTBOUND,
    second: int | None = None,
) -> None:
    """Record the attempt as attempt_log does, with what its outcome changes."""
    rng = case.desk.rng
    duration = _duration(rng, outcome)
    ended = at + datetime.timedelta(seconds=duration or 30) + LOGGED_AFTER
    promise_terms = _promise_terms(case, at) if outcome == Outcome.PROMISE_TO_PAY else None
    attempt_id = case.rows.attempt(
        case_id=case.id,
        contact_id=contact and contact.id,
        channel=channel,
        direction=direction,
        at=at,
        outcome=outcome,
        note=_note(case, contact, outcome, channel, promise_terms, inbound=direction == INBOUND),
        by=case.collector.id,
        duration=duration,
        second=second,
    )
    if channel == CALL and direction == OUTBOUND:
        case.ledger.record_call(at)
        if outcome in UNANSWERED:
            case.borrower.ledger.record_unanswered(contact.value, at)
    third_party = contact is not None and contact.is_third_party
    conversation = outcome in CONVERSATION_OUTCOMES and not third_party
    if contact is not None:
        _mark_contact(contact, outcome, conversation, at)
    if not conversation:
        return
    case.ledger.record_conversation(at)
    if case.last_right_party_contact_at is None or case.last_right_party_contact_at < at:
        case.last_right_party_contact_at = at
    if case.stage == Stage.REMINDER:
        label = str(Outcome(outcome).label)
        case.move(
            "negotiate",
            Stage.NEGOTIATION,
            at=ended,
            by=case.collector.id,
            reason=case.desk.text(REACHED_REASON) % {"outcome": label},
        )
    _after_conversation(case, outcome, ended, attempt_id, promise_terms)


def _mark_contact(contact: ContactState, outcome: str, conversation: bool, at: datetime.datetime) -> None:
    reached = conversation or (contact.is_third_party and outcome == Outcome.THIRD_PARTY)
    if outcome == Outcome.WRONG_NUMBER:
        contact.mark(at, verification=Contact.Verification.WRONG.value)
    elif reached and contact.verification in ("unverified", "stale"):
        contact.mark(at, verification=Contact.Verification.VERIFIED.value, verified_at=utc_text(at))
    if outcome == Outcome.DO_NOT_CONTACT:
        contact.mark(at, dnc=True)


def _note(case: CaseStory, contact, outcome: str, channel: str, promise_terms, *, inbound: bool = False) -> str:
    """What the collector writes down: the outcome in a sentence (after a word on who called)."""
    note = _outcome_note(case, contact, outcome, channel, promise_terms)
    return f"{case.desk.text(texts.INBOUND_NOTE)} {note}" if inbound else note


def _outcome_note(case: CaseStory, contact, outcome: str, channel: str, promise_terms) -> str:
    rng = case.desk.rng
    if channel == ContactChannel.VISIT:
        return case.desk.text(texts.VISIT_NOTES[outcome])
    if contact is not None and contact.is_third_party:
        note = case.desk.text(rng.choice(texts.THIRD_PARTY_NOTES[outcome]))
        return note % {"relation": contact.relation} if "%(relation)s" in note else note
    note = case.desk.text(rng.choice(texts.CALL_NOTES[outcome]))
    if promise_terms is not None:
        amount, due_day = promise_terms
        return note % {"amount": yuan(amount), "due_date": datetime.date.fromordinal(due_day).isoformat()}
    return note


def _after_conversation(case: CaseStory, outcome: str, at: datetime.datetime, attempt_id: int, promise_terms) -> None:
    rng = case.desk.rng
    if outcome == Outcome.PROMISE_TO_PAY:
        amount, due_day = promise_terms
        promise = Promise(
            case.desk.next_id(PROMISES),
            amount,
            due_day,
            at + datetime.timedelta(seconds=30),
            case.collector.id,
            attempt_id,
        )
        case.promises.append(promise)
        return
    quiet_case = case.pending_promise is None and case.live_plan is None
    roll = rng.random()
    if outcome in (Outcome.DISPUTE, Outcome.HARDSHIP) and quiet_case and roll < 0.4:
        case.hold(outcome, at=at + datetime.timedelta(seconds=60), by=case.collector.id)
        return
    # A borrower in hardship asks for a long plan; one who was simply reached may agree a short one.
    wants_plan = roll < 0.75 if outcome == Outcome.HARDSHIP else outcome == Outcome.RIGHT_PARTY_CONTACT and roll < 0.15
    stretched = outcome == Outcome.HARDSHIP
    if quiet_case and wants_plan and _propose_plan(case, at + datetime.timedelta(seconds=90), stretched=stretched):
        return
    if outcome == Outcome.REFUSED and case.stage in (Stage.REMINDER, Stage.NEGOTIATION) and rng.random() < 0.2:
        if case.pending_request(Stage.ESCALATION) is None:
            reason = str(rng.choice(texts.ESCALATION_REQUEST_REASONS))
            case.propose(Stage.ESCALATION, reason=reason, at=at + datetime.timedelta(seconds=60), by=case.collector.id)
        return
    if outcome != Outcome.REFUSED and rng.random() < 0.12:
        _consent(case, at)


def _consent(case: CaseStory, at: datetime.datetime) -> None:
    """The borrower asks to be called back on a day soon: the pause after the conversation does
    not stop that call."""
    rng, borrower = case.desk.rng, case.borrower
    today = borrower.desk.desk_day(at)
    callback_day = today + rng.randint(1, 3)
    if callback_day >= case.desk.as_of:
        return
    given_at = at + datetime.timedelta(seconds=40)
    valid_until = borrower.local(callback_day, 20 * HOUR)
    start, end = case.block
    call_at = borrower.local(callback_day, start + int(rng.random() * (end - start - HOUR)))
    note = str(texts.CONSENT_NOTE % {"day": datetime.date.fromordinal(callback_day).isoformat()})
    case.rows.consent(case_id=case.id, given_at=given_at, valid_until=valid_until, note=note, by=case.collector.id)
    case.ledger.record_consent(given_at, valid_until)
    if call_at < valid_until:
        case.callback = (callback_day, call_at)


# --- promises and plans ---


def _promise_terms(case: CaseStory, at: datetime.datetime) -> tuple[int, int]:
    """What the borrower promises: the payment they are about to make, or more than it, or (with
    nothing coming) what is overdue, by a day soon."""
    rng, loan = case.desk.rng, case.loan
    today = case.desk.desk_day(at)
    outstanding = loan.outstanding(today)
    coming = loan.next_payment(at)
    if coming is not None and coming.day - today <= 10:
        due_day = max(today, coming.day + rng.randint(-1, 2))
        amount = coming.amount // 100 * 100 or coming.amount
        if rng.random() < 0.3:
            amount = coming.amount * 3 // 2 // 100 * 100 + 100
    else:
        due_day = today + rng.randint(2, 7)
        amount = loan.overdue(today) // 100 * 100 or outstanding // 100 * 100
    return max(100, min(amount, outstanding)), due_day


def _propose_plan(case: CaseStory, at: datetime.datetime, *, stretched: bool) -> bool:
    """A repayment plan at the borrower's request: within the product's policy it is active at
    once (and moves the case on to negotiation), beyond it a supervisor decides. A stretched plan
    (a borrower in hardship) starts with a small first payment."""
    rng, loan, desk = case.desk.rng, case.loan, case.desk
    today = desk.desk_day(at)
    overdue, outstanding = loan.overdue(today), loan.outstanding(today)
    if overdue <= 0 or case.days_past_due > 25:
        return False
    coming = loan.next_payment(at)
    if coming is not None and coming.day - today <= 12 and overdue <= coming.amount <= outstanding:
        schedule = _plan_around(rng, today, coming)
    else:
        schedule = _plan_ahead(rng, today, overdue, outstanding, stretched=stretched)
    total = sum(amount for _day, amount in schedule)
    breaches = plan_policy_breaches(
        product=loan.product,
        outstanding_penalty=ZERO,
        schedule=[(datetime.date.fromordinal(day), money(amount)) for day, amount in schedule],
        waiver=ZERO,
    )
    plan = Plan(
        id=desk.next_id(PLANS),
        status=RepaymentPlan.Status.PENDING_APPROVAL if breaches else RepaymentPlan.Status.ACTIVE,
        total=total,
        breaches="\n".join(breaches),
        proposed_by=case.collector.id,
        proposed_at=at,
        parts=[
            PlanPart(desk.next_id(PLAN_INSTALLMENTS), number, due_day, amount)
            for number, (due_day, amount) in enumerate(schedule, start=1)
        ],
    )
    case.plans.append(plan)
    if breaches:  # a supervisor decides within a few days
        plan.decide_on = today + rng.randint(1, 5)
    else:
        plan.decided_at = at
        case.plan_activated(plan, at=at, by=case.collector.id)
    return True


def _plan_around(rng, today: int, coming) -> list[tuple[int, int]]:
    """One or two payments that the payment about to come covers."""
    first_day = max(today, coming.day + rng.randint(-1, 1))
    if rng.random() < 0.5:
        return [(first_day, coming.amount)]
    first = coming.amount // 2
    return [(first_day, first), (first_day + rng.randint(3, 10), coming.amount - first)]


def _plan_ahead(rng, today: int, overdue: int, outstanding: int, *, stretched: bool) -> list[tuple[int, int]]:
    """Monthly payments over a few months, the overdue amount and some more; stretched over six
    with a small first payment, below the policy's share (it then waits for a supervisor)."""
    total = min(outstanding, -(-overdue * rng.choice((10, 12, 15)) // 1000) * 100)
    count = rng.randint(2, 4)
    first_day = today + rng.randint(3, 10)
    first = total // 20 // 100 * 100
    if stretched and first > 0 and total - first >= 500:
        count = 6
        share = (total - first) // (count - 1)
        amounts = [first, *[share] * (count - 2), total - first - share * (count - 2)]
    else:
        share = total // count
        amounts = [share] * (count - 1) + [total - share * (count - 1)]
    return [(first_day + 30 * number, amount) for number, amount in enumerate(amounts)]


# --- other kinds of contact ---


def _text(case: CaseStory, at: datetime.datetime) -> None:
    """An SMS from the collector, when calls must wait."""
    mobile = case.borrower.own_mobile()
    if mobile is None or not mobile.texts_allowed() or case.ledger.message_is_quiet(ContactChannel.SMS, at):
        return
    promise = case.pending_promise
    if promise is not None:
        note = texts.PROMISE_SMS_NOTE % {"due_date": datetime.date.fromordinal(promise.due_day).isoformat()}
    else:
        note = texts.SMS_NOTE
    case.rows.attempt(
        case_id=case.id,
        contact_id=mobile.id,
        channel=ContactChannel.SMS,
        direction=OUTBOUND,
        at=at,
        outcome=Outcome.SENT,
        note=str(note),
        by=case.collector.id,
    )


def _visit(case: CaseStory, at: datetime.datetime) -> None:
    """A field visit to the borrower's address, with a colleague of the team."""
    rng = case.desk.rng
    if case.ledger.message_is_quiet(ContactChannel.VISIT, at):
        return
    choices = (
        ((Outcome.NO_ANSWER, 1),)
        if case.borrower.lost_contact
        else (
            (Outcome.RIGHT_PARTY_CONTACT, 35),
            (Outcome.NO_ANSWER, 50),
            (Outcome.REFUSED, 15),
        )
    )
    outcome = _weighted(rng, choices)
    second = rng.choice(case.collector.teammates)
    _logged(case, None, at, outcome, channel=ContactChannel.VISIT, second=second)


def _inbound(case: CaseStory, today: int) -> None:
    """The borrower calls the desk back after an SMS reminder, on their own mobile."""
    rng, borrower = case.desk.rng, case.borrower
    mobile = borrower.own_mobile()
    if mobile is None or borrower.lost_contact:
        return
    start, end = case.block
    at = borrower.local(today, start + int(rng.random() * (end - start)))
    _call(case, mobile, at, direction=INBOUND)


def _lawyer_letter(case: CaseStory, today: int) -> None:
    rng = case.desk.rng
    at = case.desk.moment(today, 15 * HOUR + int(rng.random() * 2 * HOUR))
    tracking = f"1{rng.randrange(10**11, 10**12)}"
    case.rows.attempt(
        case_id=case.id,
        contact_id=None,
        channel=ContactChannel.LAWYER_LETTER,
        direction=OUTBOUND,
        at=at,
        outcome=Outcome.SENT,
        note=str(texts.LAWYER_LETTER_NOTE % {"tracking": tracking}),
        by=case.desk.legal_officer,
    )
