"""The wall clock services are given by default (``clock=`` on their constructors): tests pass
their own."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)
