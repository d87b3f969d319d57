"""An interface call and its result as the domain sees them (no protobuf)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.errors import InvalidArgument
from gateway.exchange.model import MAX_PARAMS

MAX_FIELDS = 64
MAX_PURPOSE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Call:
    interface_id: str
    params: Mapping[str, str]
    purpose: str
    fields: tuple[str, ...] = ()

    def check_limits(self) -> None:
        """Cheap bounds checked before anything else touches the call."""
        if len(self.params) > MAX_PARAMS:
            raise InvalidArgument(
                "params", f"at most {MAX_PARAMS} parameters", reason="TOO_MANY_PARAMS"
            )
        if len(self.fields) > MAX_FIELDS:
            raise InvalidArgument(
                "fields", f"at most {MAX_FIELDS} fields", reason="TOO_MANY_FIELDS"
            )
        if len(self.purpose) > MAX_PURPOSE_CHARS:
            raise InvalidArgument(
                "purpose", f"at most {MAX_PURPOSE_CHARS} characters", reason="PURPOSE_TOO_LONG"
            )
        if len(self.interface_id) > 200:
            raise InvalidArgument("interface_id", "too long", reason="BAD_INTERFACE_ID")


@dataclass(frozen=True, slots=True)
class FieldNote:
    """A field that was masked or dropped, and why."""

    field: str
    grade: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallResult:
    records: tuple[dict[str, str], ...]
    verify_only: bool
    match: bool
    masked: tuple[FieldNote, ...]
    dropped: tuple[FieldNote, ...]
    grade: str
    served_by: str
    provider_hash: str = ""
    fields: tuple[str, ...] = field(default_factory=tuple)
    """Released field names, in interface order."""

    @property
    def record_count(self) -> int:
        """Records released. (A home node relaying an owner's answer leaves the records encoded
        in a wire-side subclass, ``gateway.wire.exchange.RelayedResult``, which counts them.)"""
        return len(self.records)


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch of a bulk (回流) stream; ``resume_token`` continues after it."""

    records: tuple[dict[str, str], ...]
    resume_token: str
    last: bool
    masked: tuple[FieldNote, ...] = ()
    dropped: tuple[FieldNote, ...] = ()
    grade: str = ""
    served_by: str = ""


def call_fingerprint(app: str, call: Call) -> str:
    key = json.dumps(
        [app, call.interface_id, sorted(call.params.items()), call.purpose, list(call.fields)],
        ensure_ascii=False,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def encode_resume(cursor: str, fingerprint: str) -> str:
    raw = json.dumps({"c": cursor, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_resume(token: str, fingerprint: str) -> str:
    """The cursor to resume after; refuses a token minted for another call."""
    try:
        data = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
        cursor, fp = data["c"], data["f"]
        if not isinstance(cursor, str) or not isinstance(fp, str):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeError, RecursionError, binascii.Error):
        raise InvalidArgument(
            "resume_token", "malformed resume token", reason="BAD_RESUME_TOKEN"
        ) from None
    if fp != fingerprint:
        raise InvalidArgument(
            "resume_token", "belongs to a different call", reason="BAD_RESUME_TOKEN"
        )
    return cursor
