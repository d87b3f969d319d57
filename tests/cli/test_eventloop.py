"""A node serves on uvloop when it is installed, and on asyncio's loop when told to; either
loop, once closed, drops the completions grpc.aio still hands it instead of stalling the loops
that are still running."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest
import uvloop
from grpc import aio

from gateway.cli import eventloop


def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.ENV, raising=False)

    async def which() -> type:
        return type(asyncio.get_running_loop())

    assert issubclass(eventloop.run(which()), uvloop.Loop)


def test_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV, "asyncio")

    async def which() -> bool:
        return isinstance(asyncio.get_running_loop(), uvloop.Loop)

    assert eventloop.run(which()) is False


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_thread_hand_offs_run_on_a_live_loop(monkeypatch: pytest.MonkeyPatch, choice) -> None:
    monkeypatch.setenv(eventloop.ENV, choice)

    async def hand_off() -> int:
        return await asyncio.to_thread(lambda: 7)

    assert eventloop.run(hand_off()) == 7


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_a_closed_loop_drops_a_late_callback(monkeypatch: pytest.MonkeyPatch, choice) -> None:
    monkeypatch.setenv(eventloop.ENV, choice)
    loop = eventloop.loop_factory()()
    loop.close()
    ran: list[int] = []
    assert loop.call_soon_threadsafe(ran.append, 1).cancelled()
    assert ran == []


async def test_a_closed_loop_with_a_call_in_flight_leaves_other_loops_alone() -> None:
    """grpc.aio dispatches every loop's completions from whichever loop reads its poller. A
    call left in flight on a loop that then closes completes later (its deadline passes); on a
    plain asyncio loop that completion raises inside the live loop's reader, and the completions
    queued behind it wait. Here the live loop sees no error and its own call ends on time."""
    errors: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    hole = socket.socket()  # accepts TCP, never answers HTTP/2: calls end at their deadline
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    target = f"127.0.0.1:{hole.getsockname()[1]}"
    kept: list[object] = []

    def closed_loop_with_a_call() -> None:
        async def start() -> None:
            channel = aio.insecure_channel(target)
            call = channel.unary_unary("/t.T/Call")(b"", timeout=0.3)
            kept.extend([channel, call, asyncio.ensure_future(call)])
            await asyncio.sleep(0.05)

        loop = eventloop.AsyncioLoop()
        loop.run_until_complete(start())
        loop.close()

    try:
        await asyncio.to_thread(closed_loop_with_a_call)
        channel = aio.insecure_channel(target)
        with pytest.raises(aio.AioRpcError) as ended:
            await channel.unary_unary("/t.T/Call")(b"", timeout=0.6)
        await channel.close()
    finally:
        hole.close()
    assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert errors == []
