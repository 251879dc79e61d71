"""Checks for identity data as it arrives from applications and imports."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# ASCII digits only: str.isdigit() and \d also take "²", "①" or "٣", which int() then refuses or reads.
_NATIONAL_ID = re.compile(r"[0-9]{17}[0-9X]")


def national_id_check_char(first17: str) -> str:
    return _CHECK_CHARS[sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_national_id(value: str) -> None:
    """A mainland resident ID number: 17 ASCII digits and a check character (GB 11643)."""
    if not isinstance(value, str) or not _NATIONAL_ID.fullmatch(value):
        raise ValidationError(_("A national ID number has 17 digits and a final digit or X."), code="format")
    if national_id_check_char(value[:17]) != value[17]:
        raise ValidationError(_("The check digit of this national ID number is wrong."), code="checksum")


def fold_width(value: str) -> str:
    """Full-width letters, digits and signs ("３１０１", "ＡＢ") as their ASCII forms, the way an ID
    typed on a Chinese keyboard in full-width mode is meant; nothing else changes. This is NFKC
    applied to the <wide> forms only: NFKC would also read "²" or "①" as a digit, and those are
    not digits anyone meant, so they stay what they are and are refused as not digits."""
    return "".join(
        unicodedata.normalize("NFKC", char) if unicodedata.decomposition(char).startswith("<wide>") else char
        for char in value
    )


def normalise_national_id(value: str) -> str:
    """A national ID as it is stored and compared: full-width forms folded, spaces around it
    dropped, a lower-case check x upper-cased. Validate the result with validate_national_id."""
    return fold_width(value).strip().upper()


def mask_national_id(value: str) -> str:
    """'110105199001011234' -> '1101**********1234': enough to tell two people apart on a
    screen or in a message, not enough to be the number."""
    value = value or ""
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"
