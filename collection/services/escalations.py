"""Escalation requests: a move to a later stage that waits for a supervisor's decision.

A collector asks for one (with a reason), or a stage rule proposes one (the reason names the
rule). A supervisor approves it, which runs the case's transition through the case services
with the supervisor as the actor, or rejects it with a reason; the requester may withdraw it."""

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User

from ..access import case_access_check
from ..exceptions import CollectionError, StaleCase
from ..machine import CASE_MACHINE, WORKING_STAGES, Stage, later_stage_moves
from ..models import CollectionCase, EscalationRequest
from .cases import MOVE_SERVICES

__all__ = [
    "REQUEST_APPROVED_REASON",
    "escalation_request_create",
    "escalation_request_approve",
    "escalation_request_reject",
    "escalation_request_withdraw",
    "escalation_targets",
]


# The reason an approved request's move is logged with.
REQUEST_APPROVED_REASON = gettext_lazy("Escalation request #%(number)s approved: %(reason)s")


def escalation_targets(*, case: CollectionCase) -> dict[str, str]:
    """The later stages an escalation request may ask for from where the case is now, each with
    the transition that gets it there: the moves a supervisor decides from the case's stage
    (collection.machine.later_stage_moves) whose conditions the case meets."""
    return {
        target: name
        for target, name in later_stage_moves(case.stage).items()
        if CASE_MACHINE.conditions_met(case, name)
    }


def _stage_label(stage: str) -> str:
    return str(Stage(stage).label)


def _lock_pending(request: EscalationRequest) -> None:
    """Lock the request's row and make sure it still awaits a decision (two supervisors deciding
    at once: the second one finds it decided)."""
    status = (
        EscalationRequest.objects.select_for_update().filter(pk=request.pk).values_list("status", flat=True).first()
    )
    if status != EscalationRequest.Status.PENDING:
        label = EscalationRequest.Status(status).label if status else _("gone")
        raise CollectionError(
            _("This escalation request is already %(status)s: only pending requests can be decided.")
            % {"status": str(label).lower()}
        )


def _require_decider(by: User) -> None:
    if not by.has_perm("collection.decide_escalation"):
        raise PermissionDenied(_("Only a supervisor may decide escalation requests."))


@transaction.atomic
def escalation_request_create(
    *, case: CollectionCase, target_stage: str, reason: str, by: User | None = None
) -> EscalationRequest:
    """Ask a supervisor to move the case to a later stage, with a reason: `by` is the collector
    asking, None a stage rule proposing it. The target must be a stage the case may be moved on to
    from where it is (escalation_targets). Asking again while a request for the same stage is
    pending returns that request, with its original reason and requester."""
    reason = (reason or "").strip()
    if not reason:
        raise CollectionError(_("An escalation request needs its reason."))
    if by is not None:
        if not by.has_perm("collection.work_case"):
            raise PermissionDenied(_("You may not ask for an escalation."))
        case_access_check(case=case, by=by)
    targets = escalation_targets(case=case)
    if target_stage not in targets:
        if targets:
            allowed = ", ".join(_stage_label(stage) for stage in WORKING_STAGES if stage in targets)
            raise CollectionError(
                _("A case in %(stage)s can only be asked to move to: %(allowed)s.")
                % {"stage": _stage_label(case.stage), "allowed": allowed}
            )
        raise CollectionError(
            _("A case in %(stage)s cannot be escalated by a request.") % {"stage": _stage_label(case.stage)}
        )
    # One pending request per case and target (a partial unique constraint): of two asking at
    # once, the second gets the first's request.
    pending = EscalationRequest.objects.filter(
        case=case, target_stage=target_stage, status=EscalationRequest.Status.PENDING
    )
    existing = pending.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return EscalationRequest.objects.create(
                case=case, target_stage=target_stage, requested_by=by, reason=reason
            )
    except IntegrityError:  # someone filed the same request a moment ago
        return pending.get()


@transaction.atomic
def escalation_request_approve(*, request: EscalationRequest, by: User, reason: str = "") -> EscalationRequest:
    """Approve a pending request: the case moves to the requested stage through its service, with
    the approver as the actor and a reason naming the request. If the case changed meanwhile or
    can no longer make the move, nothing is written and the request stays pending. The approver
    must reach the case (a supervisor: their own team's cases) and cannot approve their own request."""
    _require_decider(by)
    case = request.case
    case_access_check(case=case, by=by)
    if request.requested_by_id is not None and request.requested_by_id == by.pk:
        raise PermissionDenied(_("You cannot approve your own escalation request: another supervisor decides it."))
    _lock_pending(request)
    reason = (reason or "").strip()
    transition_name = escalation_targets(case=case).get(request.target_stage)
    if transition_name is None:
        raise CollectionError(
            _(
                "The case is now in %(stage)s and can no longer move to %(target)s: "
                "the escalation request stays pending; reject or withdraw it."
            )
            % {"stage": _stage_label(case.stage), "target": _stage_label(request.target_stage)}
        )
    transition_reason = REQUEST_APPROVED_REASON % {
        "number": request.pk,
        "reason": reason or request.reason,
    }
    try:
        MOVE_SERVICES[transition_name](case=case, by=by, reason=transition_reason)
    except CollectionError as error:
        # Same kind of error (a StaleCase stays one, so callers can offer a reload), told
        # that nothing was decided.
        kept = StaleCase() if isinstance(error, StaleCase) else CollectionError(error.message)
        kept.message = _("%(why)s The escalation request stays pending.") % {"why": error.message}
        kept.args = (kept.message,)
        raise kept from error
    return _decide(request=request, status=EscalationRequest.Status.APPROVED, by=by, reason=reason)


@transaction.atomic
def escalation_request_reject(*, request: EscalationRequest, by: User, reason: str) -> EscalationRequest:
    """Turn a pending request down, with the reason the requester will read; the case stays
    where it is. Only someone who may decide escalations, and who reaches the case, rejects."""
    _require_decider(by)
    case_access_check(case=request.case, by=by)
    reason = (reason or "").strip()
    if not reason:
        raise CollectionError(_("Rejecting an escalation request needs a reason."))
    _lock_pending(request)
    return _decide(request=request, status=EscalationRequest.Status.REJECTED, by=by, reason=reason)


@transaction.atomic
def escalation_request_withdraw(*, request: EscalationRequest, by: User) -> EscalationRequest:
    """The requester takes back their own pending request, while the case is still theirs to work.
    A rule's proposal has no requester: a supervisor rejects it instead."""
    if request.requested_by_id is None or request.requested_by_id != by.pk:
        raise PermissionDenied(_("Only the collector who asked may withdraw an escalation request."))
    case_access_check(case=request.case, by=by)
    _lock_pending(request)
    return _decide(request=request, status=EscalationRequest.Status.WITHDRAWN, by=by, reason="")


def _decide(*, request: EscalationRequest, status: str, by: User, reason: str) -> EscalationRequest:
    request.status = status
    request.decided_by = by
    request.decided_at = timezone.now()
    request.decision_reason = reason
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return request
