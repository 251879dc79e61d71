"""Money on the desk: amounts in yuan to the fen, as every form, import and service reads them."""

import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from .models import MONEY

CENT = Decimal("0.01")
# The largest amount a money column holds (MONEY: 14 digits, 2 of them fen).
MAX_MONEY = Decimal(10 ** (MONEY["max_digits"] - MONEY["decimal_places"])) - CENT

# As people write an amount: digits, optionally a sign, at most two decimals; no grouping, no exponent.
# ASCII digits only: \d would take "٣" or "３", which Decimal reads without a word.
_WRITTEN_AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]{1,2})?")


class NotMoney(ValueError):
    """A value that is not an amount of money. `reason` says why: "not_a_number" (not a number
    at all), "not_in_fen" (finer than a fen, or not finite) or "too_large" (beyond MAX_MONEY);
    `message` says it in words, naming the amount as `what` (the value itself by default)."""

    def __init__(self, value, reason: str, what: str | None = None):
        what = what if what is not None else str(value)
        if reason == "not_a_number":
            message = _("%(what)s is not an amount of money.")
        elif reason == "too_large":
            message = _("%(what)s is too large an amount.")
        else:
            message = _("%(what)s must be an amount in yuan and fen.")
        self.value, self.reason, self.message = value, reason, message % {"what": what}
        super().__init__(self.message)


def money_parse(value, *, what: str | None = None) -> Decimal:
    """`value` (text as written, a Decimal or an int) as an amount in yuan and fen, or NotMoney
    (whose message calls it `what`). Zero and negative amounts are amounts: whether one is allowed
    is the caller's rule."""
    if isinstance(value, str):
        text = value.strip()
        if not _WRITTEN_AMOUNT.fullmatch(text):
            reason = "not_in_fen" if re.fullmatch(r"[+-]?[0-9]+\.[0-9]+", text) else "not_a_number"
            raise NotMoney(value, reason, what)
        amount = Decimal(text)
    else:
        try:
            amount = Decimal(value) if isinstance(value, Decimal | int) else Decimal(str(value))
        except (InvalidOperation, TypeError, ValueError) as error:
            raise NotMoney(value, "not_a_number", what) from error
        if not amount.is_finite() or amount != amount.quantize(CENT):
            raise NotMoney(value, "not_in_fen", what)
    if abs(amount) > MAX_MONEY:
        raise NotMoney(value, "too_large", what)
    return amount.quantize(CENT)
