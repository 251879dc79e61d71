"""What the hand-written, set-based portfolio statements need spelt differently per database."""


class SqlDialect:
    """The few spellings the hand-written portfolio statements need that differ between
    PostgreSQL and SQLite (3.33 or later, for UPDATE ... FROM). Everything else they use is
    standard SQL both understand."""

    def __init__(self, vendor: str):
        if vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"the portfolio statements are written for PostgreSQL and SQLite, not {vendor}")
        self.vendor = vendor

    @property
    def date_parameter(self) -> str:
        """A placeholder for a date parameter, typed where the database needs it typed."""
        return "CAST(%s AS date)" if self.vendor == "postgresql" else "%s"

    def days_between(self, end: str, start: str) -> str:
        """Whole days from the date `start` to the date `end`."""
        if self.vendor == "postgresql":
            return f"({end} - {start})"
        return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"

    def add_days(self, day: str, days: str) -> str:
        """The date `days` (an integer expression) after the date `day`."""
        if self.vendor == "postgresql":
            return f"({day} + {days})"
        return f"date({day}, '+' || ({days}) || ' days')"

    def greatest(self, *values: str) -> str:
        return f"{'GREATEST' if self.vendor == 'postgresql' else 'MAX'}({', '.join(values)})"

    @property
    def is_distinct_from(self) -> str:
        """Null-safe "differs from": NULL and NULL are the same, NULL and a value differ."""
        return "IS DISTINCT FROM" if self.vendor == "postgresql" else "IS NOT"
