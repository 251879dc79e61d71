"""The timing: the dashboard's requests through Django's test client, as an admin (the whole desk)
and as the first team's supervisor (their team), each repeated, one line each."""

import statistics
import time
from dataclasses import dataclass
from typing import TextIO

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

URL = "/dashboard/"


class BenchError(Exception):
    """A run that cannot go on: the message says why."""


@dataclass(frozen=True)
class Timed:
    label: str
    milliseconds: list[float]
    queries: int
    statuses: dict[int, int]

    @property
    def p50(self) -> float:
        return statistics.median(self.milliseconds)

    @property
    def p95(self) -> float:
        ordered = sorted(self.milliseconds)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _users():
    from accounts import roles
    from accounts.models import Team, User

    admin = (
        User.objects.filter(is_active=True, groups__name=roles.ADMIN).order_by("pk").first()
        or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
    )
    team = Team.objects.filter(supervisor__is_active=True).order_by("pk").first()
    if admin is None or team is None:
        raise BenchError("the database has no admin, or no team with a supervisor: build or seed it first")
    return admin, team.supervisor


REQUESTS = [
    ("desk this month", "admin", {"period": "this_month"}),
    ("desk last 90 days", "admin", {"period": "last_90"}),
    ("team this month", "supervisor", {"period": "this_month"}),
    ("team last 90 days", "supervisor", {"period": "last_90"}),
    ("CSV by stage 90 days", "admin", {"period": "last_90", "export": "by_stage"}),
]


def _get(client: Client, params: dict):
    response = client.get(URL, params)
    if response.streaming:
        b"".join(response.streaming_content)
    return response


def time_request(client: Client, label: str, params: dict, *, requests: int, warm_up: int) -> Timed:
    for _ in range(warm_up):
        _get(client, params)
    milliseconds, statuses, queries = [], {}, 0
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = _get(client, params)
            milliseconds.append((time.perf_counter() - started) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        queries = len(captured.captured_queries)
    return Timed(label, milliseconds, queries, statuses)


HEADER = f"{'request':<22} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>7}  answers"


def run(*, requests: int, warm_up: int, out: TextIO) -> list[Timed]:
    from loans.models import Loan

    admin, supervisor = _users()
    clients = {"admin": Client(SERVER_NAME="localhost"), "supervisor": Client(SERVER_NAME="localhost")}
    clients["admin"].force_login(admin)
    clients["supervisor"].force_login(supervisor)
    print(
        f"bench.dashboard: database {connection.settings_dict['NAME']}, {Loan.objects.count():,} loans; "
        f"{requests} requests each after {warm_up} warm-up, as {admin.get_username()} (desk) and "
        f"{supervisor.get_username()} (team)",
        file=out,
    )
    print(HEADER, file=out, flush=True)
    results = []
    for label, who, params in REQUESTS:
        timed = time_request(clients[who], label, params, requests=requests, warm_up=warm_up)
        results.append(timed)
        answers = " ".join(f"{status}x{count}" for status, count in sorted(timed.statuses.items()))
        print(
            f"{label:<22} {len(timed.milliseconds):>3} {timed.p50:8.1f} {timed.p95:8.1f} "
            f"{max(timed.milliseconds):8.1f} {timed.queries:>7}  {answers}",
            file=out,
            flush=True,
        )
    slowest = max(results, key=lambda timed: timed.p95)
    under = sum(1 for timed in results if timed.p95 < 1000)
    print(
        f"p95 under one second: {under} of {len(results)} requests; slowest p95: {slowest.label} {slowest.p95:.1f} ms",
        file=out,
    )
    return results
