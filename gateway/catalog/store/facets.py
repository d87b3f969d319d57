"""The facet index: every entry's facets at one write generation, in numpy, for counting a match
set, and the filters read against it. Backend-neutral: it is built from rows any store can list
(the facet-value dictionary, and each entry's value ids in id order).

Why numpy: counting a match set is array work (parse the ids, find each one's position, one
``bincount``), about 45 ns a match, where a dictionary lookup per match cost 250 ns and more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from gateway.catalog.model import FACET_FIELDS
from gateway.catalog.query import Filters
from gateway.catalog.ranking import member

#: Ids are found by their runs of consecutive ids while there are at least this many ids a run
#: on average; otherwise by binary search over all of them. (A replica's 9,495 runs of 12.6 ids
#: took 106 µs for 5,000 ids against 211 by binary search, and as long for 500.)
_IDS_PER_RUN = 4


@dataclass(frozen=True)
class FacetIndex:
    """Every entry's facets at one write generation, shaped for counting a match set.

    Entries with the same value in every facet field share a combination, numbered. Counting a
    match set (``group_concat(rowid)`` text) is array work in numpy: parse the ids, find each
    one's position among all ids (``ranks``), count the positions' combinations with one
    ``bincount``, then each field's values from the combination counts. About 45 ns a match,
    where a dictionary lookup per match cost 250 ns and more; the cost does not grow with the
    number of combinations or values.
    """

    generation: int
    values: tuple[tuple[tuple[str, str], ...], ...]
    """Per facet field: (character, value) pairs."""
    ids: dict[tuple[str, str], int]
    """(field, value) -> facet-value id (for the ``tags`` filter tokens)."""
    everything: dict[str, dict[str, int]]
    """Facet counts over all entries (the no-text, no-filter search)."""
    combos: dict[str, int] = field(default_factory=dict)
    """Facet characters of a combination (one per field) -> how many entries have exactly it."""
    char_of: dict[int, str] = field(default_factory=dict)
    """Facet-value id -> its character in its field."""
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Every entry id, ascending (for the rank of an id: how far into the catalog it is)."""
    combo_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    """Per rank: the number of the entry's combination."""
    value_at: tuple[np.ndarray, ...] = ()
    """Per facet field, per combination number: the position of its value in ``values``."""
    combo_ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    """Per combination number: its facet-value id in each field (``FACET_FIELDS`` order)."""
    universe: tuple[int, ...] = ()
    """Facet-value ids every entry has one of (the values of the field with fewest values):
    a filter on them selects the whole catalog."""
    selected: dict[tuple[frozenset[str] | None, ...], tuple[int, dict[str, dict[str, int]]]] = (
        field(default_factory=dict)
    )
    """``within`` answers by filter (a handful in practice; emptied if it grows past 256).
    Shared and read-only: callers must not change the facet dicts."""

    @property
    def size(self) -> int:
        """How many entries the catalog holds at this generation."""
        return len(self.ranks)

    def count(self, ids: str) -> tuple[int, dict[str, dict[str, int]]]:
        """How many entries ``ids`` (comma-separated entry ids, as ``group_concat(rowid)``
        yields them) names, and its facet counts: per field, value -> count, in the order of
        ``values``, values counted zero and the empty value (no mark) left out."""
        rows = np.fromstring(ids, dtype=np.int64, sep=",")
        at = self.positions(rows)
        per_combo = np.bincount(self.combo_at[at], minlength=len(self.value_at[0]))
        return len(rows), self.by_value(per_combo)

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """The positions in ``ranks`` of the entry ids ``rows`` (ascending). LookupError if one
        is not in this index: a match set and the index come from one read snapshot, so never
        expected."""
        runs = self._runs
        if runs is None:
            at = np.searchsorted(self.ranks, rows)
            np.minimum(at, len(self.ranks) - 1, out=at)
            found = bool(len(self.ranks)) and np.array_equal(self.ranks[at], rows)
        else:
            starts, first, lengths = runs
            run = np.searchsorted(starts, rows, side="right") - 1
            at = rows - starts[run]  # before the first run: run -1, and a negative offset
            found = bool((at >= 0).all()) and bool((at < lengths[run]).all())
            at += first[run]
        if len(rows) and not found:
            raise LookupError(f"ids name entries not in facet index {self.generation}")
        return at

    @cached_property
    def _runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The ids as runs of consecutive ids: each run's first id, its position, its length;
        None when the runs hold fewer than ``_IDS_PER_RUN`` ids each on average (ids are then
        looked up in ``ranks`` by binary search).

        An id is a resource code in code order (``schema``), so a province's catalog is a few
        hundred runs of consecutive ids (101 in a seeded one of 131,000 entries; a replica of it,
        which holds only what the owner publishes, about 9,500), and finding an id's run is a
        binary search in a smaller array that stays in the cache, then its position is
        arithmetic: a fifth to a half of a binary search over all ids and its check, which was
        0.3 ms of a cold search's 6 (scripts/bench_sets.py)."""
        size = len(self.ranks)
        if not size:
            return None
        first = np.flatnonzero(np.diff(self.ranks) != 1) + 1
        if (len(first) + 1) * _IDS_PER_RUN > size:
            return None
        first = np.concatenate((np.zeros(1, dtype=first.dtype), first))
        lengths = np.diff(np.append(first, size))
        return self.ranks[first], first, lengths

    def by_value(self, per_combo: np.ndarray) -> dict[str, dict[str, int]]:
        facets: dict[str, dict[str, int]] = {}
        for name, labels, value_at in zip(FACET_FIELDS, self._labels, self.value_at, strict=True):
            counts = np.bincount(value_at, weights=per_combo, minlength=len(labels))
            # Only the values counted: a match set has a few of a field's hundred departments.
            counted = np.flatnonzero(counts)
            numbers = counts[counted].astype(np.int64).tolist()
            facets[name] = {
                labels[i]: n for i, n in zip(counted.tolist(), numbers, strict=True) if labels[i]
            }
        return facets

    @cached_property
    def _labels(self) -> tuple[tuple[str, ...], ...]:
        """Per facet field, its values in the order of ``values``."""
        return tuple(tuple(value for _, value in pairs) for pairs in self.values)

    def within(
        self, allowed: Sequence[frozenset[str] | None]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """Total and facet counts of the entries whose facet characters are in ``allowed``
        (per field; None = any): what a filter selects before any text narrows it."""
        if not any(allowed):
            return self.size, self.everything
        key = tuple(allowed)
        cached = self.selected.get(key)
        if cached is None:
            if len(self.selected) >= 256:
                self.selected.clear()
            cached = self.selected[key] = self._within(allowed)
        return cached

    def _within(
        self, allowed: Sequence[frozenset[str] | None]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        width = len(FACET_FIELDS)
        per_field: list[dict[str, int]] = [{} for _ in FACET_FIELDS]
        total = 0
        for chars, n in self.combos.items():
            if all(a is None or chars[i] in a for i, a in enumerate(allowed)):
                total += n
                for i in range(width):
                    counts = per_field[i]
                    counts[chars[i]] = counts.get(chars[i], 0) + n
        facets = {
            name: {value: counts[char] for char, value in pairs if char in counts and value}
            for name, pairs, counts in zip(FACET_FIELDS, self.values, per_field, strict=True)
        }
        return total, facets


def filter_ids(index: FacetIndex, filters: Filters) -> list[set[int] | None] | None:
    """Per facet field, the ids of the values the filters allow (None = no filter on it); None
    when a filtered field names only values no entry has."""
    wanted = zip(
        FACET_FIELDS,
        (
            filters.categories,
            filters.grades,
            filters.share_types,
            filters.departments,
            filters.update_cycles,
            filters.data_marks,
        ),
        strict=True,
    )
    clauses: list[set[int] | None] = []
    for name, values in wanted:
        if not values:
            clauses.append(None)
            continue
        ids = {index.ids[(name, v)] for v in values if (name, v) in index.ids}
        if name == "category":
            # A one-digit 类 stands for every category under it.
            classes = {v for v in values if len(v) == 1}
            ids |= {i for (f, v), i in index.ids.items() if f == name and v[:1] in classes}
        if not ids:
            return None
        clauses.append(ids)
    return clauses


def filter_chars(index: FacetIndex, filters: Filters) -> list[frozenset[str] | None]:
    """Per facet field, the characters of the values the filters allow (None = any)."""
    wanted = filter_ids(index, filters) or []
    return [
        None if ids is None else frozenset(map(index.char_of.__getitem__, ids)) for ids in wanted
    ]


def _facet_char(n: int) -> str:
    """The ``n``-th character of a field's values: small code points keep the strings compact,
    and surrogates (which are not characters) are skipped."""
    return chr(n + 1 if n + 1 < 0xD800 else n + 1 + 0x800)


def build_facet_index(
    generation: int,
    facet_values: Iterable[tuple[int, str, str]],
    entry_facets: np.ndarray | Sequence[Sequence[int]],
) -> FacetIndex:
    """The index from the facet-value dictionary (id, field, value rows) and every entry's
    facets (id, then one value id per ``FACET_FIELDS`` field; rows in id order), as rows or as
    one integer array of that shape (``FtsIndex`` reads it column by column)."""
    ids: dict[tuple[str, str], int] = {}
    chars: dict[int, str] = {}
    values: list[list[tuple[str, str]]] = [[] for _ in FACET_FIELDS]
    for value_id, name, value in facet_values:
        ids[(name, value)] = value_id
        pairs = values[FACET_FIELDS.index(name)]
        chars[value_id] = _facet_char(len(pairs))
        pairs.append((chars[value_id], value))
    table = np.asarray(entry_facets, dtype=np.int64).reshape(-1, 1 + len(FACET_FIELDS))
    combo_at, combo_ids = _combinations(table[:, 1:])
    # A combination's characters, in the order of its number (its first entry's rank).
    numbers = ["".join(map(chars.__getitem__, row)) for row in combo_ids.tolist()]
    ranks = table[:, 0].copy()
    if len(ranks) > 1 and not bool(np.all(ranks[1:] > ranks[:-1])):
        raise LookupError(f"facet index {generation}: entries not in id order")
    per_combo = np.bincount(combo_at, minlength=len(numbers))
    # A field's characters are numbered in the order of its values: the position is the number.
    positions = [{char: i for i, (char, _) in enumerate(pairs)} for pairs in values]
    value_at = tuple(
        np.array([where[key[i]] for key in numbers], dtype=np.intp)
        for i, where in enumerate(positions)
    )
    # Every entry has exactly one value per field: the field with fewest values gives the
    # cheapest filter selecting all of them.
    name, pairs = min(zip(FACET_FIELDS, values, strict=True), key=lambda field: len(field[1]))
    index = FacetIndex(
        generation=generation,
        values=tuple(tuple(pairs) for pairs in values),
        ids=ids,
        everything={},
        combos=dict(zip(numbers, per_combo.tolist(), strict=True)),
        char_of=chars,
        ranks=ranks,
        combo_at=combo_at,
        value_at=value_at,
        combo_ids=combo_ids,
        universe=tuple(ids[(name, value)] for _, value in pairs),
    )
    return dataclasses.replace(index, everything=index.by_value(per_combo))


@dataclass(frozen=True)
class WrittenEntries:
    """The entries written (inserted, replaced or deleted) since a generation, as one later
    snapshot holds them: what a reader needs to bring that generation's facet index and rank
    table forward to the snapshot's (``moved``, ``patch_facet_index``,
    ``relevance.patch_rank_table``)."""

    generation: int
    """The snapshot's write generation."""
    ids: np.ndarray
    """Every written entry's id, ascending, whether the snapshot still holds it or not."""
    facets: np.ndarray
    """The written entries the snapshot holds, ascending by id: one row each of the id and
    its facet-value ids (``FACET_FIELDS`` order), as ``build_facet_index`` reads them."""
    lengths: np.ndarray
    """Per row of ``facets``: its text fields' lengths in index tokens (``RankTable``)."""
    days: np.ndarray
    """Per row of ``facets``: its publish date in days since 1970-01-01 (``RankTable``)."""
    facet_values: tuple[tuple[int, str, str], ...]
    """The snapshot's whole facet-value dictionary (id, field, value rows)."""


@dataclass(frozen=True)
class Moved:
    """Where each entry of one write generation's facet index sits at a later one, brought
    forward from the entries written between them: what brings the facet index, the rank table
    and a term's kept postings across (``patch_facet_index``, ``relevance``)."""

    before: int
    after: int
    moved: np.ndarray
    """Per position at ``before``: the entry's position at ``after``, or -1 if it was written."""
    written: np.ndarray
    """The ids of the written entries held at ``after``, ascending."""
    inserted_at: np.ndarray
    """Per id of ``written``: where it goes among the entries not written (``np.insert``)."""

    @property
    def stays(self) -> np.ndarray:
        """Which positions at ``before`` hold an entry that was not written (a mask)."""
        return self.moved >= 0


def moved(index: FacetIndex, written: WrittenEntries) -> Moved:
    """``Moved`` from ``index`` to ``written.generation``: an entry not written keeps its order
    and moves up by the written entries now held before it."""
    stays = ~member(index.ranks, written.ids)
    kept = index.ranks[stays]
    held = written.facets[:, 0].copy()
    to = np.full(len(index.ranks), -1, dtype=np.intp)
    to[stays] = np.arange(len(kept)) + np.searchsorted(held, kept)
    inserted_at = np.searchsorted(kept, held)
    return Moved(index.generation, written.generation, to, held, inserted_at)


def patch_facet_index(index: FacetIndex, written: WrittenEntries, shift: Moved) -> FacetIndex:
    """``index`` brought forward to ``written.generation`` (``shift``: ``moved(index,
    written)``): the entries written since taken out, the ones the snapshot holds put back with
    their facets, then built as ``build_facet_index`` builds it from every entry (so it equals a
    full read: same combination numbers, same counts), at about a tenth of a full read's cost."""
    table = np.column_stack([index.ranks, index.combo_ids[index.combo_at]])[shift.stays]
    table = np.insert(table, shift.inserted_at, written.facets, axis=0)
    return build_facet_index(written.generation, written.facet_values, table)


def _combinations(value_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of facet-value ids (one row per entry), the number of its combination, and the
    value ids of each combination by number; combinations are numbered in the order of their
    first row. Array work: one key per row (the ids in a mixed radix), one sort."""
    rows, width = value_ids.shape
    if not rows:
        return np.zeros(0, dtype=np.intp), np.zeros((0, width), dtype=np.int64)
    low, radix = int(value_ids.min()), int(value_ids.max()) + 1
    if low >= 0 and radix**width < 2**62:
        keys = np.zeros(rows, dtype=np.int64)
        for column in range(width):
            keys = keys * radix + value_ids[:, column]
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    else:  # ids too large for one int64 key (never with a real dictionary): rows as keys
        _, first, inverse = np.unique(value_ids, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    number = np.empty(len(order), dtype=np.intp)
    number[order] = np.arange(len(order), dtype=np.intp)
    return number[inverse.reshape(-1)], value_ids[first[order]]
