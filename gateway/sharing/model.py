"""The owner node's sharing records: apps, applications (申请) and grants (授权), with quotas.

Each record maps 1:1 onto its message in ``protos/yrd/v1/sharing.proto``; times are aware UTC
datetimes here and RFC 3339 strings on the wire.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "APPLICATION_STATES",
    "GRANT_STATES",
    "GRANT_STATUSES",
    "App",
    "Application",
    "Grant",
    "Quota",
    "normalize_purpose",
]

APPLICATION_STATES: tuple[str, ...] = ("pending", "approved", "rejected")
#: What is stored: revocation is the only state change a grant ever goes through.
GRANT_STATES: tuple[str, ...] = ("active", "revoked")
#: What ``Grant.status(now)`` reports: the stored state combined with the validity window.
GRANT_STATUSES: tuple[str, ...] = ("active", "revoked", "expired", "not_yet_valid")

_WHITESPACE = re.compile(r"\s+")


def normalize_purpose(text: str) -> str:
    """The form purposes are compared in: NFKC (full-width ＡＢ and half-width forms fold
    together) with whitespace trimmed and runs of it collapsed to one space."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


@dataclass(frozen=True, slots=True)
class App:
    """A consumer app registered at its home node (its secret is stored only as a hash)."""

    id: str
    """node/department/app, e.g. ``js/rsj/pension-transfer``."""
    name: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class Quota:
    """Calls allowed per grant and app: per minute window and per day."""

    per_minute: int
    per_day: int


@dataclass(frozen=True, slots=True)
class Application:
    """A sharing request (申请) as persisted on the owner node."""

    id: str
    app: str
    interface_id: str
    fields: tuple[str, ...]
    purpose: str
    valid_from: datetime
    valid_until: datetime
    quota: Quota
    state: str
    """One of ``APPLICATION_STATES``."""
    reason: str
    """Why it was rejected, or the operator's note on approval."""
    grant_id: str
    """The grant an approval created; empty otherwise."""
    created_at: datetime
    decided_at: datetime | None
    owner: str
    """The node that owns the interface and decides."""
    granted_fields: tuple[str, ...] = ()
    """What its approval granted (may be fewer than ``fields``); empty unless approved."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission (授权) for an app, or a whole province (整体授权), to call one interface."""

    id: str
    grantee: str
    """An app id, or a province id when ``blanket``."""
    blanket: bool
    interface_id: str
    fields: tuple[str, ...]
    purposes: tuple[str, ...]
    max_grade: str
    """The highest grade that may leave under this grant."""
    valid_from: datetime
    valid_until: datetime
    """Exclusive: the grant stops working at this instant."""
    quota: Quota
    state: str
    """One of ``GRANT_STATES``; use ``status(now)`` to include expiry."""
    application_id: str
    """The application it came from; empty for a blanket grant."""
    revoked_reason: str
    created_at: datetime

    def status(self, now: datetime) -> str:
        """``active``, ``revoked``, ``expired`` or ``not_yet_valid`` at ``now``."""
        if self.state != "active":
            return "revoked"
        if now < self.valid_from:
            return "not_yet_valid"
        if now >= self.valid_until:
            return "expired"
        return "active"
