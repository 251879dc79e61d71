"""What the desk searches the portfolio by, and how each search reaches an index.

A search term is read for its shape, and only the fields that shape can match are searched, each
whole or by its start (never "contains", which no B-tree index serves):

- with a digit and no space: an account number, as typed and in capitals ("cc2025" finds
  "CC2025..."); besides, when it is a number (digits, spaces, dashes, a leading + or a final X):
- a national ID number (up to 18 characters, X in capitals), and
- a phone number, read the way Chinese numbers are written and stored in E.164: "13800138000",
  "138 0013 8000", "8613800138000" and "+86 138..." all become "+8613800138000"; "010 6512 3456"
  (a trunk 0) "+861065123456";
- with an @: an e-mail address, in small letters;
- anything else: a borrower's name or its start ("王" finds every 王...).

Each searched field has a B-tree index that serves "equal to" and "starts with" (a
varchar_pattern_ops index on PostgreSQL: LIKE 'x%' in any collation). A term shorter than
MIN_PREFIX characters is matched whole, not by its start: "13" would match a third of the
phone numbers. Names are matched by their start from one character: a family name."""

import functools
import operator
import re
from dataclasses import dataclass

from django.db.models import Q

MIN_PREFIX = 3
_NUMBER = re.compile(r"\+?\d+[Xx]?")
_NUMBER_SEPARATORS = re.compile(r"[\s\-()]")


@dataclass(frozen=True)
class SearchTerm:
    """The values a term is looked up as, by field; None where the term cannot be one."""

    account_numbers: tuple[str, ...] = ()
    national_id: str | None = None
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    token: str | None = None  # the term as typed, with a digit, for a list's own codes (references, keys)

    @property
    def is_empty(self) -> bool:
        return not (self.account_numbers or self.national_id or self.phone or self.email or self.name)


def search_term_read(raw: str) -> SearchTerm:
    """Read what a desk user typed in a search box for the fields it can match (see the module)."""
    text = " ".join(raw.split())
    if not text:
        return SearchTerm()
    if "@" in text:
        return SearchTerm(email=text.lower() if " " not in text else None)
    if not any(character.isdigit() for character in text):
        return SearchTerm(name=text)
    # A list's own codes (references, keys) hold digits: a name is never looked for among them,
    # which would join its many rows with theirs.
    token = text if " " not in text else None
    accounts = tuple(dict.fromkeys((text, text.upper()))) if token else ()
    number = _NUMBER_SEPARATORS.sub("", text)
    if not _NUMBER.fullmatch(number):
        return SearchTerm(account_numbers=accounts, token=token)
    national_id = number.upper() if not number.startswith("+") and len(number) <= 18 else None
    phone = phone_e164_start(number) if number[-1] not in "Xx" else None
    return SearchTerm(account_numbers=accounts, national_id=national_id, phone=phone, token=token)


def phone_e164_start(number: str) -> str:
    """The start of an E.164 number a Chinese number written as `number` (digits, maybe a leading
    +) has: the country code 86 is added unless written (+..., 0086..., 86...), a trunk 0 dropped."""
    if number.startswith("+"):
        return number
    if number.startswith("00"):
        return "+" + number[2:]
    if number.startswith("86"):
        return "+" + number
    if number.startswith("0"):
        return "+86" + number[1:]
    return "+86" + number


def _starts_with(path: str, value: str, *, whole_below: int = MIN_PREFIX) -> Q:
    lookup = "startswith" if len(value) >= whole_below else "exact"
    return Q(**{f"{path}__{lookup}": value})


def _join(path: str | None, field: str) -> str | None:
    if path is None:
        return None
    return f"{path}__{field}" if path else field


def search_conditions(
    term: SearchTerm,
    *,
    loan: str | None = None,
    borrower: str | None = None,
    contact: str | None = None,
    own_fields: tuple[str, ...] = (),
) -> list[Q]:
    """The conditions a row matching `term` meets, one per index, to be taken together (OR). The
    paths say how a row reaches its loan, its borrower and the contacts searched by phone or
    e-mail ("" for the row itself, None where it has none); `own_fields` are the row's own codes,
    matched by the term as typed."""
    conditions = []
    if term.account_numbers and (path := _join(loan, "account_number")):
        conditions.append(functools.reduce(operator.or_, (_starts_with(path, value) for value in term.account_numbers)))
    if term.national_id and (path := _join(borrower, "national_id")):
        conditions.append(_starts_with(path, term.national_id))
    if term.phone and (path := _join(contact, "value")):
        # "+86" and two digits are still too short a start to look for.
        conditions.append(_starts_with(path, term.phone, whole_below=MIN_PREFIX + 3))
    if term.email and (path := _join(contact, "value")):
        conditions.append(_starts_with(path, term.email))
    if term.name and (path := _join(borrower, "name")):
        conditions.append(_starts_with(path, term.name, whole_below=1))
    if term.token:
        conditions += [_starts_with(field, term.token) for field in own_fields]
    return conditions
