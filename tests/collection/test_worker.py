"""The scheduled jobs on a real Celery worker against Redis (celery.contrib.testing), and the
desk without Redis."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from collection import cycle
from collection.jobs import STALE_AFTER
from collection.models import CollectionCase, JobRun
from config.celery_app import app
from loans.phones import mask_phone
from tests.collection.portfolio import desk_teams, random_portfolio
from tests.loans.factories import make_days_past_due


def wait_for(condition, *, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("the worker did not finish in time")


@pytest.fixture
def worker():
    """A Celery worker in this process, on the broker and result backend of the settings (Redis)."""
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30):
        yield


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@override_settings(COLLECTION_CYCLE_BATCH_SIZE=100)
def test_the_cycle_task_runs_its_steps_on_a_worker_and_does_what_it_would_do_in_process(worker, system_user):
    from collection.tasks import collection_cycle_task

    as_of = timezone.localdate()
    desk_teams()
    random_portfolio(loans=450, seed=31, as_of=as_of)
    expected = cycle.collection_cycle(as_of=as_of, dry_run=True)

    collection_cycle_task.delay(as_of=as_of.isoformat())
    wait_for(lambda: JobRun.objects.filter(as_of=as_of).exclude(status=JobRun.Status.RUNNING).exists())

    run = JobRun.objects.get(as_of=as_of)
    assert run.status == JobRun.Status.SUCCEEDED, run.errors
    assert run.counts == expected
    assert CollectionCase.objects.filter(stage="reminder", assigned_to__isnull=False).exists()
    # The day's lock holds: beat firing twice starts nothing more.
    assert "skipped" in collection_cycle_task.apply(kwargs={"as_of": as_of.isoformat()}).get()
    assert JobRun.objects.get(as_of=as_of).attempts == 1


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reminder_goes_out_end_to_end_through_a_worker(worker, system_user, settings, tmp_path, monkeypatch):
    """A case one day into reminder: the dispatch task plans its day-1 SMS and sends it through
    the SMS backend (a file here), after the conduct check, and the case's history shows it."""
    import datetime
    import json

    from collection import conduct
    from collection.models import ContactAttempt, OutboundMessage, ReminderStep
    from collection.tasks import reminders_dispatch_task
    from loans.models import Loan
    from tests.collection.factories import CaseFactory
    from tests.loans.factories import ContactFactory

    settings.COLLECTION_SMS_BACKEND = "collection.channels.FileSmsBackend"
    settings.COLLECTION_SMS_FILE = str(tmp_path / "sms.jsonl")
    # Whenever the suite runs: the send window spans the day, and quiet hours (which the policy can
    # no longer move away from the night: they are a legal floor) are not what this test is about.
    ReminderStep.objects.update(send_window_start=datetime.time(0, 0), send_window_end=datetime.time(23, 59))
    monkeypatch.setattr(conduct, "_quiet_hours", lambda attempt, at: None)
    case = CaseFactory(stage_entered_at=timezone.now() - datetime.timedelta(days=1))
    make_days_past_due(Loan.objects.filter(pk=case.loan_id), 2, status=Loan.Status.DELINQUENT, overdue_amount=100)
    mobile = ContactFactory(borrower=case.loan.borrower, verification="verified")

    reminders_dispatch_task.delay()
    wait_for(lambda: OutboundMessage.objects.filter(case=case, status=OutboundMessage.Status.SENT).exists())

    message = OutboundMessage.objects.get(case=case)
    assert message.contact == mobile and message.channel == "sms"
    sent = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["to"] for line in sent] == [mask_phone(mobile.value)]  # masked in the outbox file (F10)
    assert ContactAttempt.objects.filter(case=case, channel="sms", outcome="sent").count() == 1
    assert JobRun.objects.filter(job=JobRun.Job.REMINDER_DISPATCH, status=JobRun.Status.SUCCEEDED).exists()


AWAY = "redis://127.0.0.1:1/0"  # nothing listens there


@pytest.mark.django_db
@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": AWAY}})
def test_pages_keep_working_while_redis_is_away(client, admin_user, collector, monkeypatch):
    """The database is the source of truth: nothing a user does waits on the broker or cache.
    The cache points at a closed port, and sending any task fails as it would without Redis."""
    from celery.app.task import Task
    from kombu.exceptions import OperationalError

    def broker_away(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", broker_away)
    for user, pages in (
        (collector, [reverse("collection:queue"), reverse("portfolio")]),
        (
            admin_user,
            [
                reverse("portfolio"),
                reverse("admin:collection_collectioncase_changelist"),
                reverse("admin:collection_jobrun_changelist"),
                reverse("admin:collection_outboundmessage_changelist"),
            ],
        ),
    ):
        client.force_login(user)
        for page in pages:
            assert client.get(page).status_code == 200, page


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_in_the_middle_of_a_batch_leaves_nothing_half_done_and_the_next_run_finishes(
    system_user, settings
):
    """A real worker process runs the cycle's first refresh batch; a loan of that batch is held
    locked so the batch is caught inside its transaction; the worker is killed (SIGKILL). None of
    the batch's loans is aged, the run is left without a heartbeat, and the next start takes it
    over and leaves the desk as a clean run would."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import psycopg
    from django.db import connection

    from collection.tasks import collection_cycle_task
    from loans.models import AgeingRun, Loan

    as_of = timezone.localdate()
    desk_teams()
    random_portfolio(loans=300, seed=37, as_of=as_of)
    expected = cycle.collection_cycle(as_of=as_of, dry_run=True)
    first_loan = Loan.objects.order_by("pk").first()

    database = connection.settings_dict
    url = (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    holder = psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=False)
    holder.execute("SELECT id FROM loans_loan WHERE id = %s FOR UPDATE", [first_loan.pk])
    # Activity statistics are a snapshot per transaction: watch from a connection of its own.
    watcher = psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True)
    worker = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    try:
        collection_cycle_task.delay(as_of=as_of.isoformat())
        # The batch is in: its UPDATE waits on the held row.
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE loans_loan%'"
        )
        wait_for(
            lambda: watcher.execute(waiting).fetchone()[0] > 0,
            seconds=60,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
        holder.rollback()
        holder.close()
        watcher.close()
        # The dead worker's batch message would come back after the visibility timeout (an
        # hour): harmless (batches are idempotent), but not for this test suite's later runs.
        import redis

        redis.Redis.from_url(django_settings.REDIS_URL).delete("unacked", "unacked_index")
        app.control.purge()

    run = JobRun.objects.get(as_of=as_of)
    assert run.status == JobRun.Status.RUNNING and "refresh" not in run.counts
    assert not Loan.objects.filter(needs_ageing=False).exists()  # the batch left nothing
    assert AgeingRun.objects.get().finished_at is None  # the ageing run did not finish

    # Its heartbeat stops; once it is stale the next start takes the run over and finishes it.
    JobRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - STALE_AFTER * 2)
    settings.COLLECTION_CYCLE_FAN_OUT = False
    collection_cycle_task.apply(kwargs={"as_of": as_of.isoformat()})
    run.refresh_from_db()
    assert run.status == JobRun.Status.SUCCEEDED and run.attempts == 2
    assert run.counts == expected
