"""The owner's side of catalog replication: its change feed as a bounded stream of pages.

A follower asks for the changes above the last sequence number it applied. The owner sends them
in pages (bounded, read off the event loop), then, once the follower is caught up, keeps the
stream open for ``wait`` seconds, sending a heartbeat (an empty page with the head) every
``HEARTBEAT_S`` and any new change as soon as it is written. Then the stream ends and the
follower asks again: a stream never outlives a deadline, a drain or a span, and a follower that
lost its stream loses nothing (it asks from its own cursor).

What the feed holds, and what it withholds, is the store's rule (``store.feed``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from gateway.catalog.store import AnyCatalogStore
from gateway.catalog.store.feed import ChangePage

__all__ = ["DEFAULT_PAGE", "HEARTBEAT_S", "MAX_PAGE", "ChangeFeed"]

DEFAULT_PAGE = 500
"""Changes per page when the follower names none: ~0.4 MB of messages, a few ms to read."""
MAX_PAGE = 2000
HEARTBEAT_S = 1.0
"""How often a caught-up follower hears where the feed stands (its lag is measured by it)."""
POLL_S = 0.2
"""How often a waiting stream looks for new changes (one indexed read of the feed)."""
MAX_WAIT_S = 30.0


class ChangeFeed:
    """This node's catalog as a change feed (``FollowChanges`` on the peer port)."""

    def __init__(
        self, store: AnyCatalogStore, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._clock = clock
        self._closing = False

    def close(self) -> None:
        """End every stream at its next page or poll: a draining node must not wait its whole
        grace period for followers' held streams (they ask again, elsewhere or later)."""
        self._closing = True

    async def follow(self, since: int, page_size: int, wait: float) -> AsyncIterator[ChangePage]:
        """Pages of changes above ``since``, then heartbeats and new changes for ``wait``
        seconds once caught up (at least one page always: the follower learns the feed id)."""
        size = min(max(page_size, 0) or DEFAULT_PAGE, MAX_PAGE)
        wait = min(max(wait, 0.0), MAX_WAIT_S)
        until: float | None = None
        heard = float("-inf")
        while not self._closing:
            page = await asyncio.to_thread(self._store.changes_since, since, size)
            now = self._clock()
            if page.changes:
                since = page.changes[-1].seq
                heard = now
                yield page
                continue
            if until is None:
                until = now + wait
            if now - heard >= HEARTBEAT_S:
                heard = now
                yield page  # a heartbeat: where the feed stands
            if now >= until:
                return
            await asyncio.sleep(min(POLL_S, until - now))
