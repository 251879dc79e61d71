"""`manage.py run_collection_cycle [--as-of DATE] [--dry-run] [--on-workers]`: the nightly cycle."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from tqdm import tqdm

from accounts.audit import audit_actor
from collection.cycle import collection_cycle, cycle_plan, cycle_steps
from collection.exceptions import CollectionError
from collection.jobs import JobAlreadyRan, JobRunning, counts_in_words
from collection.management.arguments import day_argument


class Command(BaseCommand):
    help = (
        "Run the nightly collection cycle (its steps are in the README). Once per day: a second run for the "
        "same day does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            type=day_argument,
            default=None,
            help="The day to run for, YYYY-MM-DD: past days back-fill, days to come are what-if runs "
            "(default today in Asia/Shanghai).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print what would happen and change nothing.")
        parser.add_argument(
            "--on-workers",
            action="store_true",
            help="Hand the run to the Celery workers (a task per step) instead of running it here.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Loans per transaction when ageing reads every loan (default COLLECTION_CYCLE_BATCH_SIZE, 20000).",
        )

    def execute(self, *args, **options):
        # What the cycle changes is recorded in the audit trail as the desk's system account's, as
        # when the workers run it.
        with audit_actor():
            return super().execute(*args, **options)

    def handle(self, *args, as_of, dry_run, on_workers, batch_size, verbosity, **options):
        as_of = as_of or timezone.localdate()
        if on_workers:
            if dry_run:
                raise CommandError("--dry-run runs here: leave out --on-workers.")
            from collection.tasks import collection_cycle_task

            result = collection_cycle_task.delay(as_of=as_of.isoformat())
            self.stdout.write(f"Handed the collection cycle for {as_of} to the workers (task {result.id}).")
            return

        # Shown from the first step on: a run refused by the day's lock prints only why.
        bar = tqdm(total=len(cycle_plan()), unit="step", disable=verbosity < 1, desc="collection cycle", delay=0.1)

        def progress(step: str, done: int) -> None:
            bar.set_postfix_str(step, refresh=False)
            bar.update(done)

        try:
            counts = collection_cycle(as_of=as_of, dry_run=dry_run, progress=progress, batch_size=batch_size)
        except (JobAlreadyRan, JobRunning) as error:
            self.stdout.write(str(error))
            return
        except CollectionError as error:
            raise CommandError(str(error)) from error
        finally:
            bar.close()
        title = (
            _("Dry run for %(day)s: nothing was changed. It would have done:")
            if dry_run
            else _("Collection cycle for %(day)s done:")
        )
        self.stdout.write(title % {"day": as_of})
        for step, summary in counts_in_words(counts, cycle_steps()):
            self.stdout.write(f"  {step}: {summary}")
