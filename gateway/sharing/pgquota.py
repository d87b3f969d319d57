"""Quota use on PostgreSQL: exact across a province's replicas.

A call is counted in the stored windows themselves, not in memory: one transaction increments
its minute window, then its day window, each with one upsert that adds 1 only while the count is
below the limit (``... DO UPDATE ... WHERE used < limit RETURNING used``). The upsert holds the
window's row lock until commit, so concurrent calls on any replica take turns on it; a refused
window rolls back the other. Windows are always taken minute first, so two calls never wait on
each other in opposite order.

On a call's hot path the count is one statement, ``yrd_count_call`` (:data:`COUNT_CALL`, created
by the sharing schema's second migration), sent from the event loop (``Postgres.fetch``). It
first compares ``sharing_version`` with the version the caller decided at (the version of the
grant view it found the grant in) and counts nothing when a write has landed since: the caller
decides again on fresh views. So the version read that keeps revocation immediate and the quota
count share one round trip. Its commit does not wait for the WAL flush (``synchronous_commit``
off for that transaction only): the counts are exact across replicas the moment they commit,
and a crash of the database server may lose the last few hundred milliseconds of counts, as a
crash of a SQLite node loses the last second of its written-behind counters. Grants, decisions
and audit entries keep waiting for the flush.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from gateway.postgres import Postgres
from gateway.sharing.model import Grant
from gateway.sharing.quota import Key
from gateway.sharing.usage import LOAD_USED, PRUNE, call_windows, refusal, windows
from gateway.timefmt import utc

__all__ = ["COUNT_CALL", "COUNT_CALL_FUNCTION", "PgQuotaLedger"]

COUNT_CALL_FUNCTION = """
CREATE FUNCTION yrd_count_call(
    p_version BIGINT, p_grant TEXT, p_app TEXT, p_minute INTEGER, p_day INTEGER,
    p_per_minute INTEGER, p_per_day INTEGER, OUT version BIGINT, OUT hit INTEGER
) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT v.version INTO version FROM sharing_version v WHERE v.id = 1;
    IF version <> p_version THEN
        hit := -1;
        RETURN;
    END IF;
    INSERT INTO quota_usage AS u (grant_id, app, span, start, used)
        SELECT p_grant, p_app, 'minute', p_minute, 1 WHERE p_per_minute > 0
        ON CONFLICT (grant_id, app, span, start) DO UPDATE SET used = u.used + 1
        WHERE u.used < p_per_minute;
    IF NOT FOUND THEN
        hit := 0;
        RETURN;
    END IF;
    INSERT INTO quota_usage AS u (grant_id, app, span, start, used)
        SELECT p_grant, p_app, 'day', p_day, 1 WHERE p_per_day > 0
        ON CONFLICT (grant_id, app, span, start) DO UPDATE SET used = u.used + 1
        WHERE u.used < p_per_day;
    IF NOT FOUND THEN
        -- The minute's row is still locked by this transaction: taking the unit back is exact.
        UPDATE quota_usage SET used = used - 1
        WHERE grant_id = p_grant AND app = p_app AND span = 'minute' AND start = p_minute;
        hit := 1;
    END IF;
END $$;
"""
"""The sharing schema's second migration: count a call if the grants did not change."""

COUNT_CALL = "SELECT version, hit FROM yrd_count_call(%s, %s, %s, %s, %s, %s, %s)"
"""(version the call decided at, grant, app, minute, day, per minute, per day) -> (the current
version, None when counted / 0 minute full / 1 day full / -1 the version moved)."""

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

    async def count_call(
        self, grant: Grant, app_id: str, now: datetime, version: int
    ) -> tuple[int, bool]:
        """Count one call decided at ``version`` in one round trip from the event loop: (the
        current version, True) when counted; (the current version, False), counting nothing,
        when the grants changed since. Raises the quota refusal when a window is full."""
        keys, limits = call_windows(grant, app_id, now)
        row = await self._pg.fetch(
            COUNT_CALL, (version, grant.id, app_id, keys[0][3], keys[1][3], *limits)
        )
        assert row is not None  # a function with OUT parameters returns one row
        current, hit = int(row[0]), row[1]
        if hit is None:
            return current, True
        if hit < 0:
            return current, False
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
