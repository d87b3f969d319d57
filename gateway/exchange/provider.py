"""The owner side of an interface call: the only authority on what leaves the province.

A fixed, readable sequence (after X-Road): find the interface → check the grant and purpose →
plan the release → validate parameters → consume quota → call the backend → mask → audit → answer.
Every refusal is audited too; no data is released unless its audit entry is durable.

A bulk (回流) stream is authorized once, when it opens, and that is when it counts against the
grant's quota: **one stream is one call**, however many batches it sends (a resumed stream is a
new stream and counts again). Before each later batch is released the grant is checked again
(after EDC's policy monitor): a grant revoked or expired while the transfer runs stops it at the
next batch with PERMISSION_DENIED (GRANT_REVOKED / GRANT_EXPIRED), and the stop is audited. The
check reads the store's in-memory grant view, which is rebuilt only when the grants changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from gateway.audit.chain import format_time
from gateway.audit.log import AuditLog, AuditRecord, AuditStoreUnavailable, AuditWriteError
from gateway.clock import utcnow
from gateway.errors import GatewayError, Internal, InvalidArgument, NotFound, Unavailable
from gateway.exchange.backends import Backend
from gateway.exchange.calls import (
    Batch,
    Call,
    CallResult,
    call_fingerprint,
    decode_resume,
    encode_resume,
)
from gateway.exchange.interfaces import ParamSchema
from gateway.exchange.model import Interface
from gateway.exchange.plans import PreparedPlan, ReleasePlans
from gateway.exchange.policy import apply_plan, check_grant
from gateway.ids import INTERFACE_ID_RE
from gateway.lograte import Throttled
from gateway.sharing.model import Grant
from gateway.sharing.store import SharingStore
from gateway.standard import Standard
from gateway.tracing import step

log = logging.getLogger(__name__)

MAX_RECORDS = 100
"""Records a plain (non-streaming) call may return; bulk transfers use the stream."""
MAX_BATCH = 2000
_DECIDE_TRIES = 3
"""Decisions of one call when other replicas keep changing the grants under it."""


@dataclass(frozen=True, slots=True)
class Caller:
    app: str
    via: str
    """The node the call arrived from (this node for a local app)."""
    trace_id: str = ""


class Provider:
    def __init__(
        self,
        node: str,
        interfaces: Mapping[str, Interface],
        store: SharingStore,
        backends: Mapping[str, Backend],
        standard: Standard,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """The steps of a call (authorize, backend.call, masking) are recorded as events on the
        span the call runs under (``gateway.tracing.step``), so no tracer is needed here."""
        self.node = node
        self._interfaces = dict(interfaces)
        # Worked out once per interface, and per interface, grant and fields (issue 18).
        self._schemas = {i: ParamSchema(iface) for i, iface in self._interfaces.items()}
        self._plans = ReleasePlans(standard)
        self._backend_attributes = {
            i: {"yrd.interface": i, "yrd.backend": iface.backend.type, "yrd.mode": iface.mode}
            for i, iface in self._interfaces.items()
        }
        self._store = store
        self._backends = dict(backends)
        self._standard = standard
        self._audit = audit
        self._audit_outage = Throttled(log)  # one line per 10 s while the database is away
        self._clock = clock

    @property
    def interfaces(self) -> Mapping[str, Interface]:
        return self._interfaces

    def interface(self, interface_id: str) -> Interface:
        iface = self._interfaces.get(interface_id)
        if iface is None:
            if not INTERFACE_ID_RE.match(interface_id):
                raise InvalidArgument(
                    "interface_id",
                    "not an interface id (node/department/name/version)",
                    reason="BAD_INTERFACE_ID",
                )
            raise NotFound(
                f"{self.node} has no interface {interface_id}", reason="UNKNOWN_INTERFACE"
            )
        return iface

    async def _authorize(
        self, caller: Caller, call: Call
    ) -> tuple[Interface, PreparedPlan, dict[str, str]]:
        call.check_limits()
        _annotate(trace.get_current_span(), caller, call, self.node)
        with step("authorize") as span:
            iface = self.interface(call.interface_id)
            now = self._clock()
            try:
                # The store's call path (SharingStore.calls): in-memory views, and on
                # PostgreSQL one round trip from the event loop that checks the version the
                # grant was found at and counts the call. Grants changed in between: decide again.
                for _ in range(_DECIDE_TRIES):
                    grant = check_grant(
                        await self._lookup_grant(caller.app, iface.id, now),
                        app_id=caller.app,
                        iface=iface,
                        purpose=call.purpose,
                        now=now,
                    )
                    prepared = self._plans.prepare(iface, grant, call.fields)
                    params = self._schemas[iface.id].validate(call.params)
                    if await self._store.calls.count(grant, caller.app, now):
                        break
                else:
                    raise Unavailable(
                        f"{self.node}'s grants kept changing while the call was decided; retry",
                        reason="GRANTS_CHANGING",
                    )
            except GatewayError as exc:
                span.set_attributes({"yrd.decision": "deny", "yrd.reason": exc.reason})
                span.set_status(Status(StatusCode.ERROR, exc.reason))
                raise
            span.set_attributes(prepared.allowed)
        return iface, prepared, params

    async def _still_granted(self, caller: Caller, call: Call, grant: Grant) -> None:
        """Refuse (as ``check_grant`` does) unless ``grant`` is still active now.

        The common case costs a look at the grant view's version: the grant found for the app
        is still the one the stream runs under. Otherwise the grant's own row says why not
        (revoked, expired), or that a newer grant merely outranks it and it still holds.
        """
        now = self._clock()
        current = await self._store.calls.find(caller.app, grant.interface_id, now, fresh=True)
        if current is not None and current.id == grant.id:
            return
        check_grant(
            await self._store.calls.grant(grant.id),
            app_id=caller.app,
            iface=self._interfaces[grant.interface_id],
            purpose=call.purpose,
            now=now,
        )

    async def _lookup_grant(self, app: str, interface_id: str, now: datetime) -> Grant | None:
        # The newest grant even when revoked or expired, only so the refusal can say which.
        calls = self._store.calls
        return await calls.find(app, interface_id, now) or await calls.latest(app, interface_id)

    async def invoke(self, caller: Caller, call: Call) -> CallResult:
        started = time.perf_counter()
        try:
            iface, prepared, params = await self._authorize(caller, call)
            plan = prepared.plan
            backend = self._backends[iface.id]
            with step("backend.call") as span:
                span.set_attributes(self._backend_attributes[iface.id])
                if iface.verify_only:
                    match = await backend.verify(iface, params)
                    fetched = []
                else:
                    fetched = await backend.fetch(iface, params, limit=MAX_RECORDS)
                span.set_attribute("yrd.records", len(fetched))
            with step("masking") as span:
                rows = [apply_plan(plan, record, self._standard) for _, record in fetched]
                if not iface.verify_only:
                    match = bool(rows)
                span.set_attributes(prepared.masking)
        except GatewayError as exc:
            await self._audit_refusal(caller, call, "invoke", exc, started)
            raise
        result = CallResult(
            records=tuple(rows),
            verify_only=iface.verify_only,
            match=match,
            masked=prepared.masked,
            dropped=prepared.dropped,
            grade=plan.grade,
            served_by=self.node,
            fields=plan.fields,
        )
        entry_hash = await self._audit_release(caller, call, "invoke", result, started)
        trace.get_current_span().set_attributes(
            {
                "yrd.decision": "allow",
                "yrd.grade": result.grade or "-",
                "yrd.masked_fields": len(result.masked),
                "yrd.records": len(result.records),
            }
        )
        return replace(result, provider_hash=entry_hash)

    async def invoke_stream(
        self, caller: Caller, call: Call, *, resume_token: str, batch_size: int
    ) -> AsyncIterator[Batch]:
        started = time.perf_counter()
        try:
            if not 0 <= batch_size <= MAX_BATCH:
                raise InvalidArgument(
                    "batch_size",
                    f"must be between 1 and {MAX_BATCH}",
                    reason="BATCH_SIZE_OUT_OF_RANGE",
                )
            fingerprint = call_fingerprint(caller.app, call)
            # The token of a stream that sent nothing carries no cursor: start from the top.
            after = (decode_resume(resume_token, fingerprint) or None) if resume_token else None
            iface, prepared, params = await self._authorize(caller, call)
            grant, plan = prepared.grant, prepared.plan
            if iface.verify_only or not iface.streamable:
                raise InvalidArgument(
                    "interface_id",
                    f"{iface.id} does not offer bulk transfer",
                    reason="NOT_STREAMABLE",
                )
        except GatewayError as exc:
            await self._audit_refusal(caller, call, "invoke_stream", exc, started)
            raise
        backend = self._backends[iface.id]
        size = batch_size or 500
        first = True
        sent = 0
        while True:
            batch_started = time.perf_counter()
            try:
                fetched = await backend.fetch(iface, params, limit=size + 1, after=after)
                if not first:
                    await self._still_granted(caller, call, grant)
            except GatewayError as exc:  # a stream stopped mid-way is audited like a refusal
                extra = {"stopped_after_records": sent}
                await self._audit_refusal(
                    caller, call, "invoke_stream", exc, batch_started, extra=extra
                )
                raise
            more = len(fetched) > size
            fetched = fetched[:size]
            rows = tuple(apply_plan(plan, record, self._standard) for _, record in fetched)
            if fetched:
                after = fetched[-1][0]
            result = CallResult(
                records=rows,
                verify_only=False,
                match=bool(rows),
                masked=prepared.masked,
                dropped=prepared.dropped,
                grade=plan.grade,
                served_by=self.node,
                fields=plan.fields,
            )
            await self._audit_release(caller, call, "invoke_stream", result, batch_started)
            yield Batch(
                records=rows,
                resume_token=encode_resume(after or "", fingerprint),
                last=not more,
                masked=result.masked if first else (),
                dropped=result.dropped if first else (),
                grade=plan.grade,
                served_by=self.node,
            )
            first = False
            sent += len(rows)
            if not more:
                return

    async def _audit_release(
        self, caller: Caller, call: Call, action: str, result: CallResult, started: float
    ) -> str:
        record = AuditRecord(
            time=format_time(self._clock()),
            node=self.node,
            side="provider" if caller.via != self.node else "local",
            trace_id=caller.trace_id,
            app=caller.app,
            interface=call.interface_id,
            purpose=call.purpose,
            action=action,
            decision="allow",
            reason="GRANTED",
            fields_returned=result.fields,
            fields_masked=tuple(n.field for n in result.masked),
            fields_dropped=tuple(n.field for n in result.dropped),
            record_count=len(result.records) if not result.verify_only else 0,
            grade=result.grade,
            status="OK",
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            peer=caller.via if caller.via != self.node else "",
            extra=self._audit_extra(call, {"match": result.match} if result.verify_only else {}),
        )
        try:
            entry = await self._audit.append_async(record)
        except AuditStoreUnavailable as exc:  # the province's database is out of reach
            self._audit_outage.warning(
                "audit write failed on %s, no data released: %s", self.node, exc
            )
            raise exc.refusal from None
        except AuditWriteError:
            log.exception("audit write failed on %s; refusing to release data", self.node)
            raise Internal(
                "audit log unavailable; no data released", reason="AUDIT_UNAVAILABLE"
            ) from None
        return entry.hash

    def _audit_extra(self, call: Call, extra: Mapping[str, object]) -> dict[str, object]:
        # The owner's audit names the GB/T 43697 mark of the data asked for, allowed or not.
        iface = self._interfaces.get(call.interface_id)
        if iface is not None and iface.data_mark:
            return {**extra, "data_mark": iface.data_mark}
        return dict(extra)

    async def _audit_refusal(
        self,
        caller: Caller,
        call: Call,
        action: str,
        exc: GatewayError,
        started: float,
        *,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        record = AuditRecord(
            time=format_time(self._clock()),
            node=self.node,
            side="provider" if caller.via != self.node else "local",
            trace_id=caller.trace_id,
            app=caller.app,
            interface=call.interface_id[:200],
            purpose=call.purpose[:200],
            action=action,
            decision="deny",
            reason=exc.reason,
            status=exc.code.name,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            peer=caller.via if caller.via != self.node else "",
            extra=self._audit_extra(call, extra or {}),
        )
        try:
            await self._audit.append_async(record)
        except AuditWriteError:  # a refusal releases nothing; the caller still gets its status
            log.exception("audit write of a refusal failed on %s", self.node)


def _annotate(span, caller: Caller, call: Call, node: str) -> None:
    span.set_attributes(
        {
            "yrd.node": node,
            "yrd.app": caller.app,
            "yrd.interface": call.interface_id[:200],
            "yrd.purpose": call.purpose[:200],
            "yrd.via": caller.via,
        }
    )
