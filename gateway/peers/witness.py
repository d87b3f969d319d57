"""A peer as the witness of this node's audit heads (``Send`` of ``gateway.audit.witnessing``):
background traffic under the one policy (it judges no peer: ``policy.background``); a failure
raises, and the publisher sends the head again later."""

from __future__ import annotations

from gateway.audit.heads import SignedHead
from gateway.peers import policy
from gateway.peers.channels import Peer
from gateway.wire.federation import head_to_pb

#: A head is small and a witness either answers at once or is down: never a long wait.
_TIMEOUT_S = 5.0


class WitnessClient:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id

    async def witness(self, head: SignedHead) -> int:
        """Send ``head``; the seq the witness confirms it keeps."""
        reply = await policy.background(
            self._peer, "WitnessHead", head_to_pb(head), timeout=_TIMEOUT_S
        )
        return int(reply.seq)
