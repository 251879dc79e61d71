"""What the hand-written, set-based portfolio statements need spelt differently per database, and
the bulk write of installments' paid amounts, which PostgreSQL takes as one UPDATE ... FROM."""

from django.db import connection

from .models import Installment


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

    def greatest(self, *values: str) -> str:
        return f"{'GREATEST' if self.vendor == 'postgresql' else 'MAX'}({', '.join(values)})"

    @property
    def is_distinct_from(self) -> str:
        """Null-safe "differs from": NULL and NULL are the same, NULL and a value differ."""
        return "IS DISTINCT FROM" if self.vendor == "postgresql" else "IS NOT"


def save_paid_amounts(installments: list[Installment], fields: list[str]) -> None:
    """Write `fields` (the paid amounts, is_paid, paid_on) of the installments to the database."""
    # On PostgreSQL one UPDATE ... FROM (VALUES ...) per 1000: bulk_update's CASE WHEN per row and
    # field costs seconds a chunk in Python and in the database, more than the rest of a payments
    # chunk. SQLite keeps bulk_update.
    if connection.vendor != "postgresql":
        Installment.objects.bulk_update(installments, fields, batch_size=500)
        return
    types = {field: Installment._meta.get_field(field).db_type(connection) for field in fields}
    columns = ", ".join(connection.ops.quote_name(field) for field in fields)
    assignments = ", ".join(
        f"{connection.ops.quote_name(field)} = v.{connection.ops.quote_name(field)}" for field in fields
    )
    row = "(" + ", ".join(["%s::bigint", *[f"%s::{types[field]}" for field in fields]]) + ")"
    table = connection.ops.quote_name(Installment._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(installments), 1000):
            batch = installments[start : start + 1000]
            cursor.execute(
                f"UPDATE {table} AS i SET {assignments} "  # noqa: S608 (names from the model, values bound)
                f"FROM (VALUES {', '.join([row] * len(batch))}) AS v(id, {columns}) WHERE i.id = v.id",
                [
                    value
                    for installment in batch
                    for value in (installment.pk, *[getattr(installment, f) for f in fields])
                ],
            )
