"""The run: the nightly cycle's limitation step and the deadline reminders once each over the
whole portfolio, then the legal officer's and the supervisor's pages, each request timed, a line
an operation."""

import datetime
import os
import time
from typing import TextIO

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.admin_changelists.timing import big_tables_of_database
from bench.workspace.run import TARGET_MS, Result, operations_time

from .build import OFFICER, SUPERVISOR
from .requests import officer_operations, sample_from_database, supervisor_operations


def report_build(rows: dict[str, int], seconds: float, *, reused: bool = False, out: TextIO | None = None) -> None:
    shown = ", ".join(f"{count:,} {name}" for name, count in rows.items())
    built = (
        f"reused, the night's flags and reminders undone in {seconds:.1f} s" if reused else f"built in {seconds:.1f} s"
    )
    print(f"portfolio ({built}): {shown}", file=out, flush=True)


def time_once(label: str, step, out: TextIO) -> None:
    """Run `step` once, timed, with its queries counted; a line with what it returned."""
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = step()
        elapsed = (time.perf_counter() - started) * 1000
    shown = ", ".join(f"{name} {count:,}" for name, count in result.items()) or "nothing to do"
    print(
        f"{label:<44} {1:>4} {elapsed:8.1f} {elapsed:8.1f} {elapsed:8.1f} {len(captured.captured_queries):>7}  {shown}",
        file=out,
        flush=True,
    )


def nightly_run(*, as_of: datetime.date, out: TextIO) -> None:
    """The limitation step of the nightly cycle and the deadline reminders (e-mails kept in
    memory: the run sends nothing), once each over the whole portfolio."""
    from django.conf import settings

    from legal.limitation import limitation_flags_set
    from legal.reminders import deadline_reminders_send

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    print(
        f"{'nightly step (once, whole portfolio)':<44} {'n':>4} {'ms':>8} {'':>8} {'':>8} {'queries':>7}  result",
        file=out,
    )
    time_once("limitation step (limitation_flags_set)", lambda: limitation_flags_set(as_of=as_of), out)
    time_once("deadline reminders (deadline_reminders_send)", lambda: deadline_reminders_send(today=as_of), out)


def run(*, requests: int, warm_up: int, out: TextIO, labels: list[str] | None = None, seed: int = 1) -> list[Result]:
    as_of = timezone.localdate()
    if not labels or any(label.startswith(("limitation", "deadline", "nightly")) for label in labels):
        nightly_run(as_of=as_of, out=out)
    sample = sample_from_database()
    officer = Client(SERVER_NAME="localhost")
    officer.force_login(sample.officer)
    supervisor = Client(SERVER_NAME="localhost")
    supervisor.force_login(sample.supervisor)
    big_tables = big_tables_of_database()
    operations = [(officer, operation) for operation in officer_operations(sample, seed=seed)]
    operations += [(supervisor, operation) for operation in supervisor_operations()]
    if labels:
        operations = [
            (client, operation) for client, operation in operations if operation.label.startswith(tuple(labels))
        ]
    print(
        f"bench.legal: database {connection.settings_dict['NAME']}, as {OFFICER} ({len(sample.case_ids):,} legal "
        f"cases) and {SUPERVISOR}; {requests} requests an operation after {warm_up} to warm up; target p95 < "
        f"{TARGET_MS:.0f} ms; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        file=out,
    )
    print(f"terms: court {sample.court_id}, firm {sample.firm_id}", file=out)
    return operations_time(operations, requests=requests, warm_up=warm_up, big_tables=big_tables, out=out)
