"""Job runs keep their errors without the national IDs and phone numbers a failure quoted (F10);
the nightly cycle's command and the tasks act as the desk's system account in the audit trail."""

import datetime

import pytest
from django.db import IntegrityError

from collection.jobs import job_fail
from collection.models import JobRun
from loans.phones import mask_numbers_in

pytestmark = pytest.mark.django_db


def test_a_failed_runs_error_keeps_no_full_national_id_or_number():
    run = JobRun.objects.create(job=JobRun.Job.REMINDER_DISPATCH, as_of=datetime.date(2026, 12, 3))
    error = IntegrityError(
        "duplicate key value violates unique constraint: Key (national_id)=(12010319750522862X); "
        "contact +8613617564415 of loan CC2026010000000001"
    )

    job_fail(run_id=run.pk, error=error)

    errors = JobRun.objects.get(pk=run.pk).errors
    assert "12010319750522862X" not in errors and "13617564415" not in errors
    assert "1201**********862X" in errors and "+86136****4415" in errors
    assert "CC2026010000000001" in errors  # account numbers stay readable


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13617564415", "136****4415"),
        ("号码 +8613617564415。", "号码 +86136****4415。"),
        ("11010519491231002X", "1101**********002X"),
        ("2026-12-03 12:00:00 loan 42", "2026-12-03 12:00:00 loan 42"),
        ("LN0000000012", "LN0000000012"),
    ],
)
def test_numbers_in_a_text_are_masked_and_nothing_else(text, masked):
    assert mask_numbers_in(text) == masked


def test_the_cycle_command_acts_as_the_system_account(monkeypatch):
    from auditlog.models import LogEntry
    from django.core.management import call_command

    from accounts.roles import SYSTEM_USERNAME
    from collection.management.commands import run_collection_cycle
    from tests.loans.factories import ProductFactory

    product = ProductFactory()

    def a_cycle_that_changes_a_product(**kwargs):
        product.grace_days += 1
        product.save()
        return {}

    monkeypatch.setattr(run_collection_cycle, "collection_cycle", a_cycle_that_changes_a_product)

    call_command("run_collection_cycle", "--as-of", "2026-12-03", verbosity=0)

    entry = LogEntry.objects.get_for_object(product).latest("pk")
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor.username == SYSTEM_USERNAME
