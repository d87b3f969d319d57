"""A TCP proxy on loopback that injects faults into one link: latency, stalls and cut connections.

It forwards bytes, nothing more (TLS passes through untouched), so a peer link through it is the
real link with a fault switched on. Run it inside an event loop (``async with LinkProxy(...)``) or
on a thread of its own (``start_background`` / ``stop_background``) so it outlives test loops and
keeps serving while the caller blocks. The fault switches are safe to flip from any thread.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gateway.config import split_address
from gateway.ports import LOOPBACK

log = logging.getLogger(__name__)

__all__ = ["LinkProxy", "LinkStats"]

_CHUNK = 64 * 1024
_CONNECT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class LinkStats:
    accepted: int
    """Client connections accepted so far."""
    open: int
    """Connections currently forwarding."""
    refused: int
    """Connections closed at once (refusing, or the target did not answer)."""
    cut: int
    """Connections cut by ``cut()``."""
    bytes_up: int
    """Bytes forwarded client → target."""
    bytes_down: int
    """Bytes forwarded target → client."""


class _Direction:
    """One direction of one connection: read as fast as the sender writes, deliver each chunk
    once its latency has passed and the direction is not stalled."""

    def __init__(
        self,
        proxy: LinkProxy,
        name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        abort: Callable[[], None],
    ) -> None:
        self._proxy = proxy
        self._abort = abort
        self._name = name
        self._reader = reader
        self._writer = writer
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._wake = asyncio.Event()
        self._eof = False

    async def read(self) -> None:
        try:
            while True:
                data = await self._reader.read(_CHUNK)
                if not data:
                    break
                due = time.monotonic() + self._proxy.latency(self._name)
                self._queue.append((due, data))
                self._wake.set()
        except (ConnectionError, OSError):
            self._abort()  # a reset on one side resets the other: no half-dead pairs
        finally:
            self._eof = True
            self._wake.set()

    async def write(self) -> None:
        try:
            while True:
                if not self._queue:
                    if self._eof:
                        break
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self._proxy.flowing(self._name).wait()
                due, data = self._queue[0]
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue  # re-check the stall switch after sleeping
                self._queue.popleft()
                allowed = self._proxy.take_allowance(self._name, len(data))
                if allowed < len(data):  # the rest waits for the next allowance
                    self._queue.appendleft((due, data[allowed:]))
                    data = data[:allowed]
                    if not data:
                        continue
                self._writer.write(data)
                await self._writer.drain()
                self._proxy.count(self._name, len(data))
            if self._writer.can_write_eof():
                self._writer.write_eof()
        except (ConnectionError, OSError):
            self._abort()


class LinkProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; faults are off until switched on.

    - ``set_latency(up=, down=)``: seconds added to every chunk, per direction (``up`` is
      client → target). Pure delay: bytes still stream at full speed, each one arrives later.
    - ``stall(up=, down=)`` / ``unstall()``: hold bytes (they queue, nothing is lost) until
      released, like a peer that stopped reading or writing.
    - ``allow(direction, nbytes)``: let that many more bytes through a direction, then hold it
      again (a stream stopped at a known point, say a few pages into a long answer).
    - ``cut()``: abort every open connection at once (both ends see a reset).
    - ``refuse(True)``: close new connections as soon as they are accepted.
    """

    def __init__(self, target: str, *, name: str = "", host: str = LOOPBACK) -> None:
        split_address(target)
        self.target = target
        self.name = name or target
        self._host = host
        self._latency = {"up": 0.0, "down": 0.0}
        self._refusing = False
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._flowing: dict[str, asyncio.Event] = {}
        self._allowance: dict[str, int | None] = {"up": None, "down": None}
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task] = set()
        self._counts = {"accepted": 0, "refused": 0, "cut": 0, "up": 0, "down": 0}
        self.port = 0

    # -- address and statistics ------------------------------------------------------------------

    @property
    def address(self) -> str:
        if not self.port:
            raise RuntimeError("proxy not started")
        return f"{self._host}:{self.port}"

    def stats(self) -> LinkStats:
        c = self._counts
        return LinkStats(
            accepted=c["accepted"],
            open=len(self._conns),
            refused=c["refused"],
            cut=c["cut"],
            bytes_up=c["up"],
            bytes_down=c["down"],
        )

    # -- fault switches (any thread) -------------------------------------------------------------

    def set_latency(self, up: float = 0.0, down: float = 0.0) -> None:
        if up < 0 or down < 0:
            raise ValueError("latency must not be negative")
        self._latency = {"up": float(up), "down": float(down)}

    def stall(self, up: bool = True, down: bool = True) -> None:
        directions = [d for d, on in (("up", up), ("down", down)) if on]
        self._run(lambda: _each(self._flowing[d].clear for d in directions))

    def unstall(self) -> None:
        def flow() -> None:
            self._allowance = {"up": None, "down": None}
            _each(e.set for e in self._flowing.values())

        self._run(flow)

    def allow(self, direction: str, nbytes: int) -> None:
        """Deliver ``nbytes`` more bytes in ``direction`` (``up`` or ``down``), whatever is
        queued or still to come, then hold that direction as ``stall`` does."""
        if direction not in ("up", "down") or nbytes <= 0:
            raise ValueError("allow: direction up or down, and a positive number of bytes")

        def admit() -> None:
            self._allowance[direction] = nbytes
            self._flowing[direction].set()

        self._run(admit)

    def refuse(self, on: bool = True) -> None:
        self._refusing = on

    def cut(self) -> int:
        """Abort every open connection; returns how many were cut."""
        return self._run(self._cut_now)

    def clear(self) -> None:
        """All faults off."""
        self.set_latency(0, 0)
        self.refuse(False)
        self.unstall()

    # -- running inside an event loop ------------------------------------------------------------

    async def start(self) -> LinkProxy:
        self._loop = asyncio.get_running_loop()
        self._flowing = {"up": asyncio.Event(), "down": asyncio.Event()}
        for event in self._flowing.values():
            event.set()
        self._server = await asyncio.start_server(self._accept, self._host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        log.debug("link proxy %s: %s -> %s", self.name, self.address, self.target)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._cut_now()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> LinkProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- running on a thread of its own ----------------------------------------------------------

    def start_background(self, timeout: float = 5.0) -> LinkProxy:
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                started.set_exception(exc)
                loop.close()
                return
            started.set_result(None)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"link-proxy-{self.name}", daemon=True)
        self._thread.start()
        started.result(timeout)
        return self

    def stop_background(self, timeout: float = 5.0) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None

    # -- internals -------------------------------------------------------------------------------

    def latency(self, direction: str) -> float:
        return self._latency[direction]

    def flowing(self, direction: str) -> asyncio.Event:
        return self._flowing[direction]

    def count(self, direction: str, n: int) -> None:
        self._counts[direction] += n

    def take_allowance(self, direction: str, wanted: int) -> int:
        """How many of ``wanted`` bytes may go now (all, unless ``allow`` set a budget); an
        exhausted budget stalls the direction."""
        left = self._allowance[direction]
        if left is None:
            return wanted
        given = min(wanted, left)
        self._allowance[direction] = left - given
        if left - given <= 0:
            self._flowing[direction].clear()
        return given

    def _run(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the proxy's loop (asyncio objects are not thread-safe) and return."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("proxy not started")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or not loop.is_running():
            return fn()
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                done.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return done.result(5.0)

    def _cut_now(self) -> int:
        conns = list(self._conns)
        for client, upstream in conns:
            for writer in (client, upstream):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
        self._counts["cut"] += len(conns)
        self._conns.clear()
        return len(conns)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._counts["accepted"] += 1
        try:
            await self._forward(reader, writer)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            self._counts["refused"] += 1
            writer.transport.abort()
            return
        host, port = split_address(self.target)
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                up_reader, up_writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            self._counts["refused"] += 1
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)

        def abort() -> None:
            for w in pair:
                with contextlib.suppress(Exception):
                    w.transport.abort()

        up = _Direction(self, "up", reader, up_writer, abort)
        down = _Direction(self, "down", up_reader, writer, abort)
        try:
            await asyncio.gather(up.read(), up.write(), down.read(), down.write())
        finally:
            self._conns.discard(pair)
            for w in pair:
                with contextlib.suppress(Exception):
                    w.close()


def _each(calls: Iterable[Callable[[], None]]) -> None:
    for call in calls:
        call()
