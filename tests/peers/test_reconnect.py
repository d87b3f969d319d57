"""How long a read's retry waits for a peer's channel: a connecting channel gets the time it
needs (within the budget), a channel that keeps failing to connect is given up on sooner."""

from __future__ import annotations

import asyncio

import grpc

from gateway.peers.channels import _reconnected

READY = grpc.ChannelConnectivity.READY
IDLE = grpc.ChannelConnectivity.IDLE
CONNECTING = grpc.ChannelConnectivity.CONNECTING
FAILING = grpc.ChannelConnectivity.TRANSIENT_FAILURE


class ScriptedChannel:
    """A channel whose state changes when the test says so."""

    def __init__(self, state: grpc.ChannelConnectivity) -> None:
        self.state = state
        self.changed = asyncio.Event()
        self.connect_asked = 0

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        self.connect_asked += try_to_connect
        return self.state

    async def wait_for_state_change(self, last: grpc.ChannelConnectivity) -> None:
        while self.state == last:
            self.changed.clear()
            await self.changed.wait()

    def become(self, state: grpc.ChannelConnectivity) -> None:
        self.state = state
        self.changed.set()


def _until(loop: asyncio.AbstractEventLoop, seconds: float) -> float:
    return loop.time() + seconds


async def test_a_connecting_channel_is_waited_for_past_the_failing_limit():
    loop = asyncio.get_running_loop()
    channel = ScriptedChannel(IDLE)
    waiting = asyncio.create_task(_reconnected(channel, _until(loop, 30), failing_for=0.01))
    await asyncio.sleep(0)
    channel.become(CONNECTING)
    await asyncio.sleep(0)
    assert not waiting.done()  # still connecting: no limit but the budget applies
    channel.become(READY)
    assert await waiting is True
    assert channel.connect_asked >= 1


async def test_a_channel_that_keeps_failing_is_given_up_on_before_the_budget():
    loop = asyncio.get_running_loop()
    channel = ScriptedChannel(FAILING)
    started = loop.time()
    assert await _reconnected(channel, _until(loop, 30), failing_for=0.05) is False
    # The failing limit, not the 30 s budget, ended the wait (a wide margin for a loaded box).
    assert loop.time() - started < 10


async def test_a_channel_that_recovers_from_failing_counts_as_reconnected():
    loop = asyncio.get_running_loop()
    channel = ScriptedChannel(FAILING)
    waiting = asyncio.create_task(_reconnected(channel, _until(loop, 30), failing_for=30))
    await asyncio.sleep(0)
    channel.become(CONNECTING)
    await asyncio.sleep(0)
    assert not waiting.done()
    channel.become(READY)
    assert await waiting is True


async def test_the_budget_bounds_a_channel_that_never_connects():
    loop = asyncio.get_running_loop()
    channel = ScriptedChannel(CONNECTING)
    assert await _reconnected(channel, _until(loop, 0.05), failing_for=30) is False


async def test_a_ready_channel_needs_no_wait():
    loop = asyncio.get_running_loop()
    assert await _reconnected(ScriptedChannel(READY), _until(loop, 0), failing_for=0) is True


async def test_a_stop_that_comes_as_the_channel_changes_state_still_stops_the_wait():
    """A follower stopped just as its channel changed state (the peer stopping too) must end.
    asyncio.wait_for on Python 3.11 returned the finished wait instead and dropped the cancel:
    the follower ran on and its node's stop waited for it for ever (seen in CI)."""
    loop = asyncio.get_running_loop()
    channel = ScriptedChannel(CONNECTING)
    waiting = asyncio.create_task(_reconnected(channel, _until(loop, 30), 30))  # type: ignore[arg-type]
    while not channel.changed._waiters:  # type: ignore[attr-defined]
        await asyncio.sleep(0)
    channel.become(READY)  # the change and the cancel land in the same turn of the loop
    waiting.cancel()
    try:
        await waiting
    except asyncio.CancelledError:
        pass
    assert waiting.cancelled()
