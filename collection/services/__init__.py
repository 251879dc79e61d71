"""Every change to collection cases, one function per business action (see each module)."""

from .attempts import attempt_log, call_consent_record
from .cases import (
    ALLOCATION_REASON,
    MOVE_SERVICES,
    allocation_load,
    allocation_pool,
    allocation_spread,
    case_assign,
    case_close,
    case_de_escalate,
    case_escalate,
    case_hold,
    case_litigate,
    case_negotiate,
    case_open_for_loan,
    case_resolve,
    case_resume,
    case_settle,
    case_settlement_agree,
    case_write_off,
    cases_allocate,
)
from .contacts import StaleContact, contact_update
from .escalations import (
    escalation_request_approve,
    escalation_request_create,
    escalation_request_reject,
    escalation_request_withdraw,
    escalation_targets,
)
from .plans import plan_approve, plan_cancel, plan_propose, plan_reject
from .promise_evaluation import promises_evaluate
from .promises import promise_take

__all__ = [
    "ALLOCATION_REASON",
    "MOVE_SERVICES",
    "StaleContact",
    "allocation_load",
    "allocation_pool",
    "allocation_spread",
    "attempt_log",
    "call_consent_record",
    "case_assign",
    "case_close",
    "case_de_escalate",
    "case_escalate",
    "case_hold",
    "case_litigate",
    "case_negotiate",
    "case_open_for_loan",
    "case_resolve",
    "case_resume",
    "case_settle",
    "case_settlement_agree",
    "case_write_off",
    "cases_allocate",
    "contact_update",
    "escalation_request_approve",
    "escalation_request_create",
    "escalation_request_reject",
    "escalation_request_withdraw",
    "escalation_targets",
    "plan_approve",
    "plan_cancel",
    "plan_propose",
    "plan_reject",
    "promise_take",
    "promises_evaluate",
]
