"""The run: the collector logged in, each operation's requests timed one by one, a line each."""

import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import TextIO

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.admin_changelists.timing import big_tables_of_database, explained
from bench.collection_cycle.report import progress_bar

from .build import COLLECTOR, DESK_ZONE
from .requests import Operation, Request, attempt_operations, page_operations, sample_from_database

# The page's server time a collector should not notice, at the 95th percentile.
TARGET_MS = 100.0
HEADER = (
    f"{'operation':<44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>7}  {'answers':<16} "
    "plan of the slowest query"
)


@dataclass
class Result:
    operation: Operation
    milliseconds: list[float]
    queries: list[int]
    answers: Counter
    slowest: list[dict]  # the queries of the slowest request
    plan: str
    seq_scans: tuple[str, ...]

    def percentile(self, share: int) -> float:
        if len(self.milliseconds) == 1:
            return self.milliseconds[0]
        return statistics.quantiles(self.milliseconds, n=100, method="inclusive")[share - 1]

    @property
    def p50(self) -> float:
        return statistics.median(self.milliseconds)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def max(self) -> float:
        return max(self.milliseconds)

    @property
    def queries_shown(self) -> str:
        low, high = min(self.queries), max(self.queries)
        return str(low) if low == high else f"{low}-{high}"

    @property
    def answers_shown(self) -> str:
        return " ".join(f"{status}x{count}" for status, count in sorted(self.answers.items()))

    @property
    def unexpected(self) -> dict[int, int]:
        return {status: count for status, count in self.answers.items() if status not in self.operation.expected}


def report_build(rows: dict[str, int], seconds: float, *, reused: bool = False, out: TextIO | None = None) -> None:
    shown = ", ".join(f"{count:,} {name}" for name, count in rows.items())
    built = f"reused, the collector's cases written anew in {seconds:.1f} s" if reused else f"built in {seconds:.1f} s"
    print(f"portfolio ({built}): {shown}", file=out, flush=True)


def send(client: Client, request: Request):
    if request.method == "GET":
        return client.get(request.url, request.data, headers=request.headers)
    return client.post(request.url, request.data, headers=request.headers)


def time_operation(client: Client, operation: Operation, *, requests: int, warm_up: int, big_tables) -> Result | None:
    """Send the operation's warm-up requests, then time `requests` more one by one (fewer for an
    operation whose requests are sent once each and run short); None when there are none."""
    wanted = warm_up + requests
    plan = operation.requests
    if not plan:
        return None
    if operation.once:
        warm_up = min(warm_up, max(len(plan) - 1, 0))
        plan = plan[:wanted]
    else:
        plan = [plan[index % len(plan)] for index in range(wanted)]
    for request in plan[:warm_up]:
        send(client, request)
    milliseconds, queries, answers = [], [], Counter()
    slowest_ms, slowest = -1.0, []
    with progress_bar(operation.label, len(plan) - warm_up, "request") as bar:
        for request in plan[warm_up:]:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = send(client, request)
                elapsed = (time.perf_counter() - started) * 1000
            milliseconds.append(elapsed)
            queries.append(len(captured.captured_queries))
            answers[response.status_code] += 1
            if elapsed > slowest_ms:
                slowest_ms, slowest = elapsed, list(captured.captured_queries)
            bar.update(1)
    plan_shown, seq_scans = "-", ()
    if big_tables is not None:
        plan_shown, seq_scans = explained(slowest, big_tables)
    return Result(operation, milliseconds, queries, answers, slowest, plan_shown, seq_scans)


def run(*, requests: int, warm_up: int, out: TextIO, labels: list[str] | None = None, seed: int = 1) -> list[Result]:
    sample = sample_from_database()
    client = Client(SERVER_NAME="localhost")
    client.force_login(sample.collector)
    big_tables = big_tables_of_database()
    operations = page_operations(sample, seed=seed)
    notes = []
    if not labels or any("attempt".startswith(label) or label.startswith("attempt") for label in labels):
        attempts = attempt_operations(sample, per_operation=warm_up + requests)
        operations += attempts.operations
        notes = attempts.notes
    if labels:
        operations = [operation for operation in operations if operation.label.startswith(tuple(labels))]
    print(
        f"bench.workspace: database {connection.settings_dict['NAME']}, as {COLLECTOR} "
        f"({len(sample.case_ids):,} open cases), {timezone.localtime(timezone.now(), DESK_ZONE):%Y-%m-%d %H:%M} "
        f"Asia/Shanghai; {requests} requests an operation after {warm_up} to warm up; target p95 < {TARGET_MS:.0f} ms; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        file=out,
    )
    print(
        f"terms: loan number {sample.account_number}, family name {sample.family_name}, "
        f"phone last 4 {sample.phone_last_digits}, bucket {sample.bucket_id}, product {sample.product_id}",
        file=out,
    )
    for note in notes:
        print(note, file=out)
    return operations_time(
        [(client, operation) for operation in operations],
        requests=requests,
        warm_up=warm_up,
        big_tables=big_tables,
        out=out,
    )


def operations_time(operations, *, requests: int, warm_up: int, big_tables, out: TextIO) -> list[Result]:
    """Time each (client, operation), print its line under the header and the findings after."""
    print(HEADER, file=out, flush=True)
    results = []
    for client, operation in operations:
        result = time_operation(client, operation, requests=requests, warm_up=warm_up, big_tables=big_tables)
        if result is None:
            print(f"{operation.label:<44} {0:>4}  no case to request it on", file=out, flush=True)
            continue
        results.append(result)
        scans = f"  [seq scan: {', '.join(result.seq_scans)}]" if result.seq_scans else ""
        print(
            f"{operation.label:<44} {len(result.milliseconds):>4} {result.p50:8.1f} {result.p95:8.1f} "
            f"{result.max:8.1f} {result.queries_shown:>7}  {result.answers_shown:<16} {result.plan}{scans}",
            file=out,
            flush=True,
        )
    report_findings(results, out)
    return results


def report_findings(results: list[Result], out: TextIO) -> None:
    """Unexpected answers, and for each operation over the target its slowest request's slowest query."""
    for result in results:
        if result.unexpected:
            expected = "/".join(str(status) for status in result.operation.expected)
            print(
                f"unexpected answers: {result.operation.label}: {result.answers_shown} (expected {expected})", file=out
            )
    over = [result for result in results if result.p95 >= TARGET_MS]
    for result in over:
        query = max(result.slowest, key=lambda query: float(query["time"]), default=None)
        if query is None:
            continue
        sql = " ".join(query["sql"].split())
        print(
            f"over target: {result.operation.label} p95 {result.p95:.1f} ms; its slowest request's slowest query "
            f"({float(query['time']) * 1000:.1f} ms of {len(result.slowest)} queries): {sql[:600]}",
            file=out,
        )
    met = len(results) - len(over)
    slowest = max(results, key=lambda result: result.p95, default=None)
    if slowest is not None:
        print(
            f"p95 under {TARGET_MS:.0f} ms: {met} of {len(results)} operations; slowest p95: "
            f"{slowest.operation.label} {slowest.p95:.1f} ms; load average {os.getloadavg()[0]:.1f}",
            file=out,
            flush=True,
        )
