"""Values derived from objects that are reused by identity, kept by that identity.

A store's cached answer hands out the same hits tuple for as long as it stays cached, and a
kept federated answer the same facets: what is built from one (the merge's entries, a reply's
encoding) is built once. Keyed by the object's ``id``, and holding the object itself, so that id
cannot be reused by another object while the value stands.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["IdentityMemo"]

T = TypeVar("T")
V = TypeVar("V")


class IdentityMemo(Generic[T, V]):
    """At most ``size`` values, each for one object; emptied when full. Safe to share between
    the event loop and a thread: each call is a single dict operation."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[int, tuple[T, V]] = {}

    def get(self, obj: T) -> V | None:
        kept = self._values.get(id(obj))
        return kept[1] if kept is not None and kept[0] is obj else None

    def put(self, obj: T, value: V) -> None:
        if len(self._values) >= self._size:
            self._values.clear()
        self._values[id(obj)] = (obj, value)

    def __len__(self) -> int:
        return len(self._values)
