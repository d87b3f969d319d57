"""What an audit entry is and how the chain is hashed: ``AuditRecord`` (one audited event),
``AuditEntry`` (a record placed in the chain) and the canonical serialisation both sides of a call
can recompute byte for byte.

The hash of entry *n* is ``sha256(canonical({"seq": n, "prev_hash": hash(n-1), "record": {...}}))``
where canonical means JSON with sorted keys, no whitespace, UTF-8 (Chinese kept as itself, not
``\\u`` escapes) and no NaN/Infinity. The first entry's ``prev_hash`` is ``GENESIS_HASH``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from gateway import timefmt

__all__ = [
    "CANONICAL_JSON",
    "DECISIONS",
    "GENESIS_HASH",
    "SIDES",
    "STATUS_NAMES",
    "AuditEntry",
    "AuditRecord",
    "canonical_bytes",
    "entry_hash",
    "format_time",
    "utc_now",
]

GENESIS_HASH = "0" * 64

SIDES = ("consumer", "provider", "local", "operator")
DECISIONS = ("allow", "deny")
#: gRPC status names, spelled as ``grpc.StatusCode.X.name`` (kept here so the domain needs no grpc).
STATUS_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)

# "extra" is for a handful of keys (a quota figure, a grant id), not payloads: a bound keeps one
# careless caller from bloating every row of a log that is kept for years.
_EXTRA_MAX_BYTES = 16 * 1024

_TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")

_STR_FIELDS = (
    "time",
    "node",
    "side",
    "trace_id",
    "app",
    "interface",
    "purpose",
    "action",
    "decision",
    "reason",
    "grade",
    "status",
    "peer",
    "peer_hash",
    "actor",
)
_TUPLE_FIELDS = ("fields_returned", "fields_masked", "fields_dropped")


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2024-05-01T08:30:00.123Z``.

    One fixed width and zone, so comparing the strings compares the instants (queries rely on it).
    """
    if moment.tzinfo is None:
        raise ValueError("time: a naive datetime is ambiguous; give a timezone")
    m = moment.astimezone(UTC)
    # Formatted by hand: strftime was ~5% of a hop's profile (issue 18); same text, year as %Y.
    return (
        f"{m.year}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
        f"{m.microsecond // 1000:03d}Z"
    )


def utc_now() -> str:
    return format_time(datetime.now(UTC))


def _check_text(name: str, value: object) -> str:
    if type(value) is str and value.isascii():  # the common case: nothing to convert or check
        return value
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {type(value).__name__}")
    # str.__str__ drops any str subclass (an enum member) down to its plain value.
    text = str.__str__(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name}: not valid Unicode text (lone surrogate)") from None
    return text


def _normalise_extra(extra: object) -> dict[str, Any]:
    if not isinstance(extra, dict):
        raise ValueError(f"extra: expected a dict, got {type(extra).__name__}")
    if not extra:
        return {}
    try:
        text = json.dumps(extra, sort_keys=True, ensure_ascii=False, allow_nan=False)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise ValueError(f"extra: not JSON-serialisable ({exc})") from None
    if size > _EXTRA_MAX_BYTES:
        raise ValueError(f"extra: {size} bytes, more than {_EXTRA_MAX_BYTES}")
    # A JSON round trip gives a private deep copy with the exact shape a stored row reads back
    # as (tuples become lists), so a record hashes the same before and after storage.
    return json.loads(text)


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    """One audited event on one node: an interface call hop, a sharing decision, an operator act.

    Values are checked and normalised on construction (lists become tuples, ``latency_ms`` a float,
    a ``datetime`` time the canonical string), so equal records always hash alike.
    """

    time: str = field(default_factory=utc_now)
    """UTC RFC 3339 with milliseconds; a timezone-aware ``datetime`` is accepted and converted."""
    node: str = ""
    """The node writing the entry; ``AuditLog.append`` fills it in when empty."""
    side: str
    """``consumer`` | ``provider`` | ``local`` | ``operator``."""
    trace_id: str = ""
    app: str = ""
    interface: str = ""
    purpose: str = ""
    action: str
    """``invoke``, ``invoke_stream``, ``apply``, ``approve``, ``reject``, ``revoke_grant``, ..."""
    decision: str
    """``allow`` | ``deny``."""
    reason: str = ""
    fields_returned: tuple[str, ...] = ()
    fields_masked: tuple[str, ...] = ()
    fields_dropped: tuple[str, ...] = ()
    record_count: int = 0
    grade: str = ""
    status: str = "OK"
    """A gRPC status name, e.g. ``OK``, ``PERMISSION_DENIED``."""
    latency_ms: float = 0.0
    peer: str = ""
    """The other node of a cross-province call."""
    peer_hash: str = ""
    """The other side's audit hash for the same call (the provider's, kept by the consumer)."""
    actor: str = ""
    """Operator id, for operator actions."""
    extra: dict[str, Any] = field(default_factory=dict, hash=False)
    """A few more JSON values; kept small."""

    def __post_init__(self) -> None:
        put = object.__setattr__
        time = self.time
        if isinstance(time, datetime):
            time = format_time(time)
        time = _check_text("time", time)
        if not _TIME_RE.match(time):
            raise ValueError(f"time: {time!r} is not UTC RFC 3339 with milliseconds")
        try:
            timefmt.parse(time)
        except ValueError:
            raise ValueError(f"time: {time!r} is not a real date and time") from None
        put(self, "time", time)
        for name in _STR_FIELDS[1:]:
            put(self, name, _check_text(name, getattr(self, name)))
        if self.side not in SIDES:
            raise ValueError(f"side: {self.side!r} is not one of {', '.join(SIDES)}")
        if self.decision not in DECISIONS:
            raise ValueError(f"decision: {self.decision!r} is not one of {', '.join(DECISIONS)}")
        if self.status not in STATUS_NAMES:
            raise ValueError(f"status: {self.status!r} is not a gRPC status name")
        if not self.action:
            raise ValueError("action: must not be empty")
        for name in _TUPLE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, tuple | list):
                raise ValueError(f"{name}: expected a tuple of strings")
            put(self, name, tuple(_check_text(name, item) for item in value))
        count = self.record_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"record_count: expected a non-negative int, got {count!r}")
        latency = self.latency_ms
        if isinstance(latency, bool) or not isinstance(latency, int | float):
            raise ValueError(f"latency_ms: expected a number, got {latency!r}")
        latency = float(latency)
        if not math.isfinite(latency) or latency < 0:
            raise ValueError(f"latency_ms: expected a finite non-negative number, got {latency!r}")
        put(self, "latency_ms", latency)
        put(self, "extra", _normalise_extra(self.extra))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values: tuples as lists, ``extra`` as a dict."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = json.loads(json.dumps(value))
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRecord:
        """The inverse of ``to_dict``; unknown keys are an error, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown audit record fields: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def _unchecked(cls, data: dict[str, Any]) -> AuditRecord:
        """Rebuild a record from a stored row without validation.

        A tampered row may hold values the constructor would refuse; operators still need to see
        it as stored (``verify`` is what judges it), so reading never fails on content.
        """
        record = object.__new__(cls)
        for f in fields(cls):
            value = data.get(f.name)
            if f.name in _TUPLE_FIELDS:
                value = tuple(value or ())
            object.__setattr__(record, f.name, value)
        return record


@dataclass(frozen=True)
class AuditEntry:
    """A record at its place in one node's chain."""

    seq: int
    """1, 2, 3, ... with no gaps."""
    prev_hash: str
    hash: str
    record: AuditRecord

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready form for CLI and ops output: seq, prev_hash, hash, then the record."""
        return {"seq": self.seq, "prev_hash": self.prev_hash, "hash": self.hash} | (
            self.record.to_dict()
        )

    def recompute_hash(self) -> str:
        return entry_hash(self.seq, self.prev_hash, self.record.to_dict())


#: The canonical JSON form (also used for the JSON columns of the store). Built once: json.dumps
#: with options constructs a new encoder on every call, a third of the cost of a small entry.
CANONICAL_JSON = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
)


def canonical_bytes(seq: int, prev_hash: str, record: dict[str, Any]) -> bytes:
    """The exact bytes hashed for one entry (``record`` as from ``AuditRecord.to_dict``)."""
    body = {"seq": seq, "prev_hash": prev_hash, "record": record}
    return CANONICAL_JSON.encode(body).encode("utf-8")


def entry_hash(seq: int, prev_hash: str, record: dict[str, Any]) -> str:
    """Lowercase hex sha256 of ``canonical_bytes``."""
    return hashlib.sha256(canonical_bytes(seq, prev_hash, record)).hexdigest()
