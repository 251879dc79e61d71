"""`manage.py file_dashboard_days [--through DATE] [--again]`: file the dashboard's past days now,
as the nightly cycle does (collection.dashboard.filing): once after deploying, to file the desk's
whole history with a progress bar rather than in the first night's cycle."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from collection.dashboard.filing import days_file, days_to_file
from collection.management.arguments import day_argument
from collection.models import DashboardDay


class Command(BaseCommand):
    help = (
        "File the dashboard's past days (what the nightly cycle's dashboard step does): every day not filed yet "
        "and every filed day with a record added, reversed or changed since the last filing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--through",
            type=day_argument,
            default=None,
            help="The last day to file, YYYY-MM-DD, before today (default yesterday in Asia/Shanghai).",
        )
        parser.add_argument(
            "--again",
            action="store_true",
            help="File every day again, from the desk's first record on (after a change to what the figures count).",
        )

    def handle(self, *args, through, again, verbosity, **options):
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        through = through or yesterday
        if through > yesterday:
            raise CommandError(
                f"--through {through}: only past days are filed, up to yesterday ({yesterday}); today's figures "
                "are read from the records themselves."
            )
        if again:
            DashboardDay.objects.filter(day__lte=through).delete()
        days = days_to_file(through=through)
        if not days:
            self.stdout.write(f"Nothing to file: every day up to {through} is filed and unchanged since.")
            return
        with tqdm(total=len(days), unit="day", disable=verbosity < 1, desc="dashboard days") as bar:
            counts = days_file(days, progress=bar.update)
        self.stdout.write(
            f"Filed {counts['days_filed']:,} days ({days[0]} to {days[-1]}): "
            f"{counts['figures_written']:,} figures written."
        )
