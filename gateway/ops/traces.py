"""Gathering one trace's spans from every node of the federation (partial when one is down)."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from gateway._pb.yrd.v1 import ops_pb2
from gateway.deadlines import budget
from gateway.errors import InvalidArgument
from gateway.peers import BreakerOpen, Peer
from gateway.status import failure_of
from gateway.telemetry.spanstore import SpanStore, StoredSpan, TraceSummary

TRACE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
RETRY_BACKOFF_S = (0.05, 0.15)
"""Trace gathering is an idempotent read: retried on UNAVAILABLE within the deadline."""


@dataclass(frozen=True, slots=True)
class Gathered:
    node: str
    state: str  # answered | failed | timed_out
    spans: tuple[StoredSpan, ...] = ()
    reason: str = ""


def check_trace_id(trace_id: str) -> str:
    value = trace_id.strip().lower()
    if not TRACE_ID_RE.match(value) or value == "0" * 32:
        raise InvalidArgument(
            "trace_id", "32 lowercase hex characters, not all zero", reason="BAD_TRACE_ID"
        )
    return value


def span_to_pb(s: StoredSpan) -> ops_pb2.Span:
    return ops_pb2.Span(
        node=s.node,
        trace_id=s.trace_id,
        span_id=s.span_id,
        parent_id=s.parent_id,
        name=s.name,
        kind=s.kind,
        start_unix_nano=s.start_ns,
        duration_ms=s.duration_ms,
        status=s.status,
        status_message=s.status_message,
        attributes=s.attributes,
    )


def span_from_pb(m: ops_pb2.Span) -> StoredSpan:
    return StoredSpan(
        trace_id=m.trace_id,
        span_id=m.span_id,
        parent_id=m.parent_id,
        node=m.node,
        name=m.name,
        kind=m.kind,
        start_ns=m.start_unix_nano,
        duration_ms=m.duration_ms,
        status=m.status,
        status_message=m.status_message,
        attributes=dict(m.attributes),
    )


class TraceGatherer:
    def __init__(
        self,
        node: str,
        store: SpanStore,
        peers: Mapping[str, Peer],
        flush=None,
        *,
        settle: float = 0.0,
    ) -> None:
        """``flush`` writes this process's finished spans now; ``settle`` is how long other
        processes writing the same store (a node's sibling workers) may hold theirs back."""
        self.node = node
        self._store = store
        self._peers = dict(peers)
        self._flush = flush
        self._settle = settle

    async def _written(self) -> None:
        """Wait until spans of calls that just ended are in the store."""
        if self._flush is not None:
            await asyncio.to_thread(self._flush)
        if self._settle:
            await asyncio.sleep(self._settle)

    async def local_spans(self, trace_id: str) -> list[StoredSpan]:
        await self._written()
        return await asyncio.to_thread(self._store.trace, trace_id)

    async def gather(self, trace_id: str, time_remaining: float | None) -> list[Gathered]:
        trace_id = check_trace_id(trace_id)
        allowed = budget(time_remaining)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + allowed

        async def ask(peer: Peer) -> Gathered:
            try:
                peer.admit()
            except BreakerOpen:
                return Gathered(peer.id, "failed", reason="CIRCUIT_OPEN")
            for attempt, pause in enumerate((*RETRY_BACKOFF_S, None)):
                left = deadline - loop.time()
                if left <= 0:
                    return Gathered(peer.id, "timed_out", reason="DEADLINE_EXCEEDED")
                try:
                    await peer.ensure_agreed(left)
                    reply = await peer.federation.GetSpans(
                        ops_pb2.GetTraceRequest(trace_id=trace_id),
                        timeout=left,
                        metadata=peer.metadata(),
                    )
                    peer.observe(None)
                    return Gathered(
                        peer.id, "answered", tuple(span_from_pb(s) for s in reply.spans)
                    )
                except grpc.RpcError as exc:
                    failure = failure_of(exc)
                    if pause is None or failure.code != grpc.StatusCode.UNAVAILABLE:
                        peer.observe(exc)
                    if failure.code == grpc.StatusCode.DEADLINE_EXCEEDED:
                        return Gathered(peer.id, "timed_out", reason="DEADLINE_EXCEEDED")
                    if failure.code != grpc.StatusCode.UNAVAILABLE or pause is None:
                        return Gathered(peer.id, "failed", reason=failure.reason)
                    peer.forget_agreement()
                except Exception as exc:  # noqa: BLE001 - a refusal from the handshake
                    return Gathered(peer.id, "failed", reason=getattr(exc, "reason", "UNAVAILABLE"))
                # Jittered, so nodes gathering the same trace do not retry in step.
                await asyncio.sleep(pause * (1 + attempt * 0.5) * random.uniform(0.5, 1.5))
            return Gathered(peer.id, "failed", reason="UNAVAILABLE")

        # Local and remote at once: each side may wait for its spans to be written.
        local, *remote = await asyncio.gather(
            self.local_spans(trace_id), *(ask(p) for p in self._peers.values())
        )
        return [Gathered(self.node, "answered", tuple(local)), *remote]

    async def recent(self, **filters) -> list[TraceSummary]:
        await self._written()
        return await asyncio.to_thread(self._store.recent, **filters)


def trace_to_pb(trace_id: str, gathered: list[Gathered]) -> ops_pb2.Trace:
    spans = sorted((s for g in gathered for s in g.spans), key=lambda s: (s.start_ns, s.span_id))
    return ops_pb2.Trace(
        trace_id=trace_id,
        spans=[span_to_pb(s) for s in spans],
        nodes=[
            ops_pb2.NodeGather(node=g.node, state=g.state, spans=len(g.spans), reason=g.reason)
            for g in gathered
        ],
        partial=any(g.state != "answered" for g in gathered),
    )
