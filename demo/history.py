"""The worked history of the demo desk: what the desk did with its cases over the HISTORY_DAYS
days before the as-of day, written as rows beside the portfolio, borrower by borrower.

Each delinquency episode of a loan that reaches into those days is a case. Its story is played
night by night and day by day, as the desk would have lived it:
- at night (01:00) the nightly cycle's work on the case, in the cycle's order: the case opens on
  the first night at the reminder stage's entry DPD and goes to a collector; it is resolved on
  the first night the loan is current again; promises and plan installments whose window has
  closed are settled against the loan's payments; the stage rules move it on (or, where moving
  in needs approval, propose the move to a supervisor);
- by day the reminders due are planned and sent through the conduct limits, supervisors decide
  what waits for them, collectors call, message and visit within the limits, borrowers call in,
  promise, ask for plans or holds, and lawyers' letters go out (demo.work, demo.reminders).
So every derived field (stage, stage entered, counters, stamps, contact flags, assignment) is
what the rows before it made it, and the nightly cycle of the as-of day, run after seeding,
continues the story without moving any case twice. Contact activity is written only within the
window; a case opened earlier has only its nightly moves and their decisions before it. The
history draws from its own random stream, so the portfolio is the same with or without it."""

import dataclasses
import datetime

from collection.machine import CLOSED_STAGES, Stage
from collection.models import (
    CollectionCase,
    ContactChannel,
    EscalationRequest,
    PlanInstallment,
    PromiseToPay,
    RepaymentPlan,
)
from collection.services.escalations import REQUEST_APPROVED_REASON
from collection.services.plans import PLAN_AGREED_REASON
from loans.models import Borrower, Contact, Loan

from . import texts
from .copy import CASES, ESCALATION_REQUESTS, PLAN_INSTALLMENTS, PLANS, PROMISES, utc_text, yuan
from .desk import Collector, Desk, Rows, working
from .limits import CaseLedger, Refusal, conduct_refusal
from .timeline import Episode, LoanFacts

PROMISE_EVALUATED_AFTER = datetime.timedelta(seconds=45)  # the cycle's promise step, after its start
LOGGED_AFTER = datetime.timedelta(seconds=20)  # a collector records the call once it ends
# Collectors call between 09:30 and 19:30 in the borrower's own time.
WORKDAY_START, WORKDAY_END = 9 * 3600 + 1800, 19 * 3600 + 1800
THIRD_PARTY_KINDS = frozenset(Contact.THIRD_PARTY_KINDS)
WALK = (Stage.REMINDER, Stage.NEGOTIATION, Stage.ESCALATION, Stage.LITIGATION)
LIVE_PLAN_STATUSES = (RepaymentPlan.Status.PENDING_APPROVAL, RepaymentPlan.Status.ACTIVE)


class ContactState:
    """A generated contact row, which the history changes as attempt_log would (wrong number,
    do-not-contact, verified by reaching the right party)."""

    # Positions in the contact row (demo.copy.CONTACTS).
    ID, KIND, VALUE, RELATION, VERIFICATION, VERIFIED_AT = 0, 2, 3, 5, 6, 7
    DNC, OPT_OUT_CALL, OPT_OUT_SMS, OPT_OUT_EMAIL, UPDATED_AT = 8, 9, 10, 11, 14

    def __init__(self, record: list, borrower_id: int):
        self.record = record
        self.borrower_id = borrower_id
        self._model: Contact | None = None

    @property
    def id(self) -> int:
        return self.record[self.ID]

    @property
    def kind(self) -> str:
        return self.record[self.KIND]

    @property
    def value(self) -> str:
        return self.record[self.VALUE]

    @property
    def relation(self) -> str:
        return self.record[self.RELATION]

    @property
    def verification(self) -> str:
        return self.record[self.VERIFICATION]

    @property
    def is_third_party(self) -> bool:
        return self.kind in THIRD_PARTY_KINDS

    @property
    def is_wrong(self) -> bool:
        return self.verification == Contact.Verification.WRONG

    @property
    def do_not_contact(self) -> bool:
        return self.record[self.DNC]

    @property
    def opted_out_of_calls(self) -> bool:
        return self.record[self.OPT_OUT_CALL]

    @property
    def opted_out_of_sms(self) -> bool:
        return self.record[self.OPT_OUT_SMS]

    @property
    def opted_out_of_email(self) -> bool:
        return self.record[self.OPT_OUT_EMAIL]

    def callable(self) -> bool:
        return not (self.do_not_contact or self.is_wrong or self.opted_out_of_calls)

    def texts_allowed(self) -> bool:
        return not (self.do_not_contact or self.is_wrong or self.opted_out_of_sms)

    def mark(self, at: datetime.datetime, **fields) -> None:
        for name, value in fields.items():
            self.record[getattr(self, name.upper())] = value
        self.record[self.UPDATED_AT] = utc_text(at)
        self._model = None

    def model(self) -> Contact:
        """The row as a Contact in memory, for conduct_check (made again once the row changes)."""
        if self._model is None:
            self._model = self._made_model()
        return self._model

    def _made_model(self) -> Contact:
        record = self.record
        return Contact(
            pk=record[self.ID],
            borrower_id=self.borrower_id,
            kind=record[self.KIND],
            value=record[self.VALUE],
            verification=record[self.VERIFICATION],
            do_not_contact=record[self.DNC],
            opt_out_call=record[self.OPT_OUT_CALL],
            opt_out_sms=record[self.OPT_OUT_SMS],
            opt_out_email=record[self.OPT_OUT_EMAIL],
        )


@dataclasses.dataclass
class Promise:
    id: int
    amount: int
    due_day: int
    promised_at: datetime.datetime
    taken_by: int
    attempt_id: int | None
    status: str = PromiseToPay.Status.PENDING
    paid: int = 0
    evaluated_at: datetime.datetime | None = None


@dataclasses.dataclass
class PlanPart:
    id: int
    sequence: int
    due_day: int
    amount: int
    paid: int = 0
    status: str = PlanInstallment.Status.PENDING
    evaluated_at: datetime.datetime | None = None


@dataclasses.dataclass
class Plan:
    id: int
    status: str
    total: int
    breaches: str
    proposed_by: int
    proposed_at: datetime.datetime
    parts: list[PlanPart]
    decided_by: int | None = None
    decided_at: datetime.datetime | None = None
    decision_reason: str = ""
    decide_on: int | None = None  # the day a supervisor decides a plan beyond policy


@dataclasses.dataclass
class Request:
    id: int
    target: str
    requested_by: int | None
    reason: str
    created_at: datetime.datetime
    decide_on: int | None
    status: str = EscalationRequest.Status.PENDING
    decided_by: int | None = None
    decided_at: datetime.datetime | None = None
    decision_reason: str = ""


class CaseStory:
    """One case, played night by night and day by day, within its borrower's history
    (demo.borrowers.BorrowerHistory)."""

    def __init__(self, borrower, episode: Episode, case_id: int, block: tuple[int, int]):
        self.borrower = borrower
        self.desk: Desk = borrower.desk
        self.rows: Rows = borrower.rows
        self.loan: LoanFacts = episode.loan
        self.episode = episode
        self.id = case_id
        self.block = block  # seconds after local midnight when the collector works this case
        self.stage: str | None = None
        self.opened_at = self.stage_entered_at = self.closed_at = None
        self.stage_entered_day = 0
        self.held_stage = self.hold_reason = ""
        self.resume_on: int | None = None
        self.last_right_party_contact_at: datetime.datetime | None = None
        self.broken_promises = 0
        self.attention_since: datetime.datetime | None = None
        self.collector: Collector | None = None
        self.days_past_due = 0  # as the last nightly refresh left it
        self.promises: list[Promise] = []
        self.plans: list[Plan] = []
        self.requests: list[Request] = []
        self.ledger = CaseLedger(self.desk.policy, borrower.ledger)
        self.letter_on: int | None = None  # the day the legal officer posts a lawyer's letter
        self.unreachable = False  # a borrower who never picks up: the collector calls up to the cap
        self.reassign_on: int | None = None  # the day a supervisor gives the case to a colleague (0: never)
        self.calls_back_on: int | None = None  # the day the borrower calls back after an SMS
        self.callback: tuple[int, datetime.datetime] | None = None  # a call the borrower asked for
        self.wakes_on = episode.open_day  # before the window: the next night anything may happen
        self._models: dict[str, CollectionCase] = {}

    # --- state ---

    @property
    def is_open(self) -> bool:
        return self.stage is not None and self.stage not in CLOSED_STAGES

    @property
    def pending_promise(self) -> Promise | None:
        if not self.promises:
            return None
        return next((promise for promise in self.promises if promise.status == PromiseToPay.Status.PENDING), None)

    @property
    def live_plan(self) -> Plan | None:
        if not self.plans:
            return None
        return next((plan for plan in self.plans if plan.status in LIVE_PLAN_STATUSES), None)

    def pending_request(self, target: str) -> Request | None:
        return next((r for r in self.requests if r.target == target and r.status == "pending"), None)

    def model(self) -> CollectionCase:
        """The case as a CollectionCase in memory, for conduct_check (one per stage it is in)."""
        model = self._models.get(self.stage)
        if model is None:
            loan = next(iter(self._models.values())).loan if self._models else self._loan_model()
            model = self._models[self.stage] = CollectionCase(pk=self.id, loan=loan, stage=self.stage)
        return model

    def _loan_model(self) -> Loan:
        borrower = Borrower(
            pk=self.borrower.id, lost_contact=self.borrower.lost_contact, time_zone=self.borrower.zone.key
        )
        return Loan(pk=self.loan.loan_id, borrower=borrower)

    def call_refusal(self, contact: ContactState, at: datetime.datetime) -> Refusal | None:
        """conduct_check's refusal of an outbound call to `contact` at `at`, or None."""
        return conduct_refusal(
            case=self.model(),
            contact=contact.model(),
            channel=ContactChannel.CALL,
            at=at,
            policy=self.desk.policy,
            record=self.ledger,
        )

    def move(self, name: str, target: str, *, at: datetime.datetime, by: int, reason: str) -> None:
        """Run transition `name`: its log row (actor, reason, source, target, time) and what
        entering the target writes."""
        self.rows.transition(case_id=self.id, name=name, source=self.stage, target=target, at=at, by=by, reason=reason)
        self.stage = target
        self.stage_entered_at = at
        self.stage_entered_day = self.desk.desk_day(at)
        if target in CLOSED_STAGES:
            self.closed_at = at

    def next_event_day(self, day: int) -> int:
        """Before the window, the first day after `day` on which the nightly cycle or a
        supervisor may change the case: a DPD rising by at most one a night, the days without
        contact counted from the opening (nobody calls before the window), a decision due."""
        wake = self.desk.first_day
        for request in self.requests:
            if request.status == "pending" and request.decide_on is not None:
                wake = min(wake, max(day + 1, request.decide_on))
        rule, move = self.desk.rules.get(self.stage), self.desk.rule_moves.get(self.stage)
        if rule is None or move is None:
            return wake
        target_rule = self.desk.rules.get(move[1])
        if target_rule is not None and target_rule.requires_approval and not self._may_propose(move[1]):
            return wake  # the move waits for a supervisor whatever the DPD
        if rule.escalate_at_dpd is not None:
            wake = min(wake, day + max(1, rule.escalate_at_dpd - self.loan.days_past_due(day)))
        if rule.escalate_after_days_without_contact is not None:
            opened_day = self.desk.desk_day(self.opened_at)
            wake = min(wake, max(day + 1, opened_day + rule.escalate_after_days_without_contact))
        return wake

    # --- nights: the cycle's steps for this case ---

    def night(self, day: int) -> None:
        at = self.desk.night(day)
        if self.stage is None:
            self._open(at)
        if self.is_open:
            self.days_past_due = self.loan.days_past_due(day)
            if day >= self.episode.current_from:
                self._resolve(day, at)
        if (self.promises or self.plans) and self.stage != Stage.ON_HOLD:
            self._settle(day, at + PROMISE_EVALUATED_AFTER)
        if working(self.stage):
            self._apply_rules(day, at)

    def _open(self, at: datetime.datetime) -> None:
        desk = self.desk
        self.stage, self.opened_at, self.stage_entered_at = Stage.REMINDER, at, at
        self.stage_entered_day = self.desk.desk_day(at)
        self.collector = desk.rng.choice(desk.collectors)
        self.rows.assignment(
            case_id=self.id,
            to=self.collector.id,
            previous=None,
            team=self.collector.team_id,
            by=desk.system,
            at=at,
            reason=desk.allocation_reason,
        )
        self.unreachable = not self.borrower.lost_contact and desk.rng.random() < 0.04

    def _resolve(self, day: int, at: datetime.datetime) -> None:
        status = Loan.Status.PAID_OFF if self.loan.is_paid_off(day) else Loan.Status.CURRENT
        self.move("resolve", Stage.RESOLVED, at=at, by=self.desk.system, reason=self.desk.resolve_reasons[status])

    def _settle(self, day: int, at: datetime.datetime) -> None:
        """Promises and plan installments whose window closed by the start of `day`, as
        promises_evaluate settles them; a broken one counts toward escalation and lifts the
        case in its collector's queue while the case is worked."""
        last_due = day - 2
        broken, attention = 0, False
        promise = self.pending_promise
        if promise is not None and promise.due_day <= last_due:
            promise.paid = self.loan.received(promise.promised_at, self.desk.window_end(promise.due_day))
            promise.evaluated_at = at
            if promise.paid >= promise.amount:
                promise.status = PromiseToPay.Status.KEPT
            elif promise.paid:
                promise.status = PromiseToPay.Status.PARTIALLY_KEPT
            else:
                promise.status = PromiseToPay.Status.BROKEN
                broken += 1
        plan = self.live_plan
        if plan is not None and plan.status == RepaymentPlan.Status.ACTIVE:
            missed, needs_attention = self._settle_plan(plan, last_due, at)
            broken += missed
            attention = attention or needs_attention
        if (broken or attention) and working(self.stage):
            self.broken_promises += broken
            self.attention_since = self.attention_since or at

    def _settle_plan(self, plan: Plan, last_due: int, at: datetime.datetime) -> tuple[int, bool]:
        asked_before = 0
        for part in plan.parts:
            if part.status != PlanInstallment.Status.PENDING:
                asked_before += part.amount
                continue
            if part.due_day > last_due:
                break
            received = self.loan.received(plan.proposed_at, self.desk.window_end(part.due_day))
            part.paid = min(part.amount, max(received - asked_before, 0))
            part.evaluated_at = at
            is_last = part is plan.parts[-1]
            if part.paid >= part.amount:
                part.status = PlanInstallment.Status.KEPT
                if is_last:
                    plan.status = RepaymentPlan.Status.COMPLETED
            elif part.paid:
                part.status = PlanInstallment.Status.PARTIALLY_KEPT
                if is_last:
                    plan.status = RepaymentPlan.Status.BROKEN
                    return 0, True
            else:
                part.status = PlanInstallment.Status.MISSED
                plan.status = RepaymentPlan.Status.BROKEN
                return 1, False
            asked_before += part.amount
        return 0, False

    def _apply_rules(self, day: int, at: datetime.datetime) -> None:
        """Each working stage in the order a case walks them, so that a case may go on through
        more than one stage in a night."""
        for stage in WALK:
            if self.stage != stage:
                continue
            rule, move = self.desk.rules.get(stage), self.desk.rule_moves.get(stage)
            if rule is None or move is None:
                continue
            reason = self._rule_met(rule, day)
            if reason is None:
                continue
            name, target = move
            target_rule = self.desk.rules.get(target)
            if target_rule is not None and target_rule.requires_approval:
                if self._may_propose(target):
                    self.propose(target, reason=reason, at=at, by=None)
            else:
                self.move(name, target, at=at, by=self.desk.system, reason=reason)

    def _rule_met(self, rule, day: int) -> str | None:
        """The reason of the first of the rule's criteria met on `day`, as the cycle words it."""
        reasons = self.desk.rule_reasons[rule.stage]
        if rule.escalate_at_dpd is not None and self.days_past_due >= rule.escalate_at_dpd:
            return reasons["dpd"]
        if (
            rule.escalate_after_broken_promises is not None
            and self.broken_promises >= rule.escalate_after_broken_promises
        ):
            return reasons["broken_promises"]
        days = rule.escalate_after_days_without_contact
        if days is not None:
            cutoff = self.desk.moment(day - days + 1, 0)
            if (self.last_right_party_contact_at or self.opened_at) < cutoff:
                return reasons["days_without_contact"]
        return None

    def _may_propose(self, target: str) -> bool:
        """Not while a request for the move is pending, nor after a supervisor rejected it since
        the case entered its stage."""
        return not any(
            request.target == target
            and (
                request.status == "pending"
                or (request.status == "rejected" and request.decided_at >= self.stage_entered_at)
            )
            for request in self.requests
        )

    def propose(self, target: str, *, reason: str, at: datetime.datetime, by: int | None) -> Request:
        """An escalation request, by a collector or (by=None) a stage rule; a supervisor decides
        it within a few days (a collector's the next morning), unless it is still waiting."""
        delay = 1 if by is not None else self.desk.rng.choice((1, 1, 2, 3, 4, None))
        day = self.desk.desk_day(at)
        request = Request(
            id=self.desk.next_id(ESCALATION_REQUESTS),
            target=target,
            requested_by=by,
            reason=reason,
            created_at=at,
            decide_on=None if delay is None else day + delay,
        )
        self.requests.append(request)
        return request

    # --- mornings: what supervisors decide ---

    def morning(self, day: int) -> None:
        """Supervisors' decisions first thing in the morning (08:30-09:00 desk time)."""
        if not (self.requests or self.plans or self.stage == Stage.ON_HOLD):
            return
        for request in self.requests:
            if request.status == "pending" and request.decide_on == day:
                self._decide_request(request, day)
        plan = self.live_plan
        if plan is not None and plan.decide_on == day:
            self._decide_plan(plan, day)
        if self.stage == Stage.ON_HOLD and self.resume_on == day:
            self._resume(day)

    def _morning_moment(self, day: int) -> datetime.datetime:
        return self.desk.moment(day, 8 * 3600 + 1800 + int(self.desk.rng.random() * 1800))

    def _decide_request(self, request: Request, day: int) -> None:
        rng, at = self.desk.rng, self._morning_moment(day)
        source_stages = [stage for stage, (_name, target) in self.desk.rule_moves.items() if target == request.target]
        if self.stage not in source_stages:
            if request.requested_by is not None:  # overtaken: the collector takes the request back
                request.status, request.decided_by, request.decided_at = "withdrawn", request.requested_by, at
            return
        supervisor = self.collector.supervisor_id
        collector_asked = request.requested_by is not None
        approve = rng.random() < (0.6 if collector_asked else 0.55)
        if approve:
            choices = texts.ESCALATION_APPROVALS if collector_asked else texts.LITIGATION_APPROVALS
            reason = str(rng.choice(choices))
            name = self.desk.rule_moves[self.stage][0]
            why = reason or request.reason
            self.move(
                name,
                request.target,
                at=at,
                by=supervisor,
                reason=self.desk.text(REQUEST_APPROVED_REASON) % {"number": request.id, "reason": why},
            )
            request.status = EscalationRequest.Status.APPROVED
            if request.target == Stage.LITIGATION and self.desk.legal_officer:
                self.letter_on = day + rng.randint(2, 6)
        else:
            choices = texts.ESCALATION_REJECTIONS if collector_asked else texts.LITIGATION_REJECTIONS
            reason = str(rng.choice(choices))
            request.status = EscalationRequest.Status.REJECTED
        request.decided_by, request.decided_at, request.decision_reason = supervisor, at, reason

    def _decide_plan(self, plan: Plan, day: int) -> None:
        if not self.is_open:
            return
        at = self._morning_moment(day)
        plan.decided_by, plan.decided_at = self.collector.supervisor_id, at
        if self.desk.rng.random() < 0.6:
            plan.status, plan.decision_reason = RepaymentPlan.Status.ACTIVE, str(texts.PLAN_APPROVALS[0])
            self.plan_activated(plan, at=at, by=plan.decided_by)
        else:
            plan.status, plan.decision_reason = RepaymentPlan.Status.REJECTED, str(texts.PLAN_REJECTIONS[0])

    def plan_activated(self, plan: Plan, *, at: datetime.datetime, by: int) -> None:
        """An agreed plan takes an escalated case back to negotiation, and a case in reminder on to it."""
        reason = self.desk.text(PLAN_AGREED_REASON) % {"total": yuan(plan.total)}
        if self.stage == Stage.ESCALATION:
            self.move("de_escalate", Stage.NEGOTIATION, at=at, by=by, reason=reason)
        elif self.stage == Stage.REMINDER:
            self.move("negotiate", Stage.NEGOTIATION, at=at, by=by, reason=reason)

    def hold(self, reason: str, *, at: datetime.datetime, by: int) -> None:
        self.held_stage, self.hold_reason = self.stage, reason
        self.move("hold", Stage.ON_HOLD, at=at, by=by, reason=self.desk.text(texts.HOLD_NOTES[reason]))
        self.resume_on = self.desk.desk_day(at) + self.desk.rng.randint(3, 12)

    def _resume(self, day: int) -> None:
        at = self._morning_moment(day)
        resumed, reason = self.held_stage or Stage.REMINDER, self.hold_reason
        self.held_stage = self.hold_reason = ""
        by = self.collector.supervisor_id
        self.move("resume", resumed, at=at, by=by, reason=str(texts.RESUME_REASONS.get(reason, "")))

    def reassign(self, day: int) -> None:
        """A supervisor moves the case to another collector of the team."""
        rng = self.desk.rng
        teammates = [c for c in self.desk.collectors if c.id in self.collector.teammates]
        if not teammates:
            return
        new = rng.choice(teammates)
        self.rows.assignment(
            case_id=self.id,
            to=new.id,
            previous=self.collector.id,
            team=new.team_id,
            by=self.collector.supervisor_id,
            at=self._morning_moment(day),
            reason=str(rng.choice(texts.REASSIGNMENT_REASONS)),
        )
        self.collector = new

    # --- the rows left at the end ---

    def finish(self) -> None:
        if self.stage is None:
            return
        rows = self.rows.rows
        rows[CASES].append(
            (
                self.id,
                self.loan.loan_id,
                self.stage,
                self.collector.id,
                self.collector.team_id,
                utc_text(self.opened_at),
                utc_text(self.stage_entered_at),
                self.closed_at and utc_text(self.closed_at),
                self.held_stage,
                self.hold_reason,
                self.last_right_party_contact_at and utc_text(self.last_right_party_contact_at),
                self.broken_promises,
                self.attention_since and utc_text(self.attention_since),
                None,
                None,
                "",
            )
        )
        for promise in self.promises:
            rows[PROMISES].append(
                (
                    promise.id,
                    self.id,
                    yuan(promise.amount),
                    datetime.date.fromordinal(promise.due_day),
                    utc_text(promise.promised_at),
                    promise.taken_by,
                    promise.attempt_id,
                    promise.status,
                    yuan(promise.paid),
                    promise.evaluated_at and utc_text(promise.evaluated_at),
                )
            )
        for plan in self.plans:
            self._plan_rows(plan)
        for request in self.requests:
            rows[ESCALATION_REQUESTS].append(
                (
                    request.id,
                    self.id,
                    request.target,
                    request.requested_by,
                    request.reason,
                    request.status,
                    request.decided_by,
                    request.decided_at and utc_text(request.decided_at),
                    request.decision_reason,
                    utc_text(request.created_at),
                )
            )

    def _plan_rows(self, plan: Plan) -> None:
        rows = self.rows.rows
        rows[PLANS].append(
            (
                plan.id,
                self.id,
                plan.status,
                yuan(plan.total),
                yuan(0),
                plan.breaches,
                plan.proposed_by,
                utc_text(plan.proposed_at),
                plan.decided_by,
                plan.decided_at and utc_text(plan.decided_at),
                plan.decision_reason,
                None,
                None,
                "",
            )
        )
        for part in plan.parts:
            rows[PLAN_INSTALLMENTS].append(
                (
                    part.id,
                    plan.id,
                    part.sequence,
                    datetime.date.fromordinal(part.due_day),
                    yuan(part.amount),
                    yuan(part.paid),
                    part.status,
                    part.evaluated_at and utc_text(part.evaluated_at),
                )
            )
