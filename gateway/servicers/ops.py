"""Ops service (client port, operator credential): traces and the audit trail."""

from __future__ import annotations

import asyncio
import json

from gateway._pb.yrd.v1 import ops_pb2, ops_pb2_grpc
from gateway.audit.log import AuditLog
from gateway.errors import InvalidArgument
from gateway.ops.traces import TraceGatherer, check_trace_id, trace_to_pb
from gateway.server.identity import Identities

MAX_UNIX_SECONDS = 4_102_444_800
"""2100-01-01: later bounds are typos, and would overflow nanoseconds in SQLite."""


class OpsServicer(ops_pb2_grpc.OpsServicer):
    def __init__(
        self, node: str, gatherer: TraceGatherer, audit: AuditLog, identities: Identities
    ) -> None:
        self._node = node
        self._gatherer = gatherer
        self._audit = audit
        self._identities = identities

    async def GetTrace(self, request, context):
        await self._identities.operator(context)
        trace_id = check_trace_id(request.trace_id)
        gathered = await self._gatherer.gather(trace_id, context.time_remaining())
        return trace_to_pb(trace_id, gathered)

    async def ListTraces(self, request, context):
        await self._identities.operator(context)
        limit = request.limit or 20
        if not 1 <= limit <= 200:
            raise InvalidArgument("limit", "between 1 and 200", reason="LIMIT_OUT_OF_RANGE")
        if request.status not in ("", "OK", "ERROR", "UNSET"):
            raise InvalidArgument("status", "OK, ERROR or UNSET", reason="UNKNOWN_STATUS")
        for name in ("since_unix", "until_unix"):
            if not 0 <= getattr(request, name) <= MAX_UNIX_SECONDS:
                raise InvalidArgument(
                    name,
                    f"seconds since 1970, at most {MAX_UNIX_SECONDS}",
                    reason="TIME_OUT_OF_RANGE",
                )
        if request.min_duration_ms < 0 or request.min_duration_ms > 86_400_000:
            raise InvalidArgument(
                "min_duration_ms", "must not be negative", reason="NEGATIVE_VALUE"
            )
        summaries = await self._gatherer.recent(
            app=request.app[:200],
            interface=request.interface[:200],
            status=request.status,
            min_duration_ms=request.min_duration_ms,
            since_ns=request.since_unix * 1_000_000_000,
            until_ns=request.until_unix * 1_000_000_000,
            limit=limit,
        )
        return ops_pb2.ListTracesResponse(
            traces=[
                ops_pb2.TraceSummary(
                    trace_id=t.trace_id,
                    node=t.node,
                    root=t.root,
                    start_unix_nano=t.start_ns,
                    duration_ms=t.duration_ms,
                    status=t.status,
                    app=t.app,
                    interface=t.interface,
                    span_count=t.span_count,
                )
                for t in summaries
            ]
        )

    async def VerifyAudit(self, request, context):
        await self._identities.operator(context)
        report = await asyncio.to_thread(self._audit.verify)
        last = await asyncio.to_thread(self._audit.last)
        return ops_pb2.VerifyAuditResponse(
            node=self._node,
            ok=report.ok,
            checked=report.checked,
            first_bad_seq=report.first_bad_seq or 0,
            problem=report.problem or "",
            head_hash=last.hash if last else "",
        )

    async def QueryAudit(self, request, context):
        await self._identities.operator(context)
        limit = request.limit or 50
        if not 1 <= limit <= 1000:
            raise InvalidArgument("limit", "between 1 and 1000", reason="LIMIT_OUT_OF_RANGE")
        if request.decision not in ("", "allow", "deny"):
            raise InvalidArgument("decision", "allow or deny", reason="UNKNOWN_DECISION")
        if request.trace_id:
            check_trace_id(request.trace_id)
        entries = await asyncio.to_thread(
            self._audit.query,
            trace_id=request.trace_id or None,
            app=request.app or None,
            interface=request.interface or None,
            decision=request.decision or None,
            limit=limit,
        )
        return ops_pb2.QueryAuditResponse(
            node=self._node,
            entries=[
                ops_pb2.AuditLine(
                    seq=e.seq,
                    hash=e.hash,
                    prev_hash=e.prev_hash,
                    json=json.dumps(e.record.to_dict(), ensure_ascii=False),
                )
                for e in entries
            ],
        )
