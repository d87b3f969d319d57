"""The audit chain's tables on PostgreSQL (``audit_entries``, ``audit_meta``): the SQLite log's
layout, forward-only migrations, and the node's claim on the chain.

Append-only twice over: triggers refuse UPDATE and DELETE on entries for every role (as the
SQLite triggers do), and the role the nodes use is granted only SELECT and INSERT on them
(``gateway.postgres.roles``), so even dropping a trigger is beyond it.
"""

from __future__ import annotations

import json

from gateway.audit.chain import GENESIS_HASH
from gateway.audit.writer import ROW_COLUMNS
from gateway.postgres import Postgres, migrate

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "claim"]

SCHEMA_VERSION = "1"

# Every column of the SQLite log's ``entries`` (``writer.ROW_COLUMNS``), in PostgreSQL's types.
_TYPES = {"seq": "BIGINT PRIMARY KEY", "record_count": "BIGINT", "latency_ms": "DOUBLE PRECISION"}
_ENTRIES = (
    "CREATE TABLE audit_entries (\n"
    + ",\n".join(f"    {c} {_TYPES.get(c, 'TEXT')} NOT NULL" for c in ROW_COLUMNS)
    + "\n);\n"
)

MIGRATIONS = (
    """
{entries}CREATE INDEX audit_entries_trace ON audit_entries (trace_id) WHERE trace_id != '';
CREATE INDEX audit_entries_app ON audit_entries (app, seq);
CREATE INDEX audit_entries_interface ON audit_entries (interface, seq);
CREATE INDEX audit_entries_time ON audit_entries (time);
CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
""".replace("{entries}", _ENTRIES),
    # 2: the heads this node has witnessed from its peers (``witnessed``).
    """
CREATE TABLE audit_witnessed (
    node TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    time TEXT NOT NULL,
    signature BYTEA NOT NULL,
    received TEXT NOT NULL,
    PRIMARY KEY (node, seq, hash)
);
""",
)


def claim(pg: Postgres, node: str, where: str) -> None:
    """Migrate, then record the chain's node and genesis head on first use; a database whose
    chain belongs to another node is refused (ValueError, as for a SQLite file)."""
    migrate(pg, "audit", MIGRATIONS)
    with pg.transaction() as conn:
        stored = {
            r["key"]: r["value"]
            for r in conn.execute("SELECT key, value FROM audit_meta WHERE key IN ('node', 'head')")
        }
        if not stored:
            # The first replica of the province: ON CONFLICT, as another may be here too.
            head = json.dumps({"seq": 0, "hash": GENESIS_HASH})
            conn.executemany(
                "INSERT INTO audit_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                [("node", node), ("schema", SCHEMA_VERSION), ("head", head)],
            )
            stored = {"node": conn.value("SELECT value FROM audit_meta WHERE key = 'node'")}
    if stored.get("node") != node:
        raise ValueError(f"audit log {where} belongs to node {stored.get('node')!r}, not {node!r}")
