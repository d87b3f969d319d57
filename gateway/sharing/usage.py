"""Quota use of one node: each call counted in its windows, refused past a grant's quota, and
the counts written behind to the sharing file's ``quota_usage`` table.

The counting itself (one atomic check-and-increment in memory, shared by a node's workers) is
in ``quota``; this module owns the windows a call falls in, the refusals, and reading, writing
and pruning the stored counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.errors import ResourceExhausted
from gateway.sharing import tables as t
from gateway.sharing.database import Database
from gateway.sharing.model import Grant
from gateway.sharing.quota import Key, LocalQuota, QuotaTableFull, SharedQuota
from gateway.timefmt import utc

# Quota days are calendar days in China Standard Time (UTC+8, no daylight saving), so a
# province's daily quota resets at its own midnight rather than at 08:00 local time.
_DAY_OFFSET = timedelta(hours=8)


LOAD_USED = "SELECT used FROM quota_usage WHERE grant_id = ? AND app = ? AND span = ? AND start = ?"
"""A window's stored count (both backends)."""
# The window just before the current one is kept: a call counted a moment before the boundary
# may still be in flight on another worker or replica.
PRUNE = (
    "DELETE FROM quota_usage WHERE (span = 'minute' AND start < ?) OR (span = 'day' AND start < ?)"
)
"""Forget finished windows (both backends): given the current minute and day, each minus 1."""


def windows(now: datetime) -> tuple[int, int]:
    """The quota windows ``now`` falls in: minutes since the epoch, days since it (UTC+8)."""
    return int((now - t.EPOCH).total_seconds()) // 60, (now + _DAY_OFFSET - t.EPOCH).days


def call_windows(
    grant: Grant, app_id: str, now: datetime
) -> tuple[tuple[Key, Key], tuple[int, int]]:
    """The two windows a call at ``now`` counts in (minute, day) and their limits."""
    minute, day = windows(utc(now))
    keys = ((grant.id, app_id, "minute", minute), (grant.id, app_id, "day", day))
    return keys, (grant.quota.per_minute, grant.quota.per_day)


def refusal(hit: int, grant: Grant) -> ResourceExhausted:
    """The refusal of a call whose window ``hit`` (0: minute, 1: day) is used up."""
    if hit == 0:
        return ResourceExhausted(
            f"quota of {grant.quota.per_minute} calls per minute used up under grant "
            f"{grant.id}; retry in the next minute",
            reason="QUOTA_MINUTE_EXCEEDED",
        )
    return ResourceExhausted(
        f"quota of {grant.quota.per_day} calls per day used up under grant "
        f"{grant.id}; retry after midnight (UTC+8)",
        reason="QUOTA_DAY_EXCEEDED",
    )


class QuotaLedger:
    """Counts calls under grants against their quotas, in memory, written behind to ``db``."""

    def __init__(self, db: Database, counters: LocalQuota | SharedQuota) -> None:
        self._db = db
        # Checked and counted in memory, written behind by flush() (see quota.py).
        self._counters = counters
        self._swept = -1  # the minute of the last sweep of finished quota windows

    def consume(self, grant: Grant, app_id: str, now: datetime) -> None:
        """Count one call, or refuse it without counting (``SharingStore.consume_quota``)."""
        keys, limits = call_windows(grant, app_id, now)
        try:
            hit = self._counters.consume(keys, limits, self.load_used)
        except QuotaTableFull:
            raise ResourceExhausted(
                "this node counts quota for too many grants and apps at once; retry later",
                reason="QUOTA_TABLE_FULL",
            ) from None
        if hit is not None:
            raise refusal(hit, grant)

    def load_used(self, key: Key) -> int:
        """A window's count as last written (0 if never)."""
        with self._db.read() as conn:
            row = conn.execute(LOAD_USED, key).fetchone()
        return int(row["used"]) if row is not None else 0

    def flush(self, now: datetime | None = None) -> int:
        """Write the counters changed since the last flush; returns how many.

        Also forgets finished windows already written (a shared table does not prune itself).
        """
        dirty = self._counters.take_dirty()
        if dirty:
            try:
                with self._db.write() as conn:
                    conn.executemany(
                        "INSERT INTO quota_usage (grant_id, app, span, start, used)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (grant_id, app, span, start)"
                        " DO UPDATE SET used = max(used, excluded.used)",
                        dirty,
                    )
            except BaseException:
                self._counters.restore(dirty)
                raise
        minute, day = windows(utc(now))
        if minute != self._swept:  # windows finish once a minute at most
            self._counters.sweep(minute, day)
            self._swept = minute
        return len(dirty)

    def prune(self, now: datetime) -> int:
        """Delete the usage rows of finished windows; returns how many went."""
        self.flush()
        minute, day = windows(utc(now))
        with self._db.write() as conn:
            # The window just before the current one is kept: a call counted a moment before
            # the boundary may still be in flight on another replica.
            cur = conn.execute(PRUNE, (minute - 1, day - 1))
            return cur.rowcount

    def close(self) -> None:
        """Write what is left, then let go of the counters."""
        try:
            self.flush()
        finally:
            self._counters.close()
