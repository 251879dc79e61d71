"""The legal track's scheduled job: a thin Celery entry point that takes a date and calls the
service. The rows are the source of truth, so a run that never happened leaves its reminders for
the next one (legal.reminders)."""

import datetime

from celery import shared_task
from django.utils import timezone

from .reminders import deadline_reminders_send


@shared_task(name="legal.tasks.legal_deadlines")
def deadline_reminders_send_task(as_of: str | None = None) -> dict[str, int]:
    """Daily (07:00 Asia/Shanghai): e-mail the legal officers the deadlines of their legal cases
    that are near or passed, each reminder once (as_of: the day to run for, default today)."""
    today = datetime.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return deadline_reminders_send(today=today)
