"""What the benchmarks' command lines share."""

import argparse


def positive(value: str) -> int:
    """An argparse type: a whole number of at least one."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def page_timing_arguments(parser: argparse.ArgumentParser, *, prefix: str, operations: str, reuse: str) -> None:
    """The options of a benchmark that times pages on a database of its own: the portfolio's seed,
    the requests, which operations, the database's name, keeping it and timing it again. `operations`
    gives examples of labels, `reuse` what a reused database is brought back to."""
    parser.add_argument("--seed", type=int, default=1, help="Seed of the portfolio (default 1).")
    parser.add_argument("--requests", type=positive, default=100, help="Timed requests per operation (default 100).")
    parser.add_argument(
        "--warm-up", type=int, default=5, help="Requests per operation before the timed ones (default 5)."
    )
    parser.add_argument(
        "--operation",
        action="append",
        help=f"Only the operations whose label starts so, e.g. {operations} (may be given more than once; "
        "default all).",
    )
    parser.add_argument(
        "--database-name",
        default=None,
        help=f"Name of the benchmark's database (default {prefix} and 8 random hex digits, new each run).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help=f"Time the database of --database-name, built by an earlier run with --keep: its migrations brought "
        f"up to date and {reuse}; implies --keep.",
    )
