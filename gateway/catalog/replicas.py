"""This node's replicas of the other provinces' catalogs, as a search or a lookup reads them.

A replica answers for its province once it has held everything the owner had at least once
(before that, the search asks the owner, as a live search does). Its answer says how fresh it
is: when the owner made the last change applied, how long since the replica was last in sync
(the lag), and whether it is stale: the follower has lost the owner's feed, or lags more than
``stale_after`` seconds. The state is read from the replica's file (whichever worker follows
the feed wrote it), at most every ``STATE_TTL_S``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from gateway.catalog.answers import LocalAnswer, ReplicaReport
from gateway.catalog.federated import Floor, Labels, LocalCatalog
from gateway.catalog.follower import ChangeSource, Follower, FollowSettings
from gateway.catalog.model import CatalogEntry
from gateway.catalog.query import Filters
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.settings import SEARCH_CACHE_MIB
from gateway.catalog.store import CatalogStore
from gateway.catalog.store.feed import ChangePage
from gateway.catalog.store.replica import ReplicaState
from gateway.catalog.textindex import QueryTerm

__all__ = ["STALE_AFTER_S", "STATE_TTL_S", "ReplicaCatalog", "Replication"]

STALE_AFTER_S = 15.0
"""A replica whose follower has not been in sync with the owner for longer is stale (a followed
owner reports where its feed stands every second)."""
STATE_TTL_S = 0.25
"""How long a read of the replica's state serves the searches after it."""
LABELS_TTL_S = 30.0
"""How long the replica's department names serve its facet labels once the replica moved."""


class ReplicaCatalog:
    """One province's replica. Thread-safe reads; the follower writes it (``follower``)."""

    def __init__(
        self,
        province: str,
        store: CatalogStore,
        labels: Mapping[str, Mapping[str, str]],
        *,
        stale_after: float,
        synonyms: Mapping[str, tuple[str, ...]] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``labels``: the standard's facet labels (``Labels``); departments come from the
        replica's own entries. ``synonyms``: the standard's, as for this node's own catalog."""
        self.province = province
        self.store = store
        self._stale_after = stale_after
        self._clock = clock
        self._monotonic = monotonic
        self._departments: dict[str, str] = {}
        self._labelled: tuple[int, float] = (-1, float("-inf"))
        self._local = LocalCatalog(
            province, store, Labels(province, labels, self._departments), synonyms
        )
        self._state = ReplicaState()
        self._read_at = float("-inf")

    def state(self) -> ReplicaState:
        now = self._monotonic()
        if now - self._read_at >= STATE_TTL_S:
            self._state = self.store.replica_state()  # a few indexed meta rows
            self._read_at = now
        return self._state

    def report(self, *, owner_down: bool = False) -> ReplicaReport | None:
        """How fresh the replica is, or None while it has never been in sync (not to answer)."""
        state = self.state()
        if state.synced_at <= 0:
            return None
        lag = max(0.0, self._clock() - state.synced_at)
        return ReplicaReport(
            stale=owner_down or not state.connected or lag > self._stale_after,
            last_change_at=state.changed_at,
            lag_ms=round(lag * 1000, 1),
            behind=state.behind,
        )

    def collection_stats(self, terms: tuple[QueryTerm, ...]) -> CollectionStats:
        return self._local.collection_stats(terms)

    def cached_stats(self, terms: tuple[QueryTerm, ...]) -> CollectionStats | None:
        return self._local.cached_stats(terms)

    def stats_read(self, terms: tuple[QueryTerm, ...]) -> Callable[[], CollectionStats] | None:
        return self._local.stats_read(terms)

    def cached_answer(
        self, text: str, filters: Filters, limit: int, stats: CollectionStats | None, floor: Floor
    ) -> LocalAnswer | None:
        """``answer_now``'s answer if the replica's result cache holds it and its department
        names are current (on the event loop); else None."""
        if self._stale_labels() is not None:
            return None
        return self._local.cached_answer(text, filters, limit, stats, floor)

    def generation(self) -> tuple[int, int] | None:
        """The replica's write generation and the sequence its department names were read at,
        if its answers are cached and its names current (on the event loop); else None."""
        if self._stale_labels() is not None:
            return None
        generation = self._local.generation()
        return None if generation is None else (generation, self._labelled[0])

    def answer_now(
        self, text: str, filters: Filters, limit: int, stats: CollectionStats | None, floor: Floor
    ) -> LocalAnswer:
        """A federated search's part from this replica (blocking: in a thread, ``reads``)."""
        seq = self._stale_labels()
        if seq is not None:
            self._relabel(seq, self.store.department_names())
        return self._local.answer_now(text, filters, limit, stats, floor)

    def _stale_labels(self) -> int | None:
        """The replica's sequence when its department names are due to be read again; else
        None."""
        seq, at = self._labelled
        state = self.state()
        if state.seq != seq and self._monotonic() - at >= LABELS_TTL_S or seq < 0:
            return state.seq
        return None

    def _relabel(self, seq: int, names: Mapping[str, str]) -> None:
        # Never emptied on the way (a search on the event loop may be labelling its facets).
        self._departments.update(names)
        for code in [c for c in self._departments if c not in names]:
            del self._departments[code]
        self._labelled = (seq, self._monotonic())

    async def get(self, code: str) -> CatalogEntry | None:
        return await self._local.get(code)


class Replication:
    """This node's replicas of the other provinces and the followers that keep them current:
    one SQLite ``CatalogStore`` per province under ``directory``, whatever the node's own
    catalog is kept in (a replica is this node's own, so each node, and each PostgreSQL-backed
    replica of a node, follows for itself)."""

    def __init__(
        self,
        directory: Path,
        provinces: Iterable[str],
        labels: Mapping[str, Mapping[str, str]],
        *,
        stale_after: float = STALE_AFTER_S,
        settings: FollowSettings | None = None,
        synonyms: Mapping[str, tuple[str, ...]] | None = None,
        search_cache_mib: int = SEARCH_CACHE_MIB,
    ) -> None:
        """``search_cache_mib``: what each replica's search caches may hold (``CatalogStore``)."""
        directory.mkdir(parents=True, exist_ok=True)
        self._settings = settings or FollowSettings()
        self._tasks: list[asyncio.Task[None]] = []
        self.followers: dict[str, Follower] = {}
        self.catalogs: dict[str, ReplicaCatalog] = {}
        try:
            for province in provinces:
                store = CatalogStore(
                    directory / f"{province}.db", search_cache_mib=search_cache_mib
                )
                self.catalogs[province] = ReplicaCatalog(
                    province, store, labels, stale_after=stale_after, synonyms=synonyms
                )
        except BaseException:
            self.close()
            raise

    def follow(
        self,
        sources: Mapping[str, ChangeSource],
        on_page: Callable[[ChangePage, float], None] | None = None,
    ) -> None:
        """Start following each province's owner in the background (one worker of a node
        does; the others read what it writes)."""
        for province, replica in self.catalogs.items():
            follower = Follower(sources[province], replica.store, self._settings, on_page=on_page)
            self.followers[province] = follower
            self._tasks.append(asyncio.create_task(follower.run(), name=f"follow-{province}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        # A page being applied in a thread finishes first: closing a store under it crashes.
        await asyncio.gather(*(f.drain() for f in self.followers.values()))

    def ready(self) -> list[CatalogStore]:
        """The replicas that answer searches (in sync at least once), to warm at a start."""
        return [r.store for r in self.catalogs.values() if r.report() is not None]

    def close(self) -> None:
        for replica in self.catalogs.values():
            replica.store.close()
