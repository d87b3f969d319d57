"""A follower's copy of another province's catalog: applying the owner's change feed to a
catalog store, with the cursor written in the same transaction as the changes.

The cursor (``meta``: which feed, the last sequence number applied, the owner's time of that
change) moves only with the changes it covers, so a follower killed at any instant restarts
from exactly what its file holds: no change is applied twice (a page's changes at or below the
cursor are skipped) and none is skipped (the next read asks for everything above it). Whether
the follower is connected, and when it last knew it held everything the owner had, are written
here too, so every worker of a node (and a restarted node) reports the same.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass

from gateway.catalog.model import CatalogEntry
from gateway.catalog.store import schema, writes
from gateway.catalog.store.entries import code_key
from gateway.catalog.store.feed import ChangePage

__all__ = ["ReplicaState", "apply", "note", "read_state", "reset"]

_KEYS = ("feed", "seq", "changed_at", "synced_at", "connected", "head", "started_at")


@dataclass(frozen=True, slots=True)
class ReplicaState:
    feed_id: str = ""
    """The owner's feed this copy follows ('' before the first contact)."""
    seq: int = 0
    """The last sequence number applied."""
    changed_at: float = 0.0
    """When the owner made the last change applied (its clock; 0 before any)."""
    synced_at: float = 0.0
    """When this copy last held everything the owner had (0: never yet)."""
    connected: bool = False
    """Whether the follower is reading the owner's feed right now."""
    head: int = 0
    """The owner's latest sequence number the follower has seen."""
    started_at: float = 0.0
    """When this copy began following its feed from the start (its first catch-up's start)."""

    @property
    def behind(self) -> int:
        """Changes the owner had that this copy had not applied, when last heard."""
        return max(0, self.head - self.seq)


def read_state(conn: sqlite3.Connection) -> ReplicaState:
    values = {k: schema.get_meta(conn, f"replica_{k}") for k in _KEYS}
    return ReplicaState(
        feed_id=values["feed"] or "",
        seq=int(values["seq"] or 0),
        changed_at=float(values["changed_at"] or 0),
        synced_at=float(values["synced_at"] or 0),
        connected=values["connected"] == "1",
        head=int(values["head"] or 0),
        started_at=float(values["started_at"] or 0),
    )


def _write_state(conn: sqlite3.Connection, state: ReplicaState) -> None:
    values = (
        state.feed_id,
        state.seq,
        state.changed_at,
        state.synced_at,
        int(state.connected),
        state.head,
        state.started_at,
    )
    for key, value in zip(_KEYS, values, strict=True):
        schema.set_meta(conn, f"replica_{key}", str(value))


def reset(conn: sqlite3.Connection, feed_id: str, now: float) -> ReplicaState:
    """Empty the copy and follow ``feed_id`` from its start (a first contact, or an owner
    whose store began a new life)."""
    writes.clear_rows(conn)
    state = ReplicaState(feed_id=feed_id, connected=True, started_at=now)
    _write_state(conn, state)
    return state


def apply(conn: sqlite3.Connection, page: ChangePage, now: float) -> ReplicaState:
    """Apply the changes of ``page`` above the cursor and move the cursor, inside the caller's
    write transaction. Raises ``ValueError`` when ``page`` is of another feed (reset first)."""
    state = read_state(conn)
    if page.feed_id != state.feed_id:
        raise ValueError(f"page of feed {page.feed_id}, replica follows {state.feed_id}")
    latest: dict[int, CatalogEntry | None] = {}
    seq, changed_at = state.seq, state.changed_at
    for change in page.changes:
        if change.seq <= seq:
            continue  # applied before: a page re-read after a restart
        latest[code_key(change.code)] = change.entry
        seq, changed_at = change.seq, change.changed_at
    gone = [key for key, entry in latest.items() if entry is None]
    kept = {key: e for key, e in sorted(latest.items()) if e is not None}
    if gone:
        writes.delete_rows(conn, gone)
        schema.bump_generation(conn, gone)
    if kept:
        writes.write_batch(conn, kept)
    head = max(page.head, seq)
    state = dataclasses.replace(
        state,
        seq=seq,
        changed_at=changed_at,
        synced_at=now if seq >= head else state.synced_at,
        connected=True,
        head=head,
    )
    _write_state(conn, state)
    return state


def note(
    conn: sqlite3.Connection, *, connected: bool, head: int | None, now: float
) -> ReplicaState:
    """Record the follower's contact with the owner: connected or not and, when the owner said
    where its feed stands, that head (and ``now`` as the last time in sync, when at it)."""
    state = read_state(conn)
    if head is not None:
        head = max(head, state.seq)
    new = dataclasses.replace(
        state,
        synced_at=now if head is not None and state.seq >= head else state.synced_at,
        connected=connected,
        head=state.head if head is None else head,
    )
    _write_state(conn, new)
    return new
