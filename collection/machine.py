"""The case machine: the stages a collection case walks, its transitions and their conditions,
which moves a supervisor decides and which stage leads on from which. docs/case-machine.md draws
it and says who may run each transition.

`CollectionCase` (collection.models) is built on `CaseMachine`. The services run a transition on
one case (`CASE_MACHINE.run`), the nightly cycle on a set of cases (`CASE_MACHINE.apply`), both
through the machinery in collection.fsm."""

import datetime
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField

from loans.models import ZERO, Loan, Payment

from .fsm import Condition, Machine, logged_transition


class Stage(models.TextChoices):
    REMINDER = "reminder", _("Reminder")
    NEGOTIATION = "negotiation", _("Negotiation")
    ESCALATION = "escalation", _("Escalation")
    LITIGATION = "litigation", _("Litigation")
    ON_HOLD = "on_hold", _("On hold")
    RESOLVED = "resolved", _("Resolved")
    SETTLED = "settled", _("Settled")
    WRITTEN_OFF = "written_off", _("Written off")
    CLOSED = "closed", _("Closed")


# The four stages a case is worked in, in the order it walks them.
WORKING_STAGES = [Stage.REMINDER, Stage.NEGOTIATION, Stage.ESCALATION, Stage.LITIGATION]
OPEN_STAGES = [*WORKING_STAGES, Stage.ON_HOLD]
CLOSED_STAGES = [Stage.RESOLVED, Stage.SETTLED, Stage.WRITTEN_OFF, Stage.CLOSED]

# What commits a borrower, for negotiation: a pending promise to pay, a repayment plan on the table
# (awaiting approval or active; a case has at most one). Statuses of PromiseToPay and RepaymentPlan.
PENDING_PROMISE = "pending"
LIVE_PLAN_STATUSES = ("pending_approval", "active")


class HoldReason(models.TextChoices):
    DISPUTE = "dispute", _("Dispute")
    HARDSHIP = "hardship", _("Hardship")
    COMPLAINT = "complaint", _("Complaint")


def stage_entry_fields(target: str, at: datetime.datetime) -> dict:
    """What entering `target` at `at` writes besides the stage: when the stage was entered, and
    for an ending when the case closed."""
    fields = {"stage_entered_at": at}
    if target in CLOSED_STAGES:
        fields["closed_at"] = at
    return fields


# --- conditions: each once for one case and once for a set of cases -----------------------------


def _negotiation_grounds_filter(cases: type) -> Q:
    same_case = cases.objects.filter(pk=OuterRef("pk"))
    return (
        Q(last_right_party_contact_at__isnull=False)
        | Q(Exists(same_case.filter(promises__status=PENDING_PROMISE)))
        | Q(Exists(same_case.filter(plans__status__in=LIVE_PLAN_STATUSES)))
    )


HAS_NEGOTIATION_GROUNDS = Condition(
    "has_negotiation_grounds",
    # Negotiation starts once the borrower has been reached or has committed to something.
    test=lambda case: (
        case.last_right_party_contact_at is not None
        or case.promises.filter(status=PENDING_PROMISE).exists()
        or case.plans.filter(status__in=LIVE_PLAN_STATUSES).exists()
    ),
    filter=_negotiation_grounds_filter,
    unmet=_("the borrower has not been reached, and nothing has been promised or planned"),
)

LOAN_IS_CURRENT_OR_PAID_OFF = Condition(
    "loan_is_current_or_paid_off",
    test=lambda case: Loan.objects.filter(
        pk=case.loan_id, status__in=[Loan.Status.CURRENT, Loan.Status.PAID_OFF]
    ).exists(),
    filter=lambda cases: Q(loan__status__in=[Loan.Status.CURRENT, Loan.Status.PAID_OFF]),
    unmet=_("the loan is still past due"),
)


def _settlement_paid(case) -> bool:
    if case.settlement_amount is None or case.settlement_agreed_at is None:
        return False
    paid = Payment.objects.standing().filter(loan_id=case.loan_id, received_at__gte=case.settlement_agreed_at)
    return (paid.aggregate(total=Sum("amount"))["total"] or ZERO) >= case.settlement_amount


def _settlement_paid_filter(cases: type) -> Q:
    paid = Coalesce(
        Payment.objects.standing()
        .filter(loan=OuterRef("loan_id"), received_at__gte=OuterRef("settlement_agreed_at"))
        .values("loan")
        .annotate(total=Sum("amount"))
        .values("total"),
        ZERO,
    )
    return Q(settlement_amount__isnull=False, settlement_agreed_at__isnull=False, settlement_amount__lte=paid)


SETTLEMENT_IS_APPROVED = Condition(
    "settlement_is_approved",
    # A settlement below the approval share settles only once a supervisor approved it.
    test=lambda case: not case.settlement_awaits_approval,
    filter=lambda cases: Q(settlement_awaits_approval=False),
    unmet=_("the agreed settlement waits for a supervisor's approval"),
)

SETTLEMENT_IS_PAID = Condition(
    "settlement_is_paid",
    # The agreed settlement amount has arrived since it was agreed.
    test=_settlement_paid,
    filter=_settlement_paid_filter,
    unmet=_("the agreed settlement has not been paid in full"),
)


# --- the transitions -----------------------------------------------------------------------------


def case_transition(*, source, target, permission: str, action: str, conditions=(), decided: bool = False):
    """A transition of the case machine. `decided`: a move to a later stage that a supervisor
    decides (directly, or by approving an escalation request)."""
    return logged_transition(
        field="stage",
        source=source,
        target=target,
        permission=permission,
        action=action,
        conditions=conditions,
        decided=decided,
    )


class CaseMachine(ConcurrentTransitionMixin, models.Model):
    """The stage of a case and what its transitions write. Transition methods change fields only;
    the services save, in a transaction, and the save loses to anyone who moved the case first."""

    stage = FSMField(_("stage"), default=Stage.REMINDER, choices=Stage.choices, protected=True, max_length=16)
    stage_entered_at = models.DateTimeField(_("stage entered at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    held_stage = models.CharField(
        _("stage before hold"),
        max_length=16,
        choices=Stage.choices,
        blank=True,
        help_text=_("Where a held case resumes."),
    )
    hold_reason = models.CharField(_("hold reason"), max_length=16, choices=HoldReason.choices, blank=True)
    close_reason = models.TextField(_("closing reason"), blank=True)

    class Meta:
        abstract = True

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    def _enter(self, target: str) -> None:
        for field, value in stage_entry_fields(target, timezone.now()).items():
            setattr(self, field, value)

    @case_transition(
        source=Stage.REMINDER,
        target=Stage.NEGOTIATION,
        permission="collection.work_case",
        action=_("move the case to negotiation"),
        conditions=[HAS_NEGOTIATION_GROUNDS],
    )
    def negotiate(self, by=None, description=None):
        self._enter(Stage.NEGOTIATION)

    @case_transition(
        source=[Stage.REMINDER, Stage.NEGOTIATION],
        target=Stage.ESCALATION,
        permission="collection.escalate_case",
        action=_("escalate the case"),
        decided=True,
    )
    def escalate(self, by=None, description=None):
        self._enter(Stage.ESCALATION)

    @case_transition(
        source=Stage.ESCALATION,
        target=Stage.LITIGATION,
        permission="collection.litigate_case",
        action=_("send the case to litigation"),
        decided=True,
    )
    def litigate(self, by=None, description=None):
        self._enter(Stage.LITIGATION)

    @case_transition(
        source=Stage.ESCALATION,
        target=Stage.NEGOTIATION,
        permission="collection.work_case",
        action=_("move the case back to negotiation"),
    )
    def de_escalate(self, by=None, description=None):
        self._enter(Stage.NEGOTIATION)

    @case_transition(
        source=WORKING_STAGES,
        target=Stage.ON_HOLD,
        permission="collection.hold_case",
        action=_("put the case on hold"),
    )
    def hold(self, hold_reason: str, by=None, description=None):
        self.held_stage = self.stage
        self.hold_reason = hold_reason
        self._enter(Stage.ON_HOLD)

    @case_transition(
        source=Stage.ON_HOLD,
        target=RETURN_VALUE(*WORKING_STAGES),
        permission="collection.hold_case",
        action=_("resume the case"),
    )
    def resume(self, by=None, description=None):
        resumed = self.held_stage or Stage.REMINDER
        self.held_stage = ""
        self.hold_reason = ""
        self._enter(resumed)
        return resumed

    @case_transition(
        source=OPEN_STAGES,
        target=Stage.RESOLVED,
        permission="collection.work_case",
        action=_("resolve the case"),
        conditions=[LOAN_IS_CURRENT_OR_PAID_OFF],
    )
    def resolve(self, by=None, description=None):
        self._enter(Stage.RESOLVED)

    @case_transition(
        source=OPEN_STAGES,
        target=Stage.SETTLED,
        permission="collection.settle_case",
        action=_("settle the case"),
        conditions=[SETTLEMENT_IS_APPROVED, SETTLEMENT_IS_PAID],
    )
    def settle(self, by=None, description=None):
        self._enter(Stage.SETTLED)

    @case_transition(
        source=[Stage.ESCALATION, Stage.LITIGATION],
        target=Stage.WRITTEN_OFF,
        permission="collection.write_off_case",
        action=_("write off the case"),
    )
    def write_off(self, by=None, description=None):
        self._enter(Stage.WRITTEN_OFF)

    @case_transition(
        source=OPEN_STAGES,
        target=Stage.CLOSED,
        permission="collection.close_case",
        action=_("close the case"),
    )
    def close(self, close_reason: str, by=None, description=None):
        self.close_reason = close_reason
        self._enter(Stage.CLOSED)


CASE_MACHINE = Machine(
    model="collection.CollectionCase",
    field="stage",
    doc=Path(settings.BASE_DIR) / "docs" / "case-machine.md",
    entering=stage_entry_fields,
)


def later_stage_moves(stage: str) -> dict[str, str]:
    """The moves a supervisor decides from `stage` to a later working stage, as {target stage:
    transition name}: where an escalation request may ask to go and where a stage rule moves a
    case on. Empty from the last stage, and from a held or closed case."""
    if stage not in WORKING_STAGES:
        return {}
    later = WORKING_STAGES[WORKING_STAGES.index(stage) + 1 :]
    moves = {}
    for name in CASE_MACHINE.transition_names():
        if not CASE_MACHINE.custom(name, "decided", False):
            continue
        for declared in CASE_MACHINE.transitions(name):
            if declared.source == stage and declared.target in later:
                moves[str(declared.target)] = name
    return dict(sorted(moves.items(), key=lambda move: WORKING_STAGES.index(move[0])))
