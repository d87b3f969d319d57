"""Sharing and Admin messages <-> applications, grants and quotas (client port ``Sharing`` and
``Admin``, and the peer port's forwarded applications)."""

from __future__ import annotations

from datetime import datetime

from gateway import timefmt
from gateway._pb.yrd.v1 import federation_pb2, sharing_pb2
from gateway.sharing.model import Application, Grant, Quota
from gateway.sharing.service import ApplyInput, Narrowing


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime | None:
    return timefmt.parse(value) if value else None


def _required(value: str, name: str) -> datetime:
    """A time every application has; a peer's reply without it is malformed, not "no time"."""
    if not value:
        raise ValueError(f"{name}: missing from the peer's application")
    return timefmt.parse(value)


def quota_to_pb(q: Quota) -> sharing_pb2.Quota:
    return sharing_pb2.Quota(per_minute=q.per_minute, per_day=q.per_day)


def quota_from_pb(m: sharing_pb2.Quota) -> Quota:
    return Quota(per_minute=m.per_minute, per_day=m.per_day)


def apply_input(m: sharing_pb2.ApplyRequest) -> ApplyInput:
    return ApplyInput(
        interface_id=m.interface_id,
        fields=tuple(m.fields),
        purpose=m.purpose,
        valid_from=m.valid_from,
        valid_until=m.valid_until,
        quota=quota_from_pb(m.quota),
    )


def apply_request(req: ApplyInput) -> sharing_pb2.ApplyRequest:
    return sharing_pb2.ApplyRequest(
        interface_id=req.interface_id,
        fields=req.fields,
        purpose=req.purpose,
        valid_from=req.valid_from,
        valid_until=req.valid_until,
        quota=quota_to_pb(req.quota),
    )


def forwarded_application(app: str, req: ApplyInput) -> federation_pb2.ForwardedApplication:
    return federation_pb2.ForwardedApplication(app=app, application=apply_request(req))


def narrowing_from_pb(m: sharing_pb2.DecideRequest) -> Narrowing:
    return Narrowing(
        fields=tuple(m.fields),
        quota=quota_from_pb(m.quota) if m.HasField("quota") else None,
        valid_until=m.valid_until,
        max_grade=m.max_grade,
        reason=m.reason,
    )


def application_to_pb(a: Application) -> sharing_pb2.Application:
    return sharing_pb2.Application(
        id=a.id,
        app=a.app,
        interface_id=a.interface_id,
        fields=a.fields,
        purpose=a.purpose,
        valid_from=_iso(a.valid_from),
        valid_until=_iso(a.valid_until),
        quota=quota_to_pb(a.quota),
        state=a.state,
        reason=a.reason,
        grant_id=a.grant_id or "",
        created_at=_iso(a.created_at),
        decided_at=_iso(a.decided_at),
        owner=a.owner,
        granted_fields=a.granted_fields,
    )


def application_from_pb(m: sharing_pb2.Application) -> Application:
    return Application(
        id=m.id,
        app=m.app,
        interface_id=m.interface_id,
        fields=tuple(m.fields),
        purpose=m.purpose,
        valid_from=_required(m.valid_from, "valid_from"),
        valid_until=_required(m.valid_until, "valid_until"),
        quota=quota_from_pb(m.quota),
        state=m.state,
        reason=m.reason,
        grant_id=m.grant_id,
        created_at=_required(m.created_at, "created_at"),
        decided_at=_parse(m.decided_at),
        owner=m.owner,
        granted_fields=tuple(m.granted_fields),
    )


def applications_reply(
    applications: list[Application], unavailable: list[str] | None = None
) -> sharing_pb2.ListApplicationsResponse:
    return sharing_pb2.ListApplicationsResponse(
        applications=[application_to_pb(a) for a in applications], unavailable=unavailable or []
    )


def grant_to_pb(g: Grant, state: str = "") -> sharing_pb2.Grant:
    return sharing_pb2.Grant(
        id=g.id,
        grantee=g.grantee,
        blanket=g.blanket,
        interface_id=g.interface_id,
        fields=g.fields,
        purposes=g.purposes,
        max_grade=g.max_grade,
        valid_from=_iso(g.valid_from),
        valid_until=_iso(g.valid_until),
        quota=quota_to_pb(g.quota),
        state=state or g.state,
        application_id=g.application_id or "",
        revoked_reason=g.revoked_reason or "",
        created_at=_iso(g.created_at),
    )
