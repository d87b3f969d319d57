"""What an operator may read on the client port and the ops page: traces (recent ones, and one
gathered from the whole federation) and this node's audit trail (verified, or queried). Checks
the request's bounds; the servicer and the page only decode and encode. Every read is itself
audited (side ``operator``, the reading operator as actor), before it is answered: a read that
cannot be recorded is refused, as any other act would be."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from gateway.audit import AuditWriteError
from gateway.audit.chain import AuditEntry, AuditRecord
from gateway.audit.log import AuditLog
from gateway.errors import Internal, InvalidArgument
from gateway.ops.traces import Gathered, TraceGatherer, check_trace_id
from gateway.telemetry.spanstore import TraceSummary

log = logging.getLogger(__name__)

MAX_UNIX_SECONDS = 4_102_444_800
"""2100-01-01: later bounds are typos, and would overflow nanoseconds in SQLite."""


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """``ListTraces`` as the operator sent it; zeros and empty strings mean "any"."""

    app: str = ""
    interface: str = ""
    status: str = ""
    min_duration_ms: float = 0.0
    since_unix: int = 0
    until_unix: int = 0
    limit: int = 0


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """``QueryAudit`` as the operator sent it; empty strings mean "any"."""

    trace_id: str = ""
    app: str = ""
    interface: str = ""
    decision: str = ""
    limit: int = 0
    before_seq: int = 0
    """Only entries older than this (the next page); 0: from the newest."""


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The node's chain verified, and the head hash to anchor elsewhere."""

    node: str
    ok: bool
    checked: int
    first_bad_seq: int
    problem: str
    head_hash: str


class OperatorReads:
    def __init__(self, node: str, gatherer: TraceGatherer, audit: AuditLog) -> None:
        self.node = node
        self._gatherer = gatherer
        self._audit = audit

    async def record(
        self, actor: str, action: str, *, decision: str = "allow", **detail: Any
    ) -> None:
        """Audit one operator read (or login); ``detail`` lands in the entry's ``extra``."""
        entry = AuditRecord(
            node=self.node,
            side="operator",
            action=action,
            decision=decision,
            actor=actor,
            status="OK" if decision == "allow" else "UNAUTHENTICATED",
            extra={k: str(v)[:200] for k, v in detail.items() if v not in ("", 0, None)},
        )
        try:
            await self._audit.append_async(entry)
        except AuditWriteError:
            log.exception("audit write failed for operator read %s on %s", action, self.node)
            raise Internal(
                f"{action} is refused: its audit entry could not be written",
                reason="AUDIT_UNAVAILABLE",
            ) from None

    async def trace(
        self, trace_id: str, time_remaining: float | None, actor: str, *, action: str = "get_trace"
    ) -> tuple[str, list[Gathered]]:
        """One trace's spans from every node: its checked id, and what each node gave."""
        trace_id = check_trace_id(trace_id)
        await self.record(actor, action, trace=trace_id)
        return trace_id, await self._gatherer.gather(trace_id, time_remaining)

    async def recent_traces(
        self, f: TraceFilter, actor: str, *, action: str = "list_traces"
    ) -> list[TraceSummary]:
        limit = f.limit or 20
        if not 1 <= limit <= 200:
            raise InvalidArgument("limit", "between 1 and 200", reason="LIMIT_OUT_OF_RANGE")
        if f.status not in ("", "OK", "ERROR", "UNSET"):
            # UNSET: what success was called before it read OK; it finds the same traces.
            raise InvalidArgument("status", "OK, ERROR or UNSET", reason="UNKNOWN_STATUS")
        for name, value in (("since_unix", f.since_unix), ("until_unix", f.until_unix)):
            if not 0 <= value <= MAX_UNIX_SECONDS:
                raise InvalidArgument(
                    name,
                    f"seconds since 1970, at most {MAX_UNIX_SECONDS}",
                    reason="TIME_OUT_OF_RANGE",
                )
        if f.min_duration_ms < 0 or f.min_duration_ms > 86_400_000:
            raise InvalidArgument(
                "min_duration_ms", "must not be negative", reason="NEGATIVE_VALUE"
            )
        await self.record(
            actor, action, app=f.app, interface=f.interface, status=f.status, limit=limit
        )
        return await self._gatherer.recent(
            app=f.app[:200],
            interface=f.interface[:200],
            status="OK" if f.status == "UNSET" else f.status,
            min_duration_ms=f.min_duration_ms,
            since_ns=f.since_unix * 1_000_000_000,
            until_ns=f.until_unix * 1_000_000_000,
            limit=limit,
        )

    async def verify_audit(self, actor: str) -> AuditCheck:
        await self.record(actor, "verify_audit")
        report = await asyncio.to_thread(self._audit.verify)
        last = await asyncio.to_thread(self._audit.last)
        return AuditCheck(
            node=self.node,
            ok=report.ok,
            checked=report.checked,
            first_bad_seq=report.first_bad_seq or 0,
            problem=report.problem or "",
            head_hash=last.hash if last else "",
        )

    async def audit_entries(self, f: AuditFilter, actor: str) -> tuple[list[AuditEntry], int]:
        """One page of matching entries, newest first, and the ``before_seq`` of the next page
        (0 when no more match): a page never ends silently with more behind it."""
        limit = f.limit or 50
        if not 1 <= limit <= 1000:
            raise InvalidArgument("limit", "between 1 and 1000", reason="LIMIT_OUT_OF_RANGE")
        if f.before_seq < 0:
            raise InvalidArgument("before_seq", "not negative", reason="BAD_SEQ")
        if f.decision not in ("", "allow", "deny"):
            raise InvalidArgument("decision", "allow or deny", reason="UNKNOWN_DECISION")
        if f.trace_id:
            check_trace_id(f.trace_id)
        await self.record(
            actor,
            "query_audit",
            trace=f.trace_id,
            app=f.app,
            interface=f.interface,
            decision_filter=f.decision,
            limit=limit,
            before_seq=f.before_seq,
        )
        entries = await asyncio.to_thread(
            self._audit.query,
            trace_id=f.trace_id or None,
            app=f.app or None,
            interface=f.interface or None,
            decision=f.decision or None,
            before_seq=f.before_seq or None,
            limit=limit + 1,  # one more: whether another page follows
        )
        if len(entries) > limit:
            return entries[:limit], entries[limit - 1].seq
        return entries, 0
