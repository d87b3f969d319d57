"""The fault-injection link proxy on its own, in front of a loopback echo server."""

from __future__ import annotations

import asyncio
import time

import pytest

from yrdtools.faults.proxy import LinkProxy


@pytest.fixture
async def echo():
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


async def round_trip(proxy: LinkProxy, payload: bytes = b"ping", timeout: float = 5.0):
    host, port = proxy.address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        started = time.perf_counter()
        writer.write(payload)
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(len(payload)), timeout)
        return got, time.perf_counter() - started
    finally:
        writer.close()


@pytest.mark.timeout(30)
async def test_forwards_and_adds_latency_per_direction(echo):
    async with LinkProxy(echo) as proxy:
        got, _ = await round_trip(proxy, b"x" * 200_000)
        assert got == b"x" * 200_000
        proxy.set_latency(up=0.15, down=0.1)
        got, slow = await round_trip(proxy)
        # A lower bound only: the proxy's promise is that it adds each direction's latency; how
        # much longer a loaded box takes on top is not the proxy's to promise.
        assert got == b"ping" and slow >= 0.25
        proxy.set_latency()
        stats = proxy.stats()
        assert stats.accepted == 2 and stats.bytes_up == stats.bytes_down == 200_004


@pytest.mark.timeout(30)
async def test_stall_holds_bytes_until_released(echo):
    async with LinkProxy(echo) as proxy:
        proxy.stall(up=False, down=True)
        with pytest.raises(TimeoutError):
            await round_trip(proxy, timeout=0.3)
        host, port = proxy.address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"held")
        await asyncio.sleep(0.2)
        proxy.unstall()
        assert await asyncio.wait_for(reader.readexactly(4), 2) == b"held"
        writer.close()


@pytest.mark.timeout(30)
async def test_allow_lets_exactly_that_many_bytes_through_then_holds(echo):
    async with LinkProxy(echo) as proxy:
        host, port = proxy.address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        proxy.stall(up=False, down=True)
        writer.write(b"a" * 100_000)
        await writer.drain()
        proxy.allow("down", 30_000)
        assert await asyncio.wait_for(reader.readexactly(30_000), 5) == b"a" * 30_000
        # The rest is held, whole: the next allowance delivers exactly it.
        while proxy.stats().bytes_up < 100_000:  # the echo has it all; the proxy holds it
            await asyncio.sleep(0.01)
        assert proxy.stats().bytes_down == 30_000
        proxy.allow("down", 70_000)
        assert await asyncio.wait_for(reader.readexactly(70_000), 5) == b"a" * 70_000
        proxy.unstall()
        writer.write(b"free")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"free"
        writer.close()
        with pytest.raises(ValueError):
            proxy.allow("sideways", 1)


@pytest.mark.timeout(30)
async def test_cut_and_refuse(echo):
    async with LinkProxy(echo) as proxy:
        host, port = proxy.address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"
        assert proxy.cut() == 1
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            writer.write(b"b")
            await writer.drain()
            await asyncio.wait_for(reader.readexactly(1), 2)
        writer.close()
        proxy.refuse()
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await round_trip(proxy)
        proxy.clear()
        assert (await round_trip(proxy))[0] == b"ping"
        assert proxy.stats().refused == 1 and proxy.stats().cut == 1


@pytest.mark.timeout(30)
async def test_runs_on_its_own_thread_while_the_caller_blocks(echo):
    proxy = LinkProxy(echo, name="threaded").start_background()
    try:
        proxy.set_latency(down=0.2)
        got, took = await round_trip(proxy)
        assert got == b"ping" and took >= 0.2
        proxy.stall()
        proxy.unstall()
        host, port = proxy.address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"
        assert proxy.cut() >= 1  # the first connection may still be closing
        try:
            assert await asyncio.wait_for(reader.read(1), 2) == b""
        except ConnectionError:
            pass  # a reset is as good as an end of stream here
        writer.close()
    finally:
        proxy.stop_background()
