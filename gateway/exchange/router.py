"""The home-node side of an interface call: route to the owner, audit as the consumer.

A call for a local interface goes through the same Provider pipeline as a forwarded one. For a
remote owner, the consumer entry is written (with the owner's audit hash beside it) before the
data is handed to the app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Protocol

from opentelemetry import trace

from gateway.audit.chain import format_time
from gateway.audit.log import AuditLog, AuditRecord, AuditStoreUnavailable, AuditWriteError
from gateway.clock import utcnow
from gateway.deadlines import budget
from gateway.errors import GatewayError, Internal, InvalidArgument, NotFound
from gateway.exchange.calls import Batch, Call, CallResult
from gateway.exchange.provider import Caller, Provider
from gateway.ids import owner_of
from gateway.lograte import Throttled

log = logging.getLogger(__name__)


class OwnerNode(Protocol):
    """The node that owns an interface, as a home node forwards to it (``gateway.peers.exchange``
    implements it). Failures are ``GatewayError``s naming the node that refused or failed."""

    async def invoke(self, app: str, call: Call, *, timeout: float, hops: int) -> CallResult: ...

    def invoke_stream(
        self, app: str, call: Call, *, resume_token: str, batch_size: int, timeout: float, hops: int
    ) -> AsyncIterator[Batch]: ...


class Router:
    def __init__(
        self,
        node: str,
        provider: Provider,
        remotes: Mapping[str, OwnerNode],
        audit: AuditLog,
        *,
        default_timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.node = node
        self._provider = provider
        self._remotes = dict(remotes)
        self._audit = audit
        self._audit_outage = Throttled(log)  # one line per 10 s while the database is away
        self._default_timeout = default_timeout
        self._clock = clock

    def owner(self, interface_id: str) -> str:
        owner = owner_of(interface_id)
        if owner is None:
            raise InvalidArgument(
                "interface_id",
                "not an interface id (node/department/name/version, e.g. sh/gaj/hukou-verify/v1)",
                reason="BAD_INTERFACE_ID",
            )
        if owner != self.node and owner not in self._remotes:
            raise NotFound(f"no province {owner} in this federation", reason="UNKNOWN_PROVINCE")
        return owner

    def budget(self, time_remaining: float | None) -> float:
        return budget(time_remaining, self._default_timeout)

    async def invoke(
        self, app: str, call: Call, *, time_remaining: float | None, trace_id: str = ""
    ) -> CallResult:
        call.check_limits()
        owner = self.owner(call.interface_id)
        trace.get_current_span().set_attributes(
            {
                "yrd.node": self.node,
                "yrd.app": app,
                "yrd.interface": call.interface_id[:200],
                "yrd.purpose": call.purpose[:200],
                "yrd.owner": owner,
            }
        )
        if owner == self.node:
            return await self._provider.invoke(Caller(app, self.node, trace_id), call)
        started = time.perf_counter()
        try:
            result = await self._remotes[owner].invoke(
                app, call, timeout=self.budget(time_remaining), hops=1
            )
        except GatewayError as exc:
            await self._audit_consumer(app, call, owner, trace_id, started, error=exc)
            raise
        await self._audit_consumer(app, call, owner, trace_id, started, result=result)
        return result

    async def invoke_stream(
        self,
        app: str,
        call: Call,
        *,
        resume_token: str,
        batch_size: int,
        time_remaining: float | None,
        trace_id: str = "",
    ) -> AsyncIterator[Batch]:
        call.check_limits()
        owner = self.owner(call.interface_id)
        if owner == self.node:
            async for batch in self._provider.invoke_stream(
                Caller(app, self.node, trace_id),
                call,
                resume_token=resume_token,
                batch_size=batch_size,
            ):
                yield batch
            return
        started = time.perf_counter()
        try:
            async for batch in self._remotes[owner].invoke_stream(
                app,
                call,
                resume_token=resume_token,
                batch_size=batch_size,
                timeout=self.budget(time_remaining),
                hops=1,
            ):
                await self._audit_consumer(app, call, owner, trace_id, started, batch=batch)
                yield batch
                started = time.perf_counter()
        except GatewayError as exc:  # refused at the start or stopped between batches
            await self._audit_consumer(app, call, owner, trace_id, started, error=exc, stream=True)
            raise

    async def _audit_consumer(
        self,
        app: str,
        call: Call,
        owner: str,
        trace_id: str,
        started: float,
        *,
        result: CallResult | None = None,
        batch: Batch | None = None,
        error: GatewayError | None = None,
        stream: bool = False,
    ) -> None:
        notes = result or batch
        if result is not None:
            returned, count = result.fields, result.record_count
        elif batch is not None:
            returned = tuple(batch.records[0]) if batch.records else ()
            count = len(batch.records)
        else:
            returned, count = (), 0
        record = AuditRecord(
            time=format_time(self._clock()),
            node=self.node,
            side="consumer",
            trace_id=trace_id,
            app=app,
            interface=call.interface_id[:200],
            purpose=call.purpose[:200],
            action="invoke_stream" if stream or batch is not None else "invoke",
            decision="deny" if error else "allow",
            reason=error.reason if error else "GRANTED",
            fields_returned=returned,
            fields_masked=tuple(n.field for n in notes.masked) if notes else (),
            fields_dropped=tuple(n.field for n in notes.dropped) if notes else (),
            record_count=count,
            grade=notes.grade if notes else "",
            status=error.code.name if error else "OK",
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            peer=owner,
            peer_hash=result.provider_hash if result else "",
            extra={"refused_by": error.node or ""}
            if error
            else ({"match": result.match} if result and result.verify_only else {}),
        )
        try:
            await self._audit.append_async(record)
        except AuditStoreUnavailable as exc:  # the province's database is out of reach
            self._audit_outage.warning("consumer audit write failed on %s: %s", self.node, exc)
            if error is None:  # data must not reach the app unaudited
                raise exc.refusal from None
        except AuditWriteError:
            log.exception("consumer audit write failed on %s", self.node)
            if error is None:  # data must not reach the app unaudited
                raise Internal(
                    "audit log unavailable; no data released", reason="AUDIT_UNAVAILABLE"
                ) from None
