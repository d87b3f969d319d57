"""A node's watch over audit chains, assembled in one place for ``Node``: its own chain
verified at start and as it grows (``ChainIntegrity``), the heads it signs for its peers
(``HeadPublisher``, when it has a node key) and the heads it keeps for them (``Witness``).

The start-up check walks only the entries written since the last verified checkpoint. Measured
on this 2-core box while other test suites ran (``python scripts/measure_chain_check.py
--entries 200000``, SQLite): a full walk of 200,000 entries took 38.3 s (192 µs an entry), a
check from a checkpoint 1,000 entries back 0.08 s; a node restarts as fast on a big log as on a
small one, and the full walk is left to ``yrdgw audit verify``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

from gateway._pb.yrd.v1 import exchange_pb2
from gateway.audit.heads import HeadSigner
from gateway.audit.integrity import CHECKPOINT_FILE, ChainIntegrity, ChainState
from gateway.audit.log import AuditLog
from gateway.audit.witnessed import WitnessBook
from gateway.audit.witnessing import HeadPublisher, Witness
from gateway.config import AuditSettings
from gateway.peers.channels import Peer
from gateway.peers.witness import WitnessClient
from gateway.postgres import Postgres

__all__ = ["AuditWatch"]

log = logging.getLogger(__name__)

#: How often a broken chain is checked again (for an acknowledgement taken elsewhere).
RECHECK_S = 2.0

_EXCHANGE = exchange_pb2.DESCRIPTOR.services_by_name["Exchange"].full_name


class AuditWatch:
    def __init__(
        self,
        node: str,
        audit: AuditLog,
        store: Path | Postgres,
        data_dir: Path,
        *,
        clock: Callable[[], datetime],
        health: HealthServicer,
    ) -> None:
        """``store``: where the audit log lives (the witnessed heads go beside it); ``health``:
        says whether data calls are served (``yrd.v1.Exchange`` is NOT_SERVING while the chain
        is broken and unacknowledged)."""
        self.node = node
        self._audit = audit
        self._clock = clock
        self._health = health
        self._loop = asyncio.get_running_loop()
        self.integrity = ChainIntegrity(audit, data_dir / CHECKPOINT_FILE, on_change=self._changed)
        self.book = WitnessBook(store)
        self.witness = Witness(node, self.book, clock=clock)
        self.publisher: HeadPublisher | None = None
        self._recheck: asyncio.Task | None = None

    async def check_at_start(self) -> ChainState:
        started = time.perf_counter()
        state = await asyncio.to_thread(self.integrity.check)
        log.info(
            "audit chain of %s checked in %.3f s: %s",
            self.node,
            time.perf_counter() - started,
            state.state,
        )
        await self._show(state)
        self._recheck = self._loop.create_task(self._recheck_while_broken(), name="audit-recheck")
        return state

    async def _recheck_while_broken(self) -> None:
        """A broken chain is checked again every few seconds: the operator's acknowledgement
        may have reached another worker of this node (or another replica), which moved the
        checkpoint past the break; this one then serves again too."""
        while True:
            await asyncio.sleep(RECHECK_S)
            if self.integrity.current.state == "broken":
                try:
                    await asyncio.to_thread(self.integrity.check)
                except Exception:  # a busy disk: still broken, try again later
                    log.exception("checking the audit chain of %s again failed", self.node)

    def publish(
        self, key_pem: bytes, peers: Iterable[Peer], settings: AuditSettings
    ) -> HeadPublisher:
        """Sign heads with ``key_pem`` and send them to ``peers`` from now on."""
        self.publisher = HeadPublisher(
            self._audit,
            HeadSigner(self.node, key_pem),
            {p.id: WitnessClient(p).witness for p in peers},
            integrity=self.integrity,
            interval_s=settings.head_interval_s,
            every=settings.head_every,
            clock=self._clock,
        )
        self.publisher.start()
        return self.publisher

    async def close(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            await asyncio.wait([self._recheck])  # a cancel of close itself still propagates
        if self.publisher is not None:
            await self.publisher.close()
        self.book.close()

    async def _show(self, state: ChainState) -> None:
        serving = health_pb2.HealthCheckResponse.SERVING
        if state.state == "broken":
            serving = health_pb2.HealthCheckResponse.NOT_SERVING
        await self._health.set(_EXCHANGE, serving)

    def _changed(self, state: ChainState) -> None:
        # Called from the thread that ran the check, or from the loop: health is the loop's.
        self._loop.call_soon_threadsafe(lambda: self._loop.create_task(self._show(state)))
