"""The columns of each kind of file and how their cells are read.

Every cell is checked for what a spreadsheet hides before its value is read: control characters
(NUL, escape sequences; a line break in anything but an address), characters that reverse the
direction text is shown in (a name that reads differently than it is stored), and in codes
(account numbers, references...) any invisible or unassigned character. Numbers, dates and IDs
accept ASCII digits, full-width digits read as ASCII (fold_width); "²", "①" or "٣" are not digits
here. Dates fall within DATE_FLOOR..DATE_CEILING (a date of birth from BIRTH_FLOOR).

Cells that begin like a spreadsheet formula (= + - @) are stored as written: a phone number is
"+86...", and the danger is in opening an export in a spreadsheet, so an export must neutralise
them (see docs/csv-formats.md)."""

import re
import unicodedata
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
from ..validators import fold_width, mask_national_id, normalise_national_id, validate_national_id

MAX_SMALL_INT = 32767  # PositiveSmallIntegerField
# The dates a portfolio file may hold: no loan of the desk was disbursed, fell due or was paid
# outside them, and a date outside them is a typo (0001-01-01, 9999-12-31) that would otherwise be
# aged, allocated and shown as if it were true.
DATE_FLOOR = date(1990, 1, 1)
DATE_CEILING = date(2100, 12, 31)
BIRTH_FLOOR = date(1900, 1, 1)
# UTC offsets in use run from -12:00 to +14:00.
MAX_OFFSET = timedelta(hours=14)

# Characters that change the direction text is shown in: embeddings and overrides (U+202A-202E),
# isolates (U+2066-2069), and the marks (U+200E, U+200F, U+061C).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F))) + "".join(map(chr, range(0x2066, 0x206A)))
)
# Unicode categories never printed: control, format (zero-width, BOM...), private use, unassigned,
# surrogate, and the line and paragraph separators.
_UNPRINTED = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


class CellError(Exception):
    """A value that cannot be read; the message says why, for the person who fixes the file."""


def _printable(text: str) -> str:
    """`text` with what is never printed written as an escape (\\x00, \\u202e), so that a message
    about it shows what is there and cannot itself hide text or drive a terminal."""
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if char in BIDI_CONTROLS or unicodedata.category(char) in _UNPRINTED
        else char
        for char in text
    )


def _quoted(raw: str) -> str:
    """A cell's text as the file has it, in quotes and cut at 40 characters, for a message about
    what was written (see _readable for a value that was read)."""
    return f'"{_printable(raw[:40])}…"' if len(raw) > 40 else f'"{_printable(raw)}"'


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def check_characters(raw: str, *, code: bool = False, multiline: bool = False) -> None:
    """Refuse what a cell must not hold (see the module's docstring): CellError naming the first
    such character and where it is. `code`: an account number, reference and the like, one line
    of visible characters. `multiline`: line breaks and tabs are text here (an address)."""
    for position, char in enumerate(raw, start=1):
        category = unicodedata.category(char)
        where = {"value": _quoted(raw), "code": _code_point(char), "position": position}
        if char in BIDI_CONTROLS:
            raise CellError(
                _(
                    "%(value)s holds a character that changes the direction text is shown in (%(code)s) "
                    "at character %(position)s"
                )
                % where
            )
        if char in "\r\n\t" and multiline:
            continue
        if char in "\r\n" or category in ("Zl", "Zp"):
            raise CellError(_("%(value)s holds a line break at character %(position)s; it must be one line") % where)
        if category == "Cc":
            raise CellError(_("%(value)s holds a control character (%(code)s) at character %(position)s") % where)
        if code and category in _UNPRINTED:
            raise CellError(
                _("%(value)s holds an invisible or unassigned character (%(code)s) at character %(position)s") % where
            )


def _text(max_length: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise CellError(
                _("%(value)s is longer than %(max)s characters") % {"value": _quoted(raw), "max": max_length}
            )
        return raw

    return parse


def _code(max_length: int) -> Callable[[str], str]:
    """A code that names something (an account, a reference, a product): full-width forms read as
    ASCII, so that "ＬＮ-1" cannot become a second account beside "LN-1"."""
    text = _text(max_length)

    def parse(raw: str) -> str:
        return text(fold_width(raw))

    return parse


_DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
_DATETIME = re.compile(
    r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})"
    r"(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,6})?)?)?"
    r"\s*(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _outside(raw: str, floor: date, ceiling: date) -> CellError:
    return CellError(
        _("%(value)s is outside the dates a portfolio file may hold (%(floor)s to %(ceiling)s)")
        % {"value": _quoted(raw), "floor": floor.isoformat(), "ceiling": ceiling.isoformat()}
    )


def _date(*, floor: date = DATE_FLOOR, ceiling: date = DATE_CEILING) -> Callable[[str], date]:
    def parse(raw: str) -> date:
        match = _DATE.fullmatch(fold_width(raw))
        try:
            if match:
                value = date(int(match[1]), int(match[3]), int(match[4]))
                if not floor <= value <= ceiling:
                    raise _outside(raw, floor, ceiling)
                return value
        except ValueError:
            pass
        raise CellError(_("%(value)s is not a date (YYYY-MM-DD)") % {"value": _quoted(raw)})

    return parse


def _not_a_datetime(raw: str) -> CellError:
    return CellError(
        _("%(value)s is not a date and time (YYYY-MM-DD HH:MM:SS, optionally with +08:00)") % {"value": _quoted(raw)}
    )


def _datetime(raw: str) -> datetime:
    """'2026-03-05 14:30[:00]', optionally with 'T', a UTC offset ('+08:00', 'Z'); without an
    offset the time is local time (TIME_ZONE); without a time it is midnight. The date is within
    DATE_FLOOR..DATE_CEILING, the offset within ±14:00."""
    match = _DATETIME.fullmatch(fold_width(raw))
    if not match:
        raise _not_a_datetime(raw)
    year, _sep, month, day, hour, minute, second, offset = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        raise _not_a_datetime(raw) from None
    if not DATE_FLOOR <= moment.date() <= DATE_CEILING:
        raise _outside(raw, DATE_FLOOR, DATE_CEILING)
    if offset is None:
        return timezone.make_aware(moment, timezone.get_default_timezone())
    if offset == "Z":
        return moment.replace(tzinfo=UTC)
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if int(digits[2:]) >= 60 or delta > MAX_OFFSET:
        raise CellError(
            _("%(value)s has a UTC offset beyond ±14:00") % {"value": _quoted(raw)},
        )
    return moment.replace(tzinfo=dt_timezone(delta if offset[0] == "+" else -delta))


def _not_an_amount(raw: str) -> CellError:
    return CellError(
        _("%(value)s is not an amount (yuan with up to two decimals, e.g. 1200.50)") % {"value": _quoted(raw)}
    )


def _money(*, positive: bool) -> Callable[[str], Decimal]:
    """An amount in yuan as money_parse reads it, but written without a sign: no amount in these
    files is negative, and a "+" is as unexpected there as a "-"."""

    def parse(raw: str) -> Decimal:
        text = fold_width(raw)
        if text.startswith(("-", "+")):
            raise _not_an_amount(raw)
        try:
            amount = money_parse(text)
        except NotMoney as error:
            if error.reason == "too_large":
                raise CellError(_("%(value)s is too large an amount") % {"value": _quoted(raw)}) from error
            raise _not_an_amount(raw) from error
        if positive and amount == 0:
            raise CellError(_("the amount must be more than zero"))
        return amount

    return parse


_RATE = re.compile(r"[0-9]+(\.[0-9]{1,4})?")


def _rate(raw: str) -> Decimal:
    # Rates are fractions so that "18" (meant as 18%) is refused rather than read as 1800%.
    text = fold_width(raw)
    if not _RATE.fullmatch(text) or Decimal(text) > 1:
        raise CellError(
            _("%(value)s is not an annual rate (a fraction with up to four decimals, e.g. 0.1800 for 18%%)")
            % {"value": _quoted(raw)}
        )
    return Decimal(text)


_WHOLE_NUMBER = re.compile(r"[0-9]{1,5}")


def _positive_int(raw: str) -> int:
    text = fold_width(raw)
    if not _WHOLE_NUMBER.fullmatch(text) or not 1 <= int(text) <= MAX_SMALL_INT:
        raise CellError(
            _("%(value)s is not a whole number from 1 to %(max)s") % {"value": _quoted(raw), "max": MAX_SMALL_INT}
        )
    return int(text)


def _choice(values) -> Callable[[str], str]:
    allowed = tuple(str(value) for value in values)

    def parse(raw: str) -> str:
        value = fold_width(raw).lower()
        if value not in allowed:
            raise CellError(
                _("%(value)s is not one of %(allowed)s") % {"value": _quoted(raw), "allowed": ", ".join(allowed)}
            )
        return value

    return parse


_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否"}


def _boolean(raw: str) -> bool:
    value = fold_width(raw).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CellError(_("%(value)s is not yes or no (true/false, 1/0, 是/否)") % {"value": _quoted(raw)})


def _national_id(raw: str) -> str:
    """Full-width digits read as ASCII before the check, so that "３１０１…" is the same person as
    "3101…"; the message shows the number masked."""
    value = normalise_national_id(raw)
    try:
        validate_national_id(value)
    except ValidationError as error:
        raise CellError(f"{_quoted(mask_national_id(value))}: {error.messages[0]}") from error
    return value


@dataclass(frozen=True)
class Column:
    """A CSV column. A required column must be in the header and have a value on every row; an
    optional column may be left out or left blank, which reads as `default`. `code`: the column
    names something (check_characters is stricter); `multiline`: it may hold line breaks."""

    name: str
    parse: Callable[[str], object]
    required: bool = True
    default: object = None
    code: bool = False
    multiline: bool = False

    def read(self, raw: str) -> object:
        """The cell's value, or CellError saying what is wrong with it."""
        check_characters(raw, code=self.code, multiline=self.multiline)
        return self.parse(raw)


LOAN_COLUMNS = (
    Column("account_number", _code(40), code=True),
    Column("national_id", _national_id, code=True),
    Column("borrower_name", _text(100)),
    Column("date_of_birth", _date(floor=BIRTH_FLOOR), required=False),
    Column("province", _text(50), required=False, default=""),
    Column("city", _text(50), required=False, default=""),
    Column("address", _text(255), required=False, default="", multiline=True),
    Column("product_code", _code(32), code=True),
    Column("principal", _money(positive=True)),
    Column("annual_rate", _rate),
    Column("disbursed_on", _date()),
    Column("term_months", _positive_int),
)

SCHEDULE_COLUMNS = (
    Column("account_number", _code(40), code=True),
    Column("sequence", _positive_int),
    Column("due_date", _date()),
    Column("principal_due", _money(positive=False)),
    Column("interest_due", _money(positive=False)),
    Column("fees_due", _money(positive=False)),
    # Blank: none for a new installment, and not compared for a stored one, whose penalty may
    # have been charged since the schedule was first imported.
    Column("penalty_due", _money(positive=False), required=False),
)

PAYMENT_COLUMNS = (
    Column("account_number", _code(40), code=True),
    Column("reference", _code(64), code=True),
    Column("amount", _money(positive=True)),
    Column("received_at", _datetime),
    Column("channel", _choice(Payment.Channel.values)),
    Column("source", _code(32), required=False, default="import", code=True),
)

CONTACT_COLUMNS = (
    Column("national_id", _national_id, code=True),
    Column("kind", _choice(Contact.Kind.values)),
    Column("value", _text(254), code=True),
    Column("name", _text(100), required=False, default=""),
    Column("relation", _text(50), required=False, default=""),
    Column("verification", _choice(Contact.Verification.values), required=False, default="unverified"),
    Column("do_not_contact", _boolean, required=False, default=False),
    Column("opt_out_call", _boolean, required=False, default=False),
    Column("opt_out_sms", _boolean, required=False, default=False),
    Column("opt_out_email", _boolean, required=False, default=False),
    Column("source", _code(32), required=False, default="import", code=True),
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
