"""The dashboard's benchmark: its timing runs on a tiny desk and prints a line per request with
p50 and p95, and its history's SQL runs on the test database; the command refuses the test runs'
databases and DATABASE_URL's own. It checks the shape of the report, never the times."""

import datetime
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from bench.dashboard.run import REQUESTS, run
from collection.models import ContactAttempt, OutboundMessage
from loans.models import PortfolioSnapshot
from tests.collection.factories import CaseFactory
from tests.loans.factories import ContactFactory

PROJECT_DIR = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"^(?P<request>\S.*?) +(?P<n>\d+) +(?P<p50>\d+\.\d) +(?P<p95>\d+\.\d) +(?P<max>\d+\.\d) +(?P<queries>\d+)  "
    r"(?P<answers>(\d{3}x\d+ ?)+)$"
)


@pytest.mark.django_db
def test_the_benchmark_times_each_view_of_the_dashboard(collector, supervisor, desk_admin):
    CaseFactory()
    out = io.StringIO()

    results = run(requests=2, warm_up=1, out=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"bench.dashboard: database {connection.settings_dict['NAME']}, "), lines[0]
    rows = [LINE.match(line) for line in lines[2:-1]]
    assert all(rows), lines
    assert [row["request"] for row in rows] == [label for label, _who, _params in REQUESTS]
    assert {row["answers"] for row in rows} == {"200x2"}
    assert re.match(r"^p95 under one second: \d of 5 requests; slowest p95: ", lines[-1]), lines[-1]
    assert len(results) == 5


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_history_is_built_in_sql_on_the_cases(collector):
    from bench.dashboard.history import SNAPSHOT_DAYS, history_build

    cases = [CaseFactory() for _ in range(3)]
    for case in cases:  # one mobile number per borrower, as in the benchmark's portfolio
        ContactFactory(borrower=case.loan.borrower)

    rows = history_build(seed=1, as_of=datetime.date(2026, 11, 30))

    assert rows["attempts"] == 4 * len(cases) == ContactAttempt.objects.count()
    assert rows["messages"] == 2 * len(cases) == OutboundMessage.objects.count()
    assert rows["snapshots"] == PortfolioSnapshot.objects.count() > 0
    assert PortfolioSnapshot.objects.dates("as_of", "day").count() == SNAPSHOT_DAYS


@pytest.mark.parametrize(
    "url, name", [("postgres://u:p@127.0.0.1:1/desk", "test_desk"), ("postgres://u:p@127.0.0.1:1/desk", "desk")]
)
def test_the_benchmark_refuses_the_test_runs_databases_and_its_own(url, name):
    completed = subprocess.run(
        [sys.executable, "-m", "bench.dashboard", "--database-name", name],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.startswith("bench.dashboard: "), completed.stderr
