"""The columns of each kind of file and how their cells are read."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Contact, Payment
from ..money import NotMoney, money_parse
from ..validators import validate_national_id

MAX_SMALL_INT = 32767  # PositiveSmallIntegerField


class CellError(Exception):
    """A value that cannot be read; the message says why, for the person who fixes the file."""


def _quoted(raw: str) -> str:
    """A cell's text as the file has it, in quotes and cut at 40 characters, for a message about
    what was written (see _readable for a value that was read)."""
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
