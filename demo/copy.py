"""Writing generated rows fast: COPY on PostgreSQL (on a worker thread, while Python generates
the next chunk), executemany elsewhere; and taking the keys and indexes off empty tables while
they are filled."""

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from django.db import connection, models
from django_fsm_log.models import StateLog

from collection.models import (
    CallConsent,
    CaseAssignment,
    CollectionCase,
    ConductRefusal,
    ContactAttempt,
    EscalationRequest,
    OutboundMessage,
    PlanInstallment,
    PromiseToPay,
    RepaymentPlan,
)
from loans.models import Borrower, Contact, Installment, Loan, Payment, PaymentAllocation

ZERO_YUAN = "0.00"


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}" if fen else ZERO_YUAN


def utc_text(moment: datetime) -> str:
    """An aware datetime as UTC ISO text: COPY reads it, and without its "+00:00" it is what
    Django stores on SQLite."""
    return moment.astimezone(UTC).isoformat(" ")


def plain(texts: list[str]) -> list[str]:
    """Drop any text COPY would need escaped (a tab, a newline, a backslash): none is expected."""
    return [text for text in texts if not any(char in text for char in "\t\n\r\\")]


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class Table:
    """The columns of one model that the generator fills, in the order of its row tuples.
    `free_text` names the fields whose text may hold a newline or a tab (a letter's body), which
    COPY needs escaped; every other generated text never does."""

    model: type[models.Model]
    fields: tuple[str, ...]
    free_text: tuple[str, ...] = ()

    @cached_property
    def columns(self) -> list[str]:
        return [self.model._meta.get_field(name).column for name in self.fields]

    @cached_property
    def datetime_positions(self) -> list[int]:
        return [
            position
            for position, name in enumerate(self.fields)
            if isinstance(self.model._meta.get_field(name), models.DateTimeField)
        ]

    @cached_property
    def free_text_positions(self) -> list[int]:
        return [self.fields.index(name) for name in self.free_text]


BORROWERS = Table(
    Borrower,
    (
        "id",
        "name",
        "national_id",
        "date_of_birth",
        "province",
        "city",
        "address",
        "time_zone",
        "lost_contact",
        "lost_contact_since",
        "created_at",
        "updated_at",
    ),
)
CONTACTS = Table(
    Contact,
    (
        "id",
        "borrower",
        "kind",
        "value",
        "name",
        "relation",
        "verification",
        "verified_at",
        "do_not_contact",
        "opt_out_call",
        "opt_out_sms",
        "opt_out_email",
        "source",
        "created_at",
        "updated_at",
    ),
)
LOANS = Table(
    Loan,
    (
        "id",
        "account_number",
        "borrower",
        "product",
        "principal",
        "annual_rate",
        "disbursed_on",
        "term_months",
        "status",
        "needs_ageing",
        "outstanding_principal",
        "outstanding_interest",
        "outstanding_fees",
        "outstanding_penalty",
        "overdue_amount",
        "created_at",
        "updated_at",
    ),
)
# The amounts in Installment.COMPONENTS order, as the generator keeps them.
INSTALLMENTS = Table(
    Installment,
    (
        "id",
        "loan",
        "sequence",
        "due_date",
        *(f"{component}_due" for component in Installment.COMPONENTS),
        *(f"{component}_paid" for component in Installment.COMPONENTS),
        "is_paid",
        "paid_on",
    ),
)
PAYMENTS = Table(
    Payment,
    (
        "id",
        "loan",
        "amount",
        "received_at",
        "channel",
        "source",
        "reference",
        "created_at",
    ),
)
ALLOCATIONS = Table(PaymentAllocation, ("id", "payment", "installment", "component", "amount"))
PORTFOLIO_TABLES = (BORROWERS, CONTACTS, LOANS, INSTALLMENTS, PAYMENTS, ALLOCATIONS)
PORTFOLIO_MODELS = tuple(table.model for table in PORTFOLIO_TABLES)


class RowWriter:
    """Appends a chunk's rows to the given tables through one cursor. On PostgreSQL each
    table's rows go in one COPY, on a worker thread, so that the server stores one chunk while
    Python generates the next (the main thread does not touch the connection meanwhile)."""

    def __init__(self, cursor, tables: Sequence[Table]):
        self.tables = tuple(tables)
        self.postgres = connection.vendor == "postgresql"
        # Django's cursor wrapper around psycopg's: the worker thread uses psycopg's directly.
        self.cursor = cursor.cursor if self.postgres else cursor
        self.executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-demo-copy") if self.postgres else None
        )
        self.pending: Future | None = None
        self.sql = {}
        for table in self.tables:
            columns = ", ".join(connection.ops.quote_name(column) for column in table.columns)
            name = connection.ops.quote_name(table.model._meta.db_table)
            if self.postgres:
                # Rows go as text built with str(): None reads as NULL, "True"/"False" are booleans,
                # str() of dates and aware datetimes is ISO 8601. Generated text holds a tab, a
                # newline or a backslash (COPY's special characters) only in free-text columns,
                # which are escaped.
                self.sql[table] = f"COPY {name} ({columns}) FROM STDIN WITH (NULL 'None')"
            else:
                placeholders = ", ".join(["%s"] * len(table.fields))
                self.sql[table] = f"INSERT INTO {name} ({columns}) VALUES ({placeholders})"  # noqa: S608

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.wait()
        finally:
            if self.executor is not None:
                self.executor.shutdown()

    def write(self, rows: dict[Table, list[tuple]]) -> None:
        if self.executor is None:
            self._write(rows)
            return
        self.wait()
        self.pending = self.executor.submit(self._write, rows)

    def wait(self) -> None:
        """Until the chunk being written is stored; raises what writing it raised."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def _write(self, rows: dict[Table, list[tuple]]) -> None:
        for table in self.tables:
            if not rows.get(table):
                continue
            if self.postgres:
                with self.cursor.copy(self.sql[table]) as copy:
                    copy.write(
                        "\n".join(["\t".join(map(str, row)) for row in self._escaped(table, rows[table])]) + "\n"
                    )
            else:
                self.cursor.executemany(self.sql[table], self._adapted(table, rows[table]))

    @staticmethod
    def _escaped(table: Table, rows: list[tuple]) -> list[tuple]:
        positions = table.free_text_positions
        if not positions:
            return rows
        return [
            tuple(
                value.translate(_COPY_ESCAPES) if index in positions and value is not None else value
                for index, value in enumerate(row)
            )
            for row in rows
        ]

    @staticmethod
    def _adapted(table: Table, rows: list[tuple]) -> list[tuple]:
        """Datetimes come as UTC text ending in "+00:00"; SQLite stores them without it."""
        positions = table.datetime_positions
        if not positions:
            return rows
        return [
            tuple(value[:-6] if index in positions and value is not None else value for index, value in enumerate(row))
            for row in rows
        ]


@contextmanager
def bulk_load(cursor, models_loaded: Sequence[type[models.Model]]):
    """On PostgreSQL, take the foreign keys and the secondary indexes off the (empty) tables of
    `models_loaded` while they are filled, and put back exactly what was there afterwards, the way
    pg_restore loads data: one set-based check and one index build instead of one per row.
    It all happens in the caller's transaction, so a failure restores the schema too.
    Primary keys, unique and check constraints stay and are checked row by row."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in models_loaded]
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid::regclass::text, conname",
        [tables],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisunique AND NOT indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid) "
        "ORDER BY indexrelid::regclass::text",
        [tables],
    )
    indexes = cursor.fetchall()
    quote = connection.ops.quote_name
    # Checks still queued in this transaction (say, from deleting an earlier portfolio) must run
    # before the tables can be altered.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table, name, _definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    # Room to sort in memory while building the indexes, for this transaction only.
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
    # Back to Django's default for the rest of an enclosing transaction: foreign keys deferred.
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    cursor.execute("ANALYZE " + ", ".join(quote(table) for table in tables))


# --- the worked history: cases and what the desk did with them ---------------------------------

CASES = Table(
    CollectionCase,
    (
        "id",
        "loan",
        "stage",
        "assigned_to",
        "team",
        "opened_at",
        "stage_entered_at",
        "closed_at",
        "held_stage",
        "hold_reason",
        "last_right_party_contact_at",
        "broken_promises",
        "attention_since",
        "settlement_amount",
        "settlement_agreed_at",
        "close_reason",
    ),
)
ASSIGNMENTS = Table(
    CaseAssignment,
    ("id", "case", "assigned_to", "previous", "team", "assigned_by", "assigned_at", "reason"),
    free_text=("reason",),
)
TRANSITIONS = Table(
    StateLog,
    ("id", "timestamp", "by", "source_state", "state", "transition", "content_type", "object_id", "description"),
    free_text=("description",),
)
ATTEMPTS = Table(
    ContactAttempt,
    (
        "id",
        "case",
        "contact",
        "channel",
        "direction",
        "attempted_at",
        "duration_seconds",
        "outcome",
        "note",
        "collector",
        "second_collector",
        "created_at",
    ),
    free_text=("note",),
)
REFUSALS = Table(
    ConductRefusal,
    (
        "id",
        "case",
        "contact",
        "channel",
        "attempted_at",
        "attempted_by",
        "rule",
        "detail",
        "next_allowed_at",
        "created_at",
    ),
    free_text=("detail",),
)
CONSENTS = Table(CallConsent, ("id", "case", "given_at", "valid_until", "note", "recorded_by"), free_text=("note",))
PROMISES = Table(
    PromiseToPay,
    ("id", "case", "amount", "due_date", "promised_at", "taken_by", "attempt", "status", "amount_paid", "evaluated_at"),
)
PLANS = Table(
    RepaymentPlan,
    (
        "id",
        "case",
        "status",
        "total_amount",
        "waived_penalty",
        "policy_breaches",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "cancelled_by",
        "cancelled_at",
        "cancel_reason",
    ),
    free_text=("policy_breaches", "decision_reason", "cancel_reason"),
)
PLAN_INSTALLMENTS = Table(
    PlanInstallment, ("id", "plan", "sequence", "due_date", "amount", "amount_paid", "status", "evaluated_at")
)
ESCALATION_REQUESTS = Table(
    EscalationRequest,
    (
        "id",
        "case",
        "target_stage",
        "requested_by",
        "reason",
        "status",
        "decided_by",
        "decided_at",
        "decision_reason",
        "created_at",
    ),
    free_text=("reason", "decision_reason"),
)
MESSAGES = Table(
    OutboundMessage,
    (
        "id",
        "case",
        "contact",
        "step",
        "channel",
        "language",
        "recipient",
        "body",
        "scheduled_at",
        "status",
        "attempts",
        "last_error",
        "blocked_rule",
        "sent_at",
        "provider_reference",
        "idempotency_key",
        "created_at",
        "updated_at",
    ),
    free_text=("body", "last_error"),
)
HISTORY_TABLES = (
    CASES,
    ASSIGNMENTS,
    TRANSITIONS,
    ATTEMPTS,
    REFUSALS,
    CONSENTS,
    PROMISES,
    PLANS,
    PLAN_INSTALLMENTS,
    ESCALATION_REQUESTS,
    MESSAGES,
)
HISTORY_MODELS = tuple(table.model for table in HISTORY_TABLES)
HISTORY_NAMES = dict(
    zip(
        HISTORY_TABLES,
        (
            "cases",
            "assignments",
            "transitions",
            "attempts",
            "refusals",
            "consents",
            "promises",
            "plans",
            "plan installments",
            "escalation requests",
            "messages",
        ),
        strict=True,
    )
)
