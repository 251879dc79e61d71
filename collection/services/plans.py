"""Repayment plans: proposing one within or beyond the product's policy, approving, rejecting
and cancelling it. A plan is a schedule beside the loan's contractual one, which stays untouched;
its installments are settled by promises_evaluate (promise_evaluation.py)."""

import dataclasses
import datetime
from collections.abc import Sequence
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import audit_change
from accounts.models import User
from loans.models import ZERO, Loan, Product
from loans.money import CENT

from ..access import case_access_check
from ..exceptions import CollectionError
from ..machine import LIVE_PLAN_STATUSES, OPEN_STAGES, Stage
from ..models import CollectionCase, PlanInstallment, RepaymentPlan
from .cases import case_de_escalate, case_negotiate
from .promises import amount_parse

__all__ = [
    "PLAN_AGREED_REASON",
    "PlanPolicyLimits",
    "plan_policy_breaches",
    "plan_policy_limits",
    "plan_term_months",
    "plan_propose",
    "plan_approve",
    "plan_reject",
    "plan_cancel",
]

# The reason the case's move on an agreed plan is logged with.
PLAN_AGREED_REASON = gettext_lazy("Repayment plan of %(total)s agreed")


def _plan_schedule(installments: Sequence[tuple[datetime.date, Decimal]]) -> list[tuple[datetime.date, Decimal]]:
    if not installments:
        raise CollectionError(_("A repayment plan needs at least one payment."))
    today = timezone.localdate()
    schedule = []
    previous: datetime.date | None = None
    for number, (due_date, amount) in enumerate(installments, start=1):
        amount = amount_parse(amount, what=_("Plan payment %(number)s") % {"number": number})
        if amount <= 0:
            raise CollectionError(_("Plan payment %(number)s must be more than zero.") % {"number": number})
        if due_date < today:
            raise CollectionError(
                _("Plan payment %(number)s is due in the past (%(due_date)s).")
                % {"number": number, "due_date": due_date}
            )
        if previous is not None and due_date <= previous:
            raise CollectionError(
                _("Plan payment %(number)s (%(due_date)s) must fall after the one before it (%(previous)s).")
                % {"number": number, "due_date": due_date, "previous": previous}
            )
        schedule.append((due_date, amount))
        previous = due_date
    return schedule


def plan_term_months(first: datetime.date, last: datetime.date) -> int:
    """Whole months from the first to the last plan date, a part month counting as one."""
    difference = relativedelta(last, first)
    months = difference.years * 12 + difference.months
    return months + 1 if difference.days else months


@dataclasses.dataclass(frozen=True)
class PlanPolicyLimits:
    """The product's plan limits for a plan of `total` on a loan with `outstanding_penalty`
    unpaid: the longest term (months from the first to the last payment), the largest penalty
    waiver and the smallest first payment, in money, with the shares they come from."""

    max_term_months: int
    max_waiver: Decimal
    waiver_share: Decimal
    outstanding_penalty: Decimal
    min_first_payment: Decimal
    first_payment_share: Decimal
    total: Decimal


def plan_policy_limits(*, product: Product, outstanding_penalty: Decimal, total: Decimal) -> PlanPolicyLimits:
    """What the product's policy allows a plan of `total` on a loan owing `outstanding_penalty`."""
    return PlanPolicyLimits(
        max_term_months=product.plan_max_term_months,
        max_waiver=(product.plan_max_waiver_share * outstanding_penalty).quantize(CENT),
        waiver_share=product.plan_max_waiver_share,
        outstanding_penalty=outstanding_penalty,
        min_first_payment=(product.plan_min_first_payment_share * total).quantize(CENT),
        first_payment_share=product.plan_min_first_payment_share,
        total=total,
    )


def plan_policy_breaches(
    *,
    product: Product,
    outstanding_penalty: Decimal,
    schedule: Sequence[tuple[datetime.date, Decimal]],
    waiver: Decimal,
) -> list[str]:
    """The product's plan limits (plan_policy_limits) a plan of these payments and this penalty
    waiver exceeds, each in words (empty within policy)."""
    total = sum((amount for _due, amount in schedule), ZERO)
    limits = plan_policy_limits(product=product, outstanding_penalty=outstanding_penalty, total=total)
    breaches = []
    first_date, last_date = schedule[0][0], schedule[-1][0]
    if last_date > first_date + relativedelta(months=limits.max_term_months):
        breaches.append(
            _("Term: the plan runs %(months)s months from its first to its last payment; the product allows %(max)s.")
            % {"months": plan_term_months(first_date, last_date), "max": limits.max_term_months}
        )
    # Compared unrounded, as before the limits were named: a waiver a fraction of a cent over is over.
    if waiver > limits.waiver_share * outstanding_penalty:
        breaches.append(
            _(
                "Penalty waiver: %(waiver)s is more than %(share)s%% of the %(penalty)s outstanding penalty "
                "(at most %(max)s)."
            )
            % {
                "waiver": waiver,
                "share": _percent(limits.waiver_share),
                "penalty": outstanding_penalty,
                "max": limits.max_waiver,
            }
        )
    if schedule[0][1] < limits.first_payment_share * total:
        breaches.append(
            _("First payment: %(first)s is less than %(share)s%% of the plan's %(total)s (at least %(min)s).")
            % {
                "first": schedule[0][1],
                "share": _percent(limits.first_payment_share),
                "total": total,
                "min": limits.min_first_payment,
            }
        )
    return breaches


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}"


def _plan_activated(*, plan: RepaymentPlan, case: CollectionCase, by: User) -> None:
    """An agreed plan takes an escalated case back to negotiation, and a case in reminder on to it."""
    reason = PLAN_AGREED_REASON % {"total": plan.total_amount}
    if case.stage == Stage.ESCALATION:
        case_de_escalate(case=case, by=by, reason=reason)
    elif case.stage == Stage.REMINDER:
        case_negotiate(case=case, by=by, reason=reason)


@transaction.atomic
def plan_propose(
    *,
    case: CollectionCase,
    by: User,
    installments: list[tuple[datetime.date, Decimal]],
    waive_penalty: Decimal = ZERO,
) -> RepaymentPlan:
    """Propose a repayment plan: payments (date, amount) beside the loan's contractual schedule,
    which stays untouched, optionally waiving part of the penalty.

    Dates are today or later and strictly increasing, amounts more than zero. The plan's total
    plus the waiver must cover at least what is overdue on the loan and at most what it owes in
    total; the waiver is at most the outstanding penalty. Within the product's policy (longest
    term from first to last payment, largest share of the penalty waived, smallest first payment
    as a share of the plan's total) the plan is active at once, moving an escalated case back to
    negotiation (and a case in reminder on to it); beyond it, the plan waits for a supervisor, its
    breaches listed in words. A case has at most one plan pending or active."""
    if not by.has_perm("collection.work_case"):
        raise PermissionDenied(_("You may not propose repayment plans."))
    case_access_check(case=case, by=by)
    if case.stage not in OPEN_STAGES:
        raise CollectionError(_("Cannot propose a plan: the case is %(stage)s.") % {"stage": case.get_stage_display()})
    schedule = _plan_schedule(installments)
    waiver = amount_parse(waive_penalty, what=_("The penalty waiver"))
    loan = Loan.objects.select_related("product").get(pk=case.loan_id)
    if waiver < 0 or waiver > loan.outstanding_penalty:
        raise CollectionError(
            _("The penalty waiver must be between zero and the %(penalty)s outstanding penalty.")
            % {"penalty": loan.outstanding_penalty}
        )
    total = sum((amount for _due, amount in schedule), ZERO)
    if total + waiver < loan.overdue_amount:
        raise CollectionError(
            _(
                "The plan's %(total)s and the %(waiver)s waived do not cover the %(overdue)s overdue; "
                "a plan must at least bring the loan up to date."
            )
            % {"total": total, "waiver": waiver, "overdue": loan.overdue_amount}
        )
    if total + waiver > loan.total_outstanding:
        raise CollectionError(
            _("The plan's %(total)s and the %(waiver)s waived are more than the %(outstanding)s the loan owes.")
            % {"total": total, "waiver": waiver, "outstanding": loan.total_outstanding}
        )
    if RepaymentPlan.objects.filter(case=case, status__in=LIVE_PLAN_STATUSES).exists():
        raise _live_plan_exists()

    breaches = plan_policy_breaches(
        product=loan.product, outstanding_penalty=loan.outstanding_penalty, schedule=schedule, waiver=waiver
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            plan = RepaymentPlan.objects.create(
                case=case,
                status=RepaymentPlan.Status.PENDING_APPROVAL if breaches else RepaymentPlan.Status.ACTIVE,
                total_amount=total,
                waived_penalty=waiver,
                policy_breaches="\n".join(breaches),
                proposed_by=by,
                proposed_at=now,
                decided_at=None if breaches else now,
            )
    except IntegrityError as error:  # another plan became live at the same moment
        raise _live_plan_exists() from error
    PlanInstallment.objects.bulk_create(
        PlanInstallment(plan=plan, sequence=number, due_date=due_date, amount=amount)
        for number, (due_date, amount) in enumerate(schedule, start=1)
    )
    if plan.status == RepaymentPlan.Status.ACTIVE:
        _plan_activated(plan=plan, case=case, by=by)
    return plan


def _live_plan_exists() -> CollectionError:
    return CollectionError(
        _("This case already has a repayment plan awaiting approval or active: cancel it before proposing another.")
    )


# The fields that say why: kept as the audit entry's reason rather than as a change.
AUDIT_REASON_FIELDS = ("decision_reason", "cancel_reason")


def _plan_update(*, plan: RepaymentPlan, by: User, allowed: Sequence[str], **fields) -> None:
    """Write `fields` on the plan if it is still in one of `allowed`, in one conditional UPDATE,
    so that of two people deciding at once only the first succeeds; the change goes to the audit
    trail (before and after, who and why: an UPDATE sends no signal the trail hears)."""
    before = {name: getattr(plan, name) for name in fields}
    if not RepaymentPlan.objects.filter(pk=plan.pk, status__in=allowed).update(**fields):
        current = RepaymentPlan.objects.filter(pk=plan.pk).values_list("status", flat=True).first()
        raise CollectionError(
            _("The plan is %(status)s now, so this cannot be done.")
            % {"status": RepaymentPlan.Status(current).label if current else _("gone")}
        )
    for name, value in fields.items():
        setattr(plan, name, value)
    audit_change(
        plan,
        {name: (before[name], value) for name, value in fields.items() if name not in AUDIT_REASON_FIELDS},
        by=by,
        reason=next((fields[name] for name in AUDIT_REASON_FIELDS if name in fields), ""),
    )


def _plan_decide(*, plan: RepaymentPlan, by: User, status: str, reason: str, allowed: Sequence[str]) -> None:
    """Move the plan to `status` if it is still in one of `allowed`, recording the decision."""
    _plan_update(
        plan=plan,
        by=by,
        allowed=allowed,
        status=status,
        decided_by=by,
        decided_at=timezone.now(),
        decision_reason=reason,
    )


@transaction.atomic
def plan_approve(*, plan: RepaymentPlan, by: User, reason: str = "") -> RepaymentPlan:
    """A supervisor approves a plan beyond policy: it becomes active, moving an escalated case
    back to negotiation (and a case in reminder on to it), with the approver as the actor.
    Only plans awaiting approval on open cases are approved, by someone who reaches the case and
    did not propose the plan (four eyes)."""
    if not by.has_perm("collection.approve_plan"):
        raise PermissionDenied(_("Only a supervisor may approve repayment plans."))
    case = CollectionCase.objects.get(pk=plan.case_id)
    case_access_check(case=case, by=by)
    if plan.proposed_by_id == by.pk:
        raise PermissionDenied(_("You cannot approve a plan you proposed: another supervisor decides it."))
    if case.stage not in OPEN_STAGES:
        raise CollectionError(
            _("Cannot approve the plan: the case is %(stage)s.") % {"stage": case.get_stage_display()}
        )
    _plan_decide(
        plan=plan,
        by=by,
        status=RepaymentPlan.Status.ACTIVE,
        reason=reason,
        allowed=[RepaymentPlan.Status.PENDING_APPROVAL],
    )
    plan.case = case
    _plan_activated(plan=plan, case=case, by=by)
    return plan


@transaction.atomic
def plan_reject(*, plan: RepaymentPlan, by: User, reason: str) -> RepaymentPlan:
    """A supervisor who reaches the case turns down a plan awaiting approval, saying why."""
    if not by.has_perm("collection.approve_plan"):
        raise PermissionDenied(_("Only a supervisor may reject repayment plans."))
    case_access_check(case=CollectionCase.objects.get(pk=plan.case_id), by=by)
    if not reason.strip():
        raise CollectionError(_("Rejecting a plan needs its reason."))
    _plan_decide(
        plan=plan,
        by=by,
        status=RepaymentPlan.Status.REJECTED,
        reason=reason,
        allowed=[RepaymentPlan.Status.PENDING_APPROVAL],
    )
    return plan


@transaction.atomic
def plan_cancel(*, plan: RepaymentPlan, by: User, reason: str) -> RepaymentPlan:
    """Call off a plan awaiting approval or active (the borrower wants another, or the case moved
    on), saying why; the case's stage stays as it is and its unsettled installments are no longer
    checked. Who cancelled and why are kept beside the approval, which stays on record. Only someone
    who reaches the case cancels."""
    if not by.has_perm("collection.work_case"):
        raise PermissionDenied(_("You may not cancel repayment plans."))
    case_access_check(case=CollectionCase.objects.get(pk=plan.case_id), by=by)
    if not reason.strip():
        raise CollectionError(_("Cancelling a plan needs its reason."))
    _plan_update(
        plan=plan,
        by=by,
        allowed=LIVE_PLAN_STATUSES,
        status=RepaymentPlan.Status.CANCELLED,
        cancelled_by=by,
        cancelled_at=timezone.now(),
        cancel_reason=reason,
    )
    return plan
