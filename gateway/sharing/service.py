"""Sharing requests (申请-审核-授权) across provinces, and the owner's operator verbs.

An app applies through its home node; the application is delivered to the interface's owner and
persisted there. The owner's operators approve (possibly narrowing) or reject; approval creates
a grant. Every decision is audited on the node that makes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from gateway import timefmt
from gateway.audit.chain import format_time
from gateway.audit.log import AuditLog, AuditRecord, AuditWriteError
from gateway.clock import utcnow
from gateway.deadlines import budget
from gateway.errors import (
    FailedPrecondition,
    GatewayError,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from gateway.ids import APP_ID_RE, owner_of, province_of_app
from gateway.sharing.model import Application, Grant, Quota
from gateway.sharing.store import SharingStore

log = logging.getLogger(__name__)

MAX_VALIDITY = timedelta(days=3 * 365)
DEFAULT_QUOTA = Quota(per_minute=60, per_day=10_000)
"""What an application that names no quota asks for (an unset quota arrives as zeros)."""


def with_default_quota(quota: Quota) -> Quota:
    return Quota(
        per_minute=quota.per_minute or DEFAULT_QUOTA.per_minute,
        per_day=quota.per_day or DEFAULT_QUOTA.per_day,
    )


@dataclass(frozen=True, slots=True)
class ApplyInput:
    interface_id: str
    fields: tuple[str, ...]
    purpose: str
    valid_from: str
    valid_until: str
    quota: Quota


@dataclass(frozen=True, slots=True)
class Narrowing:
    fields: tuple[str, ...] = ()
    quota: Quota | None = None
    valid_until: str = ""
    max_grade: str = ""
    reason: str = ""


def parse_time(field: str, value: str, default: datetime | None = None) -> datetime:
    if not value:
        if default is None:
            raise InvalidArgument(
                field, "required (RFC 3339, e.g. 2027-12-31T00:00:00Z)", reason="MISSING_FIELD"
            )
        return default
    try:
        moment = timefmt.parse(value)
    except ValueError:
        raise InvalidArgument(field, "not an RFC 3339 time", reason="BAD_TIME") from None
    if moment.tzinfo is None:
        raise InvalidArgument(field, "needs a time zone (e.g. Z)", reason="BAD_TIME")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +14:00: no such instant in UTC
        raise InvalidArgument(
            field, "outside the representable time range", reason="BAD_TIME"
        ) from None


class SharedField(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def grade(self) -> str: ...


class SharedInterface(Protocol):
    """What sharing needs of an interface: its id, its fields, whether it only verifies, its
    GB/T 43697 mark (empty when none)."""

    @property
    def id(self) -> str: ...
    @property
    def data_mark(self) -> str: ...
    @property
    def fields(self) -> Sequence[SharedField]: ...
    @property
    def verify_only(self) -> bool: ...
    def field(self, name: str) -> SharedField | None: ...


class InterfaceLookup(Protocol):
    """This node's interfaces (the exchange's ``Provider``); raises NotFound for another id."""

    def interface(self, interface_id: str) -> SharedInterface: ...


class SharingPeer(Protocol):
    """The owner node of an interface, as a home node files and reads applications there
    (``gateway.peers.sharing`` implements it). Failures are ``GatewayError``s."""

    async def submit(self, app: str, req: ApplyInput, *, timeout: float) -> Application: ...

    async def list_applications(
        self, apps: tuple[str, ...], state: str, *, timeout: float
    ) -> list[Application]: ...


class SharingService:
    def __init__(
        self,
        node: str,
        store: SharingStore,
        provider: InterfaceLookup,
        remotes: Mapping[str, SharingPeer],
        audit: AuditLog,
        *,
        standard_grades: tuple[str, ...],
        home_grades: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``home_grades``: the grades whose data never leaves the province (L4): a blanket
        grant up to them, or naming only their fields, is refused."""
        self.node = node
        self._store = store
        self._provider = provider
        self._remotes = dict(remotes)
        self._audit = audit
        self._grades = standard_grades
        self._home_grades = home_grades
        self._clock = clock

    # ---------------------------------------------------------------- app side (home node)

    async def apply(
        self, app: str, req: ApplyInput, *, time_remaining: float | None
    ) -> Application:
        owner = owner_of(req.interface_id)
        if owner is None:
            raise InvalidArgument("interface_id", "not an interface id", reason="BAD_INTERFACE_ID")
        if owner == self.node:
            return await self.receive(app, req, via=self.node)
        remote = self._remotes.get(owner)
        if remote is None:
            raise NotFound(f"no province {owner} in this federation", reason="UNKNOWN_PROVINCE")
        return await remote.submit(app, req, timeout=budget(time_remaining))

    async def list_for_apps(
        self, apps: tuple[str, ...], state: str, *, time_remaining: float | None
    ) -> tuple[list[Application], list[str]]:
        """Applications of these apps, wherever they were filed; and owners that didn't answer."""
        local = await asyncio.to_thread(
            self._store.list_applications, state=state or None, apps=apps
        )
        allowed = budget(time_remaining)
        names = list(self._remotes)
        answers = await asyncio.gather(
            *(self._remotes[n].list_applications(apps, state, timeout=allowed) for n in names),
            return_exceptions=True,
        )
        out, unavailable = list(local), []
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, GatewayError):
                unavailable.append(name)
            elif isinstance(answer, BaseException):  # a bug of ours: not the owner's silence
                raise answer
            else:
                out.extend(answer)
        out.sort(key=lambda a: a.created_at, reverse=True)
        return out, unavailable

    # ---------------------------------------------------------------- owner side

    async def receive(self, app: str, req: ApplyInput, *, via: str) -> Application:
        if not APP_ID_RE.match(app) or province_of_app(app) != via:
            raise PermissionDenied(
                f"node {via} may not apply for app {app[:80]}", reason="NAMESPACE_VIOLATION"
            )
        iface = self._provider.interface(req.interface_id)
        if not req.purpose.strip():
            raise InvalidArgument(
                "purpose", "a declared purpose is required", reason="MISSING_PURPOSE"
            )
        if len(req.purpose) > 200:
            raise InvalidArgument("purpose", "at most 200 characters", reason="PURPOSE_TOO_LONG")
        if not req.fields and not iface.verify_only:
            raise InvalidArgument("fields", "name the fields the app needs", reason="NO_FIELDS")
        for i, name in enumerate(req.fields):
            if iface.field(name) is None:
                raise InvalidArgument(
                    f"fields[{i}]", f"{iface.id} has no field {name[:40]!r}", reason="UNKNOWN_FIELD"
                )
        now = self._clock()
        valid_from = parse_time("valid_from", req.valid_from, now)
        valid_until = parse_time("valid_until", req.valid_until)
        if valid_until <= valid_from:
            raise InvalidArgument("valid_until", "must be after valid_from", reason="BAD_VALIDITY")
        if valid_until - valid_from > MAX_VALIDITY:
            raise InvalidArgument(
                "valid_until", "validity longer than three years", reason="BAD_VALIDITY"
            )
        _check_quota("quota", req.quota)
        application = await asyncio.to_thread(
            self._store.add_application,
            app=app,
            interface_id=iface.id,
            fields=tuple(dict.fromkeys(req.fields)),
            purpose=req.purpose.strip(),
            valid_from=valid_from,
            valid_until=valid_until,
            quota=with_default_quota(req.quota),
            now=now,
        )
        await self._audit_action(
            "apply",
            app=app,
            interface=iface.id,
            purpose=req.purpose,
            peer=via if via != self.node else "",
            extra={"application": application.id},
        )
        return application

    async def list_received(
        self,
        apps: tuple[str, ...] | None,
        state: str,
        *,
        via: str | None,
        operator: str = "",
    ) -> list[Application]:
        """Applications filed here; a peer (``via``) may only see its own apps'. An operator's
        listing is audited like any other act."""
        if via is not None and (apps is None or any(province_of_app(a) != via for a in apps)):
            raise PermissionDenied(
                f"node {via} may only list its own apps' applications", reason="NAMESPACE_VIOLATION"
            )
        if operator:
            await self._audit_action(
                "list_applications",
                actor=operator,
                app=apps[0][:200] if apps else "",
                extra={"state": state[:32]} if state else None,
            )
        return await asyncio.to_thread(
            self._store.list_applications, state=state or None, apps=apps
        )

    # ---------------------------------------------------------------- operator verbs

    async def approve(self, operator: str, application_id: str, narrowing: Narrowing) -> Grant:
        if narrowing.max_grade and narrowing.max_grade not in self._grades:
            raise InvalidArgument(
                "max_grade", f"one of {', '.join(self._grades)}", reason="UNKNOWN_GRADE"
            )
        if narrowing.quota is not None:
            _check_quota("quota", narrowing.quota)
        until = parse_time("valid_until", narrowing.valid_until) if narrowing.valid_until else None
        grant = await asyncio.to_thread(
            self._store.approve,
            application_id,
            fields=narrowing.fields or None,
            quota=narrowing.quota,
            valid_until=until,
            max_grade=narrowing.max_grade or None,
            reason=narrowing.reason,
            now=self._clock(),
        )
        await self._audit_action(
            "approve",
            actor=operator,
            app=grant.grantee,
            interface=grant.interface_id,
            reason=narrowing.reason,
            extra={"application": application_id, "grant": grant.id, "fields": list(grant.fields)},
        )
        return grant

    async def reject(self, operator: str, application_id: str, reason: str) -> Application:
        if not reason.strip():
            raise InvalidArgument("reason", "a rejection needs a reason", reason="MISSING_REASON")
        application = await asyncio.to_thread(
            self._store.reject, application_id, reason, now=self._clock()
        )
        await self._audit_action(
            "reject",
            actor=operator,
            app=application.app,
            interface=application.interface_id,
            reason=reason,
            decision="deny",
            extra={"application": application_id},
        )
        return application

    async def revoke_grant(self, operator: str, grant_id: str, reason: str) -> Grant:
        grant = await asyncio.to_thread(
            self._store.revoke_grant, grant_id, reason, now=self._clock()
        )
        await self._audit_action(
            "revoke_grant",
            actor=operator,
            app=grant.grantee,
            interface=grant.interface_id,
            reason=reason,
            extra={"grant": grant_id},
        )
        return grant

    async def blanket_grant(
        self,
        operator: str,
        *,
        province: str,
        interface_id: str,
        fields: tuple[str, ...],
        purposes: tuple[str, ...],
        max_grade: str,
        valid_until: str,
        quota: Quota,
        provinces: tuple[str, ...],
    ) -> Grant:
        if province not in provinces or province == self.node:
            raise InvalidArgument(
                "province",
                f"one of the other provinces: {', '.join(p for p in provinces if p != self.node)}",
                reason="UNKNOWN_PROVINCE",
            )
        iface = self._provider.interface(interface_id)
        if iface.data_mark:
            # 重要数据 (GB/T 43697): only a grant to one app naming the interface may cover it;
            # refused here rather than created and then refused at every call.
            raise FailedPrecondition(
                f"{iface.id} serves marked data ({iface.data_mark}); a blanket grant never covers"
                " it: an app applies for it by name (yrdgw apply) and is approved one by one",
                reason="MARKED_DATA_NEEDS_APP_GRANT",
                field="interface_id",
            )
        self._check_blanket_fields(iface, fields)
        if not purposes or not all(p.strip() for p in purposes):
            raise InvalidArgument("purposes", "at least one purpose", reason="MISSING_PURPOSE")
        if max_grade and max_grade not in self._grades:
            raise InvalidArgument(
                "max_grade", f"one of {', '.join(self._grades)}", reason="UNKNOWN_GRADE"
            )
        if max_grade in self._home_grades:
            leaving = ", ".join(g for g in self._grades if g not in self._home_grades)
            raise InvalidArgument(
                "max_grade",
                f"{max_grade} data never leaves the province; one of {leaving}",
                reason="GRADE_NEVER_LEAVES",
            )
        _check_quota("quota", quota)
        grant = await asyncio.to_thread(
            self._store.create_blanket_grant,
            province,
            iface.id,
            fields or tuple(f.name for f in iface.fields),
            purposes,
            max_grade or "L2",
            parse_time("valid_until", valid_until),
            with_default_quota(quota),
            now=self._clock(),
        )
        await self._audit_action(
            "blanket_grant",
            actor=operator,
            app=province,
            interface=iface.id,
            extra={"grant": grant.id},
        )
        return grant

    def _check_blanket_fields(self, iface: SharedInterface, fields: tuple[str, ...]) -> None:
        """Every field named exists, and not all of them are of a grade that never leaves the
        province (such a grant could release nothing); refusals name the field."""
        home: list[tuple[int, str]] = []
        for i, name in enumerate(fields):
            found = iface.field(name)
            if found is None:
                raise InvalidArgument(
                    f"fields[{i}]", f"{iface.id} has no field {name[:40]!r}", reason="UNKNOWN_FIELD"
                )
            if found.grade in self._home_grades:
                home.append((i, found.grade))
        if fields and len(home) == len(fields):
            i, grade = home[0]
            raise InvalidArgument(
                f"fields[{i}]",
                f"{fields[i]} is {grade} data, which never leaves the province; name fields a"
                " blanket grant can release",
                reason="GRADE_NEVER_LEAVES",
            )

    async def list_grants(
        self, operator: str, *, interface_id: str, grantee: str, include_inactive: bool
    ) -> tuple[list[Grant], datetime]:
        """This node's grants, and the moment their status is to be judged at (an operator
        read: audited like any other act)."""
        await self._audit_action(
            "list_grants",
            actor=operator,
            interface=interface_id[:200],
            extra={"grantee": grantee[:200]} if grantee else None,
        )
        grants = await asyncio.to_thread(
            self._store.list_grants,
            interface_id=interface_id[:200] or None,
            grantee=grantee[:200] or None,
            include_inactive=include_inactive,
        )
        return grants, self._clock()

    async def create_app(self, operator: str, app: str, name: str) -> str:
        if not APP_ID_RE.match(app) or province_of_app(app) != self.node:
            raise InvalidArgument(
                "app",
                f"an app id in this node's namespace, e.g. {self.node}/rsj/pension-transfer",
                reason="BAD_APP_ID",
            )
        if len(name) > 100:
            raise InvalidArgument("name", "at most 100 characters", reason="NAME_TOO_LONG")
        secret = await asyncio.to_thread(self._store.create_app, app, name)
        await self._audit_action("create_app", actor=operator, app=app)
        return secret

    async def revoke_app(self, operator: str, app: str) -> None:
        await asyncio.to_thread(self._store.revoke_app, app)
        await self._audit_action("revoke_app", actor=operator, app=app)

    async def _audit_action(
        self,
        action: str,
        *,
        actor: str = "",
        app: str = "",
        interface: str = "",
        purpose: str = "",
        reason: str = "",
        decision: str = "allow",
        peer: str = "",
        extra: dict | None = None,
    ) -> None:
        record = AuditRecord(
            time=format_time(self._clock()),
            node=self.node,
            side="operator" if actor else ("provider" if peer else "local"),
            app=app,
            interface=interface,
            purpose=purpose[:200],
            action=action,
            decision=decision,
            reason=reason[:200],
            status="OK",
            peer=peer,
            actor=actor,
            extra=extra or {},
        )
        try:
            await self._audit.append_async(record)
        except AuditWriteError:
            # The state change is already durable; say so rather than pretend it failed.
            log.exception("audit write failed for %s on %s", action, self.node)
            raise Internal(
                f"{action} was recorded but its audit entry could not be written",
                reason="AUDIT_UNAVAILABLE",
            ) from None


def _check_quota(field: str, quota: Quota) -> None:
    if quota.per_minute < 0 or quota.per_day < 0:
        raise InvalidArgument(field, "must not be negative", reason="BAD_QUOTA")
    if quota.per_minute > 1_000_000 or quota.per_day > 100_000_000:
        raise InvalidArgument(field, "unreasonably large", reason="BAD_QUOTA")
