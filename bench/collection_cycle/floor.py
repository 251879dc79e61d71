"""The floor: the nightly cycle's work as hand-written set-based SQL."""

# ruff: noqa: S608 - the statements here are built from this module's own names and numbers;
# every value from outside (day, seed, ids) is bound as a parameter.

import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from django_fsm_log.models import StateLog

from .project import CaseAssignment, CollectionCase, EscalationRequest, PortfolioSnapshot, desk_day_start, system_user
from .sql import execute, insert_sql


class Floor:
    """The nightly cycle's work for a day as hand-written SQL statements over whole tables, step
    by step in the cycle's order; thresholds are read from the stage rules and the bucket table,
    as the cycle reads them."""

    OPEN_STAGES = ("reminder", "negotiation", "escalation", "litigation", "on_hold")
    FINAL_ENDINGS = ("settled", "written_off", "closed")
    WORKING_STAGES = ("reminder", "negotiation", "escalation", "litigation")
    MOVES = {"reminder": "escalate", "negotiation": "escalate", "escalation": "litigate"}
    TARGETS = {"escalate": "escalation", "litigate": "litigation"}

    def __init__(self, *, as_of: datetime.date):
        self.as_of = as_of
        self.now = timezone.now()
        self.params = {
            "as_of": as_of,
            "now": self.now,
            "system": system_user().pk,
            "case_type": ContentType.objects.get_for_model(CollectionCase).pk,
            "open_stages": list(self.OPEN_STAGES),
            "open_or_final": [*self.OPEN_STAGES, *self.FINAL_ENDINGS],
        }

    def steps(self):
        """The steps in the cycle's order, as (name, callable returning its counts)."""
        return [
            ("refresh", self.refresh),
            ("open", self.open),
            ("allocate", self.allocate),
            ("resolve", self.resolve),
            ("promises", self.promises),
            ("stage_rules", self.stage_rules),
            ("reassign", self.reassign),
            ("snapshot", self.snapshot),
        ]

    def refresh(self) -> dict[str, int]:
        """Age the loans that can change since the portfolio's day (the last finished ageing run):
        those whose DPD crosses the first day late or a bucket's edge, those with an unpaid
        installment falling late, those marked as needing ageing; write those whose oldest
        unpaid due date, grace end, overdue amount, status or bucket changes; record the run."""
        remaining = " + ".join(f"i.{c}_due - i.{c}_paid" for c in ("principal", "interest", "fees", "penalty"))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT as_of, rules FROM loans_ageingrun WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
            )
            since, rules = cursor.fetchone()
        params = {**self.params, "since": min(since, self.as_of), "until": max(since, self.as_of), "rules": rules}
        execute(
            """
            CREATE TEMPORARY TABLE floor_read ON COMMIT DROP AS
            WITH edges AS (
                SELECT dpd FROM (
                    SELECT 1 AS dpd UNION SELECT min_dpd FROM loans_delinquencybucket
                    UNION SELECT max_dpd + 1 FROM loans_delinquencybucket WHERE max_dpd IS NOT NULL
                ) AS e WHERE dpd > 0
            )
                SELECT l.id FROM loans_loan l JOIN edges e
                    ON l.grace_ends_on > %(since)s::date - e.dpd AND l.grace_ends_on <= %(until)s::date - e.dpd
                UNION SELECT i.loan_id FROM loans_installment i
                    JOIN loans_loan l ON l.id = i.loan_id JOIN loans_product p ON p.id = l.product_id
                    WHERE NOT i.is_paid
                        AND i.due_date >= %(since)s::date - (SELECT max(grace_days) FROM loans_product)
                        AND i.due_date < %(until)s::date - (SELECT min(grace_days) FROM loans_product)
                        AND EXISTS (SELECT 1 FROM loans_installment o
                                    WHERE o.loan_id = i.loan_id AND NOT o.is_paid AND o.due_date < i.due_date)
                        AND %(since)s::date - i.due_date <= p.grace_days AND %(until)s::date - i.due_date > p.grace_days
                UNION SELECT id FROM loans_loan WHERE needs_ageing
            """,
            params,
        )
        execute("ANALYZE floor_read")
        aged = execute(
            f"""
            WITH unpaid AS (
                SELECT l.id, l.status, min(i.due_date) AS oldest, min(i.due_date) + p.grace_days AS grace_ends,
                    COALESCE(sum({remaining}) FILTER (WHERE %(as_of)s::date - i.due_date > p.grace_days), 0) AS overdue
                FROM floor_read c JOIN loans_loan l ON l.id = c.id JOIN loans_product p ON p.id = l.product_id
                LEFT JOIN loans_installment i ON i.loan_id = l.id AND NOT i.is_paid
                GROUP BY l.id, l.status, p.grace_days
            ), aged AS (
                SELECT u.id, u.oldest, u.grace_ends, u.overdue, b.id AS bucket_id,
                    CASE WHEN u.status IN ('charged_off', 'written_off') THEN u.status
                         WHEN u.oldest IS NULL THEN
                            CASE WHEN EXISTS (SELECT 1 FROM loans_installment s WHERE s.loan_id = u.id)
                            THEN 'paid_off' ELSE 'current' END
                         WHEN %(as_of)s::date - u.grace_ends > 0 THEN 'delinquent' ELSE 'current' END AS status
                FROM unpaid u LEFT JOIN loans_delinquencybucket b
                    ON COALESCE(GREATEST(%(as_of)s::date - u.grace_ends, 0), 0) >= b.min_dpd
                    AND (b.max_dpd IS NULL OR COALESCE(GREATEST(%(as_of)s::date - u.grace_ends, 0), 0) <= b.max_dpd)
            )
            UPDATE loans_loan AS l SET
                oldest_unpaid_due_on = a.oldest, grace_ends_on = a.grace_ends, overdue_amount = a.overdue,
                status = a.status, bucket_id = a.bucket_id, needs_ageing = false, updated_at = %(now)s
            FROM aged a
            WHERE l.id = a.id AND l.id IN (SELECT id FROM floor_read) AND (
                l.oldest_unpaid_due_on IS DISTINCT FROM a.oldest OR l.grace_ends_on IS DISTINCT FROM a.grace_ends
                OR l.overdue_amount IS DISTINCT FROM a.overdue OR l.status IS DISTINCT FROM a.status
                OR l.bucket_id IS DISTINCT FROM a.bucket_id OR l.needs_ageing)
            """,
            params,
        )
        execute(
            'INSERT INTO loans_ageingrun (as_of, "full", rules, started_at, finished_at, loans_read, loans_written) '
            "VALUES (%(as_of)s, false, %(rules)s, %(now)s, %(now)s, 0, %(aged)s)",
            {**params, "aged": aged},
        )
        return {"loans_written": aged}

    def _rules(self) -> dict[str, dict]:
        """The stage rules by stage."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT stage, entry_dpd, escalate_at_dpd, escalate_after_broken_promises, "
                "escalate_after_days_without_contact, requires_approval FROM collection_stagerule"
            )
            names = [column.name for column in cursor.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    def open(self) -> dict[str, int]:
        """Open a case for each delinquent loan at or past the reminder stage's entry DPD that has
        no open case, nor one that ended settled, written off or closed."""
        reminder = self._rules().get("reminder")
        params = {**self.params, "entry": reminder["entry_dpd"] if reminder and reminder["entry_dpd"] else 1}
        opened = execute(
            insert_sql(
                CollectionCase,
                {"loan_id": "l.id", "stage": "'reminder'", "opened_at": "%(now)s", "stage_entered_at": "%(now)s"},
                """FROM loans_loan l
                WHERE l.status = 'delinquent' AND l.grace_ends_on <= %(as_of)s::date - %(entry)s
                    AND NOT EXISTS (SELECT 1 FROM collection_collectioncase c
                                    WHERE c.loan_id = l.id AND c.stage = ANY(%(open_or_final)s))""",
                params,
                suffix="ON CONFLICT DO NOTHING",
            ),
            params,
        )
        return {"cases_opened": opened}

    def allocate(self) -> dict[str, int]:
        """Allocate the unassigned open cases round-robin, largest overdue amount first, over the
        routed team's collectors, least loaded first, with an assignment row each."""
        params = {**self.params, "reason": "Allocated to the team"}
        assignment = insert_sql(
            CaseAssignment,
            {
                "case_id": "g.id",
                "assigned_to_id": "g.assigned_to_id",
                "previous_id": "NULL",
                "team_id": "g.team_id",
                "assigned_by_id": "%(system)s",
                "assigned_at": "%(now)s",
                "reason": "%(reason)s",
            },
            "FROM given g",
            params,
        )
        allocated = execute(
            f"""
            WITH routed AS (
                SELECT c.id, l.overdue_amount, COALESCE(own.team_id, fallback.team_id) AS team_id
                FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                LEFT JOIN collection_caserouting own ON own.product_id = l.product_id
                LEFT JOIN collection_caserouting fallback ON fallback.product_id IS NULL
                WHERE c.stage = ANY(%(open_stages)s) AND c.assigned_to_id IS NULL
            ), carried AS (
                SELECT c.assigned_to_id, count(*) AS cases, sum(l.overdue_amount) AS overdue
                FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                WHERE c.stage = ANY(%(open_stages)s) AND c.assigned_to_id IS NOT NULL
                GROUP BY c.assigned_to_id
            ), pool AS (
                SELECT m.team_id, m.user_id,
                    row_number() OVER (PARTITION BY m.team_id
                        ORDER BY COALESCE(carried.cases, 0), COALESCE(carried.overdue, 0), m.user_id) - 1 AS slot,
                    count(*) OVER (PARTITION BY m.team_id) AS size
                FROM accounts_team_members m
                JOIN accounts_user u ON u.id = m.user_id AND u.is_active
                JOIN accounts_user_groups ug ON ug.user_id = u.id
                JOIN auth_group g ON g.id = ug.group_id AND g.name = 'collector'
                LEFT JOIN carried ON carried.assigned_to_id = m.user_id
            ), ranked AS (
                SELECT id, team_id,
                    row_number() OVER (PARTITION BY team_id ORDER BY overdue_amount DESC, id) - 1 AS rank
                FROM routed WHERE team_id IS NOT NULL
            ), given AS (
                UPDATE collection_collectioncase c SET assigned_to_id = pool.user_id, team_id = pool.team_id
                FROM ranked JOIN pool ON pool.team_id = ranked.team_id AND pool.slot = mod(ranked.rank, pool.size)
                WHERE c.id = ranked.id
                RETURNING c.id, c.assigned_to_id, c.team_id
            )
            {assignment}
            """,
            params,
        )
        return {"cases_allocated": allocated}

    def _log(self, moved: str, transition: str, target: str) -> str:
        """The transition-log insert for the cases a CTE named `moved` returned (id, source, reason)."""
        return insert_sql(
            StateLog,
            {
                "timestamp": "%(now)s",
                "by_id": "%(system)s",
                "source_state": f"{moved}.source",
                "state": f"'{target}'",
                "transition": f"'{transition}'",
                "content_type_id": "%(case_type)s",
                "object_id": f"{moved}.id",
                "description": f"{moved}.reason",
            },
            f"FROM {moved}",
            self.params,
        )

    def resolve(self) -> dict[str, int]:
        """Resolve the open cases whose loan is current or paid off."""
        resolved = execute(
            f"""
            WITH candidates AS (
                SELECT c.id, c.stage AS source,
                    CASE l.status WHEN 'paid_off' THEN 'Nightly cycle: the loan is paid off.'
                        ELSE 'Nightly cycle: the loan is current again.' END AS reason
                FROM collection_collectioncase c JOIN loans_loan l ON l.id = c.loan_id
                WHERE c.stage = ANY(%(open_stages)s) AND l.status IN ('current', 'paid_off')
            ), moved AS (
                UPDATE collection_collectioncase c
                SET stage = 'resolved', stage_entered_at = %(now)s, closed_at = %(now)s
                FROM candidates WHERE c.id = candidates.id
                RETURNING c.id, candidates.source, candidates.reason
            )
            {self._log("moved", "resolve", "resolved")}
            """,
            self.params,
        )
        return {"cases_resolved": resolved}

    def promises(self) -> dict[str, int]:
        """Settle the pending promises, of cases not on hold, whose window (from the promise to the
        end of the day after its due date) closed by the start of the day, by what the loan received
        in it; a broken one counts on its case and flags a working case for attention."""
        if self.as_of > timezone.localdate():  # as the cycle: a day to come leaves promises pending
            return {"skipped_day_to_come": 1}
        params = {
            **self.params,
            "last_due": self.as_of - datetime.timedelta(days=2),
            "working_stages": list(self.WORKING_STAGES),
        }
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH due AS (
                    SELECT p.id, p.amount, COALESCE(sum(pay.amount), 0) AS paid
                    FROM collection_promisetopay p
                    JOIN collection_collectioncase c ON c.id = p.case_id
                    LEFT JOIN loans_payment pay ON pay.loan_id = c.loan_id AND pay.reversed_at IS NULL
                        AND pay.received_at >= p.promised_at
                        AND pay.received_at < (p.due_date + 2)::timestamp AT TIME ZONE 'Asia/Shanghai'
                    WHERE p.status = 'pending' AND p.due_date <= %(last_due)s AND c.stage <> 'on_hold'
                    GROUP BY p.id, p.amount
                ), settled AS (
                    UPDATE collection_promisetopay p SET
                        status = CASE WHEN due.paid >= due.amount THEN 'kept'
                                      WHEN due.paid > 0 THEN 'partially_kept' ELSE 'broken' END,
                        amount_paid = due.paid, evaluated_at = %(now)s
                    FROM due WHERE p.id = due.id
                    RETURNING p.case_id, p.status
                ), broken AS (
                    SELECT case_id, count(*) AS promises FROM settled WHERE status = 'broken' GROUP BY case_id
                ), flagged AS (
                    UPDATE collection_collectioncase c SET
                        broken_promises = c.broken_promises + broken.promises,
                        attention_since = COALESCE(c.attention_since, %(now)s)
                    FROM broken WHERE c.id = broken.case_id AND c.stage = ANY(%(working_stages)s)
                    RETURNING c.id
                )
                SELECT
                    (SELECT count(*) FROM settled WHERE status = 'kept'),
                    (SELECT count(*) FROM settled WHERE status = 'partially_kept'),
                    (SELECT count(*) FROM settled WHERE status = 'broken'),
                    (SELECT count(*) FROM broken),
                    (SELECT count(*) FROM flagged)
                """,
                params,
            )
            kept, partly, broken, cases, _flagged = cursor.fetchone()
        return {
            "promises_kept": kept,
            "promises_partially_kept": partly,
            "promises_broken": broken,
            "cases_flagged": cases,
        }

    def stage_rules(self) -> dict[str, int]:
        """Apply each working stage's rule (DPD, broken promises, days without contact): move the
        cases that meet it, or file an escalation request where the next stage needs approval."""
        rules = self._rules()
        counts = {}
        for stage in self.WORKING_STAGES:
            rule, transition = rules.get(stage), self.MOVES.get(stage)
            if rule is None or transition is None:
                continue
            target = self.TARGETS[transition]
            criteria = self._criteria(rule, stage)
            if not criteria:
                continue
            met = " OR ".join(condition for condition, _reason in criteria)
            reason = "CASE " + " ".join(f"WHEN {condition} THEN '{text}'" for condition, text in criteria) + " END"
            params = {**self.params, "stage": stage, "target": target}
            if rules.get(target, {}).get("requires_approval"):
                counts[f"requests_{target}"] = counts.get(f"requests_{target}", 0) + self._request(met, reason, params)
            else:
                moved = execute(
                    f"""
                    WITH moved AS (
                        UPDATE collection_collectioncase c SET stage = %(target)s, stage_entered_at = %(now)s
                        WHERE c.stage = %(stage)s AND ({met})
                        RETURNING c.id, %(stage)s AS source, {reason} AS reason
                    )
                    {self._log("moved", transition, target)}
                    """,
                    params,
                )
                counts[f"moved_to_{target}"] = counts.get(f"moved_to_{target}", 0) + moved
        return {name: count for name, count in counts.items() if count}

    def _criteria(self, rule: dict, stage: str) -> list[tuple[str, str]]:
        """A rule's criteria as (SQL condition, reason) pairs."""
        criteria = []
        if rule["escalate_at_dpd"] is not None:
            criteria.append(
                (
                    # The case's loan, probed by its key: a join would read every loan.
                    "EXISTS (SELECT 1 FROM loans_loan l WHERE l.id = c.loan_id "
                    f"AND l.grace_ends_on <= %(as_of)s::date - {int(rule['escalate_at_dpd'])})",
                    f"Stage rule: {stage} at DPD {rule['escalate_at_dpd']}.",
                )
            )
        if rule["escalate_after_broken_promises"] is not None:
            count = int(rule["escalate_after_broken_promises"])
            criteria.append((f"c.broken_promises >= {count}", f"Stage rule: {stage} after {count} broken promises."))
        if rule["escalate_after_days_without_contact"] is not None:
            days = int(rule["escalate_after_days_without_contact"])
            start = desk_day_start(self.as_of - datetime.timedelta(days=days - 1))
            cutoff = f"TIMESTAMPTZ '{start.isoformat()}'"
            criteria.append(
                (
                    f"COALESCE(c.last_right_party_contact_at, c.opened_at) < {cutoff}",
                    f"Stage rule: {stage} after {days} days without contact.",
                )
            )
        return criteria

    def _request(self, met: str, reason: str, params: dict) -> int:
        """File an escalation request for the stage's cases that meet the rule, unless one is pending or
        was rejected since the case entered the stage."""
        return execute(
            insert_sql(
                EscalationRequest,
                {
                    "case_id": "c.id",
                    "target_stage": "%(target)s",
                    "requested_by_id": "NULL",
                    "reason": reason,
                    "status": "'pending'",
                    "created_at": "%(now)s",
                },
                f"""FROM collection_collectioncase c
                WHERE c.stage = %(stage)s AND ({met})
                    AND NOT EXISTS (SELECT 1 FROM collection_escalationrequest r
                        WHERE r.case_id = c.id AND r.target_stage = %(target)s AND (r.status = 'pending'
                            OR (r.status = 'rejected' AND r.decided_at >= c.stage_entered_at)))""",
                params,
                suffix="ON CONFLICT DO NOTHING",
            ),
            params,
        )

    def reassign(self) -> dict[str, int]:
        """Move the cases a reassignment rule names: the benchmark's portfolio sets no such rule
        (off by default), so there is nothing to move; the floor has no SQL for the rule yet."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM collection_stagerule WHERE reassign_after_days_without_contact IS NOT NULL"
            )
            (rules,) = cursor.fetchone()
        if rules:
            raise NotImplementedError("the floor does not reassign: the benchmark's portfolio sets no such rule")
        return {}

    def snapshot(self) -> dict[str, int]:
        """Replace the day's portfolio snapshot: per product and bucket. Summed into a temporary
        table first: PostgreSQL runs an INSERT ... SELECT without parallel workers, a CREATE
        TABLE ... AS with them."""
        execute("DELETE FROM loans_portfoliosnapshot WHERE as_of = %(as_of)s", self.params)
        execute(
            """
            CREATE TEMPORARY TABLE floor_snapshot ON COMMIT DROP AS
            SELECT product_id, bucket_id, count(*) AS loans,
                count(*) FILTER (WHERE status = 'delinquent') AS delinquent,
                sum(outstanding_principal) AS principal,
                sum(outstanding_principal + outstanding_interest + outstanding_fees + outstanding_penalty) AS total,
                sum(overdue_amount) AS overdue
            FROM loans_loan GROUP BY product_id, bucket_id
            """
        )
        rows = execute(
            insert_sql(
                PortfolioSnapshot,
                {
                    "as_of": "%(as_of)s",
                    "product_id": "product_id",
                    "bucket_id": "bucket_id",
                    "loans": "loans",
                    "delinquent_loans": "delinquent",
                    "outstanding_principal": "principal",
                    "total_outstanding": "total",
                    "overdue_amount": "overdue",
                },
                "FROM floor_snapshot",
                self.params,
            ),
            self.params,
        )
        return {"snapshot_rows": rows}
