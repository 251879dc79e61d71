"""Amortisation in integer fen, and months without dateutil (demo due days are always 1-28)."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from .products import EQUAL_PRINCIPAL

ONE = Decimal(1)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, day.day)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


@lru_cache(maxsize=8192)
def _annuity_factor(annual_rate: int, term_months: int) -> Decimal:
    """The level monthly payment per unit of principal: r (1 + r)^n / ((1 + r)^n - 1)."""
    monthly_rate = Decimal(annual_rate) / 120_000
    growth = (1 + monthly_rate) ** term_months
    return monthly_rate * growth / (growth - 1)


def schedule_amounts(
    *, principal_fen: int, term_months: int, annual_rate: int, monthly_fee_fen: int, method: str
) -> list[tuple[int, int, int]]:
    """(principal, interest, fees) in fen for each month. Interest is the monthly rate
    (annual_rate ten-thousandths / 12) on the balance, rounded half up; equal installments
    keep principal + interest level, equal principal keeps the principal level. The last
    month takes whatever rounding left, so the principal parts add up to the principal exactly."""
    rows = []
    balance = principal_fen
    if method == EQUAL_PRINCIPAL or annual_rate == 0:
        level_principal = principal_fen // term_months
        level_payment = None
    else:
        level_payment = int((principal_fen * _annuity_factor(annual_rate, term_months)).quantize(ONE, ROUND_HALF_UP))
    for month in range(1, term_months + 1):
        interest = (balance * annual_rate * 2 + 120_000) // 240_000
        if month == term_months:
            principal = balance
        elif level_payment is None:
            principal = level_principal
        else:
            principal = min(max(level_payment - interest, 0), balance)
        balance -= principal
        rows.append((principal, interest, monthly_fee_fen))
    return rows
