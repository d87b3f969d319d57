"""The release decision: whether a grant covers a call, and which fields leave clear, masked or not.

Pure functions of the interface, the grant and the shared standard: no I/O, no clock of their
own, no gRPC. Deny by default: a field leaves only when every rule lets it, and a field that is
held back is listed with its reason, never silently left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.errors import InvalidArgument, PermissionDenied
from gateway.exchange.model import Field, Interface
from gateway.ids import province_of_app
from gateway.masking import mask
from gateway.sharing.model import Grant, normalize_purpose
from gateway.standard import Grade, Standard

__all__ = ["ACTIONS", "FieldAction", "ReleasePlan", "apply_plan", "check_grant", "plan_release"]

ACTIONS: tuple[str, ...] = ("clear", "mask", "drop")


@dataclass(frozen=True, slots=True)
class FieldAction:
    """What happens to one field, and why (a stable reason string)."""

    field: str
    action: str
    """One of ``ACTIONS``."""
    reason: str
    grade: str
    kind: str


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    released: tuple[FieldAction, ...]
    """``clear`` or ``mask`` actions, in interface order."""
    dropped: tuple[FieldAction, ...]
    """``drop`` actions, in interface order."""
    grade: str
    """The highest grade released; empty when nothing is (verify-only answers)."""

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(a.field for a in self.released)

    @property
    def masked(self) -> tuple[FieldAction, ...]:
        return tuple(a for a in self.released if a.action == "mask")


# --------------------------------------------------------------------------- the grant


def check_grant(
    grant: Grant | None, *, app_id: str, iface: Interface, purpose: str, now: datetime
) -> Grant:
    """``grant`` if it lets ``app_id`` call ``iface`` for ``purpose`` at ``now``; else refuse.

    Pass what ``SharingStore.find_grant`` found, or failing that ``latest_grant``, so a revoked
    or expired grant is named as such rather than reported missing.
    """
    declared = normalize_purpose(purpose or "")
    if not declared:
        raise InvalidArgument(
            "purpose", "declare the purpose of the call (用途)", reason="MISSING_PURPOSE"
        )
    if grant is None or not _covers(grant, app_id, iface.id):
        raise PermissionDenied(
            f"{app_id} has no grant for {iface.id}; apply for one first", reason="NO_GRANT"
        )
    if iface.data_mark and grant.blanket:
        # 重要数据 (GB/T 43697): only a grant to this app naming this interface covers it.
        raise PermissionDenied(
            f"{iface.id} serves marked data ({iface.data_mark}); a blanket grant never covers it:"
            " apply for an app grant naming it",
            reason="MARKED_DATA_NEEDS_APP_GRANT",
        )
    status = grant.status(now)
    if status == "revoked":
        why = f": {grant.revoked_reason}" if grant.revoked_reason else ""
        raise PermissionDenied(f"grant {grant.id} was revoked{why}", reason="GRANT_REVOKED")
    if status == "expired":
        raise PermissionDenied(
            f"grant {grant.id} expired at {grant.valid_until.isoformat()}", reason="GRANT_EXPIRED"
        )
    if status != "active":
        raise PermissionDenied(
            f"grant {grant.id} is valid only from {grant.valid_from.isoformat()}",
            reason="GRANT_NOT_YET_VALID",
        )
    if declared not in {normalize_purpose(p) for p in grant.purposes}:
        raise PermissionDenied(
            f"purpose {declared[:80]!r} is not granted by grant {grant.id} "
            f"(granted: {'; '.join(grant.purposes)})",
            reason="PURPOSE_NOT_GRANTED",
        )
    return grant


def _covers(grant: Grant, app_id: str, interface_id: str) -> bool:
    # find_grant already matched these; checked again so a wrong grant can never be passed in.
    if grant.interface_id != interface_id:
        return False
    if grant.blanket:
        return grant.grantee == province_of_app(app_id)
    return grant.grantee == app_id


# --------------------------------------------------------------------------- the fields


def plan_release(
    iface: Interface, grant: Grant, requested: Sequence[str], standard: Standard
) -> ReleasePlan:
    """Decide, field by field, what of ``iface``'s records may leave under ``grant``.

    ``requested`` is the caller's explicit selection; empty means "whatever the grant allows".
    An explicit request for an unknown field, an L4 field or a field outside the grant is
    refused outright; anything else held back is dropped with its reason.
    """
    wanted: dict[str, Field] = {}
    for i, name in enumerate(requested):
        f = iface.field(name)
        if f is None:
            raise InvalidArgument(
                f"fields[{i}]",
                f"{iface.id} has no field {str(name)[:64]!r}",
                reason="UNKNOWN_FIELD",
            )
        wanted.setdefault(name, f)

    if iface.verify_only:
        # A verify interface (核验) answers match / no-match and nothing else.
        return ReleasePlan(
            released=(),
            dropped=tuple(
                _action(f, "drop", "VERIFY_ONLY") for f in iface.fields if f.name in wanted
            ),
            grade="",
        )

    if wanted:
        for i, name in enumerate(requested):
            f = wanted[name]
            grade = standard.grades.get(f.grade)
            if grade is not None and _stays_home(grade):
                raise PermissionDenied(
                    f"fields[{i}]: {name} is {f.grade} data; L4 data never leaves the province;"
                    " use the verify interface",
                    reason="L4_NOT_RELEASABLE",
                )
            if name not in grant.fields:
                raise PermissionDenied(
                    f"fields[{i}]: {name} is not granted by grant {grant.id}",
                    reason="FIELD_NOT_GRANTED",
                )
        candidates = [f for f in iface.fields if f.name in wanted]
    else:
        granted = set(grant.fields)
        candidates = [f for f in iface.fields if f.name in granted]

    actions = [_decide(f, grant, standard) for f in candidates]
    released = tuple(a for a in actions if a.action != "drop")
    return ReleasePlan(
        released=released,
        dropped=tuple(a for a in actions if a.action == "drop"),
        grade=standard.max_grade(a.grade for a in released) if released else "",
    )


def _decide(f: Field, grant: Grant, standard: Standard) -> FieldAction:
    grade = standard.grades.get(f.grade)
    if grade is None:
        return _action(f, "drop", "UNKNOWN_GRADE")
    if _stays_home(grade):
        return _action(f, "drop", "L4_NEVER_LEAVES")
    ceiling = standard.grades.get(grant.max_grade)
    if ceiling is None or grade.rank > ceiling.rank:
        return _action(f, "drop", "ABOVE_GRANT_GRADE")
    if grant.blanket and not grade.allows_blanket_grant:
        return _action(f, "drop", "NEEDS_APP_GRANT")
    if not (grade.requires_masking or f.mask):
        return _action(f, "clear", "GRANTED")
    rule = standard.mask_rule(f.kind)
    if rule is None:
        return _action(f, "drop", "NO_MASK_RULE")
    if rule.method == "none":
        # The standard masks this kind by leaving it whole (credit codes are public by law);
        # say "clear" so the reply never claims a masking that did not happen.
        return _action(f, "clear", "MASK_RULE_NONE")
    return _action(
        f, "mask", "GRADE_REQUIRES_MASKING" if grade.requires_masking else "FIELD_MASKED"
    )


def _stays_home(grade: Grade) -> bool:
    return not grade.leaves_province or grade.verify_only


def _action(f: Field, action: str, reason: str) -> FieldAction:
    return FieldAction(field=f.name, action=action, reason=reason, grade=f.grade, kind=f.kind)


# --------------------------------------------------------------------------- the records


def apply_plan(plan: ReleasePlan, record: Mapping[str, str], standard: Standard) -> dict[str, str]:
    """The released fields of ``record``, masked where the plan says; nothing else.

    A released field missing from the record is left out rather than invented.
    """
    out: dict[str, str] = {}
    for a in plan.released:
        if a.field not in record:
            continue
        value = record[a.field]
        if a.action == "mask":
            out[a.field] = mask(a.kind, value, standard.mask_rule(a.kind))
        elif a.action == "clear":
            out[a.field] = "" if value is None else str(value)
    return out
