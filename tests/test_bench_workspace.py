"""The workspace benchmark builds a tiny portfolio in a database of its own, times every operation
through the real pages and prints a line each; it refuses the test runs' databases. It checks the
shape of the report, never the times."""

import re
import subprocess

import pytest
from django.db import connection

from tests.test_bench import bench_command, server_url

LINE = re.compile(
    r"^(?P<operation>\S.*?) +(?P<n>\d+) +(?P<p50>\d+\.\d) +(?P<p95>\d+\.\d) +(?P<max>\d+\.\d) +"
    r"(?P<queries>\d+(-\d+)?)  (?P<answers>(\d{3}x\d+ ?)+) +"
)


def bench(*arguments: str, database_url: str, timeout: int) -> subprocess.CompletedProcess:
    return bench_command("bench.workspace", *arguments, database_url=database_url, timeout=timeout)


@pytest.mark.postgres
def test_the_benchmark_times_the_queue_the_case_page_and_logging_an_attempt():
    import psycopg

    completed = bench(
        "--loans",
        "1500",
        "--cases",
        "40",
        "--requests",
        "2",
        "--warm-up",
        "1",
        database_url=server_url(connection.settings_dict["NAME"]),
        timeout=600,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.strip().splitlines()
    database = re.search(r"; database (\S+) on ", lines[0]).group(1)
    assert re.fullmatch(r"bench_workspace_[0-9a-f]{8}", database), lines[0]
    assert re.match(r"^portfolio \(built in \d+\.\d s\): 1,500 loans, ", lines[1]), lines[1]
    assert "40 collector1's open cases" in lines[1], lines[1]
    rows = {match["operation"]: match for match in map(LINE.match, lines) if match}
    pages = {"queue", "queue filter stage=negotiation", "queue search loan number", "case page"}
    assert pages <= set(rows), completed.stdout
    assert {name for name in rows if name.startswith("queue filter ")} >= {
        f"queue filter {name}=1"
        for name in ("broken_promise", "promise_due_today", "callback_due", "no_contact_7d", "on_hold")
    }
    for name in ("queue search family name", "queue search phone last 4", "queue filter bucket"):
        assert name in rows, completed.stdout
    # Every page answered, each timed twice after a warm-up.
    for name, row in rows.items():
        if not name.startswith("attempt"):
            assert row["answers"].strip() == "200x2", (name, row["answers"])
    # A call logged is redirected when allowed, answered 422 when the conduct limits refuse it.
    allowed = next(row for name, row in rows.items() if name.startswith("attempt allowed"))
    assert allowed["answers"].strip() == "302x2", allowed["answers"]
    assert not any(line.startswith("unexpected answers: ") for line in lines), completed.stdout
    assert re.match(r"^p95 under 100 ms: \d+ of \d+ operations; slowest p95: .+; load average ", lines[-1]), lines[-1]
    # It worked in a database of its own, and dropped it.
    with psycopg.connect(server_url("postgres")) as admin:
        left = admin.execute("SELECT datname FROM pg_database WHERE datname = %s", [database]).fetchall()
    assert left == []


@pytest.mark.parametrize(
    ("arguments", "url_database"),
    [
        (("--database-name", "test_desk"), "desk"),  # the test runs' databases
        (("--database-name", "desk"), "desk"),  # DATABASE_URL's own
        (("--database-name", "b" * 64), "desk"),  # longer than PostgreSQL's names
        (("--reuse",), "desk"),  # nothing to reuse
    ],
)
def test_the_benchmark_refuses_a_database_it_must_not_drop_or_cannot_name(arguments, url_database):
    # Refused before connecting: the server's port is never reached.
    completed = bench(*arguments, database_url=f"postgres://u:p@127.0.0.1:1/{url_database}", timeout=60)

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.startswith("bench.workspace: "), completed.stderr
