"""Checks for identity data as it arrives from applications and imports."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def national_id_check_char(first17: str) -> str:
    return _CHECK_CHARS[sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_national_id(value: str) -> None:
    """A mainland resident ID number: 17 digits and a check character (GB 11643)."""
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise ValidationError(_("A national ID number has 17 digits and a final digit or X."), code="format")
    if national_id_check_char(value[:17]) != value[17]:
        raise ValidationError(_("The check digit of this national ID number is wrong."), code="checksum")


def mask_national_id(value: str) -> str:
    """A national ID as the desk shows it: its first four and last four characters
    (1101**********1234); anything shorter than nine characters entirely masked."""
    if not value:
        return ""
    if len(value) < 9:
        return "*" * len(value)
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"
