"""Forwarding a call to the interface's owner node, keeping the owner's refusal intact.

Interface calls consume quota, so they are never retried; a transport failure becomes
UNAVAILABLE / DEADLINE_EXCEEDED naming the owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from gateway._pb.yrd.v1 import exchange_pb2, federation_pb2
from gateway.convert import batch_from_pb, call_to_pb, result_from_pb
from gateway.errors import (
    DeadlineExceeded,
    GatewayError,
    Unavailable,
)
from gateway.exchange.calls import Batch, Call, CallResult
from gateway.peers import BreakerOpen, Peer
from gateway.status import failure_of


def error_from_rpc(exc: grpc.RpcError, peer: str) -> GatewayError:
    """The owner's refusal as our own GatewayError, still naming the node that refused."""
    failure = failure_of(exc)
    if failure.node:  # the owner answered with a status of its own
        message = failure.message.removeprefix(f"[{failure.node}] ")
        extra = {k: v for k, v in failure.metadata.items() if k not in ("node", "field")}
        return GatewayError.relayed(
            failure.code,
            message,
            reason=failure.reason,
            node=failure.node,
            field=failure.metadata.get("field"),
            metadata=extra,
        )
    if failure.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(
            f"owner node {peer} did not answer in time", reason="OWNER_TIMEOUT", node=peer
        )
    return Unavailable(f"owner node {peer} is unreachable", reason="OWNER_UNAVAILABLE", node=peer)


class RemoteExchange:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id

    async def invoke(self, app: str, call: Call, *, timeout: float, hops: int) -> CallResult:
        if timeout <= 0:
            raise self._out_of_time()
        self._admit()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await self._peer.ensure_agreed(timeout)
            left = deadline - loop.time()  # the handshake spent part of the budget
            if left <= 0:
                raise self._out_of_time()
            reply = await self._peer.federation.Invoke(
                federation_pb2.ForwardedInvoke(app=app, call=call_to_pb(call)),
                timeout=left,
                metadata=self._peer.metadata(hops),
            )
        except grpc.RpcError as exc:
            # Never retried: an interface call consumes quota and may have been served.
            self._peer.observe(exc)
            raise error_from_rpc(exc, self.id) from None
        except asyncio.CancelledError as exc:
            self._peer.observe(exc)
            raise
        self._peer.observe(None)
        return result_from_pb(reply)

    def _out_of_time(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no time left to reach owner node {self.id}", reason="OWNER_TIMEOUT", node=self.id
        )

    def _admit(self) -> None:
        try:
            self._peer.admit()
        except BreakerOpen as exc:
            raise Unavailable(
                f"owner node {self.id} is failing; not called (circuit open, "
                f"next probe in {exc.retry_in:.1f} s)",
                reason="OWNER_UNAVAILABLE",
                node=self.id,
                metadata={"breaker": "open"},
            ) from None

    async def invoke_stream(
        self, app: str, call: Call, *, resume_token: str, batch_size: int, timeout: float, hops: int
    ) -> AsyncIterator[Batch]:
        if timeout <= 0:
            raise self._out_of_time()
        self._admit()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await self._peer.ensure_agreed(timeout)
            timeout = max(0.001, deadline - loop.time())
            stream = self._peer.federation.InvokeStream(
                federation_pb2.ForwardedInvokeStream(
                    app=app,
                    call=exchange_pb2.InvokeStreamRequest(
                        call=call_to_pb(call), resume_token=resume_token, batch_size=batch_size
                    ),
                ),
                timeout=timeout,
                metadata=self._peer.metadata(hops),
            )
            async for batch in stream:
                yield batch_from_pb(batch)
        except grpc.RpcError as exc:
            self._peer.observe(exc)
            raise error_from_rpc(exc, self.id) from None
        except asyncio.CancelledError as exc:
            self._peer.observe(exc)
            raise
        self._peer.observe(None)
