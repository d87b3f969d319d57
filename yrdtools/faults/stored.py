"""Reading a fault federation's files afterwards: audit chains, sharing rows, row counts.

``StoredState`` is mixed into ``Federation``; it reads each node's SQLite files read-only (the
node may still be running, not paused) and checks released calls against both audit chains.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.audit.log import AuditLog, VerifyReport
from yrdtools.faults.outcomes import Released

__all__ = ["AuditRow", "StoredState"]


@dataclass(frozen=True)
class AuditRow:
    node: str
    seq: int
    hash: str
    side: str
    trace_id: str
    app: str
    interface: str
    action: str
    decision: str
    status: str
    peer: str
    peer_hash: str
    record_count: int


_AUDIT_COLUMNS = (
    "seq",
    "hash",
    "side",
    "trace_id",
    "app",
    "interface",
    "action",
    "decision",
    "status",
    "peer",
    "peer_hash",
    "record_count",
)


def _readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


class StoredState:
    """What the nodes stored. The class this is mixed into defines ``data_dir(node)``."""

    def data_dir(self, node: str) -> Path:
        raise NotImplementedError

    def audit_rows(self, node: str) -> list[AuditRow]:
        """Every audit entry of ``node``, oldest first (read-only; the node may be running)."""
        path = self.data_dir(node) / "audit.db"
        if not path.exists():
            return []
        conn = _readonly(path)
        try:
            rows = conn.execute(f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM entries ORDER BY seq")
            return [AuditRow(node, *row) for row in rows]
        finally:
            conn.close()

    def verify_audit(self, node: str) -> VerifyReport:
        """Walk ``node``'s whole audit chain (the node may be running, not paused)."""
        log = AuditLog(self.data_dir(node) / "audit.db", node)
        try:
            return log.verify()
        finally:
            log.close()

    def count_rows(self, node: str) -> dict[str, int]:
        """Rows of the durable state: apps, applications, grants, audit entries, catalog."""
        out: dict[str, int] = {}
        for db, tables in (
            ("sharing.db", ("apps", "applications", "grants")),
            ("audit.db", ("entries",)),
            ("catalog.db", ("entries",)),
        ):
            conn = _readonly(self.data_dir(node) / db)
            try:
                for table in tables:
                    key = {"audit.db": "audit", "catalog.db": "catalog"}.get(db, table)
                    out[key] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                conn.close()
        return out

    def sharing_rows(self, node: str, table: str) -> dict[str, dict[str, Any]]:
        """``apps``, ``applications`` or ``grants`` of ``node`` by id."""
        if table not in ("apps", "applications", "grants"):
            raise ValueError(f"table: apps, applications or grants, not {table!r}")
        conn = _readonly(self.data_dir(node) / "sharing.db")
        conn.row_factory = sqlite3.Row
        try:
            return {row["id"]: dict(row) for row in conn.execute(f"SELECT * FROM {table}")}
        finally:
            conn.close()

    def unaudited(self, released: Iterable[Released]) -> list[str]:
        """One line per released call that lacks its provider entry (the acknowledged hash) on
        the owner, or its consumer entry (same trace, ``peer_hash`` = that hash) at home."""
        released = list(released)
        by_trace: dict[str, dict[str, list[AuditRow]]] = {}
        for node in {r.home for r in released} | {r.owner for r in released}:
            index: dict[str, list[AuditRow]] = {}
            for row in self.audit_rows(node):
                index.setdefault(row.trace_id, []).append(row)
            by_trace[node] = index
        problems = []
        for r in released:
            if not r.trace_id or not r.provider_hash:
                problems.append(f"{r.home}->{r.owner}: released without trace id or audit hash")
                continue
            missing = []
            side = "local" if r.home == r.owner else "provider"
            if not any(
                row.side == side and row.decision == "allow" and row.hash == r.provider_hash
                for row in by_trace[r.owner].get(r.trace_id, ())
            ):
                missing.append(f"no {side} entry {r.provider_hash[:12]} on {r.owner}")
            if r.home != r.owner and not any(
                row.side == "consumer"
                and row.decision == "allow"
                and row.peer_hash == r.provider_hash
                for row in by_trace[r.home].get(r.trace_id, ())
            ):
                missing.append(f"no consumer entry on {r.home} naming that hash")
            if missing:
                problems.append(f"trace {r.trace_id}: {'; '.join(missing)}")
        return problems
