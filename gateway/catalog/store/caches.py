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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class GenerationCache(Generic[K, V]):
    """At most ``size`` values by (generation, key); ``size`` 0 keeps nothing. Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[tuple[int, K], V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, generation: int, key: K) -> V | None:
        with self._lock:
            value = self._values.get((generation, key))
            if value is not None:
                self._values.move_to_end((generation, key))
            return value

    def get_many(self, generation: int, keys: Iterable[K]) -> tuple[dict[K, V], list[K]]:
        """The values found for ``keys``, and the keys not found (in the order given)."""
        found: dict[K, V] = {}
        missing: list[K] = []
        with self._lock:
            values = self._values
            for key in keys:
                value = values.get((generation, key))
                if value is None:
                    missing.append(key)
                else:
                    values.move_to_end((generation, key))
                    found[key] = value
        return found, missing

    def put(self, generation: int, key: K, value: V) -> None:
        self.put_many(generation, ((key, value),))

    def put_many(self, generation: int, items: Iterable[tuple[K, V]]) -> None:
        if not self.size:
            return
        with self._lock:
            for key, value in items:
                self._values[(generation, key)] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
