"""Importing the portfolio from CSV files: loans with their borrowers, repayment schedules,
payments and contacts (the formats are in docs/csv-formats.md).

A file is imported whole or not at all: every row is checked, every bad row is reported with
its line, column and reason, and when any row is bad the transaction is rolled back. Importing
the same file again changes nothing: rows identical to what is stored are skipped, rows that
contradict what is stored are errors naming the differing column.

The file is streamed: bytes are read in blocks and decoded line by line (so that a decoding
error names its line), the csv reader runs over those lines, and rows are handled in chunks
with one lookup query per chunk and bulk inserts. Besides the current chunk only the keys seen
so far are kept (account numbers, payment references...), to report duplicates within the file.
Valid rows are written even after an error so that later rows are checked against them (a
borrower's second loan, a payment after an earlier one); the rollback at the end removes them.
"""

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ZERO, Borrower, Contact, Installment, Loan, Payment, PaymentAllocation, Product
from .money import NotMoney, money_parse
from .phones import normalise_contact_value
from .selectors import buckets_in_order
from .services import (
    balances_recompute,
    loan_refresh_delinquency,
    payment_allocate,
    portfolio_refresh_delinquency,
)
from .validators import validate_national_id

KINDS = ("loans", "schedule", "payments", "contacts")
CHUNK_ROWS = 1000
MAX_REPORTED_ERRORS = 200
SNIFF_BYTES = 64 * 1024
READ_BLOCK = 64 * 1024
# Up to this many loans touched by a schedule or payments import are aged one by one; above it
# the whole portfolio is aged with the set-based refresh, which costs the same whatever the count.
AGE_ONE_BY_ONE_UP_TO = 200

MAX_SMALL_INT = 32767  # PositiveSmallIntegerField


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One thing wrong with the file. `line` is the file's line number (1 is the header), None
    for the file as a whole; `column` is the CSV column, "" for the row as a whole."""

    line: int | None
    column: str
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        if not self.column:
            return _("line %(line)s: %(message)s") % {"line": self.line, "message": self.message}
        return _("line %(line)s, column %(column)s: %(message)s") % {
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class ImportResult:
    kind: str
    encoding: str = ""
    rows: int = 0
    # Keyed by model: {Borrower: 3, Loan: 5}. Empty when the import was rolled back.
    created: dict[type, int] = field(default_factory=dict)
    skipped: dict[type, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def unreported_error_count(self) -> int:
        """Errors beyond the first MAX_REPORTED_ERRORS, counted but not listed."""
        return self.error_count - len(self.errors)

    def add_error(self, line: int | None, column: str, message) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line, column, str(message)))

    def summary(self) -> list[tuple[str, int, int]]:
        """(what, created, skipped) per model, e.g. ("loans", 5, 0)."""
        models = list(dict.fromkeys([*self.created, *self.skipped]))
        return [
            (str(model._meta.verbose_name_plural), self.created.get(model, 0), self.skipped.get(model, 0))
            for model in models
        ]


def _count(counter: dict[type, int], model: type, number: int = 1) -> None:
    counter[model] = counter.get(model, 0) + number


# ---------------------------------------------------------------------------------------------
# Reading values
# ---------------------------------------------------------------------------------------------


class CellError(Exception):
    """A value that cannot be read; the message says why, for the person who fixes the file."""


def _quoted(raw: str) -> str:
    """A cell as the file has it, for a message saying it cannot be read: in quotes, cut short."""
    return f'"{raw[:40]}…"' if len(raw) > 40 else f'"{raw}"'


def _text(max_length: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise CellError(
                _("%(value)s is longer than %(max)s characters") % {"value": _quoted(raw), "max": max_length}
            )
        return raw

    return parse


_DATE = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})")
_DATETIME = re.compile(
    r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def _date(raw: str) -> date:
    match = _DATE.fullmatch(raw)
    try:
        if match:
            return date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        pass
    raise CellError(_("%(value)s is not a date (YYYY-MM-DD)") % {"value": _quoted(raw)})


def _datetime(raw: str) -> datetime:
    """'2026-03-05 14:30[:00]', optionally with 'T', a UTC offset ('+08:00', 'Z'); without an
    offset the time is local time (TIME_ZONE); without a time it is midnight."""
    match = _DATETIME.fullmatch(raw)
    try:
        if match:
            year, _sep, month, day, hour, minute, second, offset = match.groups()
            moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
            if offset is None:
                return timezone.make_aware(moment, timezone.get_default_timezone())
            if offset == "Z":
                return moment.replace(tzinfo=UTC)
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            return moment.replace(tzinfo=dt_timezone(delta if offset[0] == "+" else -delta))
    except ValueError:
        pass
    raise CellError(
        _("%(value)s is not a date and time (YYYY-MM-DD HH:MM:SS, optionally with +08:00)") % {"value": _quoted(raw)}
    )


def _not_an_amount(raw: str) -> CellError:
    return CellError(
        _("%(value)s is not an amount (yuan with up to two decimals, e.g. 1200.50)") % {"value": _quoted(raw)}
    )


def _money(*, positive: bool) -> Callable[[str], Decimal]:
    """An amount in yuan as money_parse reads it, but written without a sign: no amount in these
    files is negative, and a "+" is as unexpected there as a "-"."""

    def parse(raw: str) -> Decimal:
        if raw.startswith(("-", "+")):
            raise _not_an_amount(raw)
        try:
            amount = money_parse(raw)
        except NotMoney as error:
            if error.reason == "too_large":
                raise CellError(_("%(value)s is too large an amount") % {"value": _quoted(raw)}) from error
            raise _not_an_amount(raw) from error
        if positive and amount == 0:
            raise CellError(_("the amount must be more than zero"))
        return amount

    return parse


_RATE = re.compile(r"\d+(\.\d{1,4})?")


def _rate(raw: str) -> Decimal:
    # Rates are fractions so that "18" (meant as 18%) is refused rather than read as 1800%.
    if not _RATE.fullmatch(raw) or Decimal(raw) > 1:
        raise CellError(
            _("%(value)s is not an annual rate (a fraction with up to four decimals, e.g. 0.1800 for 18%%)")
            % {"value": _quoted(raw)}
        )
    return Decimal(raw)


def _positive_int(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SMALL_INT:
        raise CellError(
            _("%(value)s is not a whole number from 1 to %(max)s") % {"value": _quoted(raw), "max": MAX_SMALL_INT}
        )
    return int(raw)


def _choice(values) -> Callable[[str], str]:
    allowed = tuple(str(value) for value in values)

    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in allowed:
            raise CellError(
                _("%(value)s is not one of %(allowed)s") % {"value": _quoted(raw), "allowed": ", ".join(allowed)}
            )
        return value

    return parse


_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否"}


def _boolean(raw: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CellError(_("%(value)s is not yes or no (true/false, 1/0, 是/否)") % {"value": _quoted(raw)})


def _national_id(raw: str) -> str:
    value = raw.upper()
    try:
        validate_national_id(value)
    except ValidationError as error:
        raise CellError(f"{_quoted(raw)}: {error.messages[0]}") from error
    return value


@dataclass(frozen=True)
class Column:
    """A CSV column. A required column must be in the header and have a value on every row; an
    optional column may be left out or left blank, which reads as `default`."""

    name: str
    parse: Callable[[str], object]
    required: bool = True
    default: object = None


LOAN_COLUMNS = (
    Column("account_number", _text(40)),
    Column("national_id", _national_id),
    Column("borrower_name", _text(100)),
    Column("date_of_birth", _date, required=False),
    Column("province", _text(50), required=False, default=""),
    Column("city", _text(50), required=False, default=""),
    Column("address", _text(255), required=False, default=""),
    Column("product_code", _text(32)),
    Column("principal", _money(positive=True)),
    Column("annual_rate", _rate),
    Column("disbursed_on", _date),
    Column("term_months", _positive_int),
)

SCHEDULE_COLUMNS = (
    Column("account_number", _text(40)),
    Column("sequence", _positive_int),
    Column("due_date", _date),
    Column("principal_due", _money(positive=False)),
    Column("interest_due", _money(positive=False)),
    Column("fees_due", _money(positive=False)),
    # Blank: none for a new installment, and not compared for a stored one, whose penalty may
    # have been charged since the schedule was first imported.
    Column("penalty_due", _money(positive=False), required=False),
)

PAYMENT_COLUMNS = (
    Column("account_number", _text(40)),
    Column("reference", _text(64)),
    Column("amount", _money(positive=True)),
    Column("received_at", _datetime),
    Column("channel", _choice(Payment.Channel.values)),
    Column("source", _text(32), required=False, default="import"),
)

CONTACT_COLUMNS = (
    Column("national_id", _national_id),
    Column("kind", _choice(Contact.Kind.values)),
    Column("value", _text(254)),
    Column("name", _text(100), required=False, default=""),
    Column("relation", _text(50), required=False, default=""),
    Column("verification", _choice(Contact.Verification.values), required=False, default="unverified"),
    Column("do_not_contact", _boolean, required=False, default=False),
    Column("opt_out_call", _boolean, required=False, default=False),
    Column("opt_out_sms", _boolean, required=False, default=False),
    Column("opt_out_email", _boolean, required=False, default=False),
    Column("source", _text(32), required=False, default="import"),
)

COLUMNS = {
    "loans": LOAN_COLUMNS,
    "schedule": SCHEDULE_COLUMNS,
    "payments": PAYMENT_COLUMNS,
    "contacts": CONTACT_COLUMNS,
}


@dataclass
class Row:
    line: int
    values: dict[str, object]
    valid: bool


# ---------------------------------------------------------------------------------------------
# Reading the file
# ---------------------------------------------------------------------------------------------


class Undecodable(Exception):
    def __init__(self, line: int, error: UnicodeDecodeError):
        super().__init__(line, error)
        self.line = line
        self.error = error


def resolve_encoding(encoding: str, head: bytes) -> str:
    """The codec to read the file with. "auto" picks UTF-8 (a BOM is dropped) when the first
    bytes decode as UTF-8, GB18030 (a superset of GBK, what Chinese Excel writes) otherwise.
    UTF-8 always drops a BOM and GBK/GB2312 read as GB18030. LookupError for unknown names."""
    if encoding == "auto":
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            return "gb18030"
        return "utf-8-sig"
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        return "utf-8-sig"
    if name in ("gbk", "gb2312"):
        return "gb18030"
    return name


class _Lines:
    """The file's lines decoded one at a time, counting lines and bytes as it goes. Splitting the
    bytes on LF is safe for UTF-8 and GB18030: neither uses the byte 0x0A inside a character."""

    def __init__(self, stream: BinaryIO, head: bytes, encoding: str):
        self.stream = stream
        self.head = head
        self.encoding = encoding
        self.line = 0
        self.bytes_read = 0

    def _byte_lines(self) -> Iterator[bytes]:
        pending = self.head
        while True:
            start = 0
            while (end := pending.find(b"\n", start)) != -1:
                yield pending[start : end + 1]
                start = end + 1
            pending = pending[start:]
            block = self.stream.read(READ_BLOCK)
            if not block:
                break
            pending += block
        if pending:
            yield pending

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        for raw in self._byte_lines():
            self.line += 1
            self.bytes_read += len(raw)
            try:
                yield decoder.decode(raw, final=False)
            except UnicodeDecodeError as error:
                raise Undecodable(self.line, error) from error
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            raise Undecodable(self.line, error) from error
        if tail:
            yield tail


def _records(lines: _Lines) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, its fields), blank lines left out. csv.Error and Undecodable
    propagate with the line they happened on."""
    reader = csv.reader(lines, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _BadRecord(reader.line_num or start, str(error)) from error
        if record and any(value.strip() for value in record):
            yield start, record


class _BadRecord(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(line, reason)
        self.line = line
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# The import
# ---------------------------------------------------------------------------------------------


def portfolio_import(
    *,
    stream: BinaryIO,
    kind: str,
    encoding: str = "auto",
    progress: Callable[[int], None] | None = None,
    recorded_by=None,
) -> ImportResult:
    """Import one CSV file of `kind` (loans, schedule, payments, contacts) from a binary stream,
    all or nothing. `progress` is called with the number of bytes read since its last call.
    Payments are allocated in file order as payment_record allocates them, with `recorded_by`
    as their recorder. Returns the counts, or the errors when nothing was imported."""
    if kind not in COLUMNS:
        raise ValueError(f"unknown import kind {kind!r}")
    result = ImportResult(kind=kind)
    head = stream.read(SNIFF_BYTES)
    try:
        result.encoding = resolve_encoding(encoding, head)
    except LookupError:
        result.add_error(None, "", _("%(encoding)s is not a known encoding.") % {"encoding": encoding})
        return result
    lines = _Lines(stream, head, result.encoding)
    reported = 0

    def report_progress() -> None:
        nonlocal reported
        if progress is not None and lines.bytes_read > reported:
            progress(lines.bytes_read - reported)
            reported = lines.bytes_read

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The balance and aging UPDATEs over a chunk's loans are estimated expensive enough
            # for PostgreSQL to JIT-compile them, which costs close to a second each time and
            # more than the statements themselves. Off until this transaction ends.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        importer = IMPORTERS[kind](result, recorded_by=recorded_by)
        try:
            records = _records(lines)
            header = next(records, None)
            if header is None:
                result.add_error(1, "", _("The file is empty: the first line must name the columns."))
            elif importer.read_header(*header):
                chunk: list[Row] = []
                for line, record in records:
                    chunk.append(importer.parse(line, record))
                    if len(chunk) >= CHUNK_ROWS:
                        importer.process_chunk(chunk)
                        chunk = []
                        report_progress()
                if chunk:
                    importer.process_chunk(chunk)
                if result.ok:
                    _age(importer.loan_ids_to_age)
        except Undecodable as error:
            result.add_error(
                error.line,
                "",
                _(
                    "the file cannot be read as %(encoding)s (byte 0x%(byte)02x is not valid there); "
                    "choose another encoding: GB18030 for Chinese Excel exports, UTF-8 otherwise"
                )
                % {"encoding": result.encoding, "byte": error.error.object[error.error.start]},
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
        report_progress()
        if not result.ok:
            transaction.set_rollback(True)
            result.created.clear()
            result.skipped.clear()
    return result


class _WriteRefused(Exception):
    def __init__(self, rows: list[Row], error: DatabaseError):
        super().__init__(rows, error)
        self.first = rows[0].line
        self.last = rows[-1].line
        self.reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class _Importer:
    kind: str
    models: tuple[type, ...]  # what it creates, in the order the summary lists them

    def __init__(self, result: ImportResult, *, recorded_by=None):
        self.result = result
        for model in self.models:
            result.created[model] = 0
            result.skipped[model] = 0
        self.recorded_by = recorded_by
        self.columns = COLUMNS[self.kind]
        self.positions: dict[str, int] = {}
        self.width = 0
        # Stored loans whose schedule or payments changed, aged once the whole file is in.
        self.loan_ids_to_age: set[int] = set()

    def error(self, line: int, column: str, message) -> None:
        self.result.add_error(line, column, message)

    def read_header(self, line: int, record: list[str]) -> bool:
        names = [name.strip().lower() for name in record]
        known = {column.name for column in self.columns}
        problems: list[tuple[str, str]] = []  # (column, reason)
        for position, name in enumerate(names):
            if not name:
                problems.append(("", _("column %(position)s has no name") % {"position": position + 1}))
            elif name in self.positions:
                problems.append((name, _("the column %(name)s appears twice") % {"name": name}))
            elif name not in known:
                problems.append(
                    (name, _("%(name)s is not a column of a %(kind)s file") % {"name": name, "kind": self.kind})
                )
            else:
                self.positions[name] = position
        for column in self.columns:
            if column.required and column.name not in names:
                problems.append((column.name, _("the column %(name)s is missing") % {"name": column.name}))
        if problems:
            # The likeliest mistake first: the file is of another kind than the one chosen.
            likely = header_kind(names)
            if likely and likely != self.kind:
                self.error(
                    line,
                    "",
                    _("these are the columns of a %(likely)s file, not of a %(kind)s file")
                    % {"likely": likely, "kind": self.kind},
                )
            for column, reason in problems:
                self.error(line, column, reason)
        self.width = len(names)
        return not problems

    def parse(self, line: int, record: list[str]) -> Row:
        self.result.rows += 1
        if len(record) != self.width:
            self.error(
                line,
                "",
                _("%(count)s values for %(width)s columns") % {"count": len(record), "width": self.width},
            )
            return Row(line=line, values=dict.fromkeys(column.name for column in self.columns), valid=False)
        row = Row(line=line, values={}, valid=True)
        for column in self.columns:
            position = self.positions.get(column.name)
            raw = record[position].strip() if position is not None else ""
            if not raw:
                if column.required:
                    self.error(line, column.name, _("a value is required"))
                    row.valid = False
                row.values[column.name] = column.default
                continue
            try:
                row.values[column.name] = column.parse(raw)
            except CellError as error:
                self.error(line, column.name, error)
                row.values[column.name] = None
                row.valid = False
        return row

    def process_chunk(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def write(self, rows: list[Row], write: Callable[[], None]) -> None:
        """Run the chunk's inserts in a savepoint, so that a refusal the checks did not foresee
        (another import inserting the same account meanwhile) is reported, not a traceback."""
        try:
            with transaction.atomic():
                write()
        except DatabaseError as error:
            raise _WriteRefused(rows, error) from error

    def same_as_stored(self, line: int, key: str, pairs) -> bool:
        """Whether what the file gives is what is stored, for each (column, stored, given) of `pairs`;
        each column that differs is reported on `line`, naming the stored thing as `key`."""
        same = True
        for column, stored, given in pairs:
            if stored != given:
                same = False
                self.error(
                    line,
                    column,
                    _("%(key)s already exists with %(column)s %(stored)s; the file says %(given)s")
                    % {"key": key, "column": column, "stored": _readable(stored), "given": _readable(given)},
                )
        return same

    def same_where_filled(self, line: int, key: str, stored, values: dict[str, object], pairs) -> bool:
        """same_as_stored() for the object `stored` and the row's `values`, over the (column, field)
        `pairs` the row fills: a blank optional column is not compared."""
        return self.same_as_stored(
            line,
            key,
            [
                (column, getattr(stored, field), values[column])
                for column, field in pairs
                if values[column] not in (None, "")
            ],
        )


def _readable(value) -> str:
    """A value read from a cell or stored, for a message comparing values: blanks say so, and times
    are local."""
    if value is None or value == "":
        return _("(empty)")
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(sep=" ")
    return str(value)


def _save_paid_amounts(installments: list[Installment], fields: list[str]) -> None:
    """Write the installments' paid amounts, is_paid and paid_on. On PostgreSQL one UPDATE ...
    FROM (VALUES ...) per batch: bulk_update's CASE WHEN per row and field costs seconds a
    chunk in Python and in the database, more than everything else a payments chunk does."""
    if connection.vendor != "postgresql":
        Installment.objects.bulk_update(installments, fields, batch_size=500)
        return
    types = {field: Installment._meta.get_field(field).db_type(connection) for field in fields}
    columns = ", ".join(connection.ops.quote_name(field) for field in fields)
    assignments = ", ".join(
        f"{connection.ops.quote_name(field)} = v.{connection.ops.quote_name(field)}" for field in fields
    )
    row = "(" + ", ".join(["%s::bigint", *[f"%s::{types[field]}" for field in fields]]) + ")"
    table = connection.ops.quote_name(Installment._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(installments), 1000):
            batch = installments[start : start + 1000]
            cursor.execute(
                f"UPDATE {table} AS i SET {assignments} "  # noqa: S608 (names from the model, values bound)
                f"FROM (VALUES {', '.join([row] * len(batch))}) AS v(id, {columns}) WHERE i.id = v.id",
                [
                    value
                    for installment in batch
                    for value in (installment.pk, *[getattr(installment, f) for f in fields])
                ],
            )


def _age(loan_ids: set[int]) -> None:
    """Age the loans whose schedule or payments changed, as of today: one by one when they are
    few, else the whole portfolio with the set-based refresh (the same rules, and the nightly
    job's work anyway)."""
    if not loan_ids:
        return
    today = timezone.localdate()
    if len(loan_ids) > AGE_ONE_BY_ONE_UP_TO:
        portfolio_refresh_delinquency(as_of=today)
        return
    buckets = buckets_in_order()
    for loan in Loan.objects.filter(pk__in=loan_ids):
        loan_refresh_delinquency(loan=loan, as_of=today, buckets=buckets)


def header_kind(names: list[str]) -> str | None:
    """The kind whose columns these are: all its required columns and nothing unknown; failing
    that, the kind that knows most of the names, if it knows more than half."""
    names_set = set(names) - {""}
    best, best_known = None, 0
    for kind, columns in COLUMNS.items():
        known = {column.name for column in columns}
        required = {column.name for column in columns if column.required}
        if required <= names_set <= known:
            return kind
        count = len(names_set & known)
        if count > best_known:
            best, best_known = kind, count
    return best if names_set and best_known * 2 > len(names_set) else None


class _LoanImporter(_Importer):
    """Loans, creating their borrowers. A borrower is found by national ID; the borrower's
    columns given on a row must match what is stored (blank optional columns are not compared)."""

    kind = "loans"
    models = (Borrower, Loan)
    BORROWER_FIELDS = (
        ("borrower_name", "name"),
        ("date_of_birth", "date_of_birth"),
        ("province", "province"),
        ("city", "city"),
        ("address", "address"),
    )
    LOAN_FIELDS = ("principal", "annual_rate", "disbursed_on", "term_months")

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.products = {product.code: product for product in Product.objects.all()}
        self.account_lines: dict[str, int] = {}
        # Ids only, to count each borrower once: created by this import, or found stored.
        self.borrower_ids_counted: set[int] = set()

    def process_chunk(self, rows: list[Row]) -> None:
        accounts = {row.values["account_number"] for row in rows if row.valid}
        national_ids = {row.values["national_id"] for row in rows if row.valid}
        stored_loans = {
            loan.account_number: loan
            for loan in Loan.objects.filter(account_number__in=accounts).select_related("borrower", "product")
        }
        borrowers = {
            borrower.national_id: borrower for borrower in Borrower.objects.filter(national_id__in=national_ids)
        }
        new_borrowers: list[Borrower] = []
        new_loans: list[Loan] = []
        for row in rows:
            values = row.values
            account = values["account_number"]
            if account is not None:
                first = self.account_lines.setdefault(account, row.line)
                if first != row.line:
                    self.error(
                        row.line,
                        "account_number",
                        _("account %(account)s is already on line %(first)s") % {"account": account, "first": first},
                    )
                    continue
            if not row.valid:
                continue
            national_id = values["national_id"]
            product = self.products.get(values["product_code"])
            row_ok = True
            if product is None:
                self.error(
                    row.line,
                    "product_code",
                    _("%(code)s is not a product code (known: %(known)s)")
                    % {"code": _quoted(values["product_code"]), "known": ", ".join(sorted(self.products))},
                )
                row_ok = False
            borrower = borrowers.get(national_id)
            if borrower is None:
                borrower = Borrower(
                    national_id=national_id,
                    **{field: values[column] for column, field in self.BORROWER_FIELDS},
                )
                borrowers[national_id] = borrower
                new_borrowers.append(borrower)
            else:
                label = _("the borrower with national ID %(id)s") % {"id": borrower.masked_national_id}
                row_ok &= self.same_where_filled(row.line, label, borrower, values, self.BORROWER_FIELDS)
                if borrower.pk is not None and borrower.pk not in self.borrower_ids_counted:
                    self.borrower_ids_counted.add(borrower.pk)
                    _count(self.result.skipped, Borrower)
            stored = stored_loans.get(account)
            if stored is None:
                if row_ok:
                    new_loans.append(
                        Loan(
                            account_number=account,
                            borrower=borrower,
                            product=product,
                            **{name: values[name] for name in self.LOAN_FIELDS},
                        )
                    )
                continue
            key = _("account %(account)s") % {"account": account}
            same = self.same_as_stored(
                row.line,
                key,
                [
                    ("national_id", stored.borrower.national_id, national_id),
                    ("product_code", stored.product.code, values["product_code"]),
                    *[(name, getattr(stored, name), values[name]) for name in self.LOAN_FIELDS],
                ],
            )
            if same and row_ok:
                _count(self.result.skipped, Loan)

        def write() -> None:
            Borrower.objects.bulk_create(new_borrowers)
            Loan.objects.bulk_create(new_loans)

        # New loans have no installments yet, so their balances are the zero they start with and
        # there is nothing to recompute; aging them now would call them paid off (no unpaid
        # installment). Stored loans are only ever skipped. The schedule import does both.
        self.write(rows, write)
        self.borrower_ids_counted.update(borrower.pk for borrower in new_borrowers)
        _count(self.result.created, Borrower, len(new_borrowers))
        _count(self.result.created, Loan, len(new_loans))


class _LoanRowsImporter(_Importer):
    """Rows naming a stored loan by account number."""

    def loans_by_account(self, rows: list[Row], *fields: str) -> dict[str, Loan]:
        """The stored loans the chunk's valid rows name, with only `fields` besides the key."""
        accounts = {row.values["account_number"] for row in rows if row.valid}
        return {
            loan.account_number: loan
            for loan in Loan.objects.filter(account_number__in=accounts).only("id", "account_number", *fields)
        }

    def no_loan(self, line: int, account: str) -> None:
        self.error(
            line,
            "account_number",
            _("there is no loan %(account)s (import the loans file first)") % {"account": account},
        )


class _ScheduleImporter(_LoanRowsImporter):
    """Installments of loans already stored. An installment is found by account and sequence."""

    kind = "schedule"
    models = (Installment,)
    DUE_FIELDS = ("due_date", "principal_due", "interest_due", "fees_due", "penalty_due")

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.installment_lines: dict[tuple[str, int], int] = {}

    def process_chunk(self, rows: list[Row]) -> None:
        loans = self.loans_by_account(rows, "disbursed_on")
        sequences = {row.values["sequence"] for row in rows if row.valid}
        stored_installments = {
            (installment.loan_id, installment.sequence): installment
            for installment in Installment.objects.filter(
                loan__in=[loan.pk for loan in loans.values()], sequence__in=sequences
            )
        }
        new_installments: list[Installment] = []
        for row in rows:
            values = row.values
            account, sequence = values["account_number"], values["sequence"]
            if account is not None and sequence is not None:
                first = self.installment_lines.setdefault((account, sequence), row.line)
                if first != row.line:
                    self.error(
                        row.line,
                        "sequence",
                        _("installment %(sequence)s of account %(account)s is already on line %(first)s")
                        % {"sequence": sequence, "account": account, "first": first},
                    )
                    continue
            if not row.valid:
                continue
            loan = loans.get(account)
            if loan is None:
                self.no_loan(row.line, account)
                continue
            stored = stored_installments.get((loan.pk, sequence))
            if stored is not None:
                key = _("installment %(sequence)s of account %(account)s") % {"sequence": sequence, "account": account}
                if self.same_where_filled(row.line, key, stored, values, [(n, n) for n in self.DUE_FIELDS]):
                    _count(self.result.skipped, Installment)
                continue
            if values["penalty_due"] is None:
                values["penalty_due"] = ZERO
            if values["due_date"] < loan.disbursed_on:
                self.error(
                    row.line,
                    "due_date",
                    _("%(due)s is before the loan was disbursed on %(disbursed)s")
                    % {"due": values["due_date"], "disbursed": loan.disbursed_on},
                )
                continue
            if not any(values[name] for name in self.DUE_FIELDS[1:]):
                self.error(row.line, "principal_due", _("an installment must have something due"))
                continue
            new_installments.append(
                Installment(loan=loan, sequence=sequence, **{n: values[n] for n in self.DUE_FIELDS})
            )

        touched = {installment.loan_id for installment in new_installments}

        def write() -> None:
            Installment.objects.bulk_create(new_installments)
            if touched:
                balances_recompute(loans=Loan.objects.filter(pk__in=touched))

        self.write(rows, write)
        self.loan_ids_to_age |= touched
        _count(self.result.created, Installment, len(new_installments))


class _PaymentImporter(_LoanRowsImporter):
    """Payments, found by (source, reference), allocated in file order exactly as
    payment_record allocates them: oldest installment first (by due date, then number), within
    it penalty, fees, interest, then principal; an installment paid in full is marked paid on the
    local day the completing payment was received; a payment above what is still outstanding on
    the loan (after the rows before it) is refused.

    payment_record itself is not called per row: at about 20 ms a payment (each one recomputes
    and ages its loan) 100,000 payments took over half an hour. Here a chunk's loans are locked
    and their unpaid installments read once, the chunk is allocated in memory by the same
    payment_allocate that payment_record uses, and payments,
    allocations and installments are written in bulk; balances are recomputed per chunk and the
    loans aged once at the end. tests/loans/test_import.py checks that the result is the one
    payment_record gives for the same rows."""

    kind = "payments"
    models = (Payment,)
    INSTALLMENT_FIELDS = [f"{component}_paid" for component in Installment.COMPONENTS] + ["is_paid", "paid_on"]

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.reference_lines: dict[tuple[str, str], int] = {}
        self.now = timezone.now()

    def process_chunk(self, rows: list[Row]) -> None:
        references = {row.values["reference"] for row in rows if row.valid}
        loans = self.loans_by_account(rows)
        stored_payments = {
            (payment.source, payment.reference): payment
            for payment in Payment.objects.filter(reference__in=references)
            .select_related("loan")
            .only("source", "reference", "amount", "received_at", "channel", "loan__account_number")
        }
        to_record: list[tuple[Row, Loan]] = []
        for row in rows:
            values = row.values
            key = (values["source"], values["reference"])
            if values["reference"] is not None:
                first = self.reference_lines.setdefault(key, row.line)
                if first != row.line:
                    self.error(
                        row.line,
                        "reference",
                        _("payment %(reference)s from %(source)s is already on line %(first)s")
                        % {"reference": key[1], "source": key[0], "first": first},
                    )
                    continue
            if not row.valid:
                continue
            stored = stored_payments.get(key)
            if stored is not None:
                label = _("payment %(reference)s from %(source)s") % {"reference": key[1], "source": key[0]}
                same = self.same_as_stored(
                    row.line,
                    label,
                    [
                        ("account_number", stored.loan.account_number, values["account_number"]),
                        ("amount", stored.amount, values["amount"]),
                        ("received_at", stored.received_at, values["received_at"]),
                        ("channel", stored.channel, values["channel"]),
                    ],
                )
                if same:
                    _count(self.result.skipped, Payment)
                continue
            loan = loans.get(values["account_number"])
            if loan is None:
                self.no_loan(row.line, values["account_number"])
                continue
            if values["received_at"] > self.now:
                self.error(
                    row.line,
                    "received_at",
                    _("%(value)s is in the future") % {"value": _readable(values["received_at"])},
                )
                continue
            to_record.append((row, loan))
        if to_record:
            self.record(rows, to_record)

    def record(self, rows: list[Row], to_record: list[tuple[Row, Loan]]) -> None:
        loan_ids = sorted({loan.pk for _row, loan in to_record})
        # Locked in id order, as payment_record locks a loan and then its unpaid installments.
        list(Loan.objects.select_for_update().filter(pk__in=loan_ids).order_by("pk").values_list("pk"))
        unpaid: dict[int, list[Installment]] = {loan_id: [] for loan_id in loan_ids}
        for installment in (
            Installment.objects.select_for_update()
            .filter(loan__in=loan_ids, is_paid=False)
            .order_by("loan_id", "due_date", "sequence")
        ):
            unpaid[installment.loan_id].append(installment)
        outstanding = {
            loan_id: sum((installment.total_remaining for installment in installments), ZERO)
            for loan_id, installments in unpaid.items()
        }

        payments: list[Payment] = []
        allocations: list[PaymentAllocation] = []
        touched: dict[int, Installment] = {}
        for row, loan in to_record:
            values = row.values
            amount = values["amount"]
            if amount > outstanding[loan.pk]:
                self.error(
                    row.line,
                    "amount",
                    # payment_record's words, so that both say the same thing.
                    _("The payment of %(amount)s is more than the %(outstanding)s outstanding on loan %(loan)s.")
                    % {"amount": amount, "outstanding": outstanding[loan.pk], "loan": loan.account_number},
                )
                continue
            payment = Payment(
                loan=loan,
                amount=amount,
                received_at=values["received_at"],
                channel=values["channel"],
                source=values["source"],
                reference=values["reference"],
                recorded_by=self.recorded_by,
            )
            payments.append(payment)
            outstanding[loan.pk] -= amount
            payment_allocations, changed = payment_allocate(payment=payment, unpaid=unpaid[loan.pk])
            allocations.extend(payment_allocations)
            touched.update((installment.pk, installment) for installment in changed)

        recorded_loan_ids = {payment.loan_id for payment in payments}

        def write() -> None:
            Payment.objects.bulk_create(payments)
            PaymentAllocation.objects.bulk_create(allocations)
            _save_paid_amounts(list(touched.values()), self.INSTALLMENT_FIELDS)
            if recorded_loan_ids:
                balances_recompute(loans=Loan.objects.filter(pk__in=recorded_loan_ids))

        self.write(rows, write)
        self.loan_ids_to_age |= recorded_loan_ids
        _count(self.result.created, Payment, len(payments))


class _ContactImporter(_Importer):
    """Contacts of borrowers already stored, the value normalised (phones to E.164). A contact is
    found by borrower and value. For a stored contact the kind, name and relation must match;
    verification, do-not-contact and opt-outs are the desk's own record once a contact exists
    (collectors mark wrong numbers, borrowers opt out), so a re-import neither compares nor
    overwrites them."""

    kind = "contacts"
    models = (Contact,)
    COMPARED = ("kind", "name", "relation")
    FIELDS = (
        "kind",
        "name",
        "relation",
        "verification",
        "do_not_contact",
        "opt_out_call",
        "opt_out_sms",
        "opt_out_email",
        "source",
    )

    def __init__(self, result, **kwargs):
        super().__init__(result, **kwargs)
        self.contact_lines: dict[tuple[str, str], int] = {}

    def parse(self, line: int, record: list[str]) -> Row:
        row = super().parse(line, record)
        values = row.values
        if values["kind"] is not None and values["value"] is not None:
            try:
                values["value"] = normalise_contact_value(values["kind"], values["value"])
            except ValidationError as error:
                self.error(line, "value", error.messages[0])
                values["value"] = None
                row.valid = False
        return row

    def process_chunk(self, rows: list[Row]) -> None:
        national_ids = {row.values["national_id"] for row in rows if row.valid}
        contact_values = {row.values["value"] for row in rows if row.valid}
        borrowers = {
            borrower.national_id: borrower
            for borrower in Borrower.objects.filter(national_id__in=national_ids).only("id", "national_id")
        }
        stored_contacts = {
            (contact.borrower.national_id, contact.value): contact
            for contact in Contact.objects.filter(
                borrower__in=[borrower.pk for borrower in borrowers.values()], value__in=contact_values
            ).select_related("borrower")
        }
        new_contacts: list[Contact] = []
        for row in rows:
            values = row.values
            key = (values["national_id"], values["value"])
            if None not in key:
                first = self.contact_lines.setdefault(key, row.line)
                if first != row.line:
                    self.error(
                        row.line,
                        "value",
                        _("%(value)s of this borrower is already on line %(first)s")
                        % {"value": values["value"], "first": first},
                    )
                    continue
            if not row.valid:
                continue
            borrower = borrowers.get(values["national_id"])
            if borrower is None:
                self.error(
                    row.line,
                    "national_id",
                    _("there is no borrower with this national ID (import the loans file first)"),
                )
                continue
            stored = stored_contacts.get(key)
            if stored is not None:
                label = _("contact %(value)s") % {"value": values["value"]}
                if self.same_where_filled(row.line, label, stored, values, [(n, n) for n in self.COMPARED]):
                    _count(self.result.skipped, Contact)
                continue
            new_contacts.append(
                Contact(borrower=borrower, value=values["value"], **{name: values[name] for name in self.FIELDS})
            )

        self.write(rows, lambda: Contact.objects.bulk_create(new_contacts))
        _count(self.result.created, Contact, len(new_contacts))


IMPORTERS: dict[str, type[_Importer]] = {
    "loans": _LoanImporter,
    "schedule": _ScheduleImporter,
    "payments": _PaymentImporter,
    "contacts": _ContactImporter,
}
