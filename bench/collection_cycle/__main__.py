"""The command: builds the portfolio, runs each phase in a child process on its own copy of it,
prints the figures. The method is described in the package's docstring."""

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.arguments import positive

from .compare import report_outcomes
from .report import extrapolated, progress_bar, report_build, report_phase, report_steps
from .server import BenchError, Server

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
RESULT_MARK = "BENCH-RESULT "
PHASES = ("build", "cycle", "floor", "naive")
# The default night: today in the desk's time zone (settings.TIME_ZONE), which the parent reads without Django.
DESK_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.collection_cycle",
        description="Time the nightly collection cycle against hand-written SQL and the one-case path.",
    )
    parser.add_argument("--loans", type=positive, default=100_000, help="Loans in the portfolio (default 100000).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the portfolio (default 1).")
    parser.add_argument(
        "--as-of",
        type=datetime.date.fromisoformat,
        default=None,
        help="The night to run, YYYY-MM-DD (default today in Asia/Shanghai; promises are only "
        "evaluated for a day that has come).",
    )
    parser.add_argument("--sample", type=positive, default=2_000, help="Loans the naive path works on (default 2000).")
    parser.add_argument(
        "--database-name",
        default=None,
        help="Name of the benchmark's database (default bench_collection_cycle_ and 8 random hex digits, new "
        "each run); the phases' copies add _cycle, _floor and _naive.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the databases afterwards.")
    # Internal: a child process runs one phase on one database.
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--phase-database", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    args.as_of = args.as_of or datetime.datetime.now(DESK_TIME_ZONE).date()
    if args.phase:
        return phase_main(args)
    try:
        server = Server.from_environment()
        databases = server.run_databases(args.database_name)
    except BenchError as error:
        print(f"bench.collection_cycle: {error}", file=sys.stderr)
        return 2
    base = databases["build"]
    sample = min(args.sample, args.loans)
    print(
        f"bench.collection_cycle: {args.loans:,} loans, seed {args.seed}, as of {args.as_of}, "
        f"naive sample {sample:,}; database {base} on {server.host}:{server.port}",
        flush=True,
    )
    results = {}
    try:
        for name in databases.values():
            server.drop(name)
        server.create(base)
        results["build"] = run_phase("build", base, server, args)
        report_build(results["build"], args.loans)
        for phase in ("cycle", "floor", "naive"):
            server.create(databases[phase], template=base)
            results[phase] = run_phase(phase, databases[phase], server, args)
            report_phase(phase, results[phase], loans=args.loans, sample=sample)
    except BenchError as error:
        print(f"bench.collection_cycle: {error}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            for name in databases.values():
                server.drop(name)
    report_steps(results["cycle"], results["floor"])
    report_outcomes(results["cycle"]["outcome"], results["floor"]["outcome"])
    naive_extrapolated = extrapolated(results["naive"], loans=args.loans, sample=sample)
    print(f"ratio naive/cycle: {naive_extrapolated / results['cycle']['seconds']:.2f}")
    if args.keep:
        print(f"kept databases: {', '.join(databases.values())}")
    print(f"ratio cycle/floor: {results['cycle']['seconds'] / results['floor']['seconds']:.2f}")
    return 0


def run_phase(phase: str, database: str, server: Server, args: argparse.Namespace) -> dict:
    """Run one phase in a child process on `database` and return what it reports."""
    command = [
        sys.executable,
        "-m",
        "bench.collection_cycle",
        "--phase",
        phase,
        "--phase-database",
        database,
        "--loans",
        str(args.loans),
        "--seed",
        str(args.seed),
        "--as-of",
        args.as_of.isoformat(),
        "--sample",
        str(args.sample),
    ]
    environment = {**os.environ, "DATABASE_URL": server.url_for(database)}
    completed = subprocess.run(  # noqa: S603 (our own module, with our own arguments)
        command, cwd=PROJECT_DIR, env=environment, stdout=subprocess.PIPE, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
        print(line)
    raise BenchError(f"the {phase} phase failed (exit status {completed.returncode}); see above")


def phase_main(args: argparse.Namespace) -> int:
    """Run one phase in this process, the child, and print its result as one line after RESULT_MARK."""
    # Django is set up here, in the child, pointed at the phase's database (DATABASE_URL); the
    # development settings with debug off, so that no query is kept in memory.
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    phase = {"build": phase_build, "cycle": phase_cycle, "floor": phase_floor, "naive": phase_naive}[args.phase]
    result = phase(args)
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["rss_after_kb"] = _rss_now_kb()
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


def _rss_now_kb() -> int:
    """The resident memory now, in kB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def phase_build(args: argparse.Namespace) -> dict:
    """Migrate the phase's database and build the portfolio in it."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    # Imported once migrated: the builder's imports (the demo's, with Faker)
    # would otherwise be held through migrate and add to the phase's peak memory.
    from .portfolio import PortfolioBuilder, night_before_spread

    rows = PortfolioBuilder(loans=args.loans, seed=args.seed, as_of=args.as_of).build()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "spread": night_before_spread()}


def phase_cycle(args: argparse.Namespace) -> dict:
    """Run the desk's nightly cycle, measuring each step (seconds, rows written, WAL)."""
    from .compare import outcome
    from .meter import reading
    from .project import collection_cycle

    steps: dict[str, dict] = {}
    last = reading()

    def progress(step: str, *_args) -> None:
        # Called after each step: the reading since the step before is that step's.
        nonlocal last
        bar.update(1)
        now = reading()
        steps[step] = (now - last).as_dict()
        last = now

    with progress_bar("cycle", None, "step") as bar:
        started = reading()
        counts = collection_cycle(as_of=args.as_of, progress=progress)
        whole = (reading() - started).as_dict()
    return {**whole, "counts": counts, "steps": steps, "outcome": outcome()}


def phase_floor(args: argparse.Namespace) -> dict:
    """Run the floor's steps, each its own transaction, measuring each (seconds, rows written, WAL)."""
    from django.db import transaction

    from .compare import outcome
    from .floor import Floor
    from .meter import reading

    floor = Floor(as_of=args.as_of)
    steps, counts = {}, {}
    started = last = reading()
    for step, run in floor.steps():
        with transaction.atomic():
            counts[step] = run()
        now = reading()
        steps[step] = (now - last).as_dict()
        last = now
    whole = (reading() - started).as_dict()
    return {**whole, "counts": counts, "steps": steps, "outcome": outcome()}


def phase_naive(args: argparse.Namespace) -> dict:
    """Run the one-case path on a sample of loans, and its whole-portfolio passes once."""
    from unittest import mock

    from .project import collection_cycle_case_by_case, portfolio_snapshot_take

    # The one-case path's promise step is promises_evaluate over every promise due, whatever the
    # sample, as the cycle's: one pass over the whole portfolio, timed on its own and not
    # extrapolated per loan (as the snapshot). The one-case path calls that step by name in its
    # own module, so it is wrapped there, wherever the module is.
    reference = sys.modules[collection_cycle_case_by_case.__module__]
    promises_seconds = 0.0
    promises = reference._promises

    def promises_timed(**kwargs) -> dict[str, int]:
        nonlocal promises_seconds
        started = time.perf_counter()
        try:
            return promises(**kwargs)
        finally:
            promises_seconds += time.perf_counter() - started

    sample = sorted(random.Random(f"naive-{args.seed}").sample(range(1, args.loans + 1), min(args.sample, args.loans)))
    started = time.perf_counter()
    with mock.patch.object(reference, "_promises", promises_timed):
        counts = collection_cycle_case_by_case(as_of=args.as_of, loan_ids=sample, snapshot=False)
    per_loan = time.perf_counter() - started - promises_seconds
    started = time.perf_counter()
    counts["snapshot"] = {"snapshot_rows": portfolio_snapshot_take(as_of=args.as_of)}
    once = promises_seconds + time.perf_counter() - started
    return {"seconds": per_loan, "seconds_once": once, "counts": counts}


if __name__ == "__main__":
    sys.exit(main())
