"""A peer's catalog over gRPC: the federation's view of another node (``CatalogPeer``).

Every failure becomes a ``PeerFailure`` with the state the federated answer reports.
"""

from __future__ import annotations

import grpc

from gateway._pb.yrd.v1 import catalog_pb2, federation_pb2
from gateway.catalog.answers import FAILED, TIMED_OUT, LocalAnswer, PeerFailure
from gateway.catalog.model import CatalogEntry
from gateway.catalog.query import Filters
from gateway.convert import entry_from_pb, facets_from_pb, filters_to_pb, hits_from_pb
from gateway.errors import GatewayError
from gateway.peers import Peer
from gateway.status import failure_of


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
        if timeout <= 0:
            raise PeerFailure(TIMED_OUT, "DEADLINE_EXCEEDED", f"no time left to ask {self.id}")
        try:
            await self._peer.ensure_agreed(timeout)
            return await method(request, timeout=timeout, metadata=self._peer.metadata())
        except GatewayError as exc:
            raise PeerFailure(FAILED, exc.reason, exc.message) from None
        except grpc.RpcError as exc:
            failure = failure_of(exc)
            if failure.code == grpc.StatusCode.UNAVAILABLE:
                self._peer.forget_agreement()
            if failure.code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PeerFailure(
                    TIMED_OUT,
                    "DEADLINE_EXCEEDED",
                    f"{self.id} did not answer within {timeout * 1000:.0f} ms",
                ) from None
            if failure.reason == "RESOURCE_NOT_FOUND":
                raise PeerFailure(FAILED, failure.reason, failure.message) from None
            if failure.node:  # the peer itself refused: its message is meant for callers
                raise PeerFailure(FAILED, failure.reason, failure.message) from None
            # A transport failure: grpc's own text names addresses and internals; keep it out.
            what = (
                "is unreachable"
                if failure.code == grpc.StatusCode.UNAVAILABLE
                else (f"failed ({failure.code.name})")
            )
            raise PeerFailure(FAILED, failure.code.name, f"{self.id} {what}") from None
