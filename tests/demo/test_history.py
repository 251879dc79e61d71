"""The worked history seed_demo writes: a desk that looks worked, every derived field of a case
what its rows made it, and a nightly cycle of the day that continues the story."""

import datetime
from collections import Counter, defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Max, Q
from django.utils import timezone
from django_fsm_log.models import StateLog

from accounts.models import User
from collection.machine import CLOSED_STAGES, WORKING_STAGES, Stage
from collection.models import (
    CONVERSATION_OUTCOMES,
    CallConsent,
    CaseAssignment,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    EscalationRequest,
    JobRun,
    OutboundMessage,
    PlanInstallment,
    PromiseToPay,
    RepaymentPlan,
    StageRule,
)
from collection.selectors import system_user
from demo.desk import HISTORY_DAYS
from loans.models import Contact, Installment, Loan, Payment
from tests.demo.conftest import AS_OF

pytestmark = pytest.mark.usefixtures("worked_desk")

DESK_ZONE = timezone.get_default_timezone()
DAY_STARTS = datetime.datetime.combine(AS_OF, datetime.time(0), tzinfo=DESK_ZONE)
HISTORY_STARTS = DAY_STARTS - datetime.timedelta(days=HISTORY_DAYS)
ZERO = Decimal("0.00")


def counts(queryset, *fields) -> dict:
    return {
        row[:-1] if len(row) > 2 else row[0]: row[-1]
        for row in queryset.values_list(*fields).annotate(Count("pk")).order_by()
    }


def logs_by_case() -> dict[int, list[StateLog]]:
    logs = defaultdict(list)
    content_type = ContentType.objects.get_for_model(CollectionCase)
    for log in StateLog.objects.filter(content_type=content_type).order_by("timestamp", "pk"):
        logs[log.object_id].append(log)
    return logs


def stage_at(logs: list[StateLog], moment: datetime.datetime) -> str:
    stage = Stage.REMINDER
    for log in logs:
        if log.timestamp > moment:
            break
        stage = log.state
    return stage


def window_end(due_date: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(due_date + datetime.timedelta(days=2), datetime.time(0), tzinfo=DESK_ZONE)


def payments_by_loan() -> dict[int, list[tuple[datetime.datetime, Decimal]]]:
    payments = defaultdict(list)
    for loan_id, received_at, amount in Payment.objects.order_by("received_at").values_list(
        "loan_id", "received_at", "amount"
    ):
        payments[loan_id].append((received_at, amount))
    return payments


def received(payments, start, end) -> Decimal:
    return sum((amount for moment, amount in payments if start <= moment < end), ZERO)


# --- what a worked desk holds ---


def test_the_desk_holds_every_kind_of_work(db):
    attempts = ContactAttempt.objects.all()

    assert set(counts(attempts, "channel")) == {"call", "sms", "letter", "visit", "lawyer_letter"}
    call_outcomes = set(counts(attempts.filter(channel="call"), "outcome"))
    assert call_outcomes >= {
        "no_answer",
        "busy",
        "rpc",
        "promise_to_pay",
        "wrong_number",
        "third_party",
        "refused",
        "dispute",
        "hardship",
        "already_paid",
        "do_not_contact",
    }
    assert attempts.filter(direction="inbound").exists()
    assert (
        attempts.filter(channel="visit", second_collector__isnull=False).count()
        == attempts.filter(channel="visit").count()
    )
    assert set(counts(PromiseToPay.objects, "status")) >= {"kept", "partially_kept", "broken", "pending"}
    assert set(counts(RepaymentPlan.objects, "status")) >= {"active", "completed", "broken", "pending_approval"}
    assert 1 <= RepaymentPlan.objects.filter(status="pending_approval").count() <= 10
    assert set(counts(OutboundMessage.objects, "status")) == {"sent", "blocked", "failed"}
    assert set(counts(OutboundMessage.objects, "channel")) == {"sms", "letter"}
    system = system_user()
    collector_rules = set(counts(ConductRefusal.objects.exclude(attempted_by=system), "rule"))
    assert collector_rules >= {"quiet_hours", "after_conversation", "calls_per_case_window", "third_party_not_allowed"}
    assert set(counts(ConductRefusal.objects.filter(attempted_by=system), "rule")) >= {"case_closed", "opted_out"}
    decided = counts(EscalationRequest.objects, "target_stage", "status")
    assert {("escalation", "approved"), ("escalation", "rejected"), ("litigation", "approved")} <= set(decided)
    assert {("litigation", "rejected"), ("litigation", "pending")} <= set(decided)
    assert CaseAssignment.objects.filter(previous__isnull=False).exclude(reason="").exists()
    assert CallConsent.objects.exists()
    assert set(counts(CollectionCase.objects, "stage")) >= {*WORKING_STAGES, Stage.ON_HOLD, Stage.RESOLVED}
    assert set(counts(StateLog.objects, "transition")) >= {
        "negotiate",
        "escalate",
        "litigate",
        "hold",
        "resume",
        "resolve",
    }


def test_every_collector_has_a_worked_queue(db):
    per_collector = counts(ContactAttempt.objects.exclude(collector=system_user()), "collector__username")

    assert set(per_collector) == {f"collector{number}" for number in range(1, 7)} | {"legal1"}
    assert min(count for name, count in per_collector.items() if name != "legal1") > 100


def test_the_work_lies_in_the_days_before_the_as_of_day(db):
    before_the_day = Q(attempted_at__lt=DAY_STARTS)
    assert not ContactAttempt.objects.exclude(before_the_day).exists()
    assert not ContactAttempt.objects.filter(attempted_at__lt=HISTORY_STARTS).exists()
    assert not ConductRefusal.objects.exclude(before_the_day).exists()
    assert not OutboundMessage.objects.exclude(created_at__lt=DAY_STARTS).exists()
    assert not PromiseToPay.objects.exclude(promised_at__range=(HISTORY_STARTS, DAY_STARTS)).exists()
    assert not RepaymentPlan.objects.exclude(proposed_at__range=(HISTORY_STARTS, DAY_STARTS)).exists()
    # Every attempt on a case was made while it was open.
    logs = logs_by_case()
    opened = dict(CollectionCase.objects.values_list("pk", "opened_at"))
    for attempt in ContactAttempt.objects.all():
        assert opened[attempt.case_id] <= attempt.attempted_at
        assert stage_at(logs[attempt.case_id], attempt.attempted_at) in WORKING_STAGES, attempt.pk


def test_calls_and_visits_fall_in_the_borrowers_daytime(db):
    for attempt in ContactAttempt.objects.filter(channel__in=["call", "visit"], direction="outbound").select_related(
        "case__loan__borrower"
    ):
        local = attempt.attempted_at.astimezone(ZoneInfo(attempt.case.loan.borrower.time_zone))
        assert datetime.time(9, 30) <= local.time() < datetime.time(20, 30), attempt.pk


# --- each case is what its rows made it ---


def test_each_cases_stage_and_stamps_follow_its_transition_log(db):
    logs = logs_by_case()
    for case in CollectionCase.objects.all():
        history = logs[case.pk]
        if not history:
            assert case.stage == Stage.REMINDER and case.stage_entered_at == case.opened_at
            continue
        assert history[0].source_state == Stage.REMINDER
        for earlier, later in zip(history, history[1:], strict=False):
            assert later.source_state == earlier.state, case.pk
        assert case.stage == history[-1].state
        assert case.stage_entered_at == history[-1].timestamp
        assert case.opened_at <= history[0].timestamp
        assert (case.closed_at == history[-1].timestamp) if case.stage in CLOSED_STAGES else case.closed_at is None
        if case.stage == Stage.ON_HOLD:
            assert (case.held_stage, history[-1].transition) == (history[-1].source_state, "hold")
            assert case.hold_reason in ("dispute", "hardship")


def test_a_cases_broken_promises_and_attention_come_from_its_settled_promises_and_plans(db):
    logs = logs_by_case()
    broken, flagged = Counter(), defaultdict(list)
    for promise in PromiseToPay.objects.filter(status="broken"):
        if stage_at(logs[promise.case_id], promise.evaluated_at) in WORKING_STAGES:
            broken[promise.case_id] += 1
            flagged[promise.case_id].append(promise.evaluated_at)
    for part in PlanInstallment.objects.filter(status="missed").select_related("plan"):
        if stage_at(logs[part.plan.case_id], part.evaluated_at) in WORKING_STAGES:
            broken[part.plan.case_id] += 1
            flagged[part.plan.case_id].append(part.evaluated_at)
    for part in PlanInstallment.objects.filter(status="partially_kept", plan__status="broken").select_related("plan"):
        if part.sequence == part.plan.installments.count():
            flagged[part.plan.case_id].append(part.evaluated_at)

    for case in CollectionCase.objects.all():
        assert case.broken_promises == broken[case.pk], case.pk
        assert case.attention_since == min(flagged[case.pk], default=None), case.pk
    assert sum(broken.values()) > 0


def test_the_right_party_stamp_is_the_last_conversation_with_the_borrower(db):
    conversations = (
        ContactAttempt.objects.filter(outcome__in=CONVERSATION_OUTCOMES)
        .filter(Q(contact__isnull=True) | ~Q(contact__kind__in=Contact.THIRD_PARTY_KINDS))
        .values("case")
        .annotate(last=Max("attempted_at"))
    )
    last = {row["case"]: row["last"] for row in conversations}

    for case in CollectionCase.objects.all():
        assert case.last_right_party_contact_at == last.get(case.pk), case.pk
    # Reaching the borrower is what moves a case out of reminder into negotiation.
    for log in StateLog.objects.filter(transition="negotiate"):
        assert last.get(log.object_id) is not None


def test_a_case_is_with_its_last_assignee_and_each_assignment_names_the_one_before(db):
    system = system_user()
    by_case = defaultdict(list)
    for assignment in CaseAssignment.objects.select_related("team").order_by("assigned_at", "pk"):
        by_case[assignment.case_id].append(assignment)
    for case in CollectionCase.objects.all():
        assignments = by_case[case.pk]
        assert assignments[0].previous_id is None and assignments[0].assigned_by == system
        assert assignments[0].assigned_at == case.opened_at
        for earlier, later in zip(assignments, assignments[1:], strict=False):
            assert later.previous_id == earlier.assigned_to_id
            assert later.assigned_by_id == later.team.supervisor_id and later.reason
        assert (case.assigned_to_id, case.team_id) == (assignments[-1].assigned_to_id, assignments[-1].team_id)
        assert case.team.members.filter(pk=case.assigned_to_id).exists()


def test_a_collectors_attempts_are_on_the_cases_they_held_then(db):
    holders = defaultdict(list)
    for assignment in CaseAssignment.objects.order_by("assigned_at", "pk"):
        holders[assignment.case_id].append((assignment.assigned_at, assignment.assigned_to_id))
    legal, system = User.objects.get(username="legal1"), system_user()
    for attempt in ContactAttempt.objects.exclude(collector__in=[legal, system]):
        holder = [who for since, who in holders[attempt.case_id] if since <= attempt.attempted_at][-1]
        assert attempt.collector_id == holder, attempt.pk


# --- promises, plans and requests against the money and the log ---


def test_promises_are_settled_against_the_payments_in_their_window(db):
    payments = payments_by_loan()
    settled = 0
    for promise in PromiseToPay.objects.select_related("case"):
        if promise.status == "pending":
            assert promise.due_date >= AS_OF - datetime.timedelta(days=2) or promise.case.stage == Stage.ON_HOLD
            continue
        paid = received(payments[promise.case.loan_id], promise.promised_at, window_end(promise.due_date))
        assert promise.amount_paid == paid, promise.pk
        expected = "kept" if paid >= promise.amount else "partially_kept" if paid else "broken"
        assert promise.status == expected
        assert promise.evaluated_at >= window_end(promise.due_date)
        settled += 1
    assert settled > 50
    # One pending promise per case at most, each taken in a conversation by the case's collector.
    assert not PromiseToPay.objects.values("case").filter(status="pending").annotate(n=Count("pk")).filter(n__gt=1)
    assert not PromiseToPay.objects.exclude(attempt__outcome="promise_to_pay").exists()


def test_plan_installments_are_settled_oldest_first_against_the_payments_since_the_proposal(db):
    payments = payments_by_loan()
    for plan in RepaymentPlan.objects.select_related("case"):
        asked_before = ZERO
        parts = list(plan.installments.order_by("sequence"))
        assert sum(part.amount for part in parts) == plan.total_amount
        for part in parts:
            if part.status == "pending":
                continue
            got = received(payments[plan.case.loan_id], plan.proposed_at, window_end(part.due_date))
            assert part.amount_paid == min(part.amount, max(got - asked_before, ZERO)), part.pk
            asked_before += part.amount
        statuses = [part.status for part in parts]
        if plan.status == "completed":
            assert set(statuses) == {"kept"}
        elif plan.status == "broken":
            assert statuses[-1] == "partially_kept" or "missed" in statuses
        elif plan.status == "pending_approval":
            assert plan.policy_breaches and plan.decided_at is None
        if plan.status in ("active", "completed", "broken") and plan.policy_breaches:
            assert plan.decided_by is not None


def test_decided_escalation_requests_match_the_transition_log(db):
    logs = logs_by_case()
    for request in EscalationRequest.objects.select_related("case__team"):
        moves = [log for log in logs[request.case_id] if log.description.startswith(f"升级申请 #{request.pk} 已批准")]
        if request.status == "approved":
            (move,) = moves
            assert (move.state, move.by_id, move.timestamp) == (
                request.target_stage,
                request.decided_by_id,
                request.decided_at,
            )
            assert request.decided_by_id == request.case.team.supervisor_id
        else:
            assert moves == []
        if request.status == "rejected":
            assert request.decision_reason and request.decided_by_id == request.case.team.supervisor_id
        if request.requested_by_id is None:
            assert request.reason.startswith("阶段规则")


# --- contacts ---


def test_contacts_carry_what_the_calls_found_out(db):
    for contact in Contact.objects.filter(attempts__outcome="wrong_number").distinct():
        assert contact.verification == Contact.Verification.WRONG
    for contact in Contact.objects.filter(attempts__outcome="do_not_contact").distinct():
        assert contact.do_not_contact
    reached = ContactAttempt.objects.filter(
        Q(outcome__in=CONVERSATION_OUTCOMES, contact__kind__in=["mobile", "home", "work"])
        | Q(outcome="third_party", contact__kind__in=Contact.THIRD_PARTY_KINDS)
    )
    for contact_id in set(reached.values_list("contact_id", flat=True)):
        contact = Contact.objects.get(pk=contact_id)
        assert contact.verification == Contact.Verification.VERIFIED
        assert contact.verified_at is not None
    assert Contact.objects.filter(attempts__outcome="wrong_number").exists()


# --- the nightly cycle of the day continues the story ---


def days_past_due_on(night: datetime.date) -> dict[int, int]:
    """Each loan's DPD as the nightly cycle of `night` saw it: payments of the days before it."""
    grace = dict(Loan.objects.values_list("pk", "product__grace_days"))
    oldest = {}
    for loan_id, due_date, paid_on in Installment.objects.order_by("loan_id", "due_date").values_list(
        "loan_id", "due_date", "paid_on"
    ):
        if loan_id not in oldest and (paid_on is None or paid_on >= night):
            oldest[loan_id] = due_date
    return {loan_id: max((night - due).days - grace[loan_id], 0) for loan_id, due in oldest.items()}


def test_the_nightly_cycle_of_the_day_moves_no_case_the_history_should_have_moved(db):
    run = JobRun.objects.get(job=JobRun.Job.COLLECTION_CYCLE)
    moved_by_cycle = StateLog.objects.filter(timestamp__gte=DAY_STARTS)
    rules = {rule.stage: rule for rule in StageRule.objects.all()}
    before = days_past_due_on(AS_OF - datetime.timedelta(days=1))
    logs = logs_by_case()

    for log in moved_by_cycle.filter(transition__in=["escalate", "litigate"]):
        rule = rules[log.source_state]
        case_logs = [entry for entry in logs[log.object_id] if entry.timestamp < DAY_STARTS]
        entered_the_day_before = case_logs and case_logs[-1].timestamp >= DAY_STARTS - datetime.timedelta(days=1)
        case = CollectionCase.objects.get(pk=log.object_id)
        late_already = before.get(case.loan_id, 0) >= (rule.escalate_at_dpd or 10**6)
        assert not late_already or entered_the_day_before, log.pk
    for log in moved_by_cycle.filter(transition="resolve"):
        case = CollectionCase.objects.get(pk=log.object_id)
        assert before.get(case.loan_id, 0) > 0  # still late as of the night before
    opened = CollectionCase.objects.filter(opened_at__gte=DAY_STARTS)
    assert run.counts["open"]["cases_opened"] == opened.count()
    assert not opened.filter(loan_id__in=[loan for loan, dpd in before.items() if dpd >= 1]).exists()
    assert run.counts["resolve"]["cases_resolved"] == moved_by_cycle.filter(transition="resolve").count()
    assert not moved_by_cycle.values("object_id", "transition").annotate(n=Count("pk")).filter(n__gt=1)
    moves = sum(count for key, count in run.counts["stage_rules"].items() if key.startswith("moved_to_"))
    assert moves == moved_by_cycle.filter(transition__in=["escalate", "litigate"]).count() > 0
    assert opened.exists() and moved_by_cycle.filter(transition="resolve").exists()


def test_requests_the_cycle_files_were_not_due_before(db):
    rules = {rule.stage: rule for rule in StageRule.objects.all()}
    before = days_past_due_on(AS_OF - datetime.timedelta(days=1))
    for request in EscalationRequest.objects.filter(created_at__gte=DAY_STARTS, requested_by__isnull=True):
        threshold = rules[Stage.ESCALATION].escalate_at_dpd
        assert before.get(request.case.loan_id, 0) < threshold or request.case.stage_entered_at >= (
            DAY_STARTS - datetime.timedelta(days=1)
        )


# --- the conduct limits, replayed through conduct_check ---


def _contacts_before_the_history() -> dict[int, Contact]:
    """The contacts as they were before the history: a number the desk found wrong, or whose
    owner asked not to be called, was not so before that call."""
    contacts = Contact.objects.in_bulk()
    for attempt in ContactAttempt.objects.filter(outcome__in=["wrong_number", "do_not_contact"]):
        contact = contacts[attempt.contact_id]
        if attempt.outcome == "wrong_number":
            contact.verification = Contact.Verification.UNVERIFIED
        else:
            contact.do_not_contact = False
    return contacts


def test_every_seeded_attempt_passes_conduct_check_and_every_refusal_is_one_it_makes(db):
    """Replay the history in time order through the real conduct_check, each attempt against
    the attempts and consents recorded before it, the case's stage and the contact's flags as
    they were then: none is refused; each refusal is refused for the same rule, with the same
    words and the same next allowed time."""
    from collection.conduct import conduct_check
    from collection.exceptions import ConductViolation

    users = User.objects.in_bulk()
    cases = CollectionCase.objects.select_related("loan__borrower").in_bulk()
    logs = logs_by_case()
    attempts = list(ContactAttempt.objects.order_by("attempted_at", "pk"))
    refusals = list(ConductRefusal.objects.order_by("attempted_at", "pk"))
    consents = list(CallConsent.objects.order_by("given_at", "pk"))
    contacts = _contacts_before_the_history()
    ContactAttempt.objects.all().delete()
    CallConsent.objects.all().delete()
    events = sorted(
        [(attempt.attempted_at, 1, attempt) for attempt in attempts]
        + [(refusal.attempted_at, 1, refusal) for refusal in refusals]
        + [(consent.given_at, 0, consent) for consent in consents],
        key=lambda event: event[:2],
    )

    def case_then(case_id: int, moment: datetime.datetime) -> CollectionCase:
        case = cases[case_id]
        return CollectionCase(pk=case.pk, loan=case.loan, stage=stage_at(logs[case_id], moment))

    checked = Counter()
    for moment, _order, event in events:
        if isinstance(event, CallConsent):
            event.save(force_insert=True)
            continue
        contact = contacts.get(event.contact_id)
        if isinstance(event, ContactAttempt):
            conduct_check(
                case=case_then(event.case_id, moment),
                contact=contact,
                channel=event.channel,
                at=moment,
                by=users.get(event.collector_id),
                second_collector=users.get(event.second_collector_id),
                outcome=event.outcome,
                direction=event.direction,
            )
            event.save(force_insert=True)
            if event.outcome == "wrong_number":
                contact.verification = Contact.Verification.WRONG
            elif event.outcome == "do_not_contact":
                contact.do_not_contact = True
            checked[event.direction] += 1
            continue
        with pytest.raises(ConductViolation) as refused:
            conduct_check(
                case=case_then(event.case_id, moment),
                contact=contact,
                channel=event.channel,
                at=moment,
                by=users.get(event.attempted_by_id),
            )
        violation = refused.value
        assert (violation.rule, violation.next_allowed_at, violation.message) == (
            event.rule,
            event.next_allowed_at,
            event.detail,
        ), event.pk
        checked[event.rule] += 1

    assert checked["outbound"] == len([a for a in attempts if a.direction == "outbound"]) > 1000
    assert {"quiet_hours", "calls_per_case_window", "after_conversation", "case_closed"} <= set(checked)
    # Calls within the pause after a conversation are the ones the borrower asked for.
    assert CallConsent.objects.count() == len(consents) > 0


# --- reminders go out from the first day ---


def test_the_first_dispatch_run_of_the_day_sends_reminders(db, settings, tmp_path):
    from collection.messaging import messages_dispatch, reminders_plan_due

    settings.COLLECTION_SMS_FILE = str(tmp_path / "sms.jsonl")
    settings.COLLECTION_LETTER_DIR = str(tmp_path / "letters")
    before = OutboundMessage.objects.count()

    planned = reminders_plan_due(today=AS_OF, now=DAY_STARTS + datetime.timedelta(hours=8))
    dispatched = messages_dispatch(now=DAY_STARTS + datetime.timedelta(hours=12))

    todays = OutboundMessage.objects.filter(idempotency_key__endswith=f":{AS_OF.isoformat()}")
    assert todays.count() == OutboundMessage.objects.count() - before == planned["queued"] + planned["blocked"]
    assert planned["queued"] > 0 and dispatched["sent"] > 0
    assert todays.filter(status="sent", step__day_offset=1).exists()  # the cases the history opened yesterday
    assert (tmp_path / "sms.jsonl").read_text(encoding="utf-8").count("\n") == todays.filter(
        status="sent", channel="sms"
    ).count()
