"""Witnessed heads, both ends: ``HeadPublisher`` signs this node's chain head and sends it to
every peer; ``Witness`` checks and keeps the heads peers send here.

The data path never waits on either. The publisher is a background task that reads only the
writer's in-memory count on its tick; it signs a head every ``interval_s`` or once ``every``
entries have been written since the last one (whichever comes first), and only a head it has
just verified (``ChainIntegrity.check`` walks the new entries first: a broken chain is not
vouched for). Each peer has its own bounded backlog and sender: a witness that is down gets its
heads later, in order, once it answers; when the backlog is full the oldest head is dropped
(a later head covers every entry an earlier one did). A witness that keeps failing is tried
less and less often, down to once a head interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from gateway.audit.chain import format_time
from gateway.audit.heads import HeadSigner, SignedHead, check_head
from gateway.audit.integrity import ChainIntegrity
from gateway.audit.log import AuditLog
from gateway.audit.witnessed import WitnessBook
from gateway.errors import FailedPrecondition, GatewayError

__all__ = ["HeadPublisher", "Send", "Witness"]

log = logging.getLogger(__name__)

Send = Callable[[SignedHead], Awaitable[object]]
"""Deliver one head to one peer (raises when it did not arrive)."""


class HeadPublisher:
    def __init__(
        self,
        audit: AuditLog,
        signer: HeadSigner,
        witnesses: Mapping[str, Send],
        *,
        integrity: ChainIntegrity | None = None,
        interval_s: float = 30.0,
        every: int = 1000,
        backlog: int = 64,
        retry_s: float = 2.0,
        clock: Callable[[], datetime],
    ) -> None:
        self._audit = audit
        self._signer = signer
        self._witnesses = dict(witnesses)
        self._integrity = integrity
        self._interval = interval_s
        self._every = every
        self._retry = retry_s
        self._clock = clock
        self.pending: dict[str, deque[SignedHead]] = {
            p: deque(maxlen=backlog) for p in self._witnesses
        }
        self._wake = {p: asyncio.Event() for p in self._witnesses}
        self._tasks: list[asyncio.Task] = []
        self.last: SignedHead | None = None
        self.delivered: dict[str, int] = dict.fromkeys(self._witnesses, 0)
        """The highest seq each witness has confirmed."""

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="audit-heads"))
        for peer, send in self._witnesses.items():
            self._tasks.append(
                asyncio.create_task(self._deliver(peer, send), name=f"audit-heads-{peer}")
            )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # waits for them to end; a cancel of close itself still propagates
            await asyncio.wait(self._tasks)
        self._tasks.clear()

    async def publish(self) -> SignedHead | None:
        """Verify what is new, sign the head and queue it for every witness (also called by
        the tick); the head now vouched for (queued once per seq), None when there is none."""
        head: tuple[int, str] | None
        if self._integrity is not None:
            state = await asyncio.to_thread(self._integrity.check)
            if state.state == "broken":
                return None
            head = self._integrity.verified
        else:
            last = await asyncio.to_thread(self._audit.last)
            head = (last.seq, last.hash) if last is not None else None
        if head is None:
            return None
        if self.last is not None and self.last.seq == head[0]:
            return self.last
        signed = self._signer.sign(head[0], head[1], format_time(self._clock()))
        self.last = signed
        for peer, backlog in self.pending.items():
            backlog.append(signed)
            self._wake[peer].set()
        return signed

    async def _run(self) -> None:
        tick = min(1.0, self._interval)
        written, signed_at = self._audit.stats().entries_written, -float("inf")
        while True:
            now_written = self._audit.stats().entries_written
            if now_written - written >= self._every or time.monotonic() - signed_at >= (
                self._interval
            ):
                written, signed_at = now_written, time.monotonic()
                try:
                    await self.publish()
                except Exception:  # a busy disk: the next tick tries again
                    log.exception("signing the audit head of %s failed", self._signer.node)
            await asyncio.sleep(tick)

    async def _deliver(self, peer: str, send: Send) -> None:
        backlog, wake = self.pending[peer], self._wake[peer]
        delay = self._retry
        while True:
            await wake.wait()
            wake.clear()
            while backlog:
                head = backlog[0]
                try:
                    await send(head)
                except Exception as exc:  # noqa: BLE001 - a witness down: resend later
                    # Backing off to the head interval: a peer down for a day costs a few
                    # log lines an hour, not one every retry.
                    if delay == self._retry:
                        log.info("audit head %s not witnessed by %s yet: %s", head.seq, peer, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, max(self._retry, self._interval))
                    continue
                delay = self._retry
                self.delivered[peer] = max(self.delivered[peer], head.seq)
                if backlog and backlog[0] is head:
                    backlog.popleft()


class Witness:
    """Keeps the heads this node's peers send (``node``: this node, for replies and logs)."""

    def __init__(self, node: str, book: WitnessBook, *, clock: Callable[[], datetime]) -> None:
        self.node = node
        self._book = book
        self._clock = clock

    async def receive(self, caller: str, head: SignedHead, cert_pem: bytes | None) -> int:
        """Check ``head`` against ``caller``'s certificate and keep it; returns its seq."""
        if cert_pem is None:
            raise FailedPrecondition(
                "audit heads are witnessed only over mutual TLS", reason="WITNESS_NEEDS_TLS"
            )
        try:
            check_head(caller, head, cert_pem)
        except GatewayError:
            log.warning("refused an audit head %s from %s: bad signature", head.seq, caller)
            raise
        await asyncio.to_thread(self._book.keep, caller, head, format_time(self._clock()))
        return head.seq
