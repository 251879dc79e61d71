"""The collection-cycle benchmark runs end to end on a tiny portfolio and prints what it promises.
It checks the shape of the report, never the times."""

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent


def bench(*arguments: str, database_url: str, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.collection_cycle", *arguments],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.postgres
def test_the_benchmark_reports_each_phase_and_ends_with_the_ratio():
    settings = connection.settings_dict
    credentials = f"{quote(settings['USER'], safe='')}:{quote(settings['PASSWORD'] or '', safe='')}"
    server = f"{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}"
    database = f"{settings['NAME']}_benchtest_{os.getpid()}"

    completed = bench(
        "--loans",
        "300",
        "--sample",
        "50",
        "--database-name",
        database,
        database_url=f"postgres://{credentials}@{server}/{settings['NAME']}",
        timeout=600,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.strip().splitlines()
    for phase in ("build", "cycle", "floor", "naive"):
        report = rf"^{phase} +\d+\.\d s +[\d,]+ loans/s +peak RSS [\d,]+ MB, RSS after [\d,]+ MB"
        assert any(re.match(report, line) for line in lines), (phase, completed.stdout)
    # The floor is only a floor if it does the cycle's work: the two must leave the same rows.
    outcome = next(line for line in lines if line.startswith("outcome: "))
    assert outcome.startswith("outcome: cycle and floor leave the same "), completed.stdout
    assert "promise rows" in outcome and "transition log" in outcome, outcome
    assert re.match(r"^ratio cycle/floor: \d+\.\d\d$", lines[-1]), lines[-1]


def test_the_benchmark_refuses_a_database_that_is_not_postgresql():
    completed = bench("--loans", "10", database_url="sqlite:///var/bench.sqlite3", timeout=60)

    assert completed.returncode == 2
    assert "must point at PostgreSQL" in completed.stderr
