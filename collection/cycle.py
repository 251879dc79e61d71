"""The nightly collection cycle: `collection_cycle(*, as_of)`.

In order, each step a set-based pass, the per-loan steps in id ranges of loans (each range one
transaction, idempotent, so that a range can run on any worker, twice, or again after a worker
died in the middle of it):

1. refresh: age every loan (DPD, overdue amount, status, bucket) as of the day;
2. open: open a case for each delinquent loan at or past the reminder stage's entry DPD that has
   no open case (nor one that ended settled, written off or closed: those were decisions about
   the loan); then allocate: give every unassigned open case to a collector of the team its
   product is routed to (CaseRouting), largest overdue amount first, to whoever carries least;
3. resolve: close as resolved the open cases whose loans are current again or paid off;
4. promises: settle the promises and plan installments whose window has closed;
5. stage rules: move the working cases whose stage rule's criteria are met, or, where moving in
   needs a supervisor's approval, file an escalation request for them;
6. snapshot: the portfolio per product and bucket, for roll rates.

Every run that changes data is recorded as a JobRun holding the day's lock: a second start for
the same day does nothing. The same steps and ranges run in-process here (`collection_cycle`)
or fanned out to Celery workers (collection.tasks), each range a task.

`collection_cycle_case_by_case` is the reference: the same work through the one-case services,
loan by loan. A test requires both to leave identical cases, counters and logs; the benchmark
measures how much faster the batch path is."""

import contextlib
import dataclasses
import datetime
import functools
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, Exists, F, Max, Min, OuterRef, Q, Sum, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Team, User
from loans.models import Loan, PortfolioSnapshot
from loans.selectors import buckets_in_order
from loans.services import loan_refresh_delinquency, portfolio_refresh_delinquency_range

from .batch import cases_transition
from .exceptions import CollectionError
from .models import (
    OPEN_STAGES,
    WORKING_STAGES,
    CaseAssignment,
    CaseRouting,
    CollectionCase,
    EscalationRequest,
    JobRun,
    Stage,
    StageRule,
)
from .rules import rule_criteria, rule_may_propose, rule_target
from .selectors import system_user
from .services import (
    ALLOCATION_REASON,
    allocation_load,
    allocation_pool,
    allocation_spread,
    case_open_for_loan,
    case_resolve,
    cases_allocate,
    escalation_request_create,
    promises_evaluate,
)
from .services.escalations import DECIDED_TRANSITIONS

__all__ = [
    "STEPS",
    "CycleAlreadyRan",
    "CycleRunning",
    "collection_cycle",
    "collection_cycle_case_by_case",
    "cycle_plan",
    "cycle_step_run",
    "cycle_start",
    "cycle_step_finished",
    "cycle_finish",
    "cycle_fail",
    "job_recorded",
    "counts_in_words",
]

STEPS = ("refresh", "open", "allocate", "resolve", "promises", "stage_rules", "snapshot")
# Steps that work on id ranges of loans; the others are one pass each.
RANGE_STEPS = frozenset({"refresh", "open", "resolve", "stage_rules"})
ALLOCATION_CHUNK = 5_000
# A run whose heartbeat is older than this is taken to be dead: the next start takes it over.
STALE_AFTER = datetime.timedelta(minutes=15)
# Endings that were decisions about the loan: the cycle does not open a new case after them.
FINAL_ENDINGS = (Stage.SETTLED, Stage.WRITTEN_OFF, Stage.CLOSED)

# What the desk reads for the steps and counts a JobRun keeps (the command's summary, the admin):
# the nightly cycle's steps, the reminder dispatch's (planned, dispatched) and the promise
# evaluation's (promises, as the cycle's step).
STEP_LABELS = {
    "refresh": gettext_lazy("Ageing"),
    "open": gettext_lazy("Opening cases"),
    "allocate": gettext_lazy("Allocation"),
    "resolve": gettext_lazy("Resolving cases"),
    "promises": gettext_lazy("Promises and plans"),
    "stage_rules": gettext_lazy("Stage rules"),
    "snapshot": gettext_lazy("Portfolio snapshot"),
    "planned": gettext_lazy("Reminders planned"),
    "dispatched": gettext_lazy("Reminders dispatched"),
}
COUNT_LABELS = {
    "loans_aged": gettext_lazy("loans aged"),
    "cases_opened": gettext_lazy("cases opened"),
    "cases_allocated": gettext_lazy("cases allocated"),
    "cases_unallocated": gettext_lazy("cases left unallocated"),
    "cases_resolved": gettext_lazy("cases resolved"),
    "promises_kept": gettext_lazy("promises kept"),
    "promises_partially_kept": gettext_lazy("promises partially kept"),
    "promises_broken": gettext_lazy("promises broken"),
    "installments_kept": gettext_lazy("plan installments kept"),
    "installments_partially_kept": gettext_lazy("plan installments partially kept"),
    "installments_missed": gettext_lazy("plan installments missed"),
    "plans_completed": gettext_lazy("plans completed"),
    "plans_broken": gettext_lazy("plans broken"),
    "cases_flagged": gettext_lazy("cases flagged for attention"),
    "skipped_day_to_come": gettext_lazy("days still to come, skipped"),
    "snapshot_rows": gettext_lazy("snapshot rows"),
    "queued": gettext_lazy("queued"),
    "blocked": gettext_lazy("blocked"),
    "sent": gettext_lazy("sent"),
    "rescheduled": gettext_lazy("rescheduled"),
    "retrying": gettext_lazy("to retry"),
    "failed": gettext_lazy("failed"),
}


def counts_in_words(counts: dict) -> list[tuple[str, str]]:
    """A JobRun's counts as (step, "count value, ...") rows in the desk's language, the cycle's
    steps in the order they run, every count named even when none of its keys is known (a key
    with no label is shown as it is)."""

    def count_label(key: str) -> str:
        for prefix, words in (("moved_to_", _("moved to %(stage)s")), ("requests_", _("requests for %(stage)s"))):
            if key.startswith(prefix) and key[len(prefix) :] in Stage.values:
                return words % {"stage": Stage(key[len(prefix) :]).label}
        return str(COUNT_LABELS.get(key, key))

    def in_order(names: Iterable[str], order: tuple[str, ...]) -> list[str]:
        return sorted(names, key=lambda name: (order.index(name) if name in order else len(order), name))

    rows = []
    for step in in_order(counts, STEPS):
        values = counts[step]
        if isinstance(values, dict):
            keys = in_order(values, tuple(COUNT_LABELS))
            summary = ", ".join(f"{count_label(key)} {values[key]:,}" for key in keys)
        else:
            summary = str(values)
        rows.append((str(STEP_LABELS.get(step, step)), summary or _("nothing")))
    return rows


class CycleAlreadyRan(CollectionError):
    """The cycle already ran for this day: a second run would change nothing."""


class CycleRunning(CollectionError):
    """Another run of the cycle for this day is under way."""


def _desk_text(text: Callable[[], str]) -> str:
    """Text stored in rows (transition reasons), in the desk's language whoever runs the job."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text())


# --- the steps -------------------------------------------------------------------------------


def reminder_entry_dpd() -> int:
    """The DPD at which a loan gets a case: the reminder stage's entry DPD (1 without a rule)."""
    entry = StageRule.objects.filter(stage=Stage.REMINDER).values_list("entry_dpd", flat=True).first()
    return entry if entry is not None else 1


def loans_needing_case(threshold: int) -> Q:
    """Loans that need a case opened: delinquent at `threshold` DPD or more, with no open case
    and no case that ended by a decision about the loan."""
    return Q(status=Loan.Status.DELINQUENT, days_past_due__gte=threshold) & ~Exists(
        CollectionCase.objects.filter(loan=OuterRef("pk"), stage__in=[*OPEN_STAGES, *FINAL_ENDINGS])
    )


def _refresh(*, as_of: datetime.date, low: int, high: int, **_context) -> dict[str, int]:
    portfolio_refresh_delinquency_range(as_of=as_of, low=low, high=high)
    return {"loans_aged": Loan.objects.filter(pk__gte=low, pk__lt=high).count()}


def _open(*, low: int, high: int, at: datetime.datetime, **_context) -> dict[str, int]:
    loan_ids = list(
        Loan.objects.filter(pk__gte=low, pk__lt=high)
        .filter(loans_needing_case(reminder_entry_dpd()))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # A collector opening the same loan's case meanwhile wins; the constraint keeps one open case.
    CollectionCase.objects.bulk_create(
        [CollectionCase(loan_id=loan_id, opened_at=at, stage_entered_at=at) for loan_id in loan_ids],
        ignore_conflicts=True,
    )
    return {"cases_opened": len(loan_ids)}


def allocation_groups() -> list[tuple[Team | None, Q]]:
    """Where unassigned open cases go, by their loan's product (CaseRouting): [(team, filter on
    cases)], in team order. With no routing at all, one group: every team's collectors (None).
    Products routed nowhere (no row of their own, no default row) are in no group."""
    routes = list(CaseRouting.objects.select_related("team").order_by("team_id", "product_id"))
    if not routes:
        return [(None, Q())]
    routed_products = [route.product_id for route in routes if route.product_id is not None]
    by_team: dict[int, tuple[Team, Q]] = {}
    for route in routes:
        own = (
            ~Q(loan__product_id__in=routed_products)
            if route.product_id is None
            else Q(loan__product_id=route.product_id)
        )
        team, combined = by_team.get(route.team_id, (route.team, Q(pk__in=[])))
        by_team[route.team_id] = (team, combined | own)
    return [by_team[team_id] for team_id in sorted(by_team)]


def _analyze(*models) -> None:
    """Refresh PostgreSQL's statistics of tables a step has just filled: after the first night
    opens thousands of cases, plans made for an almost empty case table take seconds a batch."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _allocate(*, at: datetime.datetime, actor: User, **_context) -> dict[str, int]:
    """Allocate every unassigned open case, a chunk at a time (each its own transaction), in the
    order and with the balancing of cases_allocate, without holding the cases in memory."""
    _analyze(CollectionCase, EscalationRequest)
    counts: Counter = Counter()
    unassigned = CollectionCase.objects.filter(stage__in=OPEN_STAGES, assigned_to__isnull=True)
    reason = _desk_text(lambda: ALLOCATION_REASON)
    for team, group in allocation_groups():
        pool = allocation_pool(team=team)
        if not pool:
            continue
        load = allocation_load(pool)
        waiting = unassigned.filter(group).order_by(F("loan__overdue_amount").desc(), "pk")
        while True:
            with transaction.atomic():
                chunk = list(waiting.values_list("pk", "loan__overdue_amount")[:ALLOCATION_CHUNK])
                if not chunk:
                    break
                given: dict[int, list[int]] = defaultdict(list)
                for case_id, collector_id in allocation_spread(load, chunk):
                    given[collector_id].append(case_id)
                CollectionCase.objects.filter(
                    pk__in=[case_id for case_id, _ in chunk], assigned_to__isnull=True
                ).update(
                    assigned_to_id=Case(*(When(pk__in=ids, then=Value(pk)) for pk, ids in given.items())),
                    team_id=Case(*(When(pk__in=ids, then=Value(pool[pk].pk)) for pk, ids in given.items())),
                )
                CaseAssignment.objects.bulk_create(
                    [
                        CaseAssignment(
                            case_id=case_id,
                            assigned_to_id=collector_id,
                            team=pool[collector_id],
                            assigned_by=actor,
                            assigned_at=at,
                            reason=reason,
                        )
                        for collector_id, ids in given.items()
                        for case_id in ids
                    ],
                    batch_size=2000,
                )
            counts["cases_allocated"] += len(chunk)
    counts["cases_unallocated"] = unassigned.count()
    return dict(counts)


def _resolve_reasons() -> list[tuple[str, str]]:
    return [
        (Loan.Status.PAID_OFF, _desk_text(lambda: _("Nightly cycle: the loan is paid off."))),
        (Loan.Status.CURRENT, _desk_text(lambda: _("Nightly cycle: the loan is current again."))),
    ]


def _resolve(*, low: int, high: int, at: datetime.datetime, actor: User, **_context) -> dict[str, int]:
    cases = CollectionCase.objects.filter(loan_id__gte=low, loan_id__lt=high)
    resolved = 0
    for status, reason in _resolve_reasons():
        resolved += len(
            cases_transition(cases=cases, name="resolve", by=actor, reason=reason, at=at, extra=Q(loan__status=status))
        )
    return {"cases_resolved": resolved}


def _promises(*, as_of: datetime.date, **_context) -> dict[str, int]:
    if as_of > timezone.localdate():
        # Payments of a day to come are unknown: a what-if run leaves promises pending.
        return {"skipped_day_to_come": 1}
    return promises_evaluate(as_of=as_of)


def _needs_approval(rules: dict[str, StageRule], target: str) -> bool:
    """Whether moving into `target` needs a supervisor, by the stage rules read once per batch."""
    return target in rules and rules[target].requires_approval


def _stage_rules(
    *, as_of: datetime.date, low: int, high: int, at: datetime.datetime, actor: User, **_context
) -> dict[str, int]:
    """Each working stage in the order a case walks them, so that a case may go on through more
    than one stage in a night (a back-filled loan far past due)."""
    counts: Counter = Counter()
    rules = {rule.stage: rule for rule in StageRule.objects.all()}
    cases = CollectionCase.objects.filter(loan_id__gte=low, loan_id__lt=high)
    for stage in WORKING_STAGES:
        rule, move = rules.get(stage), rule_target(stage)
        if rule is None or move is None:
            continue
        name, target = move
        for criterion in rule_criteria(rule, as_of=as_of):
            if _needs_approval(rules, target):
                proposed = cases.filter(Q(stage=stage) & criterion.filter & rule_may_propose(target))
                ids = list(proposed.order_by("pk").values_list("pk", flat=True))
                EscalationRequest.objects.bulk_create(
                    [
                        EscalationRequest(case_id=case_id, target_stage=target, reason=criterion.reason)
                        for case_id in ids
                    ],
                    ignore_conflicts=True,
                )
                counts[f"requests_{target}"] += len(ids)
            else:
                moved = cases_transition(
                    cases=cases.filter(stage=stage),
                    name=name,
                    by=actor,
                    reason=criterion.reason,
                    at=at,
                    extra=criterion.filter,
                )
                counts[f"moved_to_{target}"] += len(moved)
    return {name: count for name, count in counts.items() if count}


def portfolio_snapshot_take(*, as_of: datetime.date) -> int:
    """The portfolio per product and bucket on `as_of` (loans, delinquent loans, outstanding
    principal, total outstanding, overdue amount), replacing that day's snapshot. One grouped
    query; returns the number of rows."""
    rows = (
        Loan.objects.values("product_id", "bucket_id")
        .annotate(
            count=Count("pk"),
            delinquent=Count("pk", filter=Q(status=Loan.Status.DELINQUENT)),
            principal=Sum("outstanding_principal"),
            total=Sum(
                F("outstanding_principal")
                + F("outstanding_interest")
                + F("outstanding_fees")
                + F("outstanding_penalty")
            ),
            overdue=Sum("overdue_amount"),
        )
        .order_by("product_id", "bucket_id")
    )
    with transaction.atomic():
        PortfolioSnapshot.objects.filter(as_of=as_of).delete()
        snapshots = PortfolioSnapshot.objects.bulk_create(
            PortfolioSnapshot(
                as_of=as_of,
                product_id=row["product_id"],
                bucket_id=row["bucket_id"],
                loans=row["count"],
                delinquent_loans=row["delinquent"],
                outstanding_principal=row["principal"],
                total_outstanding=row["total"],
                overdue_amount=row["overdue"],
            )
            for row in rows
        )
    return len(snapshots)


def _snapshot(*, as_of: datetime.date, **_context) -> dict[str, int]:
    return {"snapshot_rows": portfolio_snapshot_take(as_of=as_of)}


_STEP_FUNCTIONS = {
    "refresh": _refresh,
    "open": _open,
    "allocate": _allocate,
    "resolve": _resolve,
    "promises": _promises,
    "stage_rules": _stage_rules,
    "snapshot": _snapshot,
}


def cycle_step_run(
    *,
    step: str,
    as_of: datetime.date,
    at: datetime.datetime,
    low: int | None = None,
    high: int | None = None,
    actor: User | None = None,
) -> dict[str, int]:
    """Run one step, or one id range [low, high) of a range step, in its own transaction
    (allocation commits a chunk at a time). What a Celery batch task runs."""
    run = functools.partial(_STEP_FUNCTIONS[step], as_of=as_of, at=at, low=low, high=high, actor=actor or system_user())
    if step == "allocate":  # commits a chunk at a time itself
        return run()
    with transaction.atomic():
        return run()


@dataclasses.dataclass(frozen=True)
class Batch:
    step: str
    low: int | None = None
    high: int | None = None


def cycle_plan(*, batch_size: int | None = None) -> list[list[Batch]]:
    """The cycle's work: per step, in order, its batches (id ranges of loans for range steps,
    COLLECTION_CYCLE_BATCH_SIZE loans each unless `batch_size` says otherwise)."""
    batch_size = batch_size or settings.COLLECTION_CYCLE_BATCH_SIZE
    bounds = Loan.objects.aggregate(low=Min("pk"), high=Max("pk"))
    ranges = []
    if bounds["low"] is not None:
        ranges = [(start, start + batch_size) for start in range(bounds["low"], bounds["high"] + 1, batch_size)]
    return [
        [Batch(step, low, high) for low, high in ranges] if step in RANGE_STEPS else [Batch(step)] for step in STEPS
    ]


# --- the run's record and lock ---------------------------------------------------------------


def _lock_key(as_of: datetime.date) -> str:
    return f"{JobRun.Job.COLLECTION_CYCLE}:{as_of.isoformat()}"


def cycle_start(*, as_of: datetime.date) -> JobRun:
    """Take the day's lock and record the run. Raises CycleAlreadyRan when the day's run
    succeeded, CycleRunning while another run is alive; a failed run, or one whose heartbeat
    stopped, is taken over (the steps are idempotent, so the new run finishes the work)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return JobRun.objects.create(
                job=JobRun.Job.COLLECTION_CYCLE,
                as_of=as_of,
                lock_key=_lock_key(as_of),
                started_at=now,
                heartbeat_at=now,
            )
    except IntegrityError:
        pass
    run = JobRun.objects.get(lock_key=_lock_key(as_of))
    if run.status == JobRun.Status.SUCCEEDED:
        raise CycleAlreadyRan(
            _("The collection cycle for %(day)s already ran (finished %(finished)s): nothing to do.")
            % {"day": as_of, "finished": timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M")}
        )
    if run.status == JobRun.Status.RUNNING and run.heartbeat_at > now - STALE_AFTER:
        raise CycleRunning(
            _("The collection cycle for %(day)s is already running (started %(started)s).")
            % {"day": as_of, "started": timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M")}
        )
    taken = JobRun.objects.filter(pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at).update(
        status=JobRun.Status.RUNNING, heartbeat_at=now, attempts=F("attempts") + 1, finished_at=None
    )
    if not taken:  # another start took it over a moment ago
        raise CycleRunning(_("The collection cycle for %(day)s is already running.") % {"day": as_of})
    run.refresh_from_db()
    return run


def cycle_step_finished(*, run_id: int, step: str, counts: dict[str, int]) -> None:
    """Record a step's counts in the run (and that the run is alive)."""
    with transaction.atomic():
        run = JobRun.objects.select_for_update().get(pk=run_id)
        run.counts = {**run.counts, step: counts}
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["counts", "heartbeat_at"])


def cycle_heartbeat(*, run_id: int) -> None:
    JobRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


def cycle_finish(*, run_id: int) -> JobRun:
    now = timezone.now()
    JobRun.objects.filter(pk=run_id).update(status=JobRun.Status.SUCCEEDED, finished_at=now, heartbeat_at=now)
    return JobRun.objects.get(pk=run_id)


def cycle_fail(*, run_id: int, error: BaseException, counts: dict | None = None) -> None:
    """Mark the run failed with its error (and the counts it got to, when given); the next start
    takes it over and finishes the work."""
    now = timezone.now()
    run = JobRun.objects.get(pk=run_id)
    text = "".join(traceback.format_exception_only(error)).strip()
    failed = {
        "status": JobRun.Status.FAILED,
        "finished_at": now,
        "errors": f"{run.errors}\n{now:%Y-%m-%d %H:%M:%S} {text}".strip(),
    }
    if counts is not None:
        failed["counts"] = counts
    JobRun.objects.filter(pk=run_id).update(**failed)


@contextlib.contextmanager
def job_recorded(*, job: str, as_of: datetime.date):
    """Record a run of a job that takes no lock (reminder dispatch, promise evaluation): yields
    the JobRun, whose `counts` the caller fills; marked succeeded, or failed with the error.
    A succeeded run prunes the job's succeeded runs older than COLLECTION_JOB_RUNS_KEPT_DAYS."""
    run = JobRun.objects.create(job=job, as_of=as_of)
    try:
        yield run
    except Exception as error:
        cycle_fail(run_id=run.pk, error=error, counts=run.counts or {})
        raise
    now = timezone.now()
    JobRun.objects.filter(pk=run.pk).update(
        status=JobRun.Status.SUCCEEDED, counts=run.counts, finished_at=now, heartbeat_at=now
    )
    # A job that runs every quarter of an hour would pile up rows no one reads: the succeeded
    # runs older than the days kept go (this one, the latest, stays: dispatch plans from it).
    JobRun.objects.filter(
        job=job,
        status=JobRun.Status.SUCCEEDED,
        started_at__lt=now - datetime.timedelta(days=settings.COLLECTION_JOB_RUNS_KEPT_DAYS),
    ).exclude(pk=run.pk).delete()


def sum_counts(results: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter = Counter()
    for result in results:
        total.update(result)
    return dict(total)


# --- in-process run --------------------------------------------------------------------------


def collection_cycle(
    *,
    as_of: datetime.date,
    dry_run: bool = False,
    progress: Callable[[str, int], None] | None = None,
    batch_size: int | None = None,
) -> dict[str, dict[str, int]]:
    """Run the nightly cycle for `as_of` here, batch after batch, and return the counts per
    step. `progress(step, batches done)` is called after each batch. A dry run does the same
    work in one transaction and rolls it back: it reports what would happen and changes
    nothing (and records no run). Otherwise the run holds the day's lock (see cycle_start) and
    its JobRun records the counts and any error."""
    at = timezone.now()
    actor = system_user()
    plan = cycle_plan(batch_size=batch_size)
    if dry_run:
        with transaction.atomic():
            counts = _run_plan(plan, as_of=as_of, at=at, actor=actor, progress=progress)
            transaction.set_rollback(True)
        return counts
    run = cycle_start(as_of=as_of)
    try:
        counts = _run_plan(plan, as_of=as_of, at=at, actor=actor, progress=progress, run_id=run.pk)
    except Exception as error:
        cycle_fail(run_id=run.pk, error=error)
        raise
    cycle_finish(run_id=run.pk)
    return counts


def _run_plan(plan, *, as_of, at, actor, progress, run_id: int | None = None) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for batches in plan:
        step = batches[0].step if batches else None
        results = []
        for batch in batches:
            results.append(
                cycle_step_run(step=batch.step, as_of=as_of, at=at, low=batch.low, high=batch.high, actor=actor)
            )
            if run_id is not None:
                cycle_heartbeat(run_id=run_id)
            if progress is not None:
                progress(batch.step, 1)
        if step is None:
            continue
        counts[step] = sum_counts(results)
        if run_id is not None:
            cycle_step_finished(run_id=run_id, step=step, counts=counts[step])
    return counts


# --- the reference: one case at a time through the services ----------------------------------


def collection_cycle_case_by_case(
    *, as_of: datetime.date, loan_ids: Iterable[int], snapshot: bool = True
) -> dict[str, dict[str, int]]:
    """The cycle's work for the given loans, done loan by loan and case by case through the
    one-case services (loan_refresh_delinquency, case_open_for_loan, cases_allocate,
    case_resolve, promises_evaluate, case_escalate / case_litigate, escalation_request_create).
    The definition the batch path must match, and the naive path the benchmark times. Takes no
    lock and records no run. `snapshot=False` leaves out the snapshot, a whole-portfolio pass
    (the benchmark times it once, not per loan)."""
    actor = system_user()
    loan_ids = sorted(loan_ids)
    counts: dict[str, Counter] = {step: Counter() for step in STEPS}
    buckets = buckets_in_order()
    for loan in Loan.objects.filter(pk__in=loan_ids).order_by("pk").iterator():
        loan_refresh_delinquency(loan=loan, as_of=as_of, buckets=buckets)
        counts["refresh"]["loans_aged"] += 1

    threshold = reminder_entry_dpd()
    for loan in Loan.objects.filter(pk__in=loan_ids).filter(loans_needing_case(threshold)).order_by("pk"):
        case_open_for_loan(loan=loan)
        counts["open"]["cases_opened"] += 1

    open_cases = CollectionCase.objects.filter(loan_id__in=loan_ids, stage__in=OPEN_STAGES)
    for team, group in allocation_groups():
        cases = list(open_cases.filter(group, assigned_to__isnull=True))
        if cases and allocation_pool(team=team):
            counts["allocate"]["cases_allocated"] += len(cases_allocate(team=team, cases=cases, by=actor))
    counts["allocate"]["cases_unallocated"] = open_cases.filter(assigned_to__isnull=True).count()

    reasons = dict(_resolve_reasons())
    for case in open_cases.select_related("loan").order_by("pk"):
        if case.loan.status in reasons:
            case_resolve(case=case, by=actor, reason=reasons[case.loan.status])
            counts["resolve"]["cases_resolved"] += 1

    counts["promises"].update(_promises(as_of=as_of))

    rules = {rule.stage: rule for rule in StageRule.objects.all()}
    criteria = {stage: rule_criteria(rule, as_of=as_of) for stage, rule in rules.items()}
    for case in CollectionCase.objects.filter(loan_id__in=loan_ids, stage__in=WORKING_STAGES).order_by("pk"):
        _case_apply_rules(case=case, rules=rules, criteria=criteria, actor=actor, counts=counts["stage_rules"])

    if snapshot:
        counts["snapshot"]["snapshot_rows"] = portfolio_snapshot_take(as_of=as_of)
    return {step: dict(values) for step, values in counts.items()}


def _case_apply_rules(*, case, rules, criteria, actor, counts: Counter) -> None:
    """Apply the stage rules to one case until none moves it further."""
    while case.stage in WORKING_STAGES:
        rule, move = rules.get(case.stage), rule_target(case.stage)
        if rule is None or move is None:
            return
        name, target = move
        case = CollectionCase.objects.select_related("loan").get(pk=case.pk)
        met = next((criterion for criterion in criteria[case.stage] if criterion.test(case)), None)
        if met is None:
            return
        if _needs_approval(rules, target):
            if CollectionCase.objects.filter(pk=case.pk).filter(rule_may_propose(target)).exists():
                escalation_request_create(case=case, target_stage=target, reason=met.reason, by=None)
                counts[f"requests_{target}"] += 1
            return
        DECIDED_TRANSITIONS[name](case=case, by=actor, reason=met.reason)
        counts[f"moved_to_{target}"] += 1
