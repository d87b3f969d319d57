"""What a well-formed application or grant is, and the approval rule "only narrowing".

Every check raises ``InvalidArgument`` naming the offending field, so the store can run them on
anything a caller sends and an operator sees exactly which value to fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from gateway.errors import FailedPrecondition, InvalidArgument
from gateway.ids import APP_ID_RE, owner_of
from gateway.sharing.model import Application, Quota, normalize_purpose

__all__ = [
    "MAX_QUOTA",
    "MAX_TEXT",
    "app_id",
    "aware",
    "check_quota",
    "field_list",
    "grade",
    "interface_owner",
    "narrow_fields",
    "narrow_quota",
    "narrow_until",
    "province",
    "purpose",
    "text",
    "validity",
]

MAX_TEXT = 500
MAX_QUOTA = 2**31 - 1
"""Quotas travel as int32."""

_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PROVINCE_RE = re.compile(r"^[a-z]{2}$")
_GRADE_RE = re.compile(r"^L[1-9]$")


# --------------------------------------------------------------------------- single values


def app_id(value: str) -> str:
    if not isinstance(value, str) or not APP_ID_RE.match(value):
        raise InvalidArgument("app", "not an app id (node/department/app)", reason="BAD_APP_ID")
    return value


def interface_owner(interface_id: str) -> str:
    """The owning node of a well-formed interface id."""
    owner = owner_of(interface_id) if isinstance(interface_id, str) else None
    if owner is None:
        raise InvalidArgument(
            "interface_id",
            "not an interface id (node/department/name/version)",
            reason="BAD_INTERFACE_ID",
        )
    return owner


def province(value: str) -> str:
    if not isinstance(value, str) or not _PROVINCE_RE.match(value):
        raise InvalidArgument("province", "a province id such as js", reason="BAD_PROVINCE")
    return value


def grade(value: str) -> str:
    # Only the form: which grades exist is the standard's business, checked by the service.
    if not isinstance(value, str) or not _GRADE_RE.match(value):
        raise InvalidArgument("max_grade", "a grade such as L2", reason="BAD_GRADE")
    return value


def text(field: str, value: str, *, required: bool, missing: str = "MISSING_VALUE") -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise InvalidArgument(field, "is required", reason=missing)
    if len(cleaned) > MAX_TEXT:
        raise InvalidArgument(field, f"at most {MAX_TEXT} characters", reason="TOO_LONG")
    return cleaned


def purpose(field: str, value: str) -> str:
    """A declared purpose in its normalised form (the form grants are compared in)."""
    cleaned = normalize_purpose(value or "")
    if not cleaned:
        raise InvalidArgument(field, "a declared purpose is required", reason="MISSING_PURPOSE")
    if len(cleaned) > MAX_TEXT:
        raise InvalidArgument(field, f"at most {MAX_TEXT} characters", reason="TOO_LONG")
    return cleaned


def field_list(field: str, fields: Sequence[str]) -> tuple[str, ...]:
    # Empty is allowed: it grants no data (deny by default), which is all a verify-only
    # interface needs. A bare string would otherwise be read as a list of one-letter fields.
    if isinstance(fields, str):
        raise InvalidArgument(field, "a list of field names", reason="BAD_FIELD")
    seen: dict[str, None] = {}
    for i, name in enumerate(fields):
        if not isinstance(name, str) or not _FIELD_RE.match(name):
            raise InvalidArgument(f"{field}[{i}]", "not a field name", reason="BAD_FIELD")
        if name in seen:
            raise InvalidArgument(f"{field}[{i}]", f"{name} named twice", reason="DUPLICATE_FIELD")
        seen[name] = None
    return tuple(seen)


def check_quota(field: str, quota: Quota) -> Quota:
    # 0 is refused rather than read as "unlimited": deny by default.
    for part in ("per_minute", "per_day"):
        value = getattr(quota, part, None)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_QUOTA:
            raise InvalidArgument(
                f"{field}.{part}", f"a whole number from 1 to {MAX_QUOTA}", reason="BAD_QUOTA"
            )
    return quota


def aware(field: str, value: datetime) -> datetime:
    """``value`` in UTC; a naive time is refused rather than guessed at."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidArgument(field, "a time with a time zone (RFC 3339)", reason="BAD_TIME")
    return value.astimezone(UTC)


def validity(start: datetime, valid_until: datetime, now: datetime) -> datetime:
    """``valid_until`` in UTC, after ``start`` and after ``now``."""
    until = aware("valid_until", valid_until)
    if until <= start or until <= now:
        raise InvalidArgument(
            "valid_until", "must be after valid_from and in the future", reason="BAD_VALIDITY"
        )
    return until


# --------------------------------------------------------------------------- narrowing


def narrow_fields(asked: tuple[str, ...], fields: Sequence[str] | None) -> tuple[str, ...]:
    """The granted fields: ``fields`` ⊆ ``asked``; ``None`` or empty keeps ``asked``."""
    if not fields:
        return asked
    granted = field_list("fields", fields)
    for i, name in enumerate(granted):
        if name not in asked:
            raise InvalidArgument(
                f"fields[{i}]",
                f"{name} was not asked for; approval may only narrow the fields",
                reason="NOT_A_NARROWING",
            )
    # The applicant's order: the order the grant lists and the CLI prints.
    return tuple(name for name in asked if name in granted)


def narrow_quota(asked: Quota, quota: Quota | None) -> Quota:
    """The granted quota, each part ≤ asked; ``None`` or a 0 part (an unset proto value)
    keeps what was asked."""
    if quota is None:
        return asked
    narrowed = Quota(quota.per_minute or asked.per_minute, quota.per_day or asked.per_day)
    check_quota("quota", narrowed)
    for part in ("per_minute", "per_day"):
        if getattr(narrowed, part) > getattr(asked, part):
            raise InvalidArgument(
                f"quota.{part}",
                f"may only lower the quota asked for ({getattr(asked, part)})",
                reason="NOT_A_NARROWING",
            )
    return narrowed


def narrow_until(asked: Application, valid_until: datetime | None, now: datetime) -> datetime:
    """The granted end of validity: ≤ asked and still ahead; ``None`` keeps what was asked."""
    if valid_until is None:
        if asked.valid_until <= now:
            raise FailedPrecondition(
                f"application {asked.id} asked for a validity that has already ended",
                reason="APPLICATION_EXPIRED",
            )
        return asked.valid_until
    until = aware("valid_until", valid_until)
    if until > asked.valid_until:
        raise InvalidArgument(
            "valid_until",
            f"may only shorten the validity asked for (until {asked.valid_until.isoformat()})",
            reason="NOT_A_NARROWING",
        )
    if until <= max(now, asked.valid_from):
        raise InvalidArgument(
            "valid_until", "must be after now and after valid_from", reason="BAD_VALIDITY"
        )
    return until
