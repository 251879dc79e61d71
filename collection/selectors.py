"""Reads of collection cases that the pages, the admin and the jobs share."""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, Case, F, Q, QuerySet, Value, When
from django.utils.translation import gettext as _
from django_fsm_log.models import StateLog

from accounts.models import Team, User
from accounts.roles import SYSTEM_USERNAME
from loans.models import Borrower, Contact, Loan, Payment

from .access import case_access_check, case_scope, cases_visible_to
from .conduct import ConductRule
from .machine import OPEN_STAGES, Stage
from .models import (
    CaseAssignment,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    EscalationRequest,
    PromiseToPay,
    RepaymentPlan,
)

__all__ = [
    "SYSTEM_USERNAME",
    "TimelineEntry",
    "case_for_user",
    "case_timeline",
    "cases_for_user",
    "escalation_request_for_user",
    "escalation_requests_pending",
    "plan_for_user",
    "plans_awaiting_approval",
    "queue_for_collector",
    "system_user",
]


def system_user() -> User:
    return User.objects.get(username=SYSTEM_USERNAME)


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a case, as the case's history shows it.

    kind is one of: transition, attempt, refusal, promise, plan, plan_decision, assignment,
    escalation_request, escalation_decision, change (a change to the case, its loan, borrower,
    contacts or payments from the audit trail: field: old → new, numbers masked), reveal (someone
    was shown a full national ID or phone number of the borrower)."""

    kind: str
    time: datetime.datetime
    actor: User | None
    summary: str


def _stage(value: str | None) -> str:
    if not value:
        return "-"
    try:
        return str(Stage(value).label)
    except ValueError:  # a state the machine no longer has, kept in an old log row
        return value


def _with_note(summary: str, note: str) -> str:
    note = (note or "").strip()
    return f"{summary}: {note}" if note else summary


def case_timeline(*, case: CollectionCase, limit: int | None = None) -> list[TimelineEntry]:
    """Everything that happened to the case, newest first: its stage changes (the transition
    log: who, why, from, to, when), contact attempts and the attempts the conduct limits
    refused, promises, repayment plans and their decisions, assignments, escalation
    requests and their decisions, and from the audit trail the changes to the case, its loan,
    its borrower, their contacts and the loan's payments, and who was shown a full number.

    One query per kind of record, whatever the length of the history; `limit` keeps the newest
    entries only (and bounds each query by it)."""

    def newest(queryset: QuerySet, *order: str) -> QuerySet:
        queryset = queryset.order_by(*order)
        return queryset[:limit] if limit is not None else queryset

    entries: list[TimelineEntry] = []

    def add(kind: str, time, actor, summary: str, note: str = "") -> None:
        entries.append(TimelineEntry(kind=kind, time=time, actor=actor, summary=_with_note(summary, note)))

    logs = StateLog.objects.filter(
        content_type=ContentType.objects.get_for_model(CollectionCase), object_id=case.pk
    ).select_related("by")
    for log in newest(logs, "-timestamp", "-pk"):
        stages = {"source": _stage(log.source_state), "target": _stage(log.state)}
        add("transition", log.timestamp, log.by, _("Stage %(source)s → %(target)s") % stages, log.description)

    attempts = ContactAttempt.objects.filter(case=case).select_related("contact", "collector")
    for attempt in newest(attempts, "-attempted_at", "-pk"):
        summary = _("%(channel)s to %(contact)s: %(outcome)s") % {
            "channel": attempt.get_channel_display(),
            "contact": attempt.contact or _("no recorded contact"),
            "outcome": attempt.get_outcome_display(),
        }
        add("attempt", attempt.attempted_at, attempt.collector, summary, attempt.note)

    refusals = ConductRefusal.objects.filter(case=case).select_related("contact", "attempted_by")
    for refusal in newest(refusals, "-attempted_at", "-pk"):
        summary = _("%(channel)s refused by the conduct limits (%(rule)s)") % {
            "channel": refusal.get_channel_display(),
            "rule": _rule_label(refusal.rule),
        }
        add("refusal", refusal.attempted_at, refusal.attempted_by, summary, refusal.detail)

    promises = PromiseToPay.objects.filter(case=case).select_related("taken_by")
    for promise in newest(promises, "-promised_at", "-pk"):
        summary = _("Promise to pay %(amount)s by %(due)s (%(status)s)") % {
            "amount": promise.amount,
            "due": promise.due_date,
            "status": promise.get_status_display(),
        }
        add("promise", promise.promised_at, promise.taken_by, summary)

    plans = RepaymentPlan.objects.filter(case=case).select_related("proposed_by", "decided_by", "cancelled_by")
    for plan in newest(plans, "-proposed_at", "-pk"):
        summary = _("Repayment plan of %(total)s proposed (%(status)s)") % {
            "total": plan.total_amount,
            "status": plan.get_status_display(),
        }
        add("plan", plan.proposed_at, plan.proposed_by, summary)
        if plan.decided_at is not None:
            rejected = plan.status == RepaymentPlan.Status.REJECTED
            decision = _("Repayment plan rejected") if rejected else _("Repayment plan approved")
            add("plan_decision", plan.decided_at, plan.decided_by, decision, plan.decision_reason)
        if plan.cancelled_at is not None:
            add(
                "plan_decision", plan.cancelled_at, plan.cancelled_by, _("Repayment plan cancelled"), plan.cancel_reason
            )

    assignments = CaseAssignment.objects.filter(case=case).select_related("assigned_to", "previous", "assigned_by")
    for assignment in newest(assignments, "-assigned_at", "-pk"):
        summary = (
            _("Reassigned from %(previous)s to %(to)s")
            % {"previous": assignment.previous, "to": assignment.assigned_to}
            if assignment.previous is not None
            else _("Assigned to %(to)s") % {"to": assignment.assigned_to}
        )
        add("assignment", assignment.assigned_at, assignment.assigned_by, summary, assignment.reason)

    requests = EscalationRequest.objects.filter(case=case).select_related("requested_by", "decided_by")
    for request in newest(requests, "-created_at", "-pk"):
        stage = {"stage": request.get_target_stage_display()}
        asked = (
            _("Asked to move the case to %(stage)s")
            if request.requested_by_id is not None
            else _("A stage rule proposed moving the case to %(stage)s")
        ) % stage
        add("escalation_request", request.created_at, request.requested_by, asked, request.reason)
        if request.decided_at is not None:
            decision = _("Move to %(stage)s: %(status)s") % {**stage, "status": request.get_status_display()}
            add("escalation_decision", request.decided_at, request.decided_by, decision, request.decision_reason)

    for entry in _audit_entries(case=case, limit=limit):
        entries.append(entry)

    entries.sort(key=lambda entry: entry.time, reverse=True)
    return entries[:limit] if limit is not None else entries


# The case's own fields the timeline shows elsewhere: who it is assigned to (its assignments).
_SHOWN_AS_ASSIGNMENTS = frozenset({"assigned_to", "team"})


def _audit_entries(*, case: CollectionCase, limit: int | None) -> list[TimelineEntry]:
    """The audit trail's updates, deletions and reveals of the case's own records, in one query
    (and one more per kind of record a changed reference points to)."""
    types = ContentType.objects.get_for_models(CollectionCase, Loan, Borrower, Contact, Payment)
    records = (
        Q(content_type=types[CollectionCase], object_id=case.pk)
        | Q(content_type=types[Loan], object_id=case.loan_id)
        | Q(content_type=types[Borrower], object_id__in=Loan.objects.filter(pk=case.loan_id).values("borrower_id"))
        | Q(
            content_type=types[Contact], object_id__in=Contact.objects.filter(borrower__loans=case.loan_id).values("pk")
        )
        | Q(content_type=types[Payment], object_id__in=Payment.objects.filter(loan=case.loan_id).values("pk"))
    )
    logged = (
        LogEntry.objects.filter(
            records, action__in=[LogEntry.Action.UPDATE, LogEntry.Action.DELETE, LogEntry.Action.ACCESS]
        )
        .select_related("actor")
        .order_by("-timestamp", "-pk")
    )
    logged = list(logged[:limit] if limit is not None else logged)
    models = {content_type.pk: model for model, content_type in types.items()}
    references = _references(logged, models)

    entries = []
    for log in logged:
        model = models[log.content_type_id]
        if log.action == LogEntry.Action.ACCESS:
            field = _verbose(model, (log.additional_data or {}).get("revealed", ""))
            summary = _("%(record)s: full %(field)s shown") % {"record": log.object_repr, "field": field}
            entries.append(TimelineEntry(kind="reveal", time=log.timestamp, actor=log.actor, summary=summary))
            continue
        if log.action == LogEntry.Action.DELETE:
            summary = _("%(record)s deleted") % {"record": log.object_repr}
        else:
            changes = {
                name: values
                for name, values in log.changes_dict.items()
                if not (model is CollectionCase and name in _SHOWN_AS_ASSIGNMENTS)
            }
            if not changes:
                continue
            shown = "; ".join(
                f"{_verbose(model, name)}: {_shown(model, name, old, references)} → "
                f"{_shown(model, name, new, references)}"
                for name, (old, new) in changes.items()
            )
            summary = _("%(record)s changed: %(changes)s") % {"record": log.object_repr, "changes": shown}
        entries.append(TimelineEntry(kind="change", time=log.timestamp, actor=log.actor, summary=summary))
    return entries


def _verbose(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _references(logged: list[LogEntry], models: dict) -> dict:
    """The records the changed references point to, by model and key: one query per model."""
    wanted = defaultdict(set)
    for log in logged:
        model = models[log.content_type_id]
        for name, values in (log.changes_dict or {}).items():
            field = _field(model, name)
            if field is not None and field.many_to_one:
                wanted[field.related_model] |= {value for value in values if value.isdigit()}
    return {
        related: {str(record.pk): str(record) for record in related._default_manager.filter(pk__in=keys)}
        for related, keys in wanted.items()
    }


def _field(model, name: str):
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _shown(model, name: str, value: str, references: dict) -> str:
    field = _field(model, name)
    if value == "None" or field is None:
        return "-" if value == "None" else value
    if field.many_to_one:
        return references.get(field.related_model, {}).get(value, f"#{value}")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, BooleanField):
        return _("yes") if value == "True" else _("no")
    return value


def escalation_requests_pending(*, user: User, team: Team | None = None) -> QuerySet[EscalationRequest]:
    """The escalation requests awaiting a decision that `user` may take, oldest first (first asked,
    first decided), with what a supervisor's list shows: none without the permission to decide,
    only the cases within their reach (collection.access), never their own requests (four eyes);
    only the team's cases when `team` is given."""
    if not user.has_perm("collection.decide_escalation"):
        return EscalationRequest.objects.none()
    requests = (
        EscalationRequest.objects.filter(status=EscalationRequest.Status.PENDING)
        .exclude(requested_by=user)
        .select_related("case__loan__borrower", "case__assigned_to", "case__team", "requested_by")
        .order_by("created_at", "pk")
    )
    scope = case_scope(user, "case__")
    if scope is not None:
        requests = requests.filter(scope)
    if team is not None:
        requests = requests.filter(case__team=team)
    return requests


def plans_awaiting_approval(*, user: User) -> QuerySet[RepaymentPlan]:
    """The repayment plans beyond policy awaiting a decision that `user` may take, oldest first:
    none without the permission to approve, only the cases within their reach, never the plans
    they proposed."""
    if not user.has_perm("collection.approve_plan"):
        return RepaymentPlan.objects.none()
    plans = (
        RepaymentPlan.objects.filter(status=RepaymentPlan.Status.PENDING_APPROVAL)
        .exclude(proposed_by=user)
        .select_related("case__loan__borrower", "case__assigned_to", "case__team", "proposed_by")
        .order_by("proposed_at", "pk")
    )
    scope = case_scope(user, "case__")
    return plans if scope is None else plans.filter(scope)


def cases_for_user(*, user: User) -> QuerySet[CollectionCase]:
    """Every case `user` may read (collection.access), with what a list of cases shows."""
    return cases_visible_to(user).select_related("loan", "loan__borrower", "assigned_to", "team")


def case_for_user(*, user: User, pk: int) -> CollectionCase:
    """The case `pk` for a page of `user`'s: CollectionCase.DoesNotExist when there is no such case
    (a page's 404), PermissionDenied when it is outside their reach (a page's 403)."""
    case = CollectionCase.objects.select_related("loan", "loan__borrower", "assigned_to", "team").get(pk=pk)
    case_access_check(case=case, by=user)
    return case


def escalation_request_for_user(*, user: User, pk: int) -> EscalationRequest:
    """The escalation request `pk` when its case is within `user`'s reach: DoesNotExist when there
    is none, PermissionDenied when its case is not theirs to see."""
    request = EscalationRequest.objects.select_related("case__loan__borrower", "requested_by").get(pk=pk)
    case_access_check(case=request.case, by=user)
    return request


def plan_for_user(*, user: User, pk: int) -> RepaymentPlan:
    """The repayment plan `pk` when its case is within `user`'s reach: DoesNotExist when there is
    none, PermissionDenied when its case is not theirs to see."""
    plan = RepaymentPlan.objects.select_related("case__loan__borrower", "proposed_by").get(pk=pk)
    case_access_check(case=plan.case, by=user)
    return plan


def _rule_label(code: str) -> str:
    return str(ConductRule(code).label) if code in ConductRule.values else code


def queue_for_collector(*, user: User) -> QuerySet[CollectionCase]:
    """The collector's open cases in working order: cases needing attention (a broken promise)
    first, longest waiting first; then the most days past due; held cases last."""
    return (
        CollectionCase.objects.filter(assigned_to=user, stage__in=OPEN_STAGES)
        .select_related("loan", "loan__borrower", "loan__bucket")
        .annotate(held=Case(When(stage=Stage.ON_HOLD, then=Value(1)), default=Value(0)))
        .order_by("held", F("attention_since").asc(nulls_last=True), "-loan__days_past_due", "pk")
    )
