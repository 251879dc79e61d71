from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def yuan(value) -> str:
    """1234.5 -> '¥1,234.50'."""
    if value in (None, ""):
        return ""
    return f"¥{Decimal(value):,.2f}"
