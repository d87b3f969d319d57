"""Concurrent load for fault tests: workers repeating one bounded action until told to stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Load"]


class Load:
    """``workers`` tasks each running ``action(worker, n)`` in a loop until ``stop()``.

    Every result is logged with the monotonic time its action started; an action is expected to
    be bounded (a deadline on every RPC), so stopping waits at most ``stop_timeout``.
    """

    def __init__(
        self, action: Callable[[int, int], Awaitable[Any]], workers: int, *, pause: float = 0.0
    ) -> None:
        self._action = action
        self._workers = workers
        self._pause = pause
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.log: list[tuple[float, Any]] = []

    async def _run(self, worker: int) -> None:
        n = 0
        while not self._stop.is_set():
            started = time.monotonic()
            result = await self._action(worker, n)
            self.log.append((started, result))
            n += 1
            if self._pause:
                await asyncio.sleep(self._pause)

    def start(self) -> Load:
        self._tasks = [asyncio.create_task(self._run(i)) for i in range(self._workers)]
        return self

    async def stop(self, stop_timeout: float = 15.0) -> list[tuple[float, Any]]:
        self._stop.set()
        async with asyncio.timeout(stop_timeout):
            await asyncio.gather(*self._tasks)
        return self.log

    def since(self, moment: float) -> list[Any]:
        return [result for started, result in self.log if started >= moment]
