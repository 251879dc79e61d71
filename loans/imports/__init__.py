"""Importing the portfolio from CSV files: loans with their borrowers, repayment schedules,
payments and contacts (the formats are in docs/csv-formats.md).

A file is imported whole or not at all: every row is checked, every bad row is reported with
its line, column and reason, and when any row is bad the transaction is rolled back. Importing
the same file again changes nothing: rows identical to what is stored are skipped, rows that
contradict what is stored are errors naming the differing column.

reader.py reads the file's records, cells.py the values in them, base.py holds what every kind
of file shares, and loans.py, schedule.py, payments.py and contacts.py check and write the rows
of their kind.
"""

from collections.abc import Callable, Iterator
from typing import BinaryIO

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ImportRun, Loan
from ..selectors import buckets_in_order, portfolio_day
from ..services import loan_refresh_delinquency, portfolio_refresh_delinquency
from .base import MAX_REPORTED_ERRORS, ImportResult, Row, RowError, _Importer, _WriteRefused
from .cells import COLUMNS
from .contacts import _ContactImporter
from .loans import _LoanImporter
from .payments import _PaymentImporter
from .reader import LineTooLong, Undecodable, UnsupportedEncoding, _BadRecord, _Lines, _records, resolve_encoding
from .schedule import _ScheduleImporter

__all__ = ["COLUMNS", "KINDS", "MAX_REPORTED_ERRORS", "ImportResult", "RowError", "portfolio_import"]

KINDS = ("loans", "schedule", "payments", "contacts")
CHUNK_ROWS = 1000
SNIFF_BYTES = 64 * 1024
# Up to this many loans touched by a schedule or payments import are aged one by one; above it
# the whole portfolio is aged with the set-based refresh, which costs the same whatever the count.
AGE_ONE_BY_ONE_UP_TO = 200

IMPORTERS: dict[str, type[_Importer]] = {
    "loans": _LoanImporter,
    "schedule": _ScheduleImporter,
    "payments": _PaymentImporter,
    "contacts": _ContactImporter,
}


# How many of an import's errors its ImportRun keeps (all of them are counted).
RUN_ERRORS_KEPT = 20


def portfolio_import(
    *,
    stream: BinaryIO,
    kind: str,
    by,
    encoding: str = "auto",
    progress: Callable[[int], None] | None = None,
    file_name: str = "",
    file_size: int | None = None,
    via: str = ImportRun.Via.COMMAND,
) -> ImportResult:
    """Import one CSV file of `kind` (loans, schedule, payments, contacts) from a binary stream,
    all or nothing, as the user `by`: only an active user holding loans.import_portfolio may
    import (PermissionDenied otherwise). `progress` is called with the number of bytes read since
    its last call. Payments are allocated in file order as payment_record allocates them, with
    `by` as their recorder. Every import leaves an ImportRun saying who ran which file, via what,
    and how it ended, whether the file was imported, refused, or failed on the way. Returns the
    counts, or the errors when nothing was imported."""
    if kind not in IMPORTERS:
        raise ValueError(f"unknown import kind {kind!r}")
    if by is None or not by.is_active or not by.has_perm("loans.import_portfolio"):
        raise PermissionDenied(_("Only an active user allowed to import portfolio files may import one."))
    # Outside the import's transaction: kept when the import is rolled back or raises.
    run = ImportRun.objects.create(
        kind=kind,
        file_name=file_name[:255],
        file_size=file_size,
        ran_by=by,
        via=via,
        started_at=timezone.now(),
    )
    try:
        result = _import(stream=stream, kind=kind, by=by, encoding=encoding, progress=progress)
    except BaseException:
        run.outcome, run.finished_at = ImportRun.Outcome.FAILED, timezone.now()
        run.save(update_fields=["outcome", "finished_at"])
        raise
    run.encoding = result.encoding[:32]
    run.finished_at = timezone.now()
    run.outcome = ImportRun.Outcome.IMPORTED if result.ok else ImportRun.Outcome.REFUSED
    run.rows_read = result.rows
    run.records_created = sum(result.created.values())
    run.records_skipped = sum(result.skipped.values())
    run.error_count = result.error_count
    run.errors = "\n".join(str(error) for error in result.errors[:RUN_ERRORS_KEPT])
    run.save()
    result.run = run
    return result


def _import(*, stream: BinaryIO, kind: str, by, encoding: str, progress: Callable[[int], None] | None) -> ImportResult:
    result = ImportResult(kind=kind)
    head = stream.read(SNIFF_BYTES)
    try:
        result.encoding = resolve_encoding(encoding, head)
    except UnsupportedEncoding:
        result.add_error(None, "", unsupported_encoding_message(encoding))
        return result
    except LookupError:
        result.add_error(None, "", _("%(encoding)s is not a known encoding.") % {"encoding": encoding})
        return result
    lines = _Lines(stream, head, result.encoding)
    report_progress = _ProgressReport(lines, progress)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # PostgreSQL would JIT-compile the balance and aging UPDATEs over a chunk's loans, at
            # close to a second each, more than the statements take. Off until this transaction ends.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        importer = IMPORTERS[kind](result, recorded_by=by)
        _read_file(importer, lines, report_progress)
        if result.ok:
            _age(importer.loan_ids_to_age)
        report_progress()
        if not result.ok:
            # Valid rows were written even after an error, so that later rows were checked against
            # them (a borrower's second loan, a payment after an earlier one): undo them all.
            transaction.set_rollback(True)
            result.created.clear()
            result.skipped.clear()
    return result


class _ProgressReport:
    """Tells `progress` (when there is one) how many bytes were read since it was last told."""

    def __init__(self, lines: _Lines, progress: Callable[[int], None] | None):
        self.lines = lines
        self.progress = progress
        self.reported = 0

    def __call__(self) -> None:
        if self.progress is not None and self.lines.bytes_read > self.reported:
            self.progress(self.lines.bytes_read - self.reported)
            self.reported = self.lines.bytes_read


def unsupported_encoding_message(encoding: str) -> str:
    return _(
        "%(encoding)s cannot read a CSV file (it is not a text encoding in which commas and line breaks are "
        "ASCII); use UTF-8 or GB18030."
    ) % {"encoding": encoding}


def _read_file(importer: _Importer, lines: _Lines, report_progress: Callable[[], None]) -> None:
    """Hand the file's rows to `importer`. A file that cannot be read on, or a chunk the database
    refuses, is one error where it happens, and the rest of the file is not read."""
    result = importer.result
    try:
        _read_rows(importer, _records(lines), report_progress)
    except Undecodable as error:
        if isinstance(error.error, UnicodeDecodeError):
            message = _(
                "the file cannot be read as %(encoding)s (byte 0x%(byte)02x is not valid there); "
                "choose another encoding: GB18030 for Chinese Excel exports, UTF-8 otherwise"
            ) % {"encoding": result.encoding, "byte": error.error.object[error.error.start]}
        else:
            message = _(
                "the file cannot be read as %(encoding)s (%(reason)s); "
                "choose another encoding: GB18030 for Chinese Excel exports, UTF-8 otherwise"
            ) % {"encoding": result.encoding, "reason": str(error.error)[:200] or type(error.error).__name__}
        result.add_error(error.line, "", message)
    except LineTooLong as error:
        result.add_error(
            error.line,
            "",
            _("the line is longer than %(limit)s bytes; no row of a portfolio file is that long")
            % {"limit": error.limit},
        )
    except _BadRecord as error:
        result.add_error(error.line, "", _("the line is not valid CSV (%(reason)s)") % {"reason": error.reason})
    except _WriteRefused as error:
        result.add_error(
            None,
            "",
            _("The database refused lines %(first)s to %(last)s (%(reason)s); was another import running?")
            % {"first": error.first, "last": error.last, "reason": error.reason},
        )


def _read_rows(
    importer: _Importer, records: Iterator[tuple[int, list[str]]], report_progress: Callable[[], None]
) -> None:
    """The header, then every row, checked and written chunk by chunk."""
    header = next(records, None)
    if header is None:
        importer.error(1, "", _("The file is empty: the first line must name the columns."))
        return
    if not importer.read_header(*header):
        return
    # The file is streamed: only the current chunk's rows are held, each chunk checked with one
    # lookup query per kind of stored object and written with bulk inserts.
    chunk: list[Row] = []
    for line, record in records:
        chunk.append(importer.parse(line, record))
        if len(chunk) >= CHUNK_ROWS:
            importer.process_chunk(chunk)
            chunk = []
            report_progress()
    if chunk:
        importer.process_chunk(chunk)


def _age(loan_ids: set[int]) -> None:
    """Age the loans whose schedule or payments changed, as of the portfolio's day: one by one
    when they are few, else marked as needing ageing and aged by one set-based run (the same
    rules, reading only them and the loans the day moves)."""
    if not loan_ids:
        return
    day = portfolio_day()
    if len(loan_ids) > AGE_ONE_BY_ONE_UP_TO:
        ids = sorted(loan_ids)
        for start in range(0, len(ids), 10_000):
            Loan.objects.filter(pk__in=ids[start : start + 10_000]).update(needs_ageing=True)
        portfolio_refresh_delinquency(as_of=day)
        return
    buckets = buckets_in_order()
    for loan in Loan.objects.filter(pk__in=loan_ids):
        loan_refresh_delinquency(loan=loan, as_of=day, buckets=buckets)
