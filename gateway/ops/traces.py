"""Gathering one trace's spans from every node of the federation (partial when one is down).

Peers are asked through ``SpanPeer`` (``gateway.peers.spans`` implements it under the one peer
call policy: breaker, budget, one retry after a reconnect).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.deadlines import budget
from gateway.errors import InvalidArgument
from gateway.partial import AnswerState, PeerFailure
from gateway.telemetry.spanstore import SpanStore, StoredSpan, TraceSummary

TRACE_ID_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Gathered:
    node: str
    state: AnswerState
    spans: tuple[StoredSpan, ...] = ()
    reason: str = ""


def check_trace_id(trace_id: str) -> str:
    value = trace_id.strip().lower()
    if not TRACE_ID_RE.match(value) or value == "0" * 32:
        raise InvalidArgument(
            "trace_id", "32 lowercase hex characters, not all zero", reason="BAD_TRACE_ID"
        )
    return value


class SpanPeer(Protocol):
    """Another node's spans of one trace; a failure is a ``PeerFailure`` saying how it ended."""

    id: str

    async def spans(self, trace_id: str, *, timeout: float) -> list[StoredSpan]: ...


class TraceGatherer:
    def __init__(
        self,
        node: str,
        store: SpanStore,
        peers: Mapping[str, SpanPeer],
        flush: Callable[[], Any] | None = None,
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

        async def ask(peer: SpanPeer) -> Gathered:
            try:
                spans = await peer.spans(trace_id, timeout=allowed)
            except PeerFailure as exc:
                return Gathered(peer.id, exc.state, reason=exc.reason)
            return Gathered(peer.id, AnswerState.ANSWERED, tuple(spans))

        # Local and remote at once: each side may wait for its spans to be written.
        local, remote = await asyncio.gather(
            self.local_spans(trace_id), asyncio.gather(*(ask(p) for p in self._peers.values()))
        )
        return [Gathered(self.node, AnswerState.ANSWERED, tuple(local)), *remote]

    async def recent(self, **filters: Any) -> list[TraceSummary]:
        await self._written()
        return await asyncio.to_thread(self._store.recent, **filters)
