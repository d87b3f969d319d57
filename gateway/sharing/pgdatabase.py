"""The sharing store on PostgreSQL: the same tables and statements as the SQLite file, shared
by every replica of the province.

Every write transaction first bumps the one-row ``sharing_version``: that row lock makes
check-then-write (decisions, quota grants) atomic across replicas as ``BEGIN IMMEDIATE`` does
in SQLite, and the number is the version the in-memory views (``views``) compare against, read
once per call, so a revoke committed on one replica counts on every replica's next call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway.postgres import Postgres, SqlConn, migrate
from gateway.sharing import tables as t
from gateway.sharing.pgquota import COUNT_CALL_FUNCTION

__all__ = ["MIGRATIONS", "PgDatabase"]

MIGRATIONS = (
    # 1: the SQLite layout (PostgreSQL has no rowid to leave out), and the write version.
    t.SCHEMA.replace(") WITHOUT ROWID;", ");")
    + """
CREATE TABLE IF NOT EXISTS sharing_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO sharing_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
""",
    # 2: a call's version check and quota count in one statement (``pgquota``).
    COUNT_CALL_FUNCTION,
)

VERSION = "SELECT version FROM sharing_version WHERE id = 1"


class PgDatabase:
    """The sharing tables of one province's database, through one replica's pool."""

    def __init__(self, pg: Postgres) -> None:
        self.pg = pg
        migrate(pg, "sharing", MIGRATIONS)

    def close(self) -> None:
        """The pool is the node's, closed by whoever opened it."""

    @contextmanager
    def write(self) -> Iterator[SqlConn]:
        with self.pg.transaction() as conn:
            conn.execute("UPDATE sharing_version SET version = version + 1 WHERE id = 1")
            yield conn

    def version(self) -> tuple[int, int]:
        with self.pg.transaction() as conn:
            return 0, int(conn.value(VERSION))

    async def version_async(self) -> int:
        """The write version, read in one round trip from the event loop."""
        row = await self.pg.fetch(VERSION)
        assert row is not None  # the migration inserts the one row
        return int(row[0])

    @contextmanager
    def read(self) -> Iterator[SqlConn]:
        with self.pg.transaction() as conn:
            yield conn
