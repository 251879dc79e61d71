"""`manage.py seed_demo`: fill an empty database with a demo desk (see demo.seed)."""

from datetime import date

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from demo.people import demo_logins_path, demo_logins_table, demo_logins_write
from demo.seed import demo_desk_seed, portfolio_counts, today


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Seed a realistic demo portfolio (borrowers, contacts, loans, schedules, payments), the demo users, "
        "and the desk's work of the 60 days before the day (cases, calls, reminders, promises, plans, "
        "decisions), run the collection cycle for the day, then print the logins. Same --seed and --as-of, "
        "same data; the passwords are random on every run. Only into an empty portfolio, and never under "
        "production settings."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loans", type=_positive, default=5_000, help="How many loans (default 5000).")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the random data (default 1).")
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="The day the portfolio is aged to, YYYY-MM-DD (default today in Asia/Shanghai).",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already holds a portfolio."
        )
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="Make the demo admin a superuser too (by default it holds the admin role only).",
        )

    def handle(self, *args, loans, seed, as_of, if_empty, superuser, verbosity, **options):
        if getattr(settings, "DESK_ENVIRONMENT", "") == "production":
            raise CommandError(
                "seed_demo refuses to run under production settings: it creates users with known logins and "
                "a made-up portfolio. Seed a development or test database instead."
            )
        counts = portfolio_counts()
        if counts["loans"] or counts["borrowers"]:
            if if_empty:
                self.stdout.write(
                    f"database already has {counts['loans']} loans, not seeding"
                    if counts["loans"]
                    else f"database already has {counts['borrowers']} borrowers, not seeding"
                )
                logins_file = demo_logins_path()
                if logins_file.exists():
                    self.stdout.write(logins_file.read_text(encoding="utf-8"))
                return
            raise CommandError(
                f"The database already has {counts['loans']} loans and {counts['borrowers']} borrowers. "
                "seed_demo only seeds an empty portfolio, so that two demo portfolios never mix: use a fresh "
                "database, or pass --if-empty to skip seeding when data exists."
            )
        as_of = as_of or today()
        summary, logins = demo_desk_seed(
            loans=loans, seed=seed, as_of=as_of, progress=verbosity >= 1, superuser=superuser
        )
        path = demo_logins_write(logins, seed=seed, as_of=as_of)

        if verbosity >= 1:
            rows = ", ".join(f"{count} {name}" for name, count in summary.rows.items())
            self.stdout.write(f"Seeded {rows} (seed {seed}, as of {as_of.isoformat()}).")
            spread = ", ".join(f"{name} {count}" for name, count in summary.buckets)
            self.stdout.write(f"Open loans by bucket: {spread}.")
            self.stdout.write("Loans by status: " + ", ".join(f"{name} {count}" for name, count in summary.statuses))
            timing = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in summary.seconds.items())
            self.stdout.write(f"Took {timing}.")
        # The history covers the nights and days before the as-of day; its nightly cycle goes on from there.
        call_command("run_collection_cycle", "--as-of", as_of.isoformat(), verbosity=verbosity, stdout=self.stdout)
        self.stdout.write("")
        self.stdout.write(demo_logins_table(logins))
        self.stdout.write(f"(written to {path})")
