"""A follower of one owner's change feed: keeps this node's replica of that province current.

It asks the owner for the changes above the replica's cursor, applies each page in one
transaction with the cursor (``store.replica``, in a worker thread: a page is hundreds of
entries to index and must not hold the event loop), and asks again when the owner ends the
stream. A page that brings the replica level with the owner also brings its search tables
forward (``CatalogStore.warm``), off the path of the next search. When the owner cannot be
reached it records that (the replica is then reported stale) and tries again with a growing
pause. Restarted, killed or not, it resumes from what the replica's file holds, so nothing is
applied twice and nothing is skipped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from gateway.catalog.loader import trim_heap
from gateway.catalog.store import CatalogStore
from gateway.catalog.store.feed import ChangePage
from gateway.catalog.store.replica import ReplicaState
from gateway.partial import PeerFailure

__all__ = ["ChangeSource", "Follower", "FollowSettings"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class ChangeSource(Protocol):
    """An owner's change feed as a follower reads it (over gRPC: ``gateway.peers.catalog``);
    every failure to reach it is a ``PeerFailure``."""

    id: str

    def follow_changes(
        self, since: int, *, page_size: int, wait: float
    ) -> AsyncIterator[ChangePage]: ...


@dataclass(frozen=True, slots=True)
class FollowSettings:
    page_size: int = 500
    """Changes per page asked of the owner: one transaction each on the replica."""
    wait_s: float = 10.0
    """How long the owner keeps a caught-up stream open before the follower asks again."""
    retry_s: tuple[float, float] = (0.5, 5.0)
    """First and longest pause before asking an owner that could not be reached again."""
    pause_share: float = 0.0
    """Of the time a page's apply took, how much to rest before the next (0: none): a catch-up
    that yields the CPU to the node's calls."""


class Follower:
    """Follows ``source`` into ``store``, until cancelled."""

    def __init__(
        self,
        source: ChangeSource,
        store: CatalogStore,
        settings: FollowSettings | None = None,
        *,
        on_page: Callable[[ChangePage, float], None] | None = None,
    ) -> None:
        """``on_page(page, seconds)``: each page applied and the time its apply took."""
        self.province = source.id
        self._source = source
        self._store = store
        self._settings = settings or FollowSettings()
        self._on_page = on_page
        self.state = ReplicaState()
        self._pending: asyncio.Future[Any] | None = None

    async def _store_call(self, method: Callable[..., T], /, *args: Any, **kw: Any) -> T:
        """``method`` of the store in a worker thread. Cancelling the follower does not stop a
        thread, so the last one is kept for ``drain``: the store must not close under it."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, functools.partial(method, *args, **kw))
        self._pending = future
        return await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait for the store work still running in a thread (after cancelling ``run``)."""
        if self._pending is not None and not self._pending.done():
            await asyncio.wait([self._pending])

    async def run(self) -> None:
        pause = self._settings.retry_s[0]
        while True:
            try:
                if await self._follow_once():
                    pause = self._settings.retry_s[0]
                continue
            except PeerFailure as exc:
                log.info("following %s: %s (%s)", self.province, exc.reason, exc.message)
            except asyncio.CancelledError:
                raise
            except Exception:  # a local failure must not end following for good
                log.exception("following %s failed", self.province)
            try:
                self.state = await self._store_call(
                    self._store.note_replica, connected=False, head=None
                )
            except Exception:
                log.exception("recording %s's feed as unreachable failed", self.province)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._settings.retry_s[1])

    async def _follow_once(self) -> bool:
        """One stream from the cursor; True when the owner answered."""
        state = self.state = await self._store_call(self._store.replica_state)
        answered = False
        settings = self._settings
        async for page in self._source.follow_changes(
            state.seq, page_size=settings.page_size, wait=settings.wait_s
        ):
            answered = True
            if page.feed_id != state.feed_id:
                # A first contact, or an owner whose store began a new life: start over.
                log.info("following %s from the start of feed %s", self.province, page.feed_id)
                self.state = await self._store_call(self._store.reset_replica, page.feed_id)
                return True
            if not page.changes:
                state = await self._store_call(
                    self._store.note_replica, connected=True, head=page.head
                )
            else:
                start = time.perf_counter()
                state = await self._store_call(self._store.apply_changes, page)
                took = time.perf_counter() - start
                if self._on_page is not None:
                    self._on_page(page, took)
                if state.seq >= page.head:
                    # Caught up: bring the replica's search tables forward to this page now
                    # (tens of ms at 131,000 entries), so the next search need not. Not while
                    # catching up, where the next page would move them on again at once.
                    await self._store_call(self._store.warm)
                    # The first time it is level, the replica reads its commonest terms to keep
                    # (a no-op after that until the catalog doubles; a replica in sync at the
                    # start did it then).
                    if await self._store_call(self._store.keep_common):
                        # That first time ends a catch-up (or the catalog doubled): the pages
                        # its writes left in the writer's cache and the readers', and the heap
                        # its pages took, are handed back; a node's resident set held them for
                        # good.
                        await self._store_call(self._store.release_memory)
                        await asyncio.to_thread(trim_heap)
                elif settings.pause_share > 0:
                    await asyncio.sleep(took * settings.pause_share)
            self.state = state
        return answered
