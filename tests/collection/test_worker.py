"""The scheduled jobs on a real Celery worker against Redis (celery.contrib.testing), and the
desk without Redis."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from collection import cycle
from collection.models import CollectionCase, JobRun
from config.celery_app import app
from tests.collection.portfolio import desk_teams, random_portfolio


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
def test_the_cycle_task_fans_its_batches_out_over_a_worker_and_does_what_it_would_do_in_process(worker, system_user):
    from collection.tasks import run_collection_cycle

    as_of = timezone.localdate()
    desk_teams()
    random_portfolio(loans=450, seed=31, as_of=as_of)
    expected = cycle.collection_cycle(as_of=as_of, dry_run=True)
    assert len(cycle.cycle_plan()[0]) >= 4  # several ranges, so several batch tasks per step

    run_collection_cycle.delay(as_of=as_of.isoformat())
    wait_for(lambda: JobRun.objects.filter(as_of=as_of).exclude(status=JobRun.Status.RUNNING).exists())

    run = JobRun.objects.get(as_of=as_of)
    assert run.status == JobRun.Status.SUCCEEDED, run.errors
    assert run.counts == expected
    assert CollectionCase.objects.filter(stage="reminder", assigned_to__isnull=False).exists()
    # The day's lock holds: beat firing twice starts nothing more.
    assert "skipped" in run_collection_cycle.apply(kwargs={"as_of": as_of.isoformat()}).get()
    assert JobRun.objects.get(as_of=as_of).attempts == 1


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
        (collector, [reverse("home")]),
        (
            admin_user,
            [
                reverse("home"),
                reverse("admin:collection_collectioncase_changelist"),
                reverse("admin:collection_jobrun_changelist"),
                reverse("admin:collection_outboundmessage_changelist"),
            ],
        ),
    ):
        client.force_login(user)
        for page in pages:
            assert client.get(page).status_code == 200, page
