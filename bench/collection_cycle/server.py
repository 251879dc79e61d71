"""The PostgreSQL server the benchmark builds its databases on."""

import os
import secrets
import time
from urllib.parse import urlsplit


class BenchError(Exception):
    """A run that cannot go on: the message says why."""


class Server:
    """The PostgreSQL server of DATABASE_URL, reached through its `postgres` maintenance
    database with the same credentials to drop and create the benchmark's databases."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
            raise BenchError(
                "DATABASE_URL must point at PostgreSQL (postgres://user:password@host:port/database), "
                f"not {parts.scheme}:"
            )
        self.url = url
        self.parts = parts
        self.database = parts.path.lstrip("/") or "desk"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5432

    @classmethod
    def from_environment(cls) -> "Server":
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            raise BenchError(
                "set DATABASE_URL=postgres://user:password@host:port/database: the benchmark builds its "
                "databases on that PostgreSQL server (the role needs CREATEDB)"
            )
        return cls(url)

    def run_databases(self, name: str | None = None) -> dict[str, str]:
        """The run's databases by phase: `name` for the build, by default bench_collection_cycle_
        and 8 random hex digits, new each run, and `<name>_cycle`, `_floor`, `_naive` for the copies.
        Refuses the names it must never drop: test_* (the test runs') and DATABASE_URL's own."""
        base = name or f"bench_collection_cycle_{secrets.token_hex(4)}"
        databases = {"build": base, **{phase: f"{base}_{phase}" for phase in ("cycle", "floor", "naive")}}
        if base.startswith("test_"):
            raise BenchError(f"--database-name {base}: names starting with test_ are the test runs' databases")
        if self.database in databases.values():
            raise BenchError(f"--database-name {base}: the run would drop DATABASE_URL's database {self.database}")
        if len(databases["cycle"].encode()) > 63:  # PostgreSQL would cut the names short
            raise BenchError(f"--database-name {base}: too long for PostgreSQL's 63 bytes once _cycle is added")
        return databases

    def url_for(self, database: str) -> str:
        return self.parts._replace(path=f"/{database}").geturl()

    def _admin(self):
        import psycopg

        try:
            return psycopg.connect(self.url_for("postgres"), autocommit=True)
        except psycopg.Error as error:
            raise BenchError(f"cannot reach the PostgreSQL server of DATABASE_URL: {error}") from error

    def drop(self, name: str) -> None:
        from psycopg import sql

        with self._admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create(self, name: str, *, template: str | None = None) -> None:
        import psycopg
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        with self._admin() as admin:
            if template is not None:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
                if admin.info.server_version >= 150000:  # a file copy: much faster than through the WAL
                    statement += sql.SQL(" STRATEGY FILE_COPY")
            for attempt in range(20):
                try:
                    admin.execute(statement)
                    return
                except psycopg.errors.ObjectInUse:  # autovacuum visiting the template: wait for it
                    if attempt == 19:
                        raise
                    time.sleep(0.5)
