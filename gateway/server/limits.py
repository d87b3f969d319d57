"""Backpressure: bounded in-flight calls per consumer province (peer) and per app.

Past its bound a caller gets RESOURCE_EXHAUSTED at once instead of queueing without limit. Each
province and each app has its own bound, so one province flooding a node uses up only its own
share and the others keep theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import ResourceExhausted


class InFlight:
    def __init__(self, limit: int, what: str) -> None:
        self._limit = limit
        self._what = what
        self._counts: defaultdict[str, int] = defaultdict(int)

    def current(self, key: str) -> int:
        return self._counts.get(key, 0)

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        # Single event loop: the check and the increment cannot interleave with another call.
        if self._counts[key] >= self._limit:
            raise ResourceExhausted(
                f"{self._what} {key} has {self._limit} calls in flight; retry later",
                reason="TOO_MANY_IN_FLIGHT",
                metadata={"limit": str(self._limit), "key": key},
            )
        self._counts[key] += 1
        try:
            yield
        finally:
            self._counts[key] -= 1
            if not self._counts[key]:
                del self._counts[key]
