"""Seeding the demo desk: `demo_desk_seed` fills an empty database with the demo users and teams
and a realistic zh_CN portfolio (borrowers and their contacts, loans of the three products with
their schedules, payment histories whose allocation is what `payment_record` would have
produced), then ages the portfolio with the real services, so that balances, DPD, buckets and
statuses follow the desk's own rules.

Rows are generated a chunk of loans at a time and written with COPY on PostgreSQL (executemany
elsewhere), so a million loans fit in flat memory. One seed and one as-of day always give the
same rows, with the same primary keys."""

import sys
import time
from dataclasses import dataclass
from datetime import date

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from tqdm import tqdm

from config.desk import in_desk_language
from loans.models import Borrower, Loan
from loans.services import balances_recompute, portfolio_refresh_delinquency

from .borrowers import DeskHistory
from .copy import HISTORY_MODELS, HISTORY_TABLES, PORTFOLIO_MODELS, PORTFOLIO_TABLES, RowWriter, bulk_load
from .generator import DESK_ZONE, Chunk, PortfolioGenerator
from .people import DemoLogin, demo_users_ensure
from .products import demo_products

CHUNK_LOANS = 5_000
AGE_BATCH = 20_000


@dataclass
class SeedSummary:
    rows: dict[str, int]
    buckets: list[tuple[str, int]]
    statuses: list[tuple[str, int]]
    seconds: dict[str, float]


def today() -> date:
    """The as-of day when none is given: today on the desk's clock."""
    return timezone.localdate(timezone=DESK_ZONE)


def portfolio_counts() -> dict[str, int]:
    """How many borrowers and loans the database holds."""
    return {"loans": Loan.objects.count(), "borrowers": Borrower.objects.count()}


def _progress(description: str, total: int, enabled: bool, unit: str = "loan") -> tqdm:
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        disable=not enabled,
        mininterval=0.5,
        dynamic_ncols=True,
    )


def portfolio_seed(*, loans: int, seed: int, as_of: date, progress: bool = False, history: bool = True) -> SeedSummary:
    """Write a demo portfolio of `loans` loans into an empty portfolio, with the desk's worked
    history of the days before `as_of` (demo.history) unless `history` is False, then age it as
    of `as_of` with balances_recompute and portfolio_refresh_delinquency. Runs in the caller's
    transaction (demo_desk_seed wraps everything in one)."""
    if loans < 1:
        raise ValueError("the demo portfolio needs at least one loan")
    # Primary keys start at 1 in every table: that is only right in an empty portfolio.
    if any(model.objects.exists() for model in PORTFOLIO_MODELS):
        raise ValueError("the demo portfolio only goes into an empty portfolio")
    seconds = {}
    started = time.monotonic()
    tables, models_loaded = PORTFOLIO_TABLES, PORTFOLIO_MODELS
    desk_history = None
    if history:
        desk_history = DeskHistory(seed=seed, as_of=as_of)
        tables, models_loaded = tables + HISTORY_TABLES, models_loaded + HISTORY_MODELS
    generator = PortfolioGenerator(
        seed=seed, as_of=as_of, products=demo_products(), now=timezone.now(), history=desk_history
    )
    # The history's notes and reasons are written in the desk's language, as the services write theirs.
    with connection.cursor() as cursor, in_desk_language():
        with bulk_load(cursor, models_loaded):
            with RowWriter(cursor, tables) as writer, _progress("portfolio", loans, progress) as bar:
                left = loans
                while left:
                    chunk = Chunk(tables)
                    while chunk.loans < CHUNK_LOANS and chunk.loans < left:
                        generator.borrower(chunk, max_loans=left - chunk.loans)
                    writer.write(chunk.rows)
                    left -= chunk.loans
                    bar.update(chunk.loans)
            seconds["generate and write"] = time.monotonic() - started
            started = time.monotonic()
        for statement in connection.ops.sequence_reset_sql(no_style(), list(models_loaded)):
            cursor.execute(statement)
    seconds["keys and indexes"] = time.monotonic() - started

    started = time.monotonic()
    last_id = generator.ids.loan - 1
    with _progress("balances", last_id, progress) as bar:
        for low in range(1, last_id + 1, AGE_BATCH):
            balances_recompute(loans=Loan.objects.filter(pk__gte=low, pk__lt=low + AGE_BATCH))
            bar.update(min(AGE_BATCH, last_id + 1 - low))
    seconds["balances"] = time.monotonic() - started

    started = time.monotonic()
    with _progress("delinquency", last_id, progress) as bar:
        portfolio_refresh_delinquency(as_of=as_of, progress=bar.update)
    seconds["delinquency"] = time.monotonic() - started

    ids = generator.ids
    rows = {
        "borrowers": ids.borrower - 1,
        "contacts": ids.contact - 1,
        "loans": ids.loan - 1,
        "installments": ids.installment - 1,
        "payments": ids.payment - 1,
        "allocations": ids.allocation - 1,
    }
    if desk_history is not None:
        rows.update(desk_history.desk.rows_written())
    buckets = [
        (row["bucket__name"] or "-", row["count"])
        for row in Loan.objects.exclude(status=Loan.Status.PAID_OFF)
        .values("bucket__name", "bucket__min_dpd")
        .annotate(count=Count("id"))
        .order_by("bucket__min_dpd")
    ]
    statuses = sorted(Loan.objects.values_list("status").annotate(count=Count("id")).order_by())
    return SeedSummary(rows=rows, buckets=buckets, statuses=statuses, seconds=seconds)


def demo_desk_seed(
    *, loans: int, seed: int, as_of: date, progress: bool = False, superuser: bool = False
) -> tuple[SeedSummary, list[DemoLogin]]:
    """Seed the demo desk, all in one transaction: an interrupted run leaves nothing behind.
    The portfolio must be empty (the caller checks, so that two demo portfolios never mix). The
    demo admin is a superuser only when `superuser` asks for it."""
    with transaction.atomic():
        logins = demo_users_ensure(seed=seed, superuser=superuser)
        summary = portfolio_seed(loans=loans, seed=seed, as_of=as_of, progress=progress)
    return summary, logins
