"""How the audit trail masks the portfolio's personal numbers (settings.AUDITLOG_INCLUDE_TRACKING_MODELS
names these): as the desk shows them, and "None" (no value before a row was made) kept as it is."""

from .phones import mask_phone
from .validators import mask_national_id


def national_id_for_trail(value: str) -> str:
    return value if value == "None" else mask_national_id(value)


def contact_value_for_trail(value: str) -> str:
    return value if value == "None" else mask_phone(value)
