"""The owner node of an interface as a home node reaches it (``OwnerNode`` of
``gateway.exchange.router``, ``InterfacePeer`` of ``gateway.exchange.catalogue``).

Interface calls consume quota and may have been served when a reply is lost, so they are never
retried; failures keep the owner's refusal intact, or name the owner (``OWNER_TIMEOUT`` /
``OWNER_UNAVAILABLE``). The owner's answer comes back as a ``RelayedResult``: its records stay
encoded and go to the app as they came. Listing interfaces is a read, retried once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway._pb.yrd.v1 import federation_pb2
from gateway.exchange.calls import Batch, Call
from gateway.exchange.catalogue import InterfaceOffer
from gateway.peers import policy
from gateway.peers.channels import Peer
from gateway.peers.translate import OWNER
from gateway.wire.exchange import (
    RelayedResult,
    batch_from_pb,
    forwarded_invoke,
    forwarded_stream,
    offer_from_pb,
    result_from_pb,
)


class ExchangeClient:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id

    async def invoke(self, app: str, call: Call, *, timeout: float, hops: int) -> RelayedResult:
        request = forwarded_invoke(app, call)
        reply = await policy.call(
            self._peer, "Invoke", request, timeout=timeout, idempotent=False, role=OWNER, hops=hops
        )
        return result_from_pb(reply)

    async def invoke_stream(
        self, app: str, call: Call, *, resume_token: str, batch_size: int, timeout: float, hops: int
    ) -> AsyncIterator[Batch]:
        request = forwarded_stream(app, call, resume_token, batch_size)
        async for batch in policy.stream(
            self._peer, "InvokeStream", request, timeout=timeout, role=OWNER, hops=hops
        ):
            yield batch_from_pb(batch)

    async def list_interfaces(self, app: str, *, timeout: float) -> list[InterfaceOffer]:
        request = federation_pb2.ForwardedListInterfaces(app=app)
        reply = await policy.call(
            self._peer, "ListInterfaces", request, timeout=timeout, idempotent=True
        )
        return [offer_from_pb(i) for i in reply.interfaces]
