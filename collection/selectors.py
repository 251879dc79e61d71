"""Reads of collection cases that the pages, the admin and the jobs share."""

import dataclasses
import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm_log.models import StateLog

from accounts.models import Team, User
from accounts.roles import SYSTEM_USERNAME
from config.desk import desk_day_start
from loans.models import Borrower, Contact, Loan, Payment
from loans.templatetags.money import yuan

from .access import case_access_check, case_scope, cases_visible_to
from .conduct import CaseContactRecord, conduct_check, conduct_rule_label
from .exceptions import ConductViolation
from .machine import LIVE_PLAN_STATUSES, OPEN_STAGES, Stage
from .models import (
    Callback,
    CallScript,
    CaseAssignment,
    CaseNote,
    CollectionCase,
    ConductPolicy,
    ConductRefusal,
    ContactAttempt,
    ContactChannel,
    EscalationRequest,
    PlanInstallment,
    PromiseToPay,
    RepaymentPlan,
)

__all__ = [
    "SYSTEM_USERNAME",
    "CaseStanding",
    "CaseWorkspace",
    "ContactStanding",
    "TimelineEntry",
    "case_standing",
    "case_workspace",
    "case_for_user",
    "case_timeline",
    "cases_for_user",
    "escalation_request_for_user",
    "escalation_requests_pending",
    "plan_for_user",
    "plans_awaiting_approval",
    "QueueCounts",
    "next_case_for_collector",
    "queue_counts",
    "queue_filter_q",
    "queue_for_collector",
    "queue_priority_reasons",
    "system_user",
]


def system_user() -> User:
    return User.objects.get(username=SYSTEM_USERNAME)


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a case, as the case's history shows it.

    kind is one of: transition, attempt, refusal, promise, plan, plan_decision, assignment,
    escalation_request, escalation_decision, note, callback, payment, change (a change to the case, its loan, borrower,
    contacts or payments from the audit trail: field: old → new, numbers masked), reveal (someone
    was shown a full national ID or phone number of the borrower)."""

    kind: str
    time: datetime.datetime
    actor: User | None
    summary: str

    @property
    def kind_label(self) -> str:
        return str(TIMELINE_KIND_LABELS.get(self.kind, self.kind))


TIMELINE_KIND_LABELS = {
    "transition": gettext_lazy("Stage"),
    "attempt": gettext_lazy("Contact"),
    "refusal": gettext_lazy("Refused"),
    "promise": gettext_lazy("Promise"),
    "plan": gettext_lazy("Plan"),
    "plan_decision": gettext_lazy("Plan decision"),
    "assignment": gettext_lazy("Assignment"),
    "escalation_request": gettext_lazy("Request"),
    "escalation_decision": gettext_lazy("Decision"),
    "note": gettext_lazy("Note"),
    "callback": gettext_lazy("Callback"),
    "payment": gettext_lazy("Payment"),
    "change": gettext_lazy("Change"),
    "reveal": gettext_lazy("Shown in full"),
}


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
            "rule": conduct_rule_label(refusal.rule),
        }
        add("refusal", refusal.attempted_at, refusal.attempted_by, summary, refusal.detail)

    promises = PromiseToPay.objects.filter(case=case).select_related("taken_by")
    for promise in newest(promises, "-promised_at", "-pk"):
        summary = _("Promise to pay %(amount)s by %(due)s (%(status)s)") % {
            "amount": yuan(promise.amount),
            "due": promise.due_date,
            "status": promise.get_status_display(),
        }
        add("promise", promise.promised_at, promise.taken_by, summary)

    plans = RepaymentPlan.objects.filter(case=case).select_related("proposed_by", "decided_by", "cancelled_by")
    for plan in newest(plans, "-proposed_at", "-pk"):
        summary = _("Repayment plan of %(total)s proposed (%(status)s)") % {
            "total": yuan(plan.total_amount),
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

    notes = CaseNote.objects.filter(case=case).select_related("written_by")
    for note in newest(notes, "-written_at", "-pk"):
        add("note", note.written_at, note.written_by, _("Note"), note.text)

    callbacks = Callback.objects.filter(case=case).select_related("set_by")
    for callback in newest(callbacks, "-created_at", "-pk"):
        summary = _("Callback set for %(when)s (%(status)s)") % {
            "when": f"{timezone.localtime(callback.due_at):%Y-%m-%d %H:%M}",
            "status": callback.get_status_display(),
        }
        add("callback", callback.created_at, callback.set_by, summary)

    payments = Payment.objects.filter(loan=case.loan_id).select_related("recorded_by")
    for payment in newest(payments, "-received_at", "-pk"):
        summary = _("Payment of %(amount)s received (%(channel)s)") % {
            "amount": yuan(payment.amount),
            "channel": payment.get_channel_display(),
        }
        if payment.reversed_at is not None:
            summary = _("%(payment)s, since reversed") % {"payment": summary}
        add("payment", payment.received_at, payment.recorded_by, summary)

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
    # The ids of the borrower's contacts and the loan's payments, read first (one query) and given
    # as lists: sub-selects in the OR below would make PostgreSQL walk the whole trail by its time.
    keys = defaultdict(list)
    for model, pk in (
        Contact.objects.filter(borrower_id=case.loan.borrower_id)
        .order_by()
        .annotate(model=Value("contact"))
        .values_list("model", "pk")
        .union(
            Payment.objects.filter(loan=case.loan_id)
            .order_by()
            .annotate(model=Value("payment"))
            .values_list("model", "pk")
        )
    ):
        keys[model].append(pk)
    records = (
        Q(content_type=types[CollectionCase], object_id=case.pk)
        | Q(content_type=types[Loan], object_id=case.loan_id)
        | Q(content_type=types[Borrower], object_id=case.loan.borrower_id)
        | Q(content_type=types[Contact], object_id__in=keys["contact"])
        | Q(content_type=types[Payment], object_id__in=keys["payment"])
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
            summary = _with_note(summary, (log.additional_data or {}).get("reason", ""))
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
    case = CollectionCase.objects.select_related(
        "loan", "loan__borrower", "loan__product", "loan__bucket", "assigned_to", "team"
    ).get(pk=pk)
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


# The queue's order, first to last: what the row's "why now" says (queue_priority_reasons).
QUEUE_PRIORITY_CALLBACK_DUE = 1
QUEUE_PRIORITY_BROKEN_PROMISE = 2
QUEUE_PRIORITY_PROMISE_DUE_TODAY = 3
QUEUE_PRIORITY_PLAN_PAYMENT_DUE = 4
QUEUE_PRIORITY_DELINQUENCY = 5
QUEUE_PRIORITY_ON_HOLD = 9
# Later stages are worked first when all else is equal.
_STAGE_RANK = {stage: rank for rank, stage in enumerate(reversed(OPEN_STAGES))}
# Days without a right-party contact after which a case counts as "no contact".
NO_CONTACT_DAYS = 7


def queue_for_collector(*, user: User, now: datetime.datetime | None = None) -> QuerySet[CollectionCase]:
    """The collector's open cases in working order, each with what its row shows and why it is
    where it is: a callback due now first, then a broken promise not yet worked (longest waiting
    first), a promise due today, a repayment-plan payment due; then the most days past due, the
    largest overdue amount, the longest since a right-party contact, the later stage. Held cases
    last. One query, whatever the queue's length; its filters and counts read the same rows."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    case = OuterRef("pk")
    last_attempt = ContactAttempt.objects.filter(case=case).order_by("-attempted_at", "-pk")
    plan_payment_due = PlanInstallment.objects.filter(
        plan__case=case,
        plan__status=RepaymentPlan.Status.ACTIVE,
        status=PlanInstallment.Status.PENDING,
        due_date__lte=today,
    )
    cases = (
        CollectionCase.objects.filter(assigned_to=user, stage__in=OPEN_STAGES)
        .select_related("loan", "loan__borrower", "loan__bucket", "loan__product")
        .annotate(
            **_pending_promise_and_callback(),
            plan_payment_due=Exists(plan_payment_due),
            last_attempt_at=Subquery(last_attempt.values("attempted_at")[:1]),
            last_outcome=Subquery(last_attempt.values("outcome")[:1]),
        )
    )
    return cases.annotate(
        priority=Case(
            When(stage=Stage.ON_HOLD, then=Value(QUEUE_PRIORITY_ON_HOLD)),
            When(callback_due_at__lte=now, then=Value(QUEUE_PRIORITY_CALLBACK_DUE)),
            When(attention_since__isnull=False, then=Value(QUEUE_PRIORITY_BROKEN_PROMISE)),
            When(promise_due_date=today, then=Value(QUEUE_PRIORITY_PROMISE_DUE_TODAY)),
            When(plan_payment_due=True, then=Value(QUEUE_PRIORITY_PLAN_PAYMENT_DUE)),
            default=Value(QUEUE_PRIORITY_DELINQUENCY),
        ),
        stage_rank=Case(*[When(stage=stage, then=Value(rank)) for stage, rank in _STAGE_RANK.items()]),
    ).order_by(
        "priority",
        F("attention_since").asc(nulls_last=True),
        "-loan__days_past_due",
        "-loan__overdue_amount",
        F("last_right_party_contact_at").asc(nulls_first=True),
        "stage_rank",
        "pk",
    )


def _pending_promise_and_callback() -> dict:
    """A case's pending promise (amount, due date) and pending callback (when), as annotations of a
    query of cases (each case has at most one of each)."""
    promise = PromiseToPay.objects.filter(case=OuterRef("pk"), status=PromiseToPay.Status.PENDING)
    callback = Callback.objects.filter(case=OuterRef("pk"), status=Callback.Status.PENDING)
    return {
        "promise_amount": Subquery(promise.values("amount")[:1]),
        "promise_due_date": Subquery(promise.values("due_date")[:1]),
        "callback_due_at": Subquery(callback.values("due_at")[:1]),
    }


def queue_filter_q(*, now: datetime.datetime | None = None) -> dict[str, Q]:
    """The queue's yes/no filters, as conditions on queue_for_collector's rows, by name."""
    now = now or timezone.now()
    return {
        "promise_due_today": Q(promise_due_date=timezone.localdate(now)),
        "broken_promise": Q(attention_since__isnull=False),
        "callback_due": Q(callback_due_at__lte=now),
        "no_contact_7d": Q(last_right_party_contact_at__isnull=True)
        | Q(last_right_party_contact_at__lt=now - datetime.timedelta(days=NO_CONTACT_DAYS)),
        "on_hold": Q(stage=Stage.ON_HOLD),
    }


@dataclass(frozen=True)
class QueueCounts:
    """How many of the queue's cases each filter would show."""

    total: int
    flags: dict[str, int]
    stages: list[tuple[str, str, int]]  # value, label, count
    buckets: list[tuple[int, str, int]]  # id, name, count
    products: list[tuple[int, str, int]]


def queue_counts(*, queue: QuerySet[CollectionCase], now: datetime.datetime | None = None) -> QueueCounts:
    """The counts beside the queue's filters, in two queries: the yes/no filters and the stages in
    one, the buckets and the products in the other."""
    plain = queue.order_by()
    flags = queue_filter_q(now=now)
    totals = plain.aggregate(
        total=Count("pk"),
        **{name: Count("pk", filter=condition) for name, condition in flags.items()},
        **{f"stage_{stage}": Count("pk", filter=Q(stage=stage)) for stage in OPEN_STAGES},
    )
    buckets, products = defaultdict(int), defaultdict(int)
    names = {}
    grouped = plain.values_list(
        "loan__bucket_id", "loan__bucket__name", "loan__product_id", "loan__product__name"
    ).annotate(count=Count("pk"))
    for bucket_id, bucket_name, product_id, product_name, count in grouped:
        if bucket_id is not None:
            buckets[bucket_id] += count
            names["bucket", bucket_id] = bucket_name
        products[product_id] += count
        names["product", product_id] = product_name
    return QueueCounts(
        total=totals["total"],
        flags={name: totals[name] for name in flags},
        stages=[(stage.value, str(stage.label), totals[f"stage_{stage}"]) for stage in OPEN_STAGES],
        buckets=sorted(((pk, names["bucket", pk], count) for pk, count in buckets.items()), key=lambda row: row[1]),
        products=sorted(((pk, names["product", pk], count) for pk, count in products.items()), key=lambda row: row[1]),
    )


def queue_priority_reasons(case: CollectionCase, *, now: datetime.datetime | None = None) -> list[str]:
    """Why a row of queue_for_collector stands where it does, in words, most pressing first."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    reasons = []
    if case.stage == Stage.ON_HOLD:
        reasons.append(_("On hold (%(reason)s)") % {"reason": case.get_hold_reason_display() or "-"})
    if case.callback_due_at is not None and case.callback_due_at <= now:
        reasons.append(_("Callback due since %(time)s") % {"time": f"{timezone.localtime(case.callback_due_at):%H:%M}"})
    if case.attention_since is not None:
        reasons.append(_("Promise broken"))
    if case.promise_due_date == today:
        reasons.append(_("Promise due today"))
    if case.plan_payment_due:
        reasons.append(_("Plan payment due"))
    reasons.append(_("%(days)s days past due") % {"days": case.loan.days_past_due})
    if case.last_right_party_contact_at is None:
        reasons.append(_("never reached"))
    else:
        days = (now - case.last_right_party_contact_at).days
        if days >= NO_CONTACT_DAYS:
            reasons.append(_("not reached for %(days)s days") % {"days": days})
    return reasons


def next_case_for_collector(*, user: User, now: datetime.datetime | None = None) -> CollectionCase | None:
    """The highest-priority case of the collector's queue that they have not worked today (no
    attempt of theirs since the desk's midnight) and that is not on hold; None when every case
    has been worked."""
    now = now or timezone.now()
    worked_today = ContactAttempt.objects.filter(
        case=OuterRef("pk"), collector=user, attempted_at__gte=desk_day_start(timezone.localdate(now))
    )
    return queue_for_collector(user=user, now=now).exclude(stage=Stage.ON_HOLD).exclude(Exists(worked_today)).first()


# --- the case page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactStanding:
    """A contact of the borrower as the case page shows it: may it be called now, and if not, why
    and from when; the unanswered calls to its number today (the borrower's day) against the cap."""

    contact: Contact
    callable_now: bool
    refusal: str
    next_allowed_at: datetime.datetime | None
    unanswered_today: int


@dataclass(frozen=True)
class CaseStanding:
    """Where the case stands: its pending promise, callback, live plan and requests awaiting a
    supervisor (the newest, and how many)."""

    promise_amount: Decimal | None
    promise_due_date: datetime.date | None
    callback_due_at: datetime.datetime | None
    plan_total: Decimal | None
    plan_status: str | None
    requests_pending: int
    request_target: str | None
    request_reason: str | None

    @property
    def plan_status_label(self) -> str:
        return str(RepaymentPlan.Status(self.plan_status).label) if self.plan_status else ""

    @property
    def request_target_label(self) -> str:
        return _stage(self.request_target)


@dataclass(frozen=True)
class CaseWorkspace:
    """Everything the case page shows but its timeline, read in a fixed number of queries whatever
    the case's history."""

    case: CollectionCase
    borrower: Borrower
    borrower_local_time: datetime.datetime
    contacts: list[ContactStanding]
    policy: ConductPolicy
    calls_in_window: int
    loan: Loan
    installments: list
    payments: list
    other_loans: list
    script: str
    standing: CaseStanding


PAYMENTS_ON_CASE_PAGE = 20


def case_standing(*, case: CollectionCase) -> CaseStanding:
    """The case's pending promise, callback, live plan and pending requests, in one query."""
    this = OuterRef("pk")
    plan = RepaymentPlan.objects.filter(case=this, status__in=LIVE_PLAN_STATUSES)
    requests = EscalationRequest.objects.filter(case=this, status=EscalationRequest.Status.PENDING).order_by(
        "-created_at"
    )
    row = (
        CollectionCase.objects.filter(pk=case.pk)
        .annotate(
            **_pending_promise_and_callback(),
            plan_total=Subquery(plan.values("total_amount")[:1]),
            plan_status=Subquery(plan.values("status")[:1]),
            requests_pending=Coalesce(
                Subquery(requests.order_by().values("case").annotate(n=Count("pk")).values("n")[:1]), Value(0)
            ),
            request_target=Subquery(requests.values("target_stage")[:1]),
            request_reason=Subquery(requests.values("reason")[:1]),
        )
        .values(*(field.name for field in dataclasses.fields(CaseStanding)))
        .get()
    )
    return CaseStanding(**row)


def case_workspace(*, case: CollectionCase, language: str, now: datetime.datetime | None = None) -> CaseWorkspace:
    """What the case page shows of `case` (read through case_for_user: within reach): the borrower
    and their contacts, each checked against the conduct limits as of now (a call), the loan with
    its schedule and latest payments, the borrower's other loans and their open cases, the stage's
    call script in `language`, and where the case stands. The timeline is case_timeline's."""
    now = now or timezone.now()
    loan = case.loan
    borrower = loan.borrower
    policy = ConductPolicy.current()
    contacts = list(Contact.objects.filter(borrower=borrower).order_by("kind", "pk"))
    window = datetime.timedelta(days=policy.call_window_days)
    pause = datetime.timedelta(days=policy.days_without_calls_after_conversation)
    since = now - max(window, pause) - datetime.timedelta(days=2)
    record = CaseContactRecord(case=case, numbers=[contact.value for contact in contacts], since=since)
    zone = ZoneInfo(borrower.time_zone)
    day = now.astimezone(zone).date()
    day_starts, next_day_starts = desk_day_start(day, zone), desk_day_start(day + datetime.timedelta(days=1), zone)
    standings = []
    for contact in contacts:
        refusal, next_allowed_at, callable_now = "", None, False
        if contact.kind != Contact.Kind.EMAIL:
            try:
                conduct_check(
                    case=case, contact=contact, channel=ContactChannel.CALL, at=now, policy=policy, record=record
                )
                callable_now = True
            except ConductViolation as violation:
                refusal, next_allowed_at = violation.message, violation.next_allowed_at
        standings.append(
            ContactStanding(
                contact=contact,
                callable_now=callable_now,
                refusal=refusal,
                next_allowed_at=next_allowed_at,
                unanswered_today=record.unanswered_calls(number=contact.value, since=day_starts, until=next_day_starts),
            )
        )
    script = CallScript.objects.filter(stage=case.held_stage or case.stage).first()
    open_case = CollectionCase.objects.filter(loan=OuterRef("pk"), stage__in=OPEN_STAGES)
    other_loans = (
        borrower.loans.exclude(pk=loan.pk)
        .select_related("product", "bucket")
        .annotate(
            open_case_id=Subquery(open_case.values("pk")[:1]),
            open_case_stage=Subquery(open_case.values("stage")[:1]),
            open_case_assigned_to_id=Subquery(open_case.values("assigned_to")[:1]),
        )
        .order_by("pk")
    )
    return CaseWorkspace(
        case=case,
        borrower=borrower,
        borrower_local_time=now.astimezone(zone),
        contacts=standings,
        policy=policy,
        calls_in_window=len(record.calls(case=case, after=now - window, before=now + datetime.timedelta(seconds=1))),
        loan=loan,
        installments=list(loan.installments.order_by("sequence")),
        payments=list(Payment.objects.filter(loan=loan).order_by("-received_at", "-pk")[:PAYMENTS_ON_CASE_PAGE]),
        other_loans=list(other_loans),
        script=script.text_for(language) if script is not None else "",
        standing=case_standing(case=case),
    )
