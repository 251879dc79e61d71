"""The dashboard's records over the benchmark's portfolio, in INSERT ... SELECT statements: per
case four contact attempts and two reminders over the 120 days before the day, a conduct refusal
on one case in five, two payments on one case in two and one on one loan in ten without regard to
cases, the job runs, and 200 daily portfolio snapshots (the day's, with the balances swaying from
day to day). The same seed and day give the same rows."""

import datetime

from bench.collection_cycle.sql import execute, insert

DAYS = 120
SNAPSHOT_DAYS = 200


def _draw(number: str, salt: int, modulo: int) -> str:
    # A stable pseudo-random number in [0, modulo) from a row's number (the cycle benchmark's way).
    return f"(abs(hashtext(({number})::text || ':{salt}:' || %(seed)s::text)) %% {modulo})"


def _moment(number: str, salt: int) -> str:
    """A moment within the DAYS days before the day, between 08:00 and 20:00 desk time."""
    return (
        f"((%(as_of)s::date - 1 - {_draw(number, salt, DAYS)}::int)::timestamp + interval '8 hours' "
        f"+ {_draw(number, salt + 1, 720)} * interval '1 minute') AT TIME ZONE 'Asia/Shanghai'"
    )


_ATTEMPT_COLUMNS = {
    "case_id": "c.id",
    "contact_id": "ct.id",
    "channel": "'call'",
    "direction": "'outbound'",
    "attempted_at": _moment("c.id * 4 + k", 21),
    "outcome": f"""(ARRAY['no_answer', 'no_answer', 'busy', 'rpc', 'promise_to_pay', 'refused', 'wrong_number',
        'no_answer', 'rpc', 'busy'])[1 + {_draw("c.id * 4 + k", 23, 10)}]""",
    "collector_id": "c.assigned_to_id",
}
_ATTEMPT_SOURCE = """FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
    JOIN loans_contact ct ON ct.borrower_id = l.borrower_id
    CROSS JOIN generate_series(1, 4) AS k"""

_MESSAGE_COLUMNS = {
    "case_id": "c.id",
    "channel": "'sms'",
    "body": "'bench'",
    "scheduled_at": _moment("c.id * 2 + k", 31),
    "status": f"(ARRAY['sent', 'sent', 'sent', 'sent', 'sent', 'sent', 'sent', 'blocked', 'failed', 'queued'])"
    f"[1 + {_draw('c.id * 2 + k', 33, 10)}]",
    "idempotency_key": "'bench-dash:' || c.id || ':' || k",
}
_MESSAGE_SOURCE = "FROM collection_collectioncase c CROSS JOIN generate_series(1, 2) AS k"
_MESSAGE_BLOCKED = """UPDATE collection_outboundmessage SET blocked_rule = 'quiet_hours'
    WHERE status = 'blocked' AND idempotency_key LIKE 'bench-dash:%%'"""

_REFUSAL_COLUMNS = {
    "case_id": "c.id",
    "channel": "'call'",
    "attempted_at": _moment("c.id", 41),
    "attempted_by_id": "c.assigned_to_id",
    "rule": f"(ARRAY['quiet_hours', 'calls_per_number', 'calls_per_case', 'after_conversation'])"
    f"[1 + {_draw('c.id', 43, 4)}]",
}
_REFUSAL_SOURCE = f"FROM collection_collectioncase c WHERE {_draw('c.id', 45, 5)} = 0"

_CHANNELS = "(ARRAY['bank_transfer', 'app', 'app', 'card', 'cash', 'other'])"
_CASE_PAYMENT_COLUMNS = {
    "loan_id": "c.loan_id",
    "amount": f"(50 + {_draw('c.id * 2 + k', 51, 950)})::numeric",
    "received_at": _moment("c.id * 2 + k", 53),
    "channel": f"{_CHANNELS}[1 + {_draw('c.id * 2 + k', 55, 6)}]",
    "source": "'bench-dash'",
    "reference": "'case-' || c.id || '-' || k",
    "recorded_by_id": "NULL",
}
_CASE_PAYMENT_SOURCE = (
    f"FROM collection_collectioncase c CROSS JOIN generate_series(1, 2) AS k WHERE {_draw('c.id', 57, 2)} = 0"
)
_LOAN_PAYMENT_COLUMNS = {
    "loan_id": "l.id",
    "amount": f"(50 + {_draw('l.id', 61, 950)})::numeric",
    "received_at": _moment("l.id", 63),
    "channel": f"{_CHANNELS}[1 + {_draw('l.id', 65, 6)}]",
    "source": "'bench-dash'",
    "reference": "'loan-' || l.id",
    "recorded_by_id": "NULL",
}
_LOAN_PAYMENT_SOURCE = "FROM loans_loan l WHERE l.id %% 10 = 0"

# Each day's snapshot: the portfolio's rows per product and bucket today, the money swaying by up
# to 5 % from day to day and bucket to bucket.
_SNAPSHOT_SWAY = "(1 + (((d * 7 + COALESCE(s.bucket_id, 0) * 13) %% 101) - 50) / 1000.0)"
_SNAPSHOT_COLUMNS = {
    "as_of": "%(as_of)s::date - d",
    "product_id": "s.product_id",
    "bucket_id": "s.bucket_id",
    "loans": "s.loans",
    "delinquent_loans": "s.delinquent",
    "outstanding_principal": f"round(s.principal * {_SNAPSHOT_SWAY}, 2)",
    "total_outstanding": f"round(s.total * {_SNAPSHOT_SWAY}, 2)",
    "overdue_amount": f"round(s.overdue * {_SNAPSHOT_SWAY}, 2)",
}
_SNAPSHOT_SOURCE = """FROM (
        SELECT product_id, bucket_id, count(*) AS loans, count(*) FILTER (WHERE status = 'delinquent') AS delinquent,
            sum(outstanding_principal) AS principal,
            sum(outstanding_principal + outstanding_interest + outstanding_fees + outstanding_penalty) AS total,
            sum(overdue_amount) AS overdue
        FROM loans_loan GROUP BY product_id, bucket_id
    ) AS s CROSS JOIN generate_series(1, %(snapshot_days)s) AS d"""

_JOB_COLUMNS = {
    "job": "(ARRAY['collection_cycle', 'reminder_dispatch', 'promise_evaluation'])[1 + d %% 3]",
    "as_of": "%(as_of)s::date - d / 3",
    "status": "CASE WHEN d %% 17 = 5 THEN 'failed' ELSE 'succeeded' END",
    "started_at": "(%(as_of)s::date - d / 3)::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '2 hours'",
    "heartbeat_at": "(%(as_of)s::date - d / 3)::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '2 hours'",
    "finished_at": "(%(as_of)s::date - d / 3)::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '150 minutes'",
}
_JOB_SOURCE = "FROM generate_series(1, 90) AS d"


def history_build(*, seed: int, as_of: datetime.date) -> dict[str, int]:
    """Insert the dashboard's records; returns the rows made, by kind."""
    from django.db import transaction
    from django.utils import timezone

    from collection.models import ConductRefusal, ContactAttempt, JobRun, OutboundMessage
    from loans.models import Payment, PortfolioSnapshot

    params = {"seed": seed, "as_of": as_of, "now": timezone.now(), "snapshot_days": SNAPSHOT_DAYS}
    rows = {}
    with transaction.atomic():
        rows["attempts"] = insert(ContactAttempt, _ATTEMPT_COLUMNS, _ATTEMPT_SOURCE, params)
        rows["messages"] = insert(OutboundMessage, _MESSAGE_COLUMNS, _MESSAGE_SOURCE, params)
        execute(_MESSAGE_BLOCKED)
        rows["refusals"] = insert(ConductRefusal, _REFUSAL_COLUMNS, _REFUSAL_SOURCE, params)
        rows["payments on cases"] = insert(Payment, _CASE_PAYMENT_COLUMNS, _CASE_PAYMENT_SOURCE, params)
        rows["payments on loans"] = insert(Payment, _LOAN_PAYMENT_COLUMNS, _LOAN_PAYMENT_SOURCE, params)
        rows["snapshots"] = insert(PortfolioSnapshot, _SNAPSHOT_COLUMNS, _SNAPSHOT_SOURCE, params)
        rows["job runs"] = insert(JobRun, _JOB_COLUMNS, _JOB_SOURCE, params)
    return rows
