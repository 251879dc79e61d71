"""The command: makes the run's database, builds the legal portfolio in it, times the legal
track's nightly steps and pages on it. The method is described in the package's docstring."""

import argparse
import os
import sys
import time

from bench.arguments import page_timing_arguments, positive
from bench.collection_cycle.server import BenchError, Server
from bench.workspace.__main__ import close_connections, django_setup, run_database

PREFIX = "bench_legal_"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.legal",
        description="Time the legal officer's pages (queue, case page, portfolio) and the legal nightly steps.",
    )
    parser.add_argument(
        "--legal-cases", type=positive, default=20_000, help="Legal cases in the portfolio (default 20000)."
    )
    parser.add_argument(
        "--loans",
        type=positive,
        default=None,
        help="Loans in the portfolio (default 7 a legal case, about as few as give enough open cases).",
    )
    page_timing_arguments(
        parser,
        prefix=PREFIX,
        operations='"legal queue", "legal case", limitation, deadline',
        reuse="the night's limitation flags and reminders undone",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.reuse and not args.database_name:
        print("bench.legal: --reuse needs --database-name", file=sys.stderr)
        return 2
    loans = args.loans or args.legal_cases * 7
    try:
        server = Server.from_environment()
        database = run_database(server, args.database_name or f"{PREFIX}{os.urandom(4).hex()}")
    except BenchError as error:
        print(f"bench.legal: {error}", file=sys.stderr)
        return 2
    keep = args.keep or args.reuse
    size = "reused as built" if args.reuse else f"{loans:,} loans, {args.legal_cases:,} legal cases"
    print(
        f"bench.legal: {size}, seed {args.seed}; database {database} on {server.host}:{server.port}",
        flush=True,
    )
    try:
        if not args.reuse:
            server.drop(database)
            server.create(database)
        return _measure(args, loans, server.url_for(database))
    except BenchError as error:
        print(f"bench.legal: {error}", file=sys.stderr)
        return 1
    finally:
        if not keep:
            close_connections()
            server.drop(database)
        else:
            print(f"kept database: {database}")


def _measure(args: argparse.Namespace, loans: int, url: str) -> int:
    django_setup(url)
    from django.core.management import call_command
    from django.utils import timezone

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    from .build import legal_build, nightly_undo, portfolio_rows

    if args.reuse:
        nightly_undo()
        rows = portfolio_rows()
    else:
        rows = legal_build(loans=loans, legal_cases=args.legal_cases, seed=args.seed, as_of=timezone.localdate())
    seconds = time.perf_counter() - started
    from .run import report_build, run

    report_build(rows, seconds, reused=args.reuse)
    run(requests=args.requests, warm_up=args.warm_up, labels=args.operation, out=sys.stdout, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
