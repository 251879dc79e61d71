"""The bulk write of installments' paid amounts, which PostgreSQL takes as one UPDATE ... FROM."""

from django.db import connection

from .models import Installment


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
