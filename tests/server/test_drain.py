"""A stopping node drains its calls for the grace period and answers the ones still running
UNAVAILABLE (NODE_SHUTTING_DOWN, naming the node), never CANCELLED; real grpc.aio server."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc import aio

from gateway.server.drain import Drain
from gateway.server.interceptors import Edge
from gateway.status import failure_of

GRACE = 0.8


async def serve(drain: Drain) -> tuple[aio.Server, int]:
    async def unary(request: bytes, context) -> bytes:
        await asyncio.sleep(float(request.decode()))
        return b"done"

    async def stream(request: bytes, context):
        yield b"first"
        await asyncio.sleep(float(request.decode()))
        yield b"last"

    server = aio.server(interceptors=[Edge("sh", drain=drain)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Slow",
                {
                    "Wait": grpc.unary_unary_rpc_method_handler(unary),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream),
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def test_calls_still_running_when_the_grace_ends_are_answered_unavailable() -> None:
    drain = Drain("sh")
    server, port = await serve(drain)
    async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        wait = channel.unary_unary("/test.Slow/Wait")
        quick = asyncio.ensure_future(wait(b"0.1", timeout=30))
        slow = asyncio.ensure_future(wait(b"30", timeout=30))
        stream = channel.unary_stream("/test.Slow/Stream")(b"30", timeout=30)
        assert await stream.read() == b"first"
        await asyncio.sleep(0.05)  # both unary calls are in their handlers
        started = time.monotonic()
        await drain.stop([server], GRACE)
        took = time.monotonic() - started

        assert await quick == b"done"  # finished within the grace
        with pytest.raises(aio.AioRpcError) as refused:
            await slow
        with pytest.raises(aio.AioRpcError) as refused_stream:
            await stream.read()
    assert took < GRACE + 0.5, took
    for error in (refused.value, refused_stream.value):
        failure = failure_of(error)
        assert failure.code == grpc.StatusCode.UNAVAILABLE, error
        assert (failure.reason, failure.node) == ("NODE_SHUTTING_DOWN", "sh")
        assert "shutting down" in error.details()


async def test_a_call_the_client_cancels_stays_cancelled() -> None:
    drain = Drain("sh")
    server, port = await serve(drain)
    try:
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/test.Slow/Wait")(b"30", timeout=30)
            await asyncio.sleep(0.1)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await asyncio.sleep(0.1)
            assert drain.shed() == 0  # the handler is gone: nothing left to shed
    finally:
        await server.stop(0)
