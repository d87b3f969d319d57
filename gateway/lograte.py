"""A log line that repeats on every call (a database out of reach) written at most once per
interval: the first at once, then one per ``every_s`` carrying how many were left out, so an
outage of thousands of calls leaves a readable log and still says how many it refused."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Throttled"]


class Throttled:
    def __init__(
        self,
        logger: logging.Logger,
        every_s: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._left_out = 0

    def warning(self, msg: str, *args: object) -> bool:
        """Log ``msg % args`` at WARNING unless one went out less than ``every_s`` ago; True if
        this one was written."""
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self._every_s:
                self._left_out += 1
                return False
            left_out, self._left_out, self._last = self._left_out, 0, now
        if left_out:
            msg += " (and %d more like it in the last %.0f s)"
            args = (*args, left_out, self._every_s)
        self._log.warning(msg, *args)
        return True
