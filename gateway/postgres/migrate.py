"""Forward-only schema migrations on PostgreSQL, recorded in ``schema_migrations``.

Each store names its component (``sharing``, ``audit``, ``spans``, ``catalog``) and lists its
migrations in order; step *n* brings the schema to version *n*. Replicas starting together
take one transaction-scoped advisory lock first, so exactly one of them applies a step and the
others find it recorded. A database at a version newer than the node knows stops the node with
:class:`~gateway.errors.SchemaTooNew` rather than letting old code write a newer layout.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import SchemaTooNew
from gateway.postgres.database import Postgres

__all__ = ["MIGRATIONS_TABLE", "migrate", "safe_dsn"]

MIGRATIONS_TABLE = "schema_migrations"

# Any fixed 64-bit number: the lock every replica's migration run queues on.
_LOCK_KEY = 0x59_52_44_4D_49_47  # "YRDMIG"


def migrate(pg: Postgres, component: str, steps: Sequence[str]) -> int:
    """Apply the steps of ``component`` the database lacks; returns how many were applied."""
    with pg.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
        # Only when missing: the nodes' own role may lack CREATE (see ``roles``).
        if conn.value("SELECT to_regclass(?) IS NULL", (MIGRATIONS_TABLE,)):
            conn.execute(
                f"CREATE TABLE {MIGRATIONS_TABLE} ("
                " component TEXT NOT NULL, version INTEGER NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                " PRIMARY KEY (component, version))"
            )
        current = int(
            conn.value(
                f"SELECT coalesce(max(version), 0) FROM {MIGRATIONS_TABLE} WHERE component = ?",
                (component,),
            )
        )
        if current > len(steps):
            raise SchemaTooNew(component, current, len(steps), where=safe_dsn(pg.dsn))
        for version in range(current + 1, len(steps) + 1):
            conn.raw.execute(steps[version - 1])
            conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (component, version) VALUES (?, ?)",
                (component, version),
            )
        return len(steps) - current


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, to name the database in an error."""
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return dsn
