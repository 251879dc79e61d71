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
    possible, valid number; the message shows the number masked (it may end up in a log)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(
            _("%(value)s is not a phone number.") % {"value": mask_phone(raw)}, code="phone"
        ) from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("%(value)s is not a valid phone number.") % {"value": mask_phone(raw)}, code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_contact_value(kind: str, raw: str) -> str:
    value = raw.strip()
    if kind == "email":
        validate_email(value)
        return value.lower()
    return normalise_phone(value)


def mask_phone(value: str) -> str:
    """A phone number with its middle hidden, as the desk shows it where the full number is not
    needed (refusal texts, lists, logs): '+8613812345678' -> '+86138****5678', '13812345678' ->
    '138****5678'. The country code, the first three digits and the last four stay; a short number
    keeps only its last two. Anything that is not a number (an e-mail address) keeps its first
    character and its domain."""
    value = (value or "").strip()
    if not value:
        return ""
    if "@" in value:
        local, _at, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    prefix, national = "", value
    if value.startswith("+"):
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            prefix, national = "+", value[1:]
        else:
            prefix, national = f"+{number.country_code}", str(number.national_number)
    if len(national) <= 7:
        return prefix + "*" * max(len(national) - 2, 0) + national[-2:]
    return prefix + national[:3] + "*" * (len(national) - 7) + national[-4:]


# A national ID (17 digits and a check character) or a phone number (7 digits or more, maybe with
# a +) standing alone: not the digits of an account number such as CC2026010000000001.
_NUMBERS_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])(\d{17}[\dXx]|\+?\d{7,})(?![A-Za-z0-9])")


def mask_numbers_in(text: str) -> str:
    """`text` (an error, a log line) with each national ID and phone number in it masked."""

    def masked(found) -> str:
        number = found[0]
        return mask_national_id(number) if len(number) == 18 and not number.startswith("+") else mask_phone(number)

    return _NUMBERS_IN_TEXT.sub(masked, text or "")
