"""The admin changelists' benchmark runs its whole path on a tiny desk and prints a line per
request; it refuses the test runs' databases. It checks the shape of the report, never the times."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from bench.admin_changelists.requests import CHANGELISTS
from bench.admin_changelists.run import run
from loans.models import DelinquencyBucket
from tests.collection.test_admin_changelists import build_row
from tests.loans.factories import ProductFactory

PROJECT_DIR = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"^(?P<changelist>\w+) +(?P<request>.+?) +(?P<seconds>\d+\.\d{3}) +(?P<queries>\d+) +(?P<found>[\d,]+)  "
)


@pytest.mark.django_db
def test_the_benchmark_times_every_changelist_plain_searched_and_filtered(admin_user):
    product, bucket = ProductFactory(), DelinquencyBucket.objects.order_by("-min_dpd").first()
    for index in range(3):
        build_row(index, product, bucket)
    out = io.StringIO()

    measurements = run(repeat=1, only=None, out=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"bench.admin_changelists: database {connection.settings_dict['NAME']} "), lines[0]
    assert lines[1].startswith("terms: account CC2026010000000001, "), lines[1]
    rows = [LINE.match(line) for line in lines[3:-1]]
    assert all(rows), lines
    assert {row["changelist"] for row in rows} == set(CHANGELISTS)
    assert {"plain", "search account number", "search phone", "search name"} <= {row["request"] for row in rows}
    # The search for the middle case's account number finds its row in every list (its borrower's
    # three contacts in the contacts' list).
    found = {row["changelist"]: row["found"] for row in rows if row["request"] == "search account number"}
    assert found == {**dict.fromkeys(CHANGELISTS, "1"), "contacts": "3"}
    assert len(measurements) == len(rows)
    assert lines[-1].startswith("slowest: ")
    if connection.vendor == "postgresql":
        assert all(measurement.plan != "-" for measurement in measurements)


@pytest.mark.parametrize(
    "url", ["postgres://u:p@127.0.0.1:1/test_desk", "sqlite:////tmp/test_desk.sqlite3", "postgres://u:p@127.0.0.1:1/"]
)
def test_the_benchmark_refuses_the_test_runs_databases_and_no_database(url):
    # Refused before connecting: the server's port is never reached.
    completed = subprocess.run(
        [sys.executable, "-m", "bench.admin_changelists"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.startswith("bench.admin_changelists: "), completed.stderr
