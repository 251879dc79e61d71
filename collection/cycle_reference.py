"""The nightly cycle done one loan and one case at a time, through the one-case services: the
definition the batch path (collection.cycle) must match, and the naive path the benchmark times.
Each step of the desk's own CYCLE_STEPS has its counterpart here, and a step another app added
brings its own (CycleStep.reference); a test runs both on the same portfolio and
requires identical results."""

import datetime
from collections import Counter
from collections.abc import Callable, Iterable

from django.db.models import F, Q

from accounts.models import User
from loans.models import Loan
from loans.selectors import buckets_in_order
from loans.services import ageing_run, loan_refresh_delinquency, portfolio_snapshot_take

from .cycle import (
    allocation_groups,
    cycle_steps,
    loans_needing_case,
    promises_step,
    reassignment_rules,
    resolve_reasons,
)
from .dashboard.filing import days_file, days_to_file, filing_through
from .machine import OPEN_STAGES, WORKING_STAGES
from .models import CaseAssignment, CollectionCase, StageRule
from .selectors import system_user
from .services import (
    MOVE_SERVICES,
    allocation_load,
    allocation_pool,
    allocation_spread,
    case_assign,
    case_open_for_loan,
    case_resolve,
    cases_allocate,
    escalation_request_create,
)
from .services.reassignment import no_contact_reassignment_reason, no_contact_reassignment_test
from .stage_rules import (
    Criterion,
    reminder_entry_dpd,
    requires_approval_into,
    rule_criteria,
    rule_may_propose,
    rule_move,
    stage_rules_in_force,
)

__all__ = ["collection_cycle_case_by_case"]


def collection_cycle_case_by_case(
    *, as_of: datetime.date, loan_ids: Iterable[int], snapshot: bool = True
) -> dict[str, dict[str, int]]:
    """The cycle's work for the given loans, loan by loan and case by case. Takes no lock and
    records no run. `snapshot=False` leaves out the snapshot and the dashboard's filing,
    whole-portfolio passes (the benchmark times the snapshot once, not per loan)."""
    loan_ids, actor = sorted(loan_ids), system_user()
    steps = cycle_steps()
    counts: dict[str, Counter] = {step.name: Counter() for step in steps}
    for step in steps:
        if step.name in WHOLE_DESK_STEPS and not snapshot:
            continue
        one_at_a_time = step.reference or _ONE_CASE_AT_A_TIME[step.name]
        one_at_a_time(as_of=as_of, loan_ids=loan_ids, actor=actor, counts=counts[step.name])
    return {step: dict(values) for step, values in counts.items()}


def _refresh(*, as_of: datetime.date, loan_ids: list[int], counts: Counter, **_context) -> None:
    buckets = buckets_in_order()
    stored = [Loan._meta.get_field(name).attname for name in Loan.AGEING_FIELDS]
    with ageing_run(as_of=as_of):
        for loan in Loan.objects.filter(pk__in=loan_ids).order_by("pk").iterator():
            before = [getattr(loan, field) for field in stored]
            loan_refresh_delinquency(loan=loan, as_of=as_of, buckets=buckets)
            counts["loans_read"] += 1
            counts["loans_written"] += before != [getattr(loan, field) for field in stored]


def _open(*, as_of: datetime.date, loan_ids: list[int], counts: Counter, **_context) -> None:
    threshold = reminder_entry_dpd()
    for loan in Loan.objects.filter(pk__in=loan_ids).filter(loans_needing_case(threshold, as_of=as_of)).order_by("pk"):
        case_open_for_loan(loan=loan)
        counts["cases_opened"] += 1


def _open_cases(loan_ids: list[int]):
    return CollectionCase.objects.filter(loan_id__in=loan_ids, stage__in=OPEN_STAGES)


def _allocate(*, loan_ids: list[int], actor, counts: Counter, **_context) -> None:
    open_cases = _open_cases(loan_ids)
    for team, group in allocation_groups():
        cases = list(open_cases.filter(group, assigned_to__isnull=True))
        if cases and allocation_pool(team=team):
            counts["cases_allocated"] += len(cases_allocate(team=team, cases=cases, by=actor))
    counts["cases_unallocated"] = open_cases.filter(assigned_to__isnull=True).count()


def _resolve(*, loan_ids: list[int], actor, counts: Counter, **_context) -> None:
    reasons = resolve_reasons()
    for case in _open_cases(loan_ids).select_related("loan").order_by("pk"):
        if case.loan.status in reasons:
            case_resolve(case=case, by=actor, reason=reasons[case.loan.status])
            counts["cases_resolved"] += 1


def _promises(*, as_of: datetime.date, counts: Counter, **_context) -> None:
    counts.update(promises_step(as_of=as_of))


def _stage_rules(*, as_of: datetime.date, loan_ids: list[int], actor, counts: Counter) -> None:
    rules = stage_rules_in_force()
    criteria = {stage: rule_criteria(rule, as_of=as_of) for stage, rule in rules.items()}
    cases = CollectionCase.objects.filter(loan_id__in=loan_ids, stage__in=WORKING_STAGES).order_by("pk")
    for case in cases:
        _case_apply_rules(case=case, rules=rules, criteria=criteria, actor=actor, counts=counts)


def _case_apply_rules(
    *,
    case: CollectionCase,
    rules: dict[str, StageRule],
    criteria: dict[str, list[Criterion]],
    actor,
    counts: Counter,
) -> None:
    """Apply the stage rules to one case until none moves it further."""
    while case.stage in WORKING_STAGES:
        move = rule_move(case.stage)
        if case.stage not in rules or move is None:
            return
        name, target = move
        case = CollectionCase.objects.select_related("loan").get(pk=case.pk)
        met = next((criterion for criterion in criteria[case.stage] if criterion.test(case)), None)
        if met is None:
            return
        if requires_approval_into(target, rules):
            if CollectionCase.objects.filter(Q(pk=case.pk) & rule_may_propose(target)).exists():
                escalation_request_create(case=case, target_stage=target, reason=met.reason, by=None)
                counts[f"requests_{target}"] += 1
            return
        MOVE_SERVICES[name](case=case, by=actor, reason=met.reason)
        counts[f"moved_to_{target}"] += 1


def _reassign(*, as_of: datetime.date, loan_ids: list[int], actor, counts: Counter) -> None:
    """Each case a reassignment rule moves, stage after stage, largest overdue amount first, to
    the least-loaded other collector of its team (the load read afresh each time), through
    case_assign."""
    for rule in reassignment_rules():
        reason = no_contact_reassignment_reason(rule)
        cases = (
            CollectionCase.objects.filter(loan_id__in=loan_ids, stage=rule.stage)
            .select_related("loan", "team")
            .order_by(F("loan__overdue_amount").desc(), "pk")
        )
        for case in cases:
            if not no_contact_reassignment_test(case, rule, as_of=as_of):
                continue
            left = (
                CaseAssignment.objects.filter(case=case, assigned_to=case.assigned_to_id)
                .order_by("-assigned_at", "-pk")
                .values_list("previous_id", flat=True)
                .first()
            )
            others = [pk for pk in allocation_pool(team=case.team) if pk not in (case.assigned_to_id, left)]
            if not others:
                continue
            _case, chosen = next(allocation_spread(allocation_load(others), [(case.pk, case.loan.overdue_amount)]))
            case_assign(case=case, to=User.objects.get(pk=chosen), by=actor, reason=reason, team=case.team)
            counts["cases_reassigned"] += 1


def _snapshot(*, as_of: datetime.date, counts: Counter, **_context) -> None:
    counts["snapshot_rows"] = portfolio_snapshot_take(as_of=as_of)


def _dashboard(*, as_of: datetime.date, counts: Counter, **_context) -> None:
    """The filing reads whole days of the desk's records, not cases: the same pass (its own test,
    tests/collection/test_dashboard_filing.py, holds it to the live figures)."""
    counts.update(days_file(days_to_file(through=filing_through(as_of))))


# The steps that pass over the whole desk rather than the given loans.
WHOLE_DESK_STEPS = ("snapshot", "dashboard")


# Each of the desk's own steps, one case at a time (a step another app added brings its own).
_ONE_CASE_AT_A_TIME: dict[str, Callable[..., None]] = {
    "refresh": _refresh,
    "open": _open,
    "allocate": _allocate,
    "resolve": _resolve,
    "promises": _promises,
    "stage_rules": _stage_rules,
    "reassign": _reassign,
    "snapshot": _snapshot,
    "dashboard": _dashboard,
}
