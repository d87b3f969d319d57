"""The catalog store's caches: bounded, least-recently-used, keyed by write generation.

Exact, not a staleness trade: every write moves the catalog's generation, and a value is only
ever found under the generation it was computed at, so a reader on a snapshot finds only what
that snapshot would compute. Backend-neutral; the store keeps three of them:

* postings: a query term's entries per field. A second page of the same search, another filter
  on it, or a popular term then skips the one step whose cost grows with the matches.
* entries: recently returned entries, decoded. Reading a hit's row and building its
  ``CatalogEntry`` (JSON items, a frozen dataclass per item) costs ~15 µs; searches keep
  returning the same popular entries.
* results: recent searches' whole answers, so a repeated search is answered without a worker
  thread (whose hop costs more CPU than such a search's SQL).

A count alone does not bound memory: a term's postings and scores take a few hundred bytes for
a rare term and several megabytes for a common one. Caches of arrays therefore also share a
``ByteBudget``: together they hold at most its bytes, and the value used least recently among
all of them goes first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ByteBudget:
    """At most ``max_bytes`` held by the caches that share it (as their ``weigh`` counts), the
    least recently used value among all of them evicted first. Thread-safe: the caches sharing a
    budget share its lock."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.lock = threading.Lock()
        #: (cache, (generation, key)) -> bytes, least recently used first.
        self._order: OrderedDict[tuple[GenerationCache[Any, Any], tuple[int, Any]], int] = (
            OrderedDict()
        )

    def _add(self, cache: GenerationCache[Any, Any], key: tuple[int, Any], nbytes: int) -> None:
        self._order[(cache, key)] = nbytes
        self.used += nbytes

    def _touch(self, cache: GenerationCache[Any, Any], key: tuple[int, Any]) -> None:
        self._order.move_to_end((cache, key))

    def _forget(self, cache: GenerationCache[Any, Any], key: tuple[int, Any]) -> None:
        self.used -= self._order.pop((cache, key))

    def _evict(self) -> None:
        while self.used > self.max_bytes:
            (cache, key), nbytes = self._order.popitem(last=False)
            del cache._values[key]
            self.used -= nbytes


class GenerationCache(Generic[K, V]):
    """At most ``size`` values by (generation, key); ``size`` 0 keeps nothing. Thread-safe.

    With a ``budget``, each value also counts ``weigh(value)`` bytes against it, and a value
    heavier than the whole budget is not kept."""

    def __init__(
        self,
        size: int,
        *,
        budget: ByteBudget | None = None,
        weigh: Callable[[V], int] | None = None,
    ) -> None:
        if (budget is None) != (weigh is None):
            raise ValueError("a budget needs weigh, and weigh a budget")
        self.size = size
        self._values: OrderedDict[tuple[int, K], V] = OrderedDict()
        self._budget = budget
        self._weigh = weigh
        self._lock = budget.lock if budget is not None else threading.Lock()

    def get(self, generation: int, key: K) -> V | None:
        at = (generation, key)
        with self._lock:
            value = self._values.get(at)
            if value is not None:
                self._values.move_to_end(at)
                if self._budget is not None:
                    self._budget._touch(self, at)
            return value

    def get_many(self, generation: int, keys: Iterable[K]) -> tuple[dict[K, V], list[K]]:
        """The values found for ``keys``, and the keys not found (in the order given)."""
        found: dict[K, V] = {}
        missing: list[K] = []
        budget = self._budget
        with self._lock:
            values = self._values
            for key in keys:
                at = (generation, key)
                value = values.get(at)
                if value is None:
                    missing.append(key)
                else:
                    values.move_to_end(at)
                    if budget is not None:
                        budget._touch(self, at)
                    found[key] = value
        return found, missing

    def put(self, generation: int, key: K, value: V) -> None:
        self.put_many(generation, ((key, value),))

    def put_many(self, generation: int, items: Iterable[tuple[K, V]]) -> None:
        if not self.size:
            return
        budget, weigh = self._budget, self._weigh
        if budget is None or weigh is None:
            with self._lock:
                values = self._values
                for key, value in items:
                    values[(generation, key)] = value
                while len(values) > self.size:
                    values.popitem(last=False)
            return
        weighed = [(key, value, weigh(value)) for key, value in items]
        with self._lock:
            values = self._values
            for key, value, nbytes in weighed:
                at = (generation, key)
                if at in values:
                    self._drop(at)
                if nbytes > budget.max_bytes:
                    continue
                values[at] = value
                budget._add(self, at, nbytes)
            while len(values) > self.size:
                self._drop(next(iter(values)))
            budget._evict()

    def _drop(self, at: tuple[int, K]) -> None:
        del self._values[at]
        if self._budget is not None:
            self._budget._forget(self, at)
