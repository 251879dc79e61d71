"""Normalising contact values: phone numbers to E.164 with the phonenumbers library; masking them."""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from .validators import mask_national_id

DEFAULT_REGION = "CN"


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """'138 0013 8000' -> '+8613800138000'. Raises ValidationError for anything that is not a
    possible, valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(_("%(value)s is not a phone number.") % {"value": raw}, code="phone") from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("%(value)s is not a valid phone number.") % {"value": raw}, code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_contact_value(kind: str, raw: str) -> str:
    value = raw.strip()
    if kind == "email":
        validate_email(value)
        return value.lower()
    return normalise_phone(value)


def mask_phone(value: str) -> str:
    """A phone number as the desk shows it: '+8613856785678' -> '+86 138****5678', '13856785678' ->
    '138****5678'; any other number keeps its first three and last four digits at most."""
    if not value:
        return ""
    prefix, number = ("+86 ", value[3:]) if value.startswith("+86") else ("", value)
    if number.startswith("+"):  # another country: its code is part of what stays visible
        prefix, number = number[:3] + " ", number[3:]
    shown = min(4, max(len(number) - 4, 0))
    head = min(3, max(len(number) - shown - 4, 0))
    return f"{prefix}{number[:head]}{'*' * (len(number) - head - shown)}{number[len(number) - shown :]}"


def mask_contact_value(value: str) -> str:
    """A contact's number masked (mask_phone), or an e-mail address with its name masked
    (z***@example.com)."""
    if "@" in (value or ""):
        name, _at, domain = value.partition("@")
        return f"{name[:1]}***@{domain}"
    return mask_phone(value or "")


# A national ID (17 digits and a check character) or a phone number (7 digits or more, maybe with
# a +) standing alone: not the digits of an account number such as CC2026010000000001.
_NUMBERS_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])(\d{17}[\dXx]|\+?\d{7,})(?![A-Za-z0-9])")


def mask_numbers_in(text: str) -> str:
    """`text` (an error, a log line) with each national ID and phone number in it masked."""

    def masked(found) -> str:
        number = found[0]
        return mask_national_id(number) if len(number) == 18 and not number.startswith("+") else mask_phone(number)

    return _NUMBERS_IN_TEXT.sub(masked, text or "")
