"""A peer's catalog over gRPC: the federation's view of another node (``CatalogPeer``).

Every failure becomes a ``PeerFailure`` with the state the federated answer reports.
"""

from __future__ import annotations

import asyncio

import grpc

from gateway._pb.yrd.v1 import catalog_pb2, federation_pb2
from gateway.catalog.answers import FAILED, SKIPPED, TIMED_OUT, LocalAnswer, PeerFailure
from gateway.catalog.model import CatalogEntry
from gateway.catalog.query import Filters
from gateway.convert import entry_from_pb, facets_from_pb, filters_to_pb, hits_from_pb
from gateway.errors import GatewayError
from gateway.peers import BreakerOpen, Peer
from gateway.status import failure_of

RECONNECT_WAIT_S = 0.3
"""Longest wait for a peer's channel to reconnect before the one retry of a read."""


class GrpcCatalogPeer:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id
        self.name = peer.name

    async def search_local(
        self, text: str, filters: Filters, limit: int, timeout: float
    ) -> LocalAnswer:
        request = federation_pb2.LocalSearchRequest(
            query=text, filters=filters_to_pb(filters), limit=limit, facets=True
        )
        reply = await self._call(self._peer.federation.SearchLocal, request, timeout)
        return LocalAnswer(
            node=reply.node or self.id,
            hits=hits_from_pb(reply.results),
            total=reply.total,
            facets=facets_from_pb(reply.facets),
        )

    async def get_local(self, code: str, timeout: float) -> CatalogEntry | None:
        try:
            reply = await self._call(
                self._peer.federation.GetLocal, catalog_pb2.GetRequest(code=code), timeout
            )
        except PeerFailure as exc:
            if exc.reason == "RESOURCE_NOT_FOUND":
                return None
            raise
        return entry_from_pb(reply.entry)

    async def _call(self, method, request, timeout: float):
        """An idempotent read: skipped while the breaker is open, retried once after a
        reconnect when the peer was unreachable and time remains."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            self._peer.admit()
        except BreakerOpen as exc:
            raise PeerFailure(SKIPPED, "CIRCUIT_OPEN", str(exc)) from None
        for attempt in (0, 1):
            left = deadline - loop.time()
            if left <= 0:
                raise PeerFailure(TIMED_OUT, "DEADLINE_EXCEEDED", f"no time left to ask {self.id}")
            try:
                await self._peer.ensure_agreed(left)
                left = deadline - loop.time()  # the handshake spent part of the budget
                if left <= 0:
                    raise PeerFailure(
                        TIMED_OUT,
                        "DEADLINE_EXCEEDED",
                        f"{self.id} did not answer within {timeout * 1000:.0f} ms",
                    )
                reply = await method(request, timeout=left, metadata=self._peer.metadata())
            except asyncio.CancelledError as exc:  # the caller gave up: no verdict on the peer
                self._peer.observe(exc)
                raise
            except GatewayError as exc:  # the handshake refused (standard mismatch): alive
                self._peer.observe(None)
                raise PeerFailure(FAILED, exc.reason, exc.message) from None
            except grpc.RpcError as exc:
                failure = failure_of(exc)
                transport = not failure.node and failure.code == grpc.StatusCode.UNAVAILABLE
                if transport and attempt == 0:
                    # A restarted peer leaves our channel backing off: wait briefly for the
                    # reconnect (bounded by half the time left) and ask once more.
                    wait = min((deadline - loop.time()) * 0.5, RECONNECT_WAIT_S)
                    try:
                        ready = await self._peer.wait_ready(wait)
                    except asyncio.CancelledError as cancelled:
                        self._peer.observe(cancelled)
                        raise
                    if ready:
                        continue
                self._peer.observe(exc)
                raise _failure(self.id, failure, timeout) from None
            self._peer.observe(None)
            return reply
        raise AssertionError("unreachable")


def _failure(peer: str, failure, timeout: float) -> PeerFailure:
    if failure.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return PeerFailure(
            TIMED_OUT, "DEADLINE_EXCEEDED", f"{peer} did not answer within {timeout * 1000:.0f} ms"
        )
    if failure.node:  # the peer itself refused: its message is meant for callers
        return PeerFailure(FAILED, failure.reason, failure.message)
    # A transport failure: grpc's own text names addresses and internals; keep it out.
    what = (
        "is unreachable"
        if failure.code == grpc.StatusCode.UNAVAILABLE
        else f"failed ({failure.code.name})"
    )
    return PeerFailure(FAILED, failure.code.name, f"{peer} {what}")
