"""The legal benchmark builds a tiny legal portfolio in a database of its own, runs the nightly
limitation step and the deadline reminders once, times every page through the real views and
prints a line each; it refuses the test runs' databases. It checks the shape of the report, never
the times."""

import re
import subprocess

import pytest
from django.db import connection

from tests.test_bench import bench_command, server_url
from tests.test_bench_workspace import LINE

STEP = re.compile(r"^(?P<step>(limitation step|deadline reminders) \(\w+\)) +1 +(?P<ms>\d+\.\d) .* (?P<queries>\d+)  ")


def bench(*arguments: str, database_url: str, timeout: int) -> subprocess.CompletedProcess:
    return bench_command("bench.legal", *arguments, database_url=database_url, timeout=timeout)


@pytest.mark.postgres
def test_the_benchmark_times_the_nightly_steps_the_queue_the_case_page_and_the_portfolio():
    import psycopg

    completed = bench(
        "--legal-cases",
        "60",
        "--requests",
        "2",
        "--warm-up",
        "1",
        database_url=server_url(connection.settings_dict["NAME"]),
        timeout=600,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert lines[0].startswith("bench.legal: 420 loans, 60 legal cases, seed 1; "), lines[0]
    database = re.search(r"; database (\S+) on ", lines[0]).group(1)
    assert re.fullmatch(r"bench_legal_[0-9a-f]{8}", database), lines[0]
    assert re.match(r"^portfolio \(built in \d+\.\d s\): 420 loans, ", lines[1]), lines[1]
    assert "60 legal cases" in lines[1], lines[1]
    for records in ("letters", "filings", "hearings", "judgments", "enforcements", "receipts", "costs"):
        assert re.search(rf"\b[1-9][\d,]* {records}\b", lines[1]), (records, lines[1])
    # The nightly steps, once each over the whole portfolio.
    steps = {match["step"]: match for match in map(STEP.match, lines) if match}
    assert set(steps) == {
        "limitation step (limitation_flags_set)",
        "deadline reminders (deadline_reminders_send)",
    }, completed.stdout
    # Every page answered, each timed twice after a warm-up.
    rows = {match["operation"]: match for match in map(LINE.match, lines) if match}
    assert set(rows) == {
        "legal queue",
        "legal queue filter state=in_hearing",
        "legal queue filter court",
        "legal queue filter firm",
        "legal queue filter limitation_flagged=true",
        "legal case page",
        "legal portfolio (supervisor)",
    }, completed.stdout
    for name, row in rows.items():
        assert row["answers"].strip() == "200x2", (name, row["answers"])
    assert not any(line.startswith("unexpected answers: ") for line in lines), completed.stdout
    assert re.match(r"^p95 under 100 ms: \d+ of 7 operations; slowest p95: ", lines[-1]), lines[-1]
    # It worked in a database of its own, and dropped it.
    with psycopg.connect(server_url("postgres")) as admin:
        left = admin.execute("SELECT datname FROM pg_database WHERE datname = %s", [database]).fetchall()
    assert left == []


@pytest.mark.parametrize(
    "arguments",
    [
        ("--database-name", "test_desk"),  # the test runs' databases
        ("--database-name", "desk"),  # DATABASE_URL's own
        ("--database-name", "b" * 64),  # longer than PostgreSQL's names
        ("--reuse",),  # nothing to reuse
    ],
)
def test_the_benchmark_refuses_a_database_it_must_not_drop_or_cannot_name(arguments):
    # Refused before connecting: the server's port is never reached.
    completed = bench(*arguments, database_url="postgres://u:p@127.0.0.1:1/desk", timeout=60)

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.startswith("bench.legal: "), completed.stderr
