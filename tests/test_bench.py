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


def bench_command(module: str, *arguments: str, database_url: str, timeout: int) -> subprocess.CompletedProcess:
    """`python -m <module> <arguments>` from the project's directory on `database_url`, its
    output kept; the benchmarks' tests read what it printed."""
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bench(*arguments: str, database_url: str, timeout: int) -> subprocess.CompletedProcess:
    return bench_command("bench.collection_cycle", *arguments, database_url=database_url, timeout=timeout)


def server_url(database: str) -> str:
    """The URL of `database` on the tests' PostgreSQL server, with the tests' credentials."""
    settings = connection.settings_dict
    credentials = f"{quote(settings['USER'], safe='')}:{quote(settings['PASSWORD'] or '', safe='')}"
    return f"postgres://{credentials}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/{database}"


@pytest.mark.postgres
def test_the_benchmark_reports_each_phase_and_ends_with_the_ratio():
    import psycopg

    completed = bench(
        "--loans", "300", "--sample", "50", database_url=server_url(connection.settings_dict["NAME"]), timeout=600
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.strip().splitlines()
    for phase in ("build", "cycle", "floor", "naive"):
        report = rf"^{phase} +\d+\.\d s +[\d,]+ loans/s +peak RSS [\d,]+ MB, RSS after [\d,]+ MB"
        assert any(re.match(report, line) for line in lines), (phase, completed.stdout)
    # Per step, side by side: seconds, rows written and WAL of the cycle and the floor.
    header = lines.index(next(line for line in lines if line.startswith("step ")))
    assert lines[header].split() == [
        "step",
        "cycle",
        "s",
        "floor",
        "s",
        "ratio",
        "cycle",
        "rows",
        "floor",
        "rows",
        "cycle",
        "WAL",
        "floor",
        "WAL",
    ]
    steps = {}
    for line in lines[header + 1 : header + 9]:
        match = re.match(
            r"^(\w+) +(\d+\.\d\d) +(\d+\.\d\d) +(\d+\.\d\d|inf) +([\d,]+) +([\d,]+) +([\d.,]+) MB +([\d.,]+) MB$", line
        )
        assert match, line
        steps[match.group(1)] = int(match.group(5).replace(",", "")), int(match.group(6).replace(",", ""))
    assert list(steps) == ["refresh", "open", "allocate", "resolve", "promises", "stage_rules", "reassign", "snapshot"]
    # Both write the loans whose ageing changed, and the cases they open: never nothing, never everything.
    assert 0 < steps["refresh"][1] < 300 and 0 < steps["refresh"][0] < 300 + 50, steps
    # The floor is only a floor if it does the cycle's work: the two must leave the same rows.
    outcome = next(line for line in lines if line.startswith("outcome: "))
    assert outcome.startswith("outcome: cycle and floor leave the same "), completed.stdout
    assert "promise rows" in outcome and "transition log" in outcome, outcome
    assert re.match(r"^ratio cycle/floor: \d+\.\d\d$", lines[-1]), lines[-1]
    # It worked in databases named for this run alone, and dropped them.
    database = re.search(r"; database (\S+) on ", lines[0]).group(1)
    assert re.fullmatch(r"bench_collection_cycle_[0-9a-f]{8}", database), lines[0]
    with psycopg.connect(server_url("postgres")) as admin:
        left = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{database}%"]).fetchall()
    assert left == []


@pytest.mark.parametrize(
    ("name", "url_database"),
    [
        ("test_desk", "desk"),  # the test runs' databases
        ("test_desk_bench_benchtest", "desk"),
        ("desk", "desk"),  # DATABASE_URL's own
        ("desk", "desk_cycle"),  # ... as one of the phases' copies
        ("b" * 58, "desk"),  # cut short by PostgreSQL once _cycle is added
    ],
)
def test_the_benchmark_refuses_a_database_name_it_must_not_drop(name, url_database):
    # Refused before connecting: the server's port is never reached.
    completed = bench(
        "--loans", "10", "--database-name", name, database_url=f"postgres://u:p@127.0.0.1:1/{url_database}", timeout=60
    )

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert f"--database-name {name}: " in completed.stderr


def test_every_name_the_benchmark_takes_from_the_desk_is_where_it_looks():
    from bench.collection_cycle import project

    assert all(getattr(project, name) is not None for name in project.__all__)
    # The naive phase times the one-case path's promise step, which that path calls by name in its module.
    assert hasattr(sys.modules[project.collection_cycle_case_by_case.__module__], "_promises")


def test_the_benchmark_refuses_a_database_that_is_not_postgresql():
    completed = bench("--loans", "10", database_url="sqlite:///var/bench.sqlite3", timeout=60)

    assert completed.returncode == 2
    assert "must point at PostgreSQL" in completed.stderr
