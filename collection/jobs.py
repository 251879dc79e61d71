"""The record of the desk's scheduled jobs: one JobRun per run, with the counts of each step and
any error, and for a job that runs once a day (the nightly cycle) the day's lock; and the counts
in the desk's words, for the command's summary and the admin."""

import contextlib
import dataclasses
import datetime
import traceback
from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.phones import mask_numbers_in

from .exceptions import CollectionError
from .models import JobRun

__all__ = [
    "STALE_AFTER",
    "JobAlreadyRan",
    "JobRunning",
    "Step",
    "counts_in_words",
    "job_fail",
    "job_finish",
    "job_recorded",
    "job_start",
    "job_step_finished",
]

# A run whose heartbeat is older than this is taken to be dead: the next start takes it over.
STALE_AFTER = datetime.timedelta(minutes=15)


@dataclasses.dataclass(frozen=True)
class Step:
    """A step of a job as the desk reads it: its name in JobRun.counts, its label, and the label
    of each count it keeps."""

    name: str
    label: str
    counts: Mapping[str, str]


class JobAlreadyRan(CollectionError):
    """The job already ran for this day: a second run would change nothing."""


class JobRunning(CollectionError):
    """Another run of the job for this day is under way."""


def _lock_key(job: str, as_of: datetime.date) -> str:
    return f"{job}:{as_of.isoformat()}"


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def job_start(*, job: str, as_of: datetime.date) -> JobRun:
    """Take the day's lock of a once-a-day job and record its run. Refused while another run is
    alive (JobRunning) or once the day's run succeeded (JobAlreadyRan); a failed run, or one whose
    heartbeat stopped (its worker died), is taken over: its steps are idempotent, so the new run
    finishes the work."""
    now = timezone.now()
    label = JobRun.Job(job).label
    key = _lock_key(job, as_of)
    try:
        with transaction.atomic():
            return JobRun.objects.create(job=job, as_of=as_of, lock_key=key, started_at=now, heartbeat_at=now)
    except IntegrityError:  # the day's lock is taken
        pass
    run = JobRun.objects.get(lock_key=key)
    if run.status == JobRun.Status.SUCCEEDED:
        raise JobAlreadyRan(
            _("%(job)s for %(day)s already ran (finished %(finished)s): nothing to do.")
            % {"job": label, "day": as_of, "finished": _when(run.finished_at)}
        )
    if run.status == JobRun.Status.RUNNING and run.heartbeat_at > now - STALE_AFTER:
        raise JobRunning(
            _("%(job)s for %(day)s is already running (started %(started)s).")
            % {"job": label, "day": as_of, "started": _when(run.started_at)}
        )
    # Take it over only as it was read: of two starts at once, one wins.
    taken = JobRun.objects.filter(pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at).update(
        status=JobRun.Status.RUNNING, heartbeat_at=now, attempts=F("attempts") + 1, finished_at=None
    )
    if not taken:
        raise JobRunning(_("%(job)s for %(day)s is already running.") % {"job": label, "day": as_of})
    run.refresh_from_db()
    return run


def job_step_finished(*, run_id: int, step: str, counts: dict[str, int]) -> None:
    """Record a step's counts in the run (and that the run is alive)."""
    with transaction.atomic():
        run = JobRun.objects.select_for_update().get(pk=run_id)
        run.counts = {**run.counts, step: counts}
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["counts", "heartbeat_at"])


def job_finish(*, run_id: int) -> JobRun:
    now = timezone.now()
    JobRun.objects.filter(pk=run_id).update(status=JobRun.Status.SUCCEEDED, finished_at=now, heartbeat_at=now)
    return JobRun.objects.get(pk=run_id)


def job_fail(*, run_id: int, error: BaseException, counts: dict | None = None) -> None:
    """Mark the run failed with its error (and the counts it got to, when given); a locked job's
    next start takes it over and finishes the work."""
    now = timezone.now()
    run = JobRun.objects.get(pk=run_id)
    # Masked: a database error can quote the row it refused, national ID or phone number included.
    text = mask_numbers_in("".join(traceback.format_exception_only(error)).strip())
    failed = {
        "status": JobRun.Status.FAILED,
        "finished_at": now,
        "errors": f"{run.errors}\n{now:%Y-%m-%d %H:%M:%S} {text}".strip(),
    }
    if counts is not None:
        failed["counts"] = counts
    JobRun.objects.filter(pk=run_id).update(**failed)


@contextlib.contextmanager
def job_recorded(*, job: str, as_of: datetime.date):
    """Record a run of a job that takes no lock (reminder dispatch, promise evaluation): yields
    the JobRun, whose `counts` the caller fills; marked succeeded, or failed with the error. Keeps
    the job's succeeded runs for COLLECTION_JOB_RUNS_KEPT_DAYS (and always the latest)."""
    run = JobRun.objects.create(job=job, as_of=as_of)
    try:
        yield run
    except Exception as error:
        job_fail(run_id=run.pk, error=error, counts=run.counts or {})
        raise
    now = timezone.now()
    JobRun.objects.filter(pk=run.pk).update(
        status=JobRun.Status.SUCCEEDED, counts=run.counts, finished_at=now, heartbeat_at=now
    )
    # A job that runs every quarter of an hour would pile up rows no one reads (reminder dispatch
    # plans from the latest one, which stays).
    JobRun.objects.filter(
        job=job,
        status=JobRun.Status.SUCCEEDED,
        started_at__lt=now - datetime.timedelta(days=settings.COLLECTION_JOB_RUNS_KEPT_DAYS),
    ).exclude(pk=run.pk).delete()


def counts_in_words(counts: dict, steps: Sequence[Step]) -> list[tuple[str, str]]:
    """A JobRun's counts as (step, "count value, ...") rows in the active language: the steps in
    the order `steps` gives them, each count by its label in that order (a step or count without
    a label is shown by its name, after the known ones)."""
    by_name = {step.name: step for step in steps}

    def in_order(names: Iterable[str], order: Sequence[str]) -> list[str]:
        return sorted(names, key=lambda name: (order.index(name) if name in order else len(order), name))

    rows = []
    for name in in_order(counts, [step.name for step in steps]):
        step, values = by_name.get(name), counts[name]
        labels = step.counts if step is not None else {}
        if isinstance(values, dict):
            keys = in_order(values, list(labels))
            summary = ", ".join(f"{labels.get(key, key)} {values[key]:,}" for key in keys)
        else:
            summary = str(values)
        rows.append((str(step.label) if step is not None else name, summary or _("nothing")))
    return rows
