"""What every kind of import shares: the result, the reading and checking of rows, and the
comparison with what is stored."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Loan
from ..validators import mask_national_id
from .cells import COLUMNS, CellError, _printable, header_kind

MAX_REPORTED_ERRORS = 200


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
    """What an import of one file did: the rows read and, per model, the objects created and the
    ones skipped as already stored; or the errors, when nothing was imported."""

    kind: str
    encoding: str = ""
    rows: int = 0
    # Keyed by model: {Borrower: 3, Loan: 5}. Empty when the import was rolled back.
    created: dict[type, int] = field(default_factory=dict)
    skipped: dict[type, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    # The ImportRun that records the import (set by portfolio_import).
    run: object = None

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


@dataclass
class Row:
    """A record's values read by its columns' parsers; not `valid` when a cell could not be read."""

    line: int
    values: dict[str, object]
    valid: bool


class _WriteRefused(Exception):
    def __init__(self, rows: list[Row], error: DatabaseError):
        super().__init__(rows, error)
        self.first = rows[0].line
        self.last = rows[-1].line
        self.reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class _Importer:
    """Reads the header and the rows of one kind of file and hands them over chunk by chunk. A row
    repeating an earlier row's key (see key_of) is an error; so is one that contradicts what is
    stored."""

    kind: str
    models: tuple[type, ...]  # what it creates, in the order the summary lists them
    key_column: str  # where a repeated key is reported

    def __init__(self, result: ImportResult, *, recorded_by=None):
        self.result = result
        for model in self.models:
            result.created[model] = 0
            result.skipped[model] = 0
        self.recorded_by = recorded_by
        self.columns = COLUMNS[self.kind]
        self.positions: dict[str, int] = {}
        self.width = 0
        # Besides the current chunk, the import keeps only this of the rows before: the line each
        # key was first seen on.
        self.key_lines: dict[object, int] = {}
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
                shown = _printable(name[:40])
                problems.append(
                    (shown, _("%(name)s is not a column of a %(kind)s file") % {"name": shown, "kind": self.kind})
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
                row.values[column.name] = column.read(raw)
            except CellError as error:
                self.error(line, column.name, error)
                row.values[column.name] = None
                row.valid = False
        return row

    def key_of(self, values: dict[str, object]) -> object:
        """What names the row's object within the file (an account, a payment reference...), or None
        when a cell of it could not be read."""
        raise NotImplementedError

    def repeated(self, values: dict[str, object], first: int) -> str:
        """The error for a row whose key is already on line `first`."""
        raise NotImplementedError

    def rows_to_import(self, rows: list[Row]) -> Iterator[Row]:
        """The chunk's valid rows, less those whose key an earlier line has, which are reported."""
        for row in rows:
            key = self.key_of(row.values)
            if key is not None:
                first = self.key_lines.setdefault(key, row.line)
                if first != row.line:
                    self.error(row.line, self.key_column, self.repeated(row.values, first))
                    continue
            if row.valid:
                yield row

    def process_chunk(self, rows: list[Row]) -> None:
        """Check the chunk's rows against what is stored and write the new ones."""
        raise NotImplementedError

    def write(self, rows: list[Row], write: Callable[[], None]) -> None:
        """Write the chunk. A refusal the checks did not foresee (another import inserting the same
        account meanwhile) is an error on the chunk's lines, not a traceback."""
        try:
            # A savepoint: after a refused statement PostgreSQL takes no other until one is rolled back.
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
                shown = _SHOWN_MASKED.get(column, _readable)
                self.error(
                    line,
                    column,
                    _("%(key)s already exists with %(column)s %(stored)s; the file says %(given)s")
                    % {"key": key, "column": column, "stored": shown(stored), "given": shown(given)},
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
    """A value as read or as stored, for a message about what it is (see _quoted for the text as
    written): "(empty)" for a blank, a time in local time."""
    if value is None or value == "":
        return _("(empty)")
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(sep=" ")
    return _printable(str(value))


# Columns whose values a message shows masked: it may be printed, logged or kept in an ImportRun.
_SHOWN_MASKED = {"national_id": mask_national_id}


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
