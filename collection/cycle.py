"""The nightly collection cycle: `collection_cycle(*, as_of)` runs the steps of `cycle_steps()` in
order, each a set-based pass: the desk's own (CYCLE_STEPS), then those other apps added with
`cycle_step_add` (the legal track's limitation flag; collection never imports them). What each
step does is in the README ("The nightly collection cycle"). A step that works per id range of
loans runs its ranges as batches, each one transaction and idempotent, so that a batch can run on
any worker, twice, or again after a worker died in the middle of it. The same plan runs
in-process here or fanned out to Celery workers (collection.tasks); a run holds the day's lock
(collection.jobs). collection.cycle_reference does the same work one
case at a time, through the services, as the definition the batch path must match."""

import dataclasses
import datetime
import functools
from collections import Counter, defaultdict
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Team, User
from config.desk import in_desk_language
from loans.models import Loan
from loans.selectors import days_past_due_at_least
from loans.services import portfolio_refresh_delinquency, portfolio_snapshot_take

from .dashboard.filing import days_file, days_to_file, filing_through
from .jobs import (
    Step,
    job_fail,
    job_finish,
    job_start,
    job_step_finished,
)
from .machine import CASE_MACHINE, OPEN_STAGES, WORKING_STAGES, Stage
from .models import CaseAssignment, CaseRouting, CollectionCase, EscalationRequest, JobRun
from .selectors import system_user
from .services import ALLOCATION_REASON, allocation_load, allocation_pool, allocation_spread
from .services.promise_evaluation import PROMISES_STEP, promises_evaluate
from .services.reassignment import (
    least_loaded_other,
    no_contact_reassignment_cases,
    no_contact_reassignment_reason,
)
from .stage_rules import reminder_entry_dpd, rule_actions, stage_rules_in_force

__all__ = [
    "CYCLE_STEPS",
    "CycleStep",
    "cycle_step_add",
    "cycle_steps",
    "allocation_groups",
    "collection_cycle",
    "cycle_plan",
    "cycle_start",
    "cycle_step_run",
    "loans_needing_case",
    "reassignment_rules",
    "resolve_reasons",
]

ALLOCATION_CHUNK = 5_000
# Endings that were decisions about the loan: the cycle does not open a new case after them.
FINAL_ENDINGS = (Stage.SETTLED, Stage.WRITTEN_OFF, Stage.CLOSED)


@dataclasses.dataclass(frozen=True)
class CycleStep(Step):
    """A step of the cycle: `run(as_of, at, actor, batch_size)` does it over the whole portfolio,
    set-based, and returns its counts; in one transaction, unless it `commits_itself` (a chunk at
    a time). A step another app adds brings its `reference` as well: the same work one case at a
    time, `reference(as_of, loan_ids, actor, counts)` (collection.cycle_reference)."""

    run: Callable[..., dict[str, int]]
    commits_itself: bool = False
    reference: Callable[..., None] | None = None


# --- the steps -------------------------------------------------------------------------------


def loans_needing_case(threshold: int, *, as_of: datetime.date) -> Q:
    """Loans that need a case opened: delinquent at `threshold` DPD or more on `as_of`, with no
    open case and no case that ended by a decision about the loan."""
    return (
        Q(status=Loan.Status.DELINQUENT)
        & days_past_due_at_least(threshold, on=as_of)
        & ~Exists(CollectionCase.objects.filter(loan=OuterRef("pk"), stage__in=[*OPEN_STAGES, *FINAL_ENDINGS]))
    )


def _refresh(*, as_of: datetime.date, batch_size: int, **_context) -> dict[str, int]:
    """Age the loans that can have changed since the portfolio's day (loans.services); a pass
    over every loan, when one is needed, `batch_size` loans a transaction."""
    run = portfolio_refresh_delinquency(as_of=as_of, batch_size=batch_size)
    return {"loans_read": run.loans_read, "loans_written": run.loans_written}


def _open(*, as_of: datetime.date, at: datetime.datetime, **_context) -> dict[str, int]:
    loan_ids = list(
        Loan.objects.filter(loans_needing_case(reminder_entry_dpd(), as_of=as_of))
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
    """Refresh PostgreSQL's statistics of the tables whose rows changed by more than a tenth since
    they were last analysed: after the first night opens thousands of cases, plans made for an
    almost empty case table take seconds. An ordinary night changes far less and analyses nothing."""
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in models]
    if connection.pg_version >= 150000:
        with connection.cursor() as cursor:
            # This connection's own writes reach the statistics once it is idle: ask for that first.
            cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) AND schemaname = current_schema() "
            "AND (last_analyze IS NULL AND last_autoanalyze IS NULL OR n_mod_since_analyze > n_live_tup / 10)",
            [tables],
        )
        stale = [name for (name,) in cursor.fetchall()]
        for table in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _allocate(*, at: datetime.datetime, actor: User, **_context) -> dict[str, int]:
    """Every unassigned open case, in the order and with the balancing of cases_allocate, a chunk
    at a time (each its own transaction), without holding the cases in memory."""
    _analyze(CollectionCase, EscalationRequest)
    counts: Counter = Counter()
    unassigned = CollectionCase.objects.filter(stage__in=OPEN_STAGES, assigned_to__isnull=True)
    with in_desk_language():
        reason = str(ALLOCATION_REASON)
    groups = [(group, allocation_pool(team=team)) for team, group in allocation_groups()]
    # What every collector carries, read once: a collector in two teams' pools carries on from
    # one team's allocation to the next.
    carried = allocation_load({pk for _group, pool in groups for pk in pool})
    for group, pool in groups:
        if not pool:
            continue
        load = {pk: carried[pk] for pk in pool}
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
        carried.update(load)
    counts["cases_unallocated"] = unassigned.count()
    return dict(counts)


def resolve_reasons() -> dict[str, str]:
    """{loan status: the reason a case of such a loan is resolved}, in the desk's language."""
    with in_desk_language():
        return {
            Loan.Status.PAID_OFF: _("Nightly cycle: the loan is paid off."),
            Loan.Status.CURRENT: _("Nightly cycle: the loan is current again."),
        }


def _resolve(*, at: datetime.datetime, actor: User, **_context) -> dict[str, int]:
    cases = CollectionCase.objects.all()
    resolved = 0
    for status, reason in resolve_reasons().items():
        resolved += len(
            CASE_MACHINE.apply(rows=cases, name="resolve", by=actor, reason=reason, at=at, extra=Q(loan__status=status))
        )
    return {"cases_resolved": resolved}


def promises_step(*, as_of: datetime.date, **_context) -> dict[str, int]:
    if as_of > timezone.localdate():
        # Payments of a day to come are unknown: a what-if run leaves promises pending.
        return {"skipped_day_to_come": 1}
    return promises_evaluate(as_of=as_of)


def _stage_rules(*, as_of: datetime.date, at: datetime.datetime, actor: User, **_context) -> dict[str, int]:
    """Each working stage in the order a case walks them, so that a case may go on through more
    than one stage in a night (a back-filled loan far past due)."""
    counts: Counter = Counter()
    rules = stage_rules_in_force()
    for stage in WORKING_STAGES:
        if stage not in rules:
            continue
        # What each rule does is stage_rules.rule_actions': the admin's preview counts the same.
        for action in rule_actions(rules[stage], rules=rules, as_of=as_of):
            target, criterion = action.target, action.criterion
            if action.needs_approval:
                ids = list(action.cases().order_by("pk").values_list("pk", flat=True))
                EscalationRequest.objects.bulk_create(
                    [
                        EscalationRequest(case_id=case_id, target_stage=target, reason=criterion.reason)
                        for case_id in ids
                    ],
                    ignore_conflicts=True,
                )
                counts[f"requests_{target}"] += len(ids)
            else:
                moved = CASE_MACHINE.apply(
                    rows=CollectionCase.objects.filter(stage=stage),
                    name=action.transition,
                    by=actor,
                    reason=criterion.reason,
                    at=at,
                    extra=criterion.filter,
                )
                counts[f"moved_to_{target}"] += len(moved)
    return {name: count for name, count in counts.items() if count}


def reassignment_rules() -> list:
    """The stage rules that move cases nobody reaches to another collector, in the order a case
    walks the stages."""
    rules = stage_rules_in_force()
    return [
        rules[stage]
        for stage in WORKING_STAGES
        if stage in rules and rules[stage].reassign_after_days_without_contact is not None
    ]


def _reassign(*, as_of: datetime.date, at: datetime.datetime, actor: User, **_context) -> dict[str, int]:
    """Each case a reassignment rule moves (collection.services.reassignment: no right-party
    contact for N days, with its collector for N days), stage after stage and largest overdue
    amount first, to whoever of its team's other active collectors carries least, never back to
    the collector it was taken from; the load read once and carried along, as allocation does.
    The candidates in one query per stage, the moves written a chunk at a time in bulk."""
    candidates = []
    for rule in reassignment_rules():
        reason = no_contact_reassignment_reason(rule)
        rows = no_contact_reassignment_cases(rule, as_of=as_of).values_list(
            "pk", "assigned_to_id", "team_id", "loan__overdue_amount", "left_id"
        )
        candidates += [(*row, reason) for row in rows]
    if not candidates:
        return {}
    teams = Team.objects.in_bulk({row[2] for row in candidates})
    pools = {team_id: allocation_pool(team=team) for team_id, team in teams.items()}
    holders = {row[1] for row in candidates}
    load = allocation_load({pk for pool in pools.values() for pk in pool} | holders)
    moves = []
    for case_id, holder, team_id, overdue, left_id, reason in candidates:
        chosen = least_loaded_other(load, pools[team_id], overdue, leaving={holder, left_id})
        if chosen is None:  # nobody else in the team: the case stays
            continue
        count, carried = load[holder]
        load[holder] = [count - 1, carried - overdue]
        moves.append(
            CaseAssignment(
                case_id=case_id,
                assigned_to_id=chosen,
                previous_id=holder,
                team_id=team_id,
                assigned_by=actor,
                assigned_at=at,
                reason=reason,
            )
        )
    for start in range(0, len(moves), ALLOCATION_CHUNK):
        chunk = moves[start : start + ALLOCATION_CHUNK]
        given: dict[int, list[int]] = defaultdict(list)
        for move in chunk:
            given[move.assigned_to_id].append(move.case_id)
        CollectionCase.objects.filter(pk__in=[move.case_id for move in chunk]).update(
            assigned_to_id=Case(*(When(pk__in=ids, then=Value(pk)) for pk, ids in given.items()))
        )
        CaseAssignment.objects.bulk_create(chunk, batch_size=2000)
    return {"cases_reassigned": len(moves)} if moves else {}


def _snapshot(*, as_of: datetime.date, **_context) -> dict[str, int]:
    return {"snapshot_rows": portfolio_snapshot_take(as_of=as_of)}


def _file_dashboard(*, as_of: datetime.date, at: datetime.datetime, **_context) -> dict[str, int]:
    """The dashboard's days up to the one before `as_of`: those not filed yet, and those with a
    record added, reversed or changed since the last filing (collection.dashboard.filing)."""
    return days_file(days_to_file(through=filing_through(as_of)), at=at)


# --- the registry: one entry per step, in the order they run ------------------------------------

_MOVED_TO = gettext_lazy("moved to %(stage)s")
_REQUESTS_FOR = gettext_lazy("requests for %(stage)s")


def _per_stage(words, stage: str) -> str:
    return lazy(lambda: str(words) % {"stage": Stage(stage).label}, str)()


CYCLE_STEPS: tuple[CycleStep, ...] = (
    CycleStep(
        "refresh",
        gettext_lazy("Ageing"),
        {"loans_read": gettext_lazy("loans read"), "loans_written": gettext_lazy("loans written")},
        run=_refresh,
        commits_itself=True,  # a full pass a batch at a time
    ),
    CycleStep(
        "open",
        gettext_lazy("Opening cases"),
        {"cases_opened": gettext_lazy("cases opened")},
        run=_open,
    ),
    CycleStep(
        "allocate",
        gettext_lazy("Allocation"),
        {
            "cases_allocated": gettext_lazy("cases allocated"),
            "cases_unallocated": gettext_lazy("cases left unallocated"),
        },
        run=_allocate,
        commits_itself=True,  # a chunk at a time
    ),
    CycleStep(
        "resolve",
        gettext_lazy("Resolving cases"),
        {"cases_resolved": gettext_lazy("cases resolved")},
        run=_resolve,
    ),
    CycleStep(
        PROMISES_STEP.name,
        PROMISES_STEP.label,
        {**PROMISES_STEP.counts, "skipped_day_to_come": gettext_lazy("days still to come, skipped")},
        run=promises_step,
    ),
    CycleStep(
        "stage_rules",
        gettext_lazy("Stage rules"),
        {
            **{f"moved_to_{stage}": _per_stage(_MOVED_TO, stage) for stage in WORKING_STAGES},
            **{f"requests_{stage}": _per_stage(_REQUESTS_FOR, stage) for stage in WORKING_STAGES},
        },
        run=_stage_rules,
    ),
    CycleStep(
        "reassign",
        gettext_lazy("Reassignment"),
        {"cases_reassigned": gettext_lazy("cases moved to another collector")},
        run=_reassign,
    ),
    CycleStep(
        "snapshot",
        gettext_lazy("Portfolio snapshot"),
        {"snapshot_rows": gettext_lazy("snapshot rows")},
        run=_snapshot,
    ),
    CycleStep(
        "dashboard",
        gettext_lazy("Dashboard days"),
        {"days_filed": gettext_lazy("days filed"), "figures_written": gettext_lazy("figures written")},
        run=_file_dashboard,
        commits_itself=True,  # a stretch of days at a time
    ),
)

# The steps other apps added, in the order they were added (their AppConfig.ready()).
_ADDED_STEPS: dict[str, CycleStep] = {}


def cycle_step_add(step: CycleStep) -> None:
    """Add another app's step to the cycle, after the desk's own: an app that depends on
    collection calls it from its AppConfig.ready(), so that collection never imports it. Adding
    the same step again (ready() run twice) changes nothing; another step under a name taken is
    an error."""
    taken = {own.name for own in CYCLE_STEPS} | set(_ADDED_STEPS)
    if step.name in taken and _ADDED_STEPS.get(step.name) != step:
        raise ValueError(f"The cycle already has a step named {step.name!r}.")
    if step.reference is None:
        raise ValueError(f"The cycle step {step.name!r} needs its case-by-case reference.")
    _ADDED_STEPS[step.name] = step


def cycle_steps() -> tuple[CycleStep, ...]:
    """Every step of the cycle, in the order they run: the desk's own, then those added."""
    return CYCLE_STEPS + tuple(_ADDED_STEPS.values())


# --- the plan and its run -----------------------------------------------------------------------


def cycle_plan() -> list[str]:
    """The cycle's steps, in order: what the workers run one after the other."""
    return [step.name for step in cycle_steps()]


def cycle_step_run(
    *,
    step: str,
    as_of: datetime.date,
    at: datetime.datetime,
    actor: User | None = None,
    batch_size: int | None = None,
) -> dict[str, int]:
    """Run one step, in its own transaction (unless the step commits itself). What a Celery step
    task runs. `batch_size` (default COLLECTION_CYCLE_BATCH_SIZE) is the loans a transaction of a
    pass over every loan holds."""
    declared = {known.name: known for known in cycle_steps()}[step]
    run = functools.partial(
        declared.run,
        as_of=as_of,
        at=at,
        actor=actor or system_user(),
        batch_size=batch_size or settings.COLLECTION_CYCLE_BATCH_SIZE,
    )
    if declared.commits_itself:
        return run()
    with transaction.atomic():
        return run()


def cycle_start(*, as_of: datetime.date) -> JobRun:
    """Take the day's lock of the cycle (collection.jobs.job_start)."""
    return job_start(job=JobRun.Job.COLLECTION_CYCLE, as_of=as_of)


def collection_cycle(
    *,
    as_of: datetime.date,
    dry_run: bool = False,
    progress: Callable[[str, int], None] | None = None,
    batch_size: int | None = None,
) -> dict[str, dict[str, int]]:
    """Run the nightly cycle for `as_of` here, step after step, and return the counts per step;
    `progress(step, 1)` after each step. A dry run does the same work in one
    transaction and rolls it back, recording nothing; otherwise the run holds the day's lock and
    its JobRun keeps the counts and any error."""
    at = timezone.now()
    actor = system_user()
    plan = cycle_plan()
    if dry_run:
        with transaction.atomic():
            counts = _run_plan(plan, as_of=as_of, at=at, actor=actor, progress=progress, batch_size=batch_size)
            transaction.set_rollback(True)
        return counts
    run = cycle_start(as_of=as_of)
    try:
        counts = _run_plan(
            plan, as_of=as_of, at=at, actor=actor, progress=progress, batch_size=batch_size, run_id=run.pk
        )
    except Exception as error:
        job_fail(run_id=run.pk, error=error)
        raise
    job_finish(run_id=run.pk)
    return counts


def _run_plan(plan, *, as_of, at, actor, progress, batch_size, run_id: int | None = None) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for step in plan:
        counts[step] = cycle_step_run(step=step, as_of=as_of, at=at, actor=actor, batch_size=batch_size)
        if run_id is not None:
            job_step_finished(run_id=run_id, step=step, counts=counts[step])
        if progress is not None:
            progress(step, 1)
    return counts
