"""The command: makes the run's database, builds the portfolio in it, times the workspace's pages
on it. The method is described in the package's docstring."""

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

from bench.arguments import page_timing_arguments, positive
from bench.collection_cycle.server import BenchError, Server

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
PREFIX = "bench_workspace_"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.workspace",
        description="Time the collector's workspace (queue, case page, logging an attempt) on a big portfolio.",
    )
    parser.add_argument("--loans", type=positive, default=1_000_000, help="Loans in the portfolio (default 1000000).")
    parser.add_argument("--cases", type=positive, default=1_000, help="Open cases the collector holds (default 1000).")
    page_timing_arguments(
        parser,
        prefix=PREFIX,
        operations='queue, "queue search", case, attempt',
        reuse="the collector's cases' history written anew as of now",
    )
    return parser.parse_args(argv)


def run_database(server: Server, name: str | None) -> str:
    """The run's database: `name`, or bench_workspace_ and 8 random hex digits. Refuses the names it
    must never drop: test_* (the test runs') and DATABASE_URL's own."""
    name = name or f"{PREFIX}{secrets.token_hex(4)}"
    if name.startswith("test_"):
        raise BenchError(f"--database-name {name}: names starting with test_ are the test runs' databases")
    if name == server.database:
        raise BenchError(f"--database-name {name}: the run would drop DATABASE_URL's database")
    if len(name.encode()) > 63:
        raise BenchError(f"--database-name {name}: longer than PostgreSQL's 63 bytes")
    return name


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.reuse and not args.database_name:
        print("bench.workspace: --reuse needs --database-name", file=sys.stderr)
        return 2
    try:
        server = Server.from_environment()
        database = run_database(server, args.database_name)
    except BenchError as error:
        print(f"bench.workspace: {error}", file=sys.stderr)
        return 2
    keep = args.keep or args.reuse
    size = "reused as built" if args.reuse else f"{args.loans:,} loans"
    print(
        f"bench.workspace: {size}, {args.cases:,} cases for one collector, seed {args.seed}; "
        f"database {database} on {server.host}:{server.port}",
        flush=True,
    )
    try:
        if not args.reuse:
            server.drop(database)
            server.create(database)
        return _measure(args, server.url_for(database))
    except BenchError as error:
        print(f"bench.workspace: {error}", file=sys.stderr)
        return 1
    finally:
        if not keep:
            close_connections()
            server.drop(database)
        else:
            print(f"kept database: {database}")


def django_setup(url: str) -> None:
    """Django set up on the run's database, with the development settings and debug off, as a
    server runs, and the web service's database options (docker-compose.yml: no parallel
    workers, unless DESK_DB_PARALLEL_WORKERS says otherwise); ALLOWED_HOSTS takes localhost."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DESK_DB_PARALLEL_WORKERS", "0")
    sys.path.insert(0, str(PROJECT_DIR))
    import warnings

    import django

    # The pages are served from the views alone: collected static files are not needed.
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
    django.setup()
    import logging

    # The run's login is no news: django-axes logs every one.
    logging.getLogger("axes").setLevel(logging.WARNING)
    # Nor is each call the conduct limits refuse (422), which Django logs as a warning.
    logging.getLogger("django.request").setLevel(logging.ERROR)


def _measure(args: argparse.Namespace, url: str) -> int:
    django_setup(url)
    from django.core.management import call_command
    from django.utils import timezone

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    as_of = timezone.localdate()
    if args.reuse:
        from .build import workspace_rewrite

        rows = workspace_rewrite(cases=args.cases, seed=args.seed)
    else:
        from .build import workspace_build

        rows = workspace_build(loans=args.loans, cases=args.cases, seed=args.seed, as_of=as_of)
    seconds = time.perf_counter() - started
    from .run import report_build, run

    report_build(rows, seconds, reused=args.reuse)
    run(requests=args.requests, warm_up=args.warm_up, labels=args.operation, out=sys.stdout, seed=args.seed)
    return 0


def close_connections() -> None:
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    sys.exit(main())
