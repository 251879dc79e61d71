"""What a stretch of work cost the database: seconds, rows written (inserted, updated or deleted,
over the desk's tables) and WAL bytes. Read on the phase's own connection, outside a
transaction, so that its counts have reached the statistics."""

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    seconds: float
    rows: int
    wal: int

    def __sub__(self, other: "Reading") -> "Reading":
        return Reading(self.seconds - other.seconds, self.rows - other.rows, self.wal - other.wal)

    def as_dict(self) -> dict:
        return {"seconds": self.seconds, "rows": self.rows, "wal": self.wal}


def reading() -> Reading:
    """Now: the clock, the rows written to the desk's tables so far, the WAL position."""
    from django.db import connection

    seconds = time.perf_counter()
    with connection.cursor() as cursor:
        # This backend's own counts reach shared memory once it is idle: ask for that now, and
        # read the counts as they are rather than as first read in the transaction.
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:
        cursor.execute("SET stats_fetch_consistency = none")
        cursor.execute(
            "SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
            "WHERE schemaname = 'public'"
        )
        (rows,) = cursor.fetchone()
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')")
        (wal,) = cursor.fetchone()
    return Reading(seconds, int(rows), int(wal))


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"
