"""Stopping a node's servers: drain in-flight calls for the grace period, then answer the calls
still running UNAVAILABLE (retry elsewhere or later) instead of letting grpc cancel them.

``grpc.aio.Server.stop(grace)`` cancels what is left when the grace ends, and a client sees
CANCELLED, which reads as "the caller gave up" and is not retried. So the node sheds them a
little before: every handler task the ``Edge`` interceptor registered is cancelled, and the Edge
turns that cancellation into an UNAVAILABLE refusal naming the node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from gateway.errors import Unavailable

#: How long before the grace ends the calls still running are answered: long enough for the
#: refusals to be written before grpc cancels what is left, even on a loaded machine.
SHED_BEFORE_S = 0.25


class Stoppable(Protocol):
    async def stop(self, grace: float | None) -> None: ...


class Drain:
    """The handler tasks of a node's calls in flight, shared by the Edges of its ports."""

    def __init__(self, node: str) -> None:
        self._node = node
        self._running: set[asyncio.Task] = set()
        self._shed: set[asyncio.Task] = set()

    def enter(self) -> asyncio.Task | None:
        """Register the calling handler's task (None outside a task)."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        return task

    def leave(self, task: asyncio.Task | None) -> None:
        if task is not None:
            self._running.discard(task)
            self._shed.discard(task)

    def refusal(self, task: asyncio.Task | None) -> Unavailable | None:
        """The refusal to answer a cancelled handler with, if the cancel was the drain's."""
        if task is None or task not in self._shed:
            return None
        return Unavailable(
            f"node {self._node} is shutting down; the call was not finished: retry",
            reason="NODE_SHUTTING_DOWN",
        )

    def shed(self) -> int:
        """Cancel every call in flight; returns how many."""
        for task in self._running:
            self._shed.add(task)
            task.cancel()
        return len(self._running)

    async def stop(self, servers: Sequence[Stoppable], grace: float) -> None:
        """Stop ``servers``: no new calls; the ones in flight have ``grace`` seconds to finish,
        and those still running shortly before it ends are answered UNAVAILABLE."""
        stopping = asyncio.ensure_future(asyncio.gather(*(s.stop(grace) for s in servers)))
        try:
            async with asyncio.timeout(max(0.0, grace - SHED_BEFORE_S)):
                await asyncio.shield(stopping)
        except TimeoutError:
            self.shed()
        await stopping
