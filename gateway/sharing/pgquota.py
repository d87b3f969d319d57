"""Quota use on PostgreSQL: exact across a province's replicas.

A call is counted in the stored windows themselves, not in memory: one transaction increments
its minute window, then its day window, each with one upsert that adds 1 only while the count is
below the limit (``... DO UPDATE ... WHERE used < limit RETURNING used``). The upsert holds the
window's row lock until commit, so concurrent calls on any replica take turns on it; a refused
window rolls back the other. Windows are always taken minute first, so two calls never wait on
each other in opposite order.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from gateway.postgres import Postgres
from gateway.sharing.model import Grant
from gateway.sharing.quota import Key
from gateway.sharing.usage import LOAD_USED, PRUNE, call_windows, refusal, windows
from gateway.timefmt import utc

__all__ = ["PgQuotaLedger"]

_COUNT = (
    "INSERT INTO quota_usage AS u (grant_id, app, span, start, used)"
    " SELECT ?, ?, ?, ?, 1 WHERE ? > 0"
    " ON CONFLICT (grant_id, app, span, start) DO UPDATE SET used = u.used + 1"
    " WHERE u.used < ? RETURNING u.used"
)


class PgQuotaLedger:
    """Counts calls under grants against their quotas in the shared database."""

    def __init__(self, pg: Postgres) -> None:
        self._pg = pg

    def consume(self, grant: Grant, app_id: str, now: datetime) -> None:
        hit = self.count(*call_windows(grant, app_id, now))
        if hit is not None:
            raise refusal(hit, grant)

    def count(self, keys: tuple[Key, Key], limits: tuple[int, int]) -> int | None:
        """Count one call in both windows (None), or nothing and the first full window's index."""
        hit: int | None = None
        with self._pg.transaction() as conn:
            for i, (key, limit) in enumerate(zip(keys, limits, strict=True)):
                if conn.execute(_COUNT, (*key, limit, limit)).fetchone() is None:
                    hit = i
                    raise psycopg.Rollback()  # ends the transaction block quietly
        return hit

    def load_used(self, key: Key) -> int:
        with self._pg.transaction() as conn:
            row = conn.execute(LOAD_USED, key).fetchone()
        return int(row["used"]) if row is not None else 0

    def flush(self, now: datetime | None = None) -> int:
        """Nothing is held back: every count is already in the database."""
        return 0

    def prune(self, now: datetime) -> int:
        minute, day = windows(utc(now))
        with self._pg.transaction() as conn:
            cur = conn.execute(PRUNE, (minute - 1, day - 1))
            return cur.rowcount

    def close(self) -> None:
        pass
