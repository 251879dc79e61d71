"""The desk's scheduled jobs. Thin: each task takes ids or dates, calls a service and returns
its counts; the database rows are the source of truth, so a task that never ran (Redis away,
worker dead) leaves its work for the next run.

The nightly cycle: run_collection_cycle takes the day's lock (a JobRun) and, where workers can
report back (a result backend is configured), fans the cycle out: each step a chord of its
batches (id ranges of loans), the next step starting when the previous one's batches are all
done. Without a result backend the task runs the same batches itself. Batches are idempotent
and each is one transaction: a batch redelivered after its worker died (acks late, rejected on
worker loss) runs again harmlessly; a run that stopped is taken over by the next start."""

import datetime

from celery import chain, chord, group, shared_task
from django.conf import settings
from django.utils import timezone

from . import cycle
from .messaging import messages_dispatch, reminders_plan_due
from .models import JobRun
from .services import promises_evaluate


def _day(as_of: str | None) -> datetime.date:
    return datetime.date.fromisoformat(as_of) if as_of else timezone.localdate()


def _fans_out() -> bool:
    return bool(settings.CELERY_RESULT_BACKEND) and settings.COLLECTION_CYCLE_FAN_OUT


@shared_task(name="collection.tasks.run_collection_cycle")
def collection_cycle_task(as_of: str | None = None) -> dict:
    """Nightly (01:00 Asia/Shanghai): the collection cycle for the day (default today)."""
    day = _day(as_of)
    try:
        if not _fans_out():
            return cycle.collection_cycle(as_of=day)
        run = cycle.cycle_start(as_of=day)
    except (cycle.CycleAlreadyRan, cycle.CycleRunning) as error:
        return {"skipped": str(error)}
    at = timezone.now().isoformat()
    steps = [
        chord(
            group(
                cycle_step_run_task.si(run.pk, batch.step, day.isoformat(), at, batch.low, batch.high)
                for batch in batches
            ),
            cycle_step_finished_task.s(run.pk, batches[0].step),
        )
        for batches in cycle.cycle_plan()
        if batches
    ]
    chain(*steps, cycle_finish_task.si(run.pk)).apply_async(link_error=cycle_fail_task.s(run.pk))
    return {"job_run": run.pk}


@shared_task(name="collection.tasks.cycle_batch", ignore_result=False, acks_late=True)
def cycle_step_run_task(run_id: int, step: str, as_of: str, at: str, low: int | None, high: int | None) -> dict:
    """One batch of one step of the cycle: one transaction."""
    counts = cycle.cycle_step_run(
        step=step, as_of=_day(as_of), at=datetime.datetime.fromisoformat(at), low=low, high=high
    )
    cycle.cycle_heartbeat(run_id=run_id)
    return counts


@shared_task(name="collection.tasks.cycle_step_done", ignore_result=False)
def cycle_step_finished_task(results: list[dict], run_id: int, step: str) -> dict:
    counts = cycle.sum_counts(results)
    cycle.cycle_step_finished(run_id=run_id, step=step, counts=counts)
    return counts


@shared_task(name="collection.tasks.cycle_done")
def cycle_finish_task(run_id: int) -> None:
    cycle.cycle_finish(run_id=run_id)


@shared_task(name="collection.tasks.cycle_failed")
def cycle_fail_task(request, exc, traceback, run_id: int) -> None:
    cycle.cycle_fail(run_id=run_id, error=exc)


@shared_task(name="collection.tasks.evaluate_promises")
def promises_evaluate_task(as_of: str | None = None) -> dict:
    """Hourly: settle the promises and plan installments whose window has closed."""
    day = _day(as_of)
    with cycle.job_recorded(job=JobRun.Job.PROMISE_EVALUATION, as_of=day) as run:
        run.counts = {"promises": promises_evaluate(as_of=day)}
    return run.counts


@shared_task(name="collection.tasks.dispatch_reminders")
def reminders_dispatch_task() -> dict[str, dict[str, int]]:
    """Every 15 minutes: plan today's due reminders (nothing new after the day's first run) and
    those of a day on which no dispatch ran, then send the queued messages whose time has come,
    retries and rescheduled ones included."""
    day = timezone.localdate()
    with cycle.job_recorded(job=JobRun.Job.REMINDER_DISPATCH, as_of=day) as run:
        run.counts = {"planned": reminders_plan_due(today=day)}
        run.counts["dispatched"] = messages_dispatch()
    return run.counts
