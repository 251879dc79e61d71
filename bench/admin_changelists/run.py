"""The run: a superuser logged in, every request timed, one line each."""

from typing import TextIO

from django.db import connection
from django.test import Client

from .requests import requests_for, sample_from_database
from .timing import BenchError, big_tables_of_database, measure

HEADER = f"{'changelist':<11} {'request':<24} {'seconds':>8} {'queries':>7} {'found':>10}  plan of the slowest query"


def run(
    *, repeat: int, only: list[str] | None, out: TextIO, warm_up: bool = True, labels: list[str] | None = None
) -> list:
    from django.contrib.auth import get_user_model

    from loans.models import Loan

    superuser = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if superuser is None:
        raise BenchError(
            "the database has no active superuser to log in as (manage.py createsuperuser, or seed_demo --superuser)"
        )
    client = Client(SERVER_NAME="localhost")
    client.force_login(superuser)
    sample = sample_from_database()
    big_tables = big_tables_of_database()
    settings = connection.settings_dict
    print(
        f"bench.admin_changelists: database {settings['NAME']} ({connection.vendor}), "
        f"{Loan.objects.count():,} loans; median of {repeat} runs{' after a warm-up' if warm_up else ''}, "
        f"as {superuser.get_username()}",
        file=out,
    )
    print(
        f"terms: account {sample.account_number}, national ID {sample.national_id}, phone {sample.phone}, "
        f"name {sample.name}",
        file=out,
    )
    print(HEADER, file=out, flush=True)
    measurements = []
    for request in requests_for(sample, only):
        if labels and not request.label.startswith(tuple(labels)):
            continue
        measurement = measure(client, request, repeat=repeat, warm_up=warm_up, big_tables=big_tables)
        measurements.append(measurement)
        found = f"{measurement.found:,}" if measurement.found is not None else "-"
        scans = f"  [seq scan: {', '.join(measurement.seq_scans)}]" if measurement.seq_scans else ""
        print(
            f"{request.changelist:<11} {request.label:<24} {measurement.seconds:8.3f} {measurement.queries:>7} "
            f"{found:>10}  {measurement.plan}{scans}",
            file=out,
            flush=True,
        )
    slowest = max(measurements, key=lambda measurement: measurement.seconds)
    print(
        f"slowest: {slowest.request.changelist} {slowest.request.label} {slowest.seconds:.3f} s; "
        f"requests with a sequential scan of a big table: {sum(1 for m in measurements if m.seq_scans)}",
        file=out,
    )
    return measurements
