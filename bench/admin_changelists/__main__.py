"""The command: sets Django up on DATABASE_URL, logs a superuser in and times every request. The
method is described in the package's docstring."""

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bench.arguments import positive

from .requests import CHANGELISTS

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.admin_changelists",
        description="Time the admin's changelists plain, searched and filtered on the database of DATABASE_URL.",
    )
    parser.add_argument("--repeat", type=positive, default=3, help="Runs of each request after a warm-up (default 3).")
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="Time the first request too (for lists that take many seconds, as before an index).",
    )
    parser.add_argument(
        "--request",
        action="append",
        help='Only the requests whose label starts so, e.g. plain, search, "search phone", filter (may be '
        "given more than once; default all).",
    )
    parser.add_argument(
        "--changelist",
        action="append",
        choices=sorted(CHANGELISTS),
        help="Only this changelist (may be given more than once; default all).",
    )
    return parser.parse_args(argv)


def database_name(url: str) -> str:
    """The database's name in DATABASE_URL: the path's last part (a SQLite file's name without
    its suffix)."""
    return Path(urlsplit(url).path).stem if url.startswith("sqlite") else urlsplit(url).path.lstrip("/")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        print("bench.admin_changelists: set DATABASE_URL to the populated database to measure", file=sys.stderr)
        return 2
    name = database_name(url)
    if not name:
        print("bench.admin_changelists: DATABASE_URL names no database", file=sys.stderr)
        return 2
    if name.startswith("test_"):
        print(f"bench.admin_changelists: database {name}: names starting with test_ are the tests'", file=sys.stderr)
        return 2
    # The development settings with debug off, as a server runs; ALLOWED_HOSTS takes localhost.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "false"
    sys.path.insert(0, str(PROJECT_DIR))
    import warnings

    import django

    # The admin's pages are served from the views alone: collected static files are not needed.
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
    django.setup()
    from .run import run
    from .timing import BenchError

    try:
        run(
            repeat=args.repeat,
            only=args.changelist,
            labels=args.request,
            warm_up=not args.no_warm_up,
            out=sys.stdout,
        )
    except (BenchError, LookupError) as error:
        print(f"bench.admin_changelists: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
