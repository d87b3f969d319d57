"""Timestamps: the gateway's one parser of RFC 3339 text (``2027-12-31T00:00:00Z``, or with an
offset), for times callers send and times the stores wrote, and the one check that a ``now``
passed in is an aware time."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse", "utc"]


def parse(value: str) -> datetime:
    """``value`` as a datetime: aware when it names ``Z`` or an offset, naive when it names
    neither (the caller decides whether that is acceptable). Raises ``ValueError``."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def utc(moment: datetime | None) -> datetime:
    """``moment`` in UTC, or the wall clock's now for None. Refuses a naive datetime, whose
    zone nobody can know (``ValueError``)."""
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return moment.astimezone(UTC)
