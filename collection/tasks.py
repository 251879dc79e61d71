"""The desk's scheduled jobs: thin Celery entry points that take dates or ids and call services.
The database rows are the source of truth, so a task that never ran (Redis away, worker dead)
leaves its work for the next run. How the cycle runs on the workers is in the README
("Scale-out")."""

import datetime
import logging

from celery import chain, shared_task
from django.conf import settings
from django.utils import timezone

from . import cycle
from .jobs import (
    JobAlreadyRan,
    JobRunning,
    job_fail,
    job_finish,
    job_recorded,
    job_step_finished,
)
from .messaging import DISPATCH_STEPS, messages_dispatch, reminders_plan_due
from .models import JobRun
from .services.promise_evaluation import PROMISES_STEP, promises_evaluate

logger = logging.getLogger(__name__)


def job_steps(job: str) -> tuple:
    """The steps of a job, as its runs keep their counts (the admin's job runs show them)."""
    return {
        JobRun.Job.COLLECTION_CYCLE: cycle.cycle_steps(),
        JobRun.Job.REMINDER_DISPATCH: DISPATCH_STEPS,
        JobRun.Job.PROMISE_EVALUATION: (PROMISES_STEP,),
    }.get(job, ())


def _day(as_of: str | None) -> datetime.date:
    return datetime.date.fromisoformat(as_of) if as_of else timezone.localdate()


def _fans_out() -> bool:
    return bool(settings.CELERY_RESULT_BACKEND) and settings.COLLECTION_CYCLE_FAN_OUT


@shared_task(name="collection.tasks.run_collection_cycle")
def collection_cycle_task(as_of: str | None = None) -> dict:
    """Nightly (01:00 Asia/Shanghai): the collection cycle for the day (default today). With a
    result backend, each step is a task of its own on whichever worker takes it, the next step
    starting when the previous one is done; without one, this task runs the steps itself."""
    day = _day(as_of)
    try:
        if not _fans_out():
            return cycle.collection_cycle(as_of=day)
        run = cycle.cycle_start(as_of=day)
    except (JobAlreadyRan, JobRunning) as error:
        return {"skipped": str(error)}
    at = timezone.now().isoformat()
    steps = [
        task
        for step in cycle.cycle_plan()
        for task in (cycle_step_run_task.si(step, day.isoformat(), at), job_step_finished_task.s(run.pk, step))
    ]
    chain(*steps, job_finish_task.si(run.pk)).apply_async(link_error=job_fail_task.s(run.pk))
    return {"job_run": run.pk}


# Acknowledged late: a step whose worker died is delivered again (it is idempotent).
@shared_task(name="collection.tasks.cycle_batch", ignore_result=False, acks_late=True)
def cycle_step_run_task(step: str, as_of: str, at: str) -> dict:
    """One step of the cycle: one transaction, or a chunk at a time for a step that commits itself."""
    return cycle.cycle_step_run(step=step, as_of=_day(as_of), at=datetime.datetime.fromisoformat(at))


@shared_task(name="collection.tasks.cycle_step_done", ignore_result=False)
def job_step_finished_task(counts: dict, run_id: int, step: str) -> dict:
    """Keep the step's counts on the run, which also says the run is alive."""
    job_step_finished(run_id=run_id, step=step, counts=counts)
    return counts


@shared_task(name="collection.tasks.cycle_done")
def job_finish_task(run_id: int) -> None:
    job_finish(run_id=run_id)


@shared_task(name="collection.tasks.cycle_failed")
def job_fail_task(request, exc, traceback, run_id: int) -> None:
    job_fail(run_id=run_id, error=exc)


@shared_task(name="collection.tasks.evaluate_promises")
def promises_evaluate_task(as_of: str | None = None) -> dict:
    """Hourly: settle the promises and plan installments whose window has closed."""
    day = _day(as_of)
    with job_recorded(job=JobRun.Job.PROMISE_EVALUATION, as_of=day) as run:
        run.counts = {PROMISES_STEP.name: promises_evaluate(as_of=day)}
    return run.counts


@shared_task(name="collection.tasks.dispatch_reminders")
def reminders_dispatch_task() -> dict[str, dict[str, int]]:
    """Every 15 minutes: plan today's due reminders (and a missed day's), then send the queued
    messages whose time has come, retries and rescheduled ones included."""
    day = timezone.localdate()
    with job_recorded(job=JobRun.Job.REMINDER_DISPATCH, as_of=day) as run:
        # Planning failing must not keep the messages already queued from going out: they are
        # sent, and then the run is failed with planning's error (the next run plans again).
        planning_failed = None
        try:
            run.counts = {"planned": reminders_plan_due(today=day)}
        except Exception as error:
            logger.exception("Planning reminders for %s failed", day)
            planning_failed = error
        run.counts["dispatched"] = messages_dispatch()
        if planning_failed is not None:
            raise planning_failed
    return run.counts
