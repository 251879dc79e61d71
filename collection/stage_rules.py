"""The stage rules: whether a set of them makes sense, what moves a case on (each criterion once
for one case and once for a set), whether moving into a stage needs a supervisor's approval, and
where a rule moves a case on to (read from the case machine)."""

import dataclasses
import datetime
import functools
import operator
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from config.desk import desk_day_start, in_desk_language
from loans.selectors import days_past_due_at_least

from .machine import CASE_MACHINE, WORKING_STAGES, Stage, later_stage_moves
from .models import CollectionCase, EscalationRequest, StageRule


def stage_rules_in_force() -> dict[str, StageRule]:
    """The stage rules as they are now, by stage."""
    return {rule.stage: rule for rule in StageRule.objects.all()}


def stage_rules_problems(rules_by_stage: dict) -> list[str]:
    """What is wrong with a set of stage rules (one per stage), or an empty list.

    Entry thresholds must increase from stage to stage, a stage must not move cases on before
    they would enter it, and the last stage has nowhere to move them."""
    problems: list[str] = []
    ordered = [rules_by_stage[stage] for stage in WORKING_STAGES if stage in rules_by_stage]
    previous = None
    last_entered = None  # the nearest earlier stage entered by DPD (negotiation is entered on contact)
    for rule in ordered:
        label = Stage(rule.stage).label
        if rule.entry_dpd is not None and last_entered is not None and rule.entry_dpd <= last_entered.entry_dpd:
            problems.append(
                _(
                    "%(stage)s starts at DPD %(dpd)s, but %(previous)s already starts at DPD %(previous_dpd)s: "
                    "each stage must start later than the one before."
                )
                % {
                    "stage": label,
                    "dpd": rule.entry_dpd,
                    "previous": Stage(last_entered.stage).label,
                    "previous_dpd": last_entered.entry_dpd,
                }
            )
        if rule.escalate_at_dpd is not None and rule.entry_dpd is not None and rule.escalate_at_dpd <= rule.entry_dpd:
            problems.append(
                _("%(stage)s moves cases on at DPD %(at)s, which is not after it takes them in at DPD %(dpd)s.")
                % {"stage": label, "at": rule.escalate_at_dpd, "dpd": rule.entry_dpd}
            )
        if rule.stage == WORKING_STAGES[-1] and (
            rule.escalate_at_dpd is not None
            or rule.escalate_after_broken_promises is not None
            or rule.escalate_after_days_without_contact is not None
        ):
            problems.append(
                _("%(stage)s is the last stage: it cannot move cases on, so leave its escalation criteria empty.")
                % {"stage": label}
            )
        if (
            previous is not None
            and previous.escalate_at_dpd is not None
            and rule.escalate_at_dpd is not None
            and rule.escalate_at_dpd < previous.escalate_at_dpd
        ):
            problems.append(
                _(
                    "%(stage)s moves cases on at DPD %(at)s, earlier than %(previous)s (DPD %(previous_at)s): "
                    "thresholds must increase from stage to stage."
                )
                % {
                    "stage": label,
                    "at": rule.escalate_at_dpd,
                    "previous": Stage(previous.stage).label,
                    "previous_at": previous.escalate_at_dpd,
                }
            )
        previous = rule
        if rule.entry_dpd is not None:
            last_entered = rule
    return problems


def stage_rule_validate(rule: StageRule) -> None:
    """Raise ValidationError, each problem in words, when `rule` (changed, not yet saved) would
    make the set of stage rules inconsistent. The admin's form calls it before saving."""
    rules = {stage: other for stage, other in stage_rules_in_force().items() if other.pk != rule.pk}
    rules[rule.stage] = rule
    problems = stage_rules_problems(rules)
    if problems:
        raise ValidationError(problems)


def reminder_entry_dpd() -> int:
    """The DPD at which a loan gets a case: the reminder stage's entry DPD (1 without a rule)."""
    entry = StageRule.objects.filter(stage=Stage.REMINDER).values_list("entry_dpd", flat=True).first()
    return entry if entry is not None else 1


def requires_approval_into(stage: str, rules: dict[str, StageRule] | None = None) -> bool:
    """Whether moving a case into `stage` needs a supervisor's approval (`rules`: the rules in
    force, when the caller has read them already)."""
    rules = stage_rules_in_force() if rules is None else rules
    return stage in rules and rules[stage].requires_approval


def rule_move(stage: str) -> tuple[str, str] | None:
    """Where a stage rule moves a case on from `stage`, as (transition name, target stage): the
    first later stage a supervisor-decided move of the case machine leads to; None from the last."""
    moves = later_stage_moves(stage)
    if not moves:
        return None
    target, name = next(iter(moves.items()))
    return name, target


# --- what moves a case on ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Criterion:
    """One way a stage rule moves a case on: as a filter on cases (the nightly cycle's batch
    path) and as a test of one case (the one-case path); a test checks that both agree."""

    code: str
    reason: str
    filter: Q
    test: Callable[[CollectionCase], bool]


def rule_criteria(rule: StageRule, *, as_of: datetime.date) -> list[Criterion]:
    """The rule's escalation criteria met on `as_of`, in the order they are tried: days past due,
    broken promises, days without right-party contact (counted from the case's opening when the
    borrower was never reached, in the desk's time zone). The reason names the rule; it is
    written in the desk's language, whoever runs the job."""
    stage = Stage(rule.stage).label
    criteria = []
    with in_desk_language():
        if rule.escalate_at_dpd is not None:
            threshold = rule.escalate_at_dpd
            criteria.append(
                Criterion(
                    code="dpd",
                    reason=_("Stage rule: %(stage)s moves on at DPD %(dpd)s.") % {"stage": stage, "dpd": threshold},
                    filter=days_past_due_at_least(threshold, on=as_of, loan="loan__"),
                    test=lambda case, threshold=threshold: case.loan.days_past_due >= threshold,
                )
            )
        if rule.escalate_after_broken_promises is not None:
            broken = rule.escalate_after_broken_promises
            criteria.append(
                Criterion(
                    code="broken_promises",
                    reason=_("Stage rule: %(stage)s moves on after %(count)s broken promises.")
                    % {"stage": stage, "count": broken},
                    filter=Q(broken_promises__gte=broken),
                    test=lambda case, broken=broken: case.broken_promises >= broken,
                )
            )
        if rule.escalate_after_days_without_contact is not None:
            days = rule.escalate_after_days_without_contact
            # Days without contact >= N  <=>  the last contact fell before the start of day as_of - N + 1.
            cutoff = desk_day_start(as_of - datetime.timedelta(days=days - 1))
            criteria.append(
                Criterion(
                    code="days_without_contact",
                    reason=_("Stage rule: %(stage)s moves on after %(days)s days without right-party contact.")
                    % {"stage": stage, "days": days},
                    filter=Q(last_right_party_contact_at__lt=cutoff)
                    | Q(last_right_party_contact_at__isnull=True, opened_at__lt=cutoff),
                    test=lambda case, cutoff=cutoff: (case.last_right_party_contact_at or case.opened_at) < cutoff,
                )
            )
    return criteria


def rule_may_propose(target: str) -> Q:
    """A rule proposes a move needing approval once: not while a request for it is pending, nor
    again after a supervisor rejected it, until the case changes stage."""
    requests = EscalationRequest.objects.filter(case=OuterRef("pk"), target_stage=target)
    return ~Exists(requests.filter(status=EscalationRequest.Status.PENDING)) & ~Exists(
        requests.filter(status=EscalationRequest.Status.REJECTED, decided_at__gte=OuterRef("stage_entered_at"))
    )


# --- what a rule does on a day: the nightly cycle's and the admin's preview's one place ----------


@dataclasses.dataclass(frozen=True)
class RuleAction:
    """What a stage rule does with one of its criteria: move the cases of its stage that meet it on
    (`transition` to `target`), or, when moving into `target` needs a supervisor's approval,
    propose the move (an escalation request) for the cases not proposed already."""

    stage: str
    transition: str
    target: str
    needs_approval: bool
    criterion: Criterion

    def cases(self) -> QuerySet[CollectionCase]:
        """The cases of the stage this action moves or proposes now: the cycle proposes exactly
        these; a move also needs the transition's own conditions (CASE_MACHINE.apply adds them)."""
        rows = CollectionCase.objects.filter(Q(stage=self.stage) & self.criterion.filter)
        return rows.filter(rule_may_propose(self.target)) if self.needs_approval else rows


def rule_actions(rule: StageRule, *, rules: dict[str, StageRule], as_of: datetime.date) -> list[RuleAction]:
    """What `rule` does on `as_of`, one action per criterion in the order they are tried, with
    `rules` (the set in force, `rule` among them) deciding whether the move needs approval. Empty
    for the last stage, which has nowhere to move cases on to."""
    move = rule_move(rule.stage)
    if move is None:
        return []
    transition, target = move
    needs_approval = requires_approval_into(target, rules)
    return [
        RuleAction(
            stage=rule.stage,
            transition=transition,
            target=target,
            needs_approval=needs_approval,
            criterion=criterion,
        )
        for criterion in rule_criteria(rule, as_of=as_of)
    ]


@dataclasses.dataclass(frozen=True)
class RulePreview:
    """How many cases of its stage a rule would move on (or propose moving) on a day."""

    target: str | None
    needs_approval: bool
    cases: int


def stage_rule_preview(rule: StageRule, *, as_of: datetime.date) -> RulePreview:
    """How many cases now in the rule's stage the rule (changed, not yet saved) would move on, or
    propose moving, when the nightly cycle runs on `as_of`: rule_actions, read as one count of the
    cases meeting any of its criteria (a case meeting two moves once). Cases that later stages'
    rules would then take further are not counted."""
    rules = {stage: other for stage, other in stage_rules_in_force().items() if other.pk != rule.pk}
    rules[rule.stage] = rule
    actions = rule_actions(rule, rules=rules, as_of=as_of)
    if not actions:
        move = rule_move(rule.stage)
        return RulePreview(target=move[1] if move else None, needs_approval=False, cases=0)
    first = actions[0]
    meets_any = functools.reduce(operator.or_, (action.criterion.filter for action in actions))
    rows = CollectionCase.objects.filter(Q(stage=rule.stage) & meets_any)
    if first.needs_approval:
        rows = rows.filter(rule_may_propose(first.target))
    else:
        # The transition's own conditions, as CASE_MACHINE.apply reads them when the cycle runs it.
        allowed = Q(pk__in=[])
        for transition in CASE_MACHINE.transitions(first.transition):
            if transition.source == rule.stage:
                allowed |= Q(stage=transition.source) & CASE_MACHINE.condition_filter(transition)
        rows = rows.filter(allowed)
    return RulePreview(target=first.target, needs_approval=first.needs_approval, cases=rows.count())
