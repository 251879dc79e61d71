"""The command: a database of its own, the portfolio and the dashboard's history built in it (or
reused), the requests timed. The method is described in the package's docstring."""

import argparse
import datetime
import os
import secrets
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.arguments import positive
from bench.collection_cycle.server import BenchError, Server

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
DESK_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard",
        description="Time /dashboard/ (whole desk and one team, this month and 90 days, a CSV) on a built portfolio.",
    )
    parser.add_argument("--loans", type=positive, default=100_000, help="Loans in the portfolio (default 100000).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the portfolio (default 1).")
    parser.add_argument(
        "--as-of", type=datetime.date.fromisoformat, default=None, help="The day, YYYY-MM-DD (default today)."
    )
    parser.add_argument("--requests", type=positive, default=20, help="Timed requests of each kind (default 20).")
    parser.add_argument("--warm-up", type=int, default=2, help="Untimed requests first (default 2).")
    parser.add_argument(
        "--database-name", default=None, help="The database (default bench_dashboard_ and 8 random hex digits)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--reuse", action="store_true", help="Time a kept database that holds loans again, without building."
    )
    return parser.parse_args(argv)


def _database(server: Server, name: str | None) -> str:
    name = name or f"bench_dashboard_{secrets.token_hex(4)}"
    if name.startswith("test_"):
        raise BenchError(f"--database-name {name}: names starting with test_ are the test runs' databases")
    if name == server.database:
        raise BenchError(f"--database-name {name}: the run would drop DATABASE_URL's database")
    return name


def _holds_loans(server: Server, name: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(server.url_for(name)) as connection:
            return bool(connection.execute("SELECT EXISTS (SELECT 1 FROM loans_loan)").fetchone()[0])
    except psycopg.Error:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    as_of = args.as_of or datetime.datetime.now(DESK_TIME_ZONE).date()
    try:
        server = Server.from_environment()
        name = _database(server, args.database_name)
    except BenchError as error:
        print(f"bench.dashboard: {error}", file=sys.stderr)
        return 2
    build = not (args.reuse and _holds_loans(server, name))
    print(
        f"bench.dashboard: {args.loans:,} loans, seed {args.seed}, as of {as_of}; database {name} on "
        f"{server.host}:{server.port}{'' if build else ' (reused)'}",
        flush=True,
    )
    try:
        if build:
            server.drop(name)
            server.create(name)
        os.environ["DATABASE_URL"] = server.url_for(name)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        os.environ["DEBUG"] = "false"
        # the web service's database options (docker-compose.yml: no parallel workers, unless
        # DESK_DB_PARALLEL_WORKERS says otherwise); the dashboard asks for its own (period_scans)
        os.environ.setdefault("DESK_DB_PARALLEL_WORKERS", "0")
        sys.path.insert(0, str(PROJECT_DIR))
        import warnings

        import django

        warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
        django.setup()
        if build:
            built(args, as_of)
        from .run import run

        run(requests=args.requests, warm_up=args.warm_up, out=sys.stdout)
    except BenchError as error:
        print(f"bench.dashboard: {error}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            server.drop(name)
    if args.keep:
        print(f"kept database: {name}")
    return 0


def built(args: argparse.Namespace, as_of: datetime.date) -> None:
    from django.core.management import call_command

    from bench.collection_cycle.portfolio import PortfolioBuilder
    from bench.collection_cycle.sql import execute

    from .history import history_build

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    rows = PortfolioBuilder(loans=args.loans, seed=args.seed, as_of=as_of).build()
    rows.update(history_build(seed=args.seed, as_of=as_of))
    # As tables the desk has worked on for a while: statistics fresh for the planner.
    execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    print(
        f"portfolio (built in {seconds:.1f} s): " + ", ".join(f"{count:,} {kind}" for kind, count in rows.items()),
        flush=True,
    )
    filed(as_of)


def filed(as_of: datetime.date) -> None:
    """The dashboard's days up to yesterday filed, as the nightly cycle leaves them: the backfill
    of the whole history timed, then what a night adds: looking for changed days (every record
    here is new, so all of them are, where a night finds a few) and filing yesterday again."""
    from collection.dashboard.filing import days_file, days_to_file, filing_through

    through = filing_through(as_of)
    started = time.perf_counter()
    counts = days_file(days_to_file(through=through))
    print(
        f"dashboard filing, backfill: {counts['days_filed']:,} days, {counts['figures_written']:,} figures "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    started = time.perf_counter()
    changed = days_to_file(through=through)
    looked = time.perf_counter() - started
    started = time.perf_counter()
    counts = days_file([through])
    print(
        f"dashboard filing, a night: changed days found in {looked:.1f} s ({len(changed):,}); "
        f"yesterday filed again in {time.perf_counter() - started:.2f} s ({counts['figures_written']:,} figures)",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
