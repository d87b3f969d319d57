"""The owner's change feed: a change sequence recorded with every catalog write, and its reads.

Every write that changes what the owner publishes gives each touched entry the next number of
one monotonically increasing sequence (``meta.change_seq``), in the write's own transaction.
The feed keeps one row per entry (its latest change), so it is compacted by key: a follower that
has applied everything up to ``s`` and reads every row above ``s`` in sequence order reaches the
owner's published catalog exactly, however many times an entry changed in between; nothing is
lost (an entry written again moves to the top) and nothing repeats (each row has one number).

What is published (``publishes``): every entry except those of share type ``none`` (不予共享,
"not to be provided to other departments"): their metadata stays with the owner. Such an entry
never gets a feed row, not even a withdrawal, unless it was published before (an entry whose
share type became ``none`` is withdrawn from the followers).

Both backends keep the same tables (SQLite ``changes``/``meta``, PostgreSQL ``catalog_changes``/
``catalog_meta``); ``feed_id`` names one life of the owner's store, so a follower of a store that
was recreated from scratch (a sequence starting over) knows to start over too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.catalog.model import CatalogEntry
from gateway.catalog.store.entries import ENTRY_COLUMNS, entry_from_row, entry_row, json_ids

__all__ = [
    "PUBLISHED_SQL",
    "Change",
    "ChangePage",
    "Dialect",
    "LITE",
    "PG",
    "digest",
    "published_share_types",
    "publishes",
]

#: The share type whose entries the owner keeps to itself.
WITHHELD_SHARE_TYPE = "none"
#: ``publishes`` as an SQL condition on an entries row.
PUBLISHED_SQL = f"share_type <> '{WITHHELD_SHARE_TYPE}'"


def publishes(entry: CatalogEntry) -> bool:
    """Whether the owner publishes ``entry`` to its followers."""
    return entry.share_type != WITHHELD_SHARE_TYPE


def published_share_types(share_types: Sequence[str]) -> tuple[str, ...]:
    """Those of ``share_types`` whose entries the owner publishes."""
    return tuple(t for t in share_types if t != WITHHELD_SHARE_TYPE)


def digest(entry: CatalogEntry) -> str:
    """The content digest of ``entry``: sha256 of its stored row, so two stores hold the same
    entry exactly when the digests agree."""
    row = json.dumps(entry_row(0, entry), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(row.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    code: str
    entry: CatalogEntry | None
    """The entry as it is now; None when it was withdrawn (deleted or no longer published)."""
    changed_at: float
    """When the owner wrote it (seconds since the epoch, the owner's clock)."""


@dataclass(frozen=True, slots=True)
class ChangePage:
    feed_id: str
    changes: tuple[Change, ...]
    head: int
    """The owner's latest sequence number when the page was read."""
    head_changed_at: float
    """When the change numbered ``head`` was written (0 before any)."""


class Sql(Protocol):
    def rows(self, sql: str, parameters: Sequence[Any] = (), /) -> list[tuple[Any, ...]]: ...
    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> None: ...


class Lite:
    """A SQLite connection as ``Sql``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, parameters: Sequence[Any] = (), /) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, parameters).fetchall()

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self._conn.execute(sql, parameters)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> None:
        self._conn.executemany(sql, rows)


@dataclass(frozen=True, slots=True)
class Dialect:
    """Table names and the one construct that differs (a set of ids as a parameter)."""

    changes: str
    entries: str
    meta: str
    in_ids: str
    """``id`` among the ids of one parameter."""
    ids: Callable[[list[int]], object]

    # -- writes --------------------------------------------------------------------------------

    def record_writes(self, db: Sql, by_key: dict[int, CatalogEntry], now: float) -> None:
        """Number the entries written: published ones as puts, formerly published ones as
        withdrawals; the rest (never published) leave no trace."""
        if not by_key:
            return
        was = self._published_among(db, list(by_key))
        rows = [
            (key, entry.code, 0 if publishes(entry) else 1)
            for key, entry in by_key.items()
            if publishes(entry) or key in was
        ]
        self._append(db, rows, now)

    def record_withdrawals(self, db: Sql, keys: list[int], now: float) -> None:
        """Number the withdrawal of those of ``keys`` that are published (before deleting)."""
        if not keys:
            return
        rows = db.rows(
            f"SELECT id, code FROM {self.changes} WHERE withdrawn = 0 AND {self.in_ids}"
            " ORDER BY id",
            (self.ids(keys),),
        )
        self._append(db, [(int(k), code, 1) for k, code in rows], now)

    def record_clear(self, db: Sql, now: float) -> None:
        """Number the withdrawal of every published entry."""
        rows = db.rows(f"SELECT id, code FROM {self.changes} WHERE withdrawn = 0 ORDER BY id")
        self._append(db, [(k, code, 1) for k, code in rows], now)

    def _published_among(self, db: Sql, keys: list[int]) -> set[int]:
        found = db.rows(
            f"SELECT id FROM {self.changes} WHERE withdrawn = 0 AND {self.in_ids}",
            (self.ids(keys),),
        )
        return {int(row[0]) for row in found}

    def _append(self, db: Sql, rows: list[tuple[int, str, int]], now: float) -> None:
        if not rows:
            return
        start = self.head(db)
        db.executemany(
            f"INSERT INTO {self.changes} (id, seq, code, withdrawn, changed_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq,"
            " code = excluded.code, withdrawn = excluded.withdrawn,"
            " changed_at = excluded.changed_at",
            [(k, start + i, code, w, now) for i, (k, code, w) in enumerate(rows, start=1)],
        )
        self._set(db, "change_seq", str(start + len(rows)))

    def _set(self, db: Sql, key: str, value: str) -> None:
        db.execute(
            f"INSERT INTO {self.meta} (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def init_feed(self, db: Sql, now: float) -> None:
        """Give a store without a feed one: a new ``feed_id``, and every published entry it
        already holds numbered (a store from before the feed existed)."""
        if self._get(db, "feed_id") is not None:
            return
        rows = db.rows(f"SELECT id, code FROM {self.entries} WHERE {PUBLISHED_SQL} ORDER BY id")
        self._set(db, "change_seq", "0")
        self._append(db, [(int(k), code, 0) for k, code in rows], now)
        self._set(db, "feed_id", uuid.uuid4().hex)

    # -- reads ---------------------------------------------------------------------------------

    def _get(self, db: Sql, key: str) -> str | None:
        rows = db.rows(f"SELECT value FROM {self.meta} WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def head(self, db: Sql) -> int:
        return int(self._get(db, "change_seq") or 0)

    def read(self, db: Sql, since: int, limit: int) -> ChangePage:
        """The changes numbered above ``since``, at most ``limit``, in sequence order; ``db``
        reads one snapshot."""
        columns = ", ".join(f"e.{c}" for c in ENTRY_COLUMNS)
        rows = db.rows(
            f"SELECT c.seq, c.code, c.withdrawn, c.changed_at, e.id, {columns}"
            f" FROM {self.changes} AS c LEFT JOIN {self.entries} AS e"
            " ON e.id = c.id AND c.withdrawn = 0"
            " WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
            (since, limit),
        )
        changes = tuple(
            Change(
                int(row[0]),
                str(row[1]),
                None if row[2] or row[4] is None else entry_from_row(row[4:]),
                float(row[3]),
            )
            for row in rows
        )
        head = self.head(db)
        at = db.rows(f"SELECT changed_at FROM {self.changes} WHERE seq = ?", (head,))
        return ChangePage(
            feed_id=self._get(db, "feed_id") or "",
            changes=changes,
            head=head,
            head_changed_at=float(at[0][0]) if at else 0.0,
        )


LITE = Dialect(
    changes="changes",
    entries="entries",
    meta="meta",
    in_ids="id IN (SELECT value FROM json_each(?))",
    ids=json_ids,
)
PG = Dialect(
    changes="catalog_changes",
    entries="catalog_entries",
    meta="catalog_meta",
    in_ids="id = ANY(?)",
    ids=list,
)

#: SQLite's feed table (created with the rest of the schema; see ``schema``).
LITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    code TEXT NOT NULL,
    withdrawn INTEGER NOT NULL,
    changed_at REAL NOT NULL
)
"""
#: PostgreSQL's, as a migration step (the feed of a database from before it is numbered by
#: ``init_feed`` when the store opens).
PG_MIGRATION = """
CREATE TABLE catalog_changes (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    withdrawn SMALLINT NOT NULL,
    changed_at DOUBLE PRECISION NOT NULL
);
"""
