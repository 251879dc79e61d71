"""One request timed, its queries counted and, on PostgreSQL, explained."""

import json
import statistics
import time
from dataclasses import dataclass

from django.db import connection
from django.test.utils import CaptureQueriesContext

from .requests import Request

# Tables below this many rows are read whole in a blink: a sequential scan of them is no news.
BIG_TABLE_ROWS = 10_000
# Nodes that only pass their child's rows on: the plan is described from the first node below them.
_PASS_THROUGH = {"Limit", "Gather", "Gather Merge", "Sort", "Incremental Sort", "Aggregate", "Unique", "Result"}
# How a sub-select hangs off the node that uses it.
_SIDE_PLANS = ("InitPlan", "SubPlan")


class BenchError(Exception):
    """A run that cannot go on: the message says why."""


@dataclass(frozen=True)
class Measurement:
    request: Request
    seconds: float
    queries: int
    found: int | None
    plan: str
    seq_scans: tuple[str, ...]


def measure(client, request: Request, *, repeat: int, warm_up: bool, big_tables: set[str] | None) -> Measurement:
    """The median time of `repeat` requests (after a warm-up); the queries of the last one."""
    if warm_up:
        client.get(request.url, request.params)
    seconds = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(request.url, request.params)
            seconds.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise BenchError(f"{request.changelist} {request.label}: the admin answered {response.status_code}")
    changelist = response.context_data["cl"] if response.context_data else None
    plan, seq_scans = "-", ()
    if big_tables is not None:
        plan, seq_scans = explained(captured.captured_queries, big_tables)
    return Measurement(
        request=request,
        seconds=statistics.median(seconds),
        queries=len(captured.captured_queries),
        found=changelist.result_count if changelist is not None else None,
        plan=plan,
        seq_scans=seq_scans,
    )


def big_tables_of_database() -> set[str] | None:
    """The tables of more than BIG_TABLE_ROWS rows by the planner's statistics; None off PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples >= %s",
            [BIG_TABLE_ROWS],
        )
        return {name for (name,) in cursor.fetchall()}


def explained(queries: list[dict], big_tables: set[str]) -> tuple[str, tuple[str, ...]]:
    """The first nodes of the slowest query's plan, and the big tables any query reads whole."""
    plans = []
    for query in queries:
        sql = query["sql"].lstrip()
        # The session and the user of the login are looked up by key on every page, and no news.
        if not sql.upper().startswith("SELECT") or '"django_session"' in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            (document,) = cursor.fetchone()
        plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
        plans.append((float(query["time"]), plan))
    if not plans:
        return "-", ()
    scanned = sorted({name for _, plan in plans for name in _seq_scanned(plan) if name in big_tables})
    _, slowest = max(plans, key=lambda timed: timed[0])
    return _described(slowest), tuple(scanned)


def _seq_scanned(node: dict):
    if node["Node Type"] == "Seq Scan":
        yield node["Relation Name"]
    for child in node.get("Plans", ()):
        yield from _seq_scanned(child)


def _described(node: dict) -> str:
    """'Limit > Nested Loop > Index Scan Backward loans_loan_pkey': the nodes down the first child
    until the first that does more than pass rows on, then that one and its first child."""
    names = []
    while node is not None:
        name = node["Node Type"]
        if node.get("Scan Direction") == "Backward":
            name += " Backward"
        target = node.get("Index Name") or node.get("Relation Name")
        names.append(f"{name} {target}" if target else name)
        # A query's sub-selects (the portfolio's day, a row's latest attempt) hang off a node as
        # its InitPlans and SubPlans: the plan is described down the rows' own path.
        plans = node.get("Plans", ())
        children = [child for child in plans if child.get("Parent Relationship") not in _SIDE_PLANS] or plans
        if node["Node Type"] not in _PASS_THROUGH and len(names) >= 2 or not children:
            break
        node = children[0]
    return " > ".join(names)
