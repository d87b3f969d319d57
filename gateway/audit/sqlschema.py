"""The audit log's SQLite layout (``entries``, ``meta``, ``witnessed_heads``) and its
forward-only migrations, recorded as ``schema`` in ``meta``.

Version 1 is the chain; version 2 adds the heads this node has witnessed from its peers
(``witnessed``). A file at a version newer than the code knows is refused, as PostgreSQL's
``SchemaTooNew`` refuses a newer database.
"""

from __future__ import annotations

import json
import sqlite3

from gateway.audit.chain import GENESIS_HASH
from gateway.audit.writer import AuditWriteError
from gateway.errors import SchemaTooNew

__all__ = ["SCHEMA_VERSION", "WITNESSED_TABLE", "init_schema"]

WITNESSED_TABLE = """CREATE TABLE IF NOT EXISTS witnessed_heads (
        node TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        time TEXT NOT NULL,
        signature BLOB NOT NULL,
        received TEXT NOT NULL,
        PRIMARY KEY (node, seq, hash)
    )"""

_V1 = (
    """CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        time TEXT NOT NULL,
        node TEXT NOT NULL,
        side TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        app TEXT NOT NULL,
        interface TEXT NOT NULL,
        purpose TEXT NOT NULL,
        action TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        fields_returned TEXT NOT NULL,
        fields_masked TEXT NOT NULL,
        fields_dropped TEXT NOT NULL,
        record_count INTEGER NOT NULL,
        grade TEXT NOT NULL,
        status TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        peer TEXT NOT NULL,
        peer_hash TEXT NOT NULL,
        actor TEXT NOT NULL,
        extra TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS entries_trace ON entries (trace_id) WHERE trace_id != ''",
    "CREATE INDEX IF NOT EXISTS entries_app ON entries (app, seq)",
    "CREATE INDEX IF NOT EXISTS entries_interface ON entries (interface, seq)",
    "CREATE INDEX IF NOT EXISTS entries_time ON entries (time)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
)

#: Step n brings a file from version n to n + 1.
_STEPS: tuple[tuple[str, ...], ...] = ((WITNESSED_TABLE,),)

SCHEMA_VERSION = str(len(_STEPS) + 1)


def init_schema(conn: sqlite3.Connection, node: str, path: str) -> None:
    """Create or migrate the log at ``path`` for ``node`` (WAL, ``synchronous=FULL``)."""
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise AuditWriteError(f"audit log {path}: WAL mode unavailable (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Statement by statement: executescript would commit behind our back.
            for statement in _V1:
                conn.execute(statement)
            head = json.dumps({"seq": 0, "hash": GENESIS_HASH})
            # A new file starts at version 1 and migrates like any other.
            conn.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [("node", node), ("schema", "1"), ("head", head)],
            )
            stored = dict(
                conn.execute("SELECT key, value FROM meta WHERE key IN ('node', 'schema')")
            )
            version = stored.get("schema", "")
            if version.isdigit() and stored.get("node") == node:
                for step in _STEPS[int(version) - 1 :]:
                    for statement in step:
                        conn.execute(statement)
                if int(version) <= len(_STEPS):
                    conn.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,)
                    )
                    stored["schema"] = SCHEMA_VERSION
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise AuditWriteError(f"cannot open audit log {path}: {exc}") from exc
    if stored.get("node") != node:
        raise ValueError(f"audit log {path} belongs to node {stored.get('node')!r}, not {node!r}")
    found = str(stored.get("schema"))
    if found.isdigit() and int(found) > int(SCHEMA_VERSION):
        # Written by a newer node: refuse to start rather than append an older layout.
        raise SchemaTooNew("audit", int(found), int(SCHEMA_VERSION), where=path)
    if stored.get("schema") != SCHEMA_VERSION:
        raise ValueError(
            f"audit log {path}: schema {stored.get('schema')!r}, expected {SCHEMA_VERSION}"
        )
