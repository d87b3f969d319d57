"""A peer's catalog (``CatalogPeer`` of ``gateway.catalog.federated``): search and lookup, both
idempotent reads under the one policy. Every failure becomes a ``PeerFailure`` with the state
the federated answer reports for that province."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gateway._pb.yrd.v1 import catalog_pb2
from gateway.catalog.answers import LocalAnswer
from gateway.catalog.model import CatalogEntry
from gateway.catalog.query import Filters
from gateway.catalog.store.feed import ChangePage
from gateway.errors import GatewayError
from gateway.partial import AnswerState, PeerFailure
from gateway.peers import policy
from gateway.peers.channels import Peer
from gateway.peers.failures import peer_failure
from gateway.peers.translate import READ
from gateway.wire.catalog import entry_from_pb, local_answer_from_pb, local_search_request
from gateway.wire.replication import follow_request, page_from_pb

#: Beyond the owner's hold of a caught-up stream: time for its last page to arrive.
FOLLOW_SLACK_S = 10.0
#: How long a follower waits for its channel to the owner to connect before it tries later.
FOLLOW_CONNECT_S = 2.0


class CatalogClient:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id
        self.name = peer.name

    async def search_local(
        self, text: str, filters: Filters, limit: int, timeout: float
    ) -> LocalAnswer:
        request = local_search_request(text, filters, limit)
        try:
            reply = await policy.call(
                self._peer, "SearchLocal", request, timeout=timeout, idempotent=True
            )
        except GatewayError as exc:
            raise peer_failure(exc) from None
        return local_answer_from_pb(reply, self.id)

    async def get_local(self, code: str, timeout: float) -> CatalogEntry | None:
        request = catalog_pb2.GetRequest(code=code)
        try:
            reply = await policy.call(
                self._peer, "GetLocal", request, timeout=timeout, idempotent=True
            )
        except GatewayError as exc:
            if exc.reason == "RESOURCE_NOT_FOUND":
                return None
            raise peer_failure(exc) from None
        return entry_from_pb(reply.entry)

    async def follow_changes(
        self, since: int, *, page_size: int, wait: float
    ) -> AsyncIterator[ChangePage]:
        """The owner's change feed above ``since`` (``ChangeSource`` of
        ``gateway.catalog.follower``), until the owner ends the stream."""
        # On the feed's own connection, connected first, as background traffic: a follower
        # asking a peer that is not up (yet), or whose feed was cut, must neither trip the
        # breaker nor leave a channel backing off that the callers' searches, lookups and calls
        # go by.
        if not await self._peer.feed_ready(FOLLOW_CONNECT_S):
            raise PeerFailure(
                AnswerState.FAILED, "UNAVAILABLE", f"{self.id} is not reachable for its feed"
            )
        request = follow_request(since, page_size, wait)
        try:
            async for page in policy.stream(
                self._peer,
                "FollowChanges",
                request,
                timeout=wait + FOLLOW_SLACK_S,
                role=READ,
                stub=self._peer.feed,
                handshake=False,
                background=True,
            ):
                # Hundreds of entries: decoded off the event loop (as they will be applied).
                yield await asyncio.to_thread(page_from_pb, page)
        except GatewayError as exc:
            raise peer_failure(exc) from None
