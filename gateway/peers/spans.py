"""A peer's spans of one trace (``SpanPeer`` of ``gateway.ops.traces``): an idempotent read
under the one policy; a failure is a ``PeerFailure``."""

from __future__ import annotations

from gateway._pb.yrd.v1 import ops_pb2
from gateway.errors import GatewayError
from gateway.peers import policy
from gateway.peers.channels import Peer
from gateway.peers.failures import peer_failure
from gateway.telemetry.spanstore import StoredSpan
from gateway.wire.ops import spans_from_pb


class SpansClient:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id

    async def spans(self, trace_id: str, *, timeout: float) -> list[StoredSpan]:
        request = ops_pb2.GetTraceRequest(trace_id=trace_id)
        try:
            reply = await policy.call(
                self._peer, "GetSpans", request, timeout=timeout, idempotent=True
            )
        except GatewayError as exc:
            raise peer_failure(exc) from None
        return spans_from_pb(reply)
