"""What a phase left in its database, and whether the cycle and the floor left the same."""

# ruff: noqa: S608 - the queries are this module's own, with the desk's SQL for the portfolio's day.


def report_outcomes(cycle: dict, floor: dict) -> None:
    """Print whether the cycle and the floor left the same rows and, where not, what each left."""
    differing = [name for name in cycle if cycle[name] != floor.get(name)]
    if differing:
        print(f"outcome: cycle and floor DIFFER in {', '.join(differing)}")
        for name in differing:
            print(f"        {name}: cycle {cycle[name]}")
            print(f"        {name}: floor {floor.get(name)}")
    else:
        print(f"outcome: cycle and floor leave the same {', '.join(cycle)}")


def outcome() -> dict[str, list]:
    """What a run left, in numbers both the cycle and the floor must reach."""
    from django.db import connection

    from .project import PORTFOLIO_DAY_SQL

    queries = {
        "portfolio day": f"SELECT ({PORTFOLIO_DAY_SQL})::text",
        "loans": f"SELECT status, bucket_id, count(*), sum(GREATEST(({PORTFOLIO_DAY_SQL}) - grace_ends_on, 0)), "
        "sum(overdue_amount)::text FROM loans_loan GROUP BY 1, 2 ORDER BY 1, 2",
        # Each loan's stored ageing, as one digest.
        "loan rows": "SELECT count(*), md5(string_agg(concat_ws(':', id, status, bucket_id, overdue_amount, "
        "oldest_unpaid_due_on, grace_ends_on, needs_ageing), ',' ORDER BY id)) FROM loans_loan",
        "cases": "SELECT stage, count(*), count(assigned_to_id), sum(broken_promises), count(attention_since) "
        "FROM collection_collectioncase GROUP BY 1 ORDER BY 1",
        # Each case, by its loan (the cases opened tonight get their ids in either order): its
        # stage, broken promises and whether it waits for attention, as one digest.
        "case rows": "SELECT count(*), md5(string_agg(concat_ws(':', loan_id, stage, broken_promises, "
        "attention_since IS NOT NULL), ',' ORDER BY loan_id, stage, broken_promises, attention_since IS NOT NULL)) "
        "FROM collection_collectioncase",
        "promises": "SELECT status, count(*), sum(amount_paid)::text, count(evaluated_at) "
        "FROM collection_promisetopay GROUP BY 1 ORDER BY 1",
        # Each promise (the builder's ids in both): its status and what it was credited, as one digest.
        "promise rows": "SELECT count(*), md5(string_agg(concat_ws(':', id, status, amount_paid), ',' ORDER BY id)) "
        "FROM collection_promisetopay",
        "transition log": "SELECT transition, source_state, state, count(*) FROM django_fsm_log_statelog "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "escalation requests": "SELECT target_stage, status, count(*) FROM collection_escalationrequest "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        "assignments": "SELECT count(*) FROM collection_caseassignment",
        "snapshot": "SELECT count(*), sum(loans), sum(delinquent_loans), sum(overdue_amount)::text "
        "FROM loans_portfoliosnapshot",
    }
    results = {}
    with connection.cursor() as cursor:
        for name, query in queries.items():
            cursor.execute(query)
            results[name] = [list(row) for row in cursor.fetchall()]
    return results
