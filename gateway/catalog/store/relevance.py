"""A text search's matches, counts and ranked hits, computed in numpy from per-field postings,
whichever backend holds the catalog (BM25F as ``gateway.catalog.ranking`` defines it).

A backend answers one question per query term and field: which entries hold the term in that
field (``Postings.column_ids``: FTS5 tokens marked per field on SQLite, a per-column
``tsvector`` GIN index on PostgreSQL). Everything else is array work over the catalog's
entries in id order: the match set (every term, or a synonym, in some field, within the
filters), its total and facets (one ``bincount``), and the BM25F scores of the matches with
field lengths from a ``RankTable`` (one per write generation, like the facet index).

Why here and not in the engines (measured on Jiangsu's 131,000 seeded entries, 2 loaded cores):
FTS5's ``bm25()`` reads ``%_docsize`` per matching row and uses its own collection's statistics,
which cannot be replaced by the federation's; PostgreSQL has no BM25 and ranked every match in
SQL (p50 ~119 ms). The four column reads of a term cost about what the old relevance levels
did (户籍 1.8 ms, 社会保险 4.2 ms, 医保 1.2 ms; generic terms such as 登记 23 ms), are cached
per generation, and ranking the matches in numpy adds well under a millisecond for thousands.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeGuard, runtime_checkable

import numpy as np

from gateway.catalog import ranking
from gateway.catalog.ranking import CollectionStats, TermPostings
from gateway.catalog.store.caches import ByteBudget, GenerationCache
from gateway.catalog.store.facets import FacetIndex, Moved, WrittenEntries
from gateway.catalog.textindex import QueryTerm

__all__ = [
    "CommonTerms",
    "Postings",
    "RankTable",
    "Relevance",
    "WrittenPostings",
    "build_rank_table",
    "days_since_epoch",
    "patch_rank_table",
]

_FIELDS = len(ranking.FIELDS)
#: Looking up which of the written entries hold a term costs about as much per written entry
#: (four FTS5 seeks, ~0.1 ms) as reading this many of the term's postings whole (~0.11 µs each).
_CARRIED_PER_WRITTEN = 1000
#: A kept common term's postings in one field are a bitmap over the catalog's entries when more
#: than one entry in _BITMAP_SHARE holds the term (then fewer bytes than an int32 position each).
_BITMAP_SHARE = 32
#: How many of a vocabulary's commonest terms ``keep_common`` considers (while its budget lasts).
_COMMON_LISTED = 4096
#: How many moves between write generations are remembered, so postings kept at one generation
#: are carried across several writes (not only the last). Each holds a position per entry, kept
#: as int32 (0.5 MB at 131,000 entries), and so does each of the few composed paths kept.
_SHIFTS_KEPT = 8
_PATHS_KEPT = 4
#: A term whose matches are fewer than 1/_NARROWED of its entries (other terms or filters narrow
#: it) is scored at the matches alone; otherwise its kept score at every entry is used.
_NARROWED = 16


class Postings(Protocol):
    """What ranking asks a backend's text index, inside one read snapshot."""

    def column_ids(self, term: str) -> Sequence[str | None]:
        """Per text field (``ranking.FIELDS`` order), the ids of the entries holding ``term``
        there, as comma-separated text in id order (None when none)."""
        ...


@runtime_checkable
class WrittenPostings(Protocol):
    """A backend that can say which of a few entries hold a term (a snapshot that lists the
    entries written since a generation, ``Snapshot.read_written``)."""

    def column_ids_among(self, term: str, ids: np.ndarray) -> Sequence[str | None]:
        """As ``Postings.column_ids``, among the entries ``ids`` (ascending) alone."""
        ...


@runtime_checkable
class CommonTerms(Protocol):
    """A backend whose vocabulary says which terms have the most postings."""

    def common_terms(self, limit: int) -> Sequence[tuple[str, int]]:
        """Up to ``limit`` single-token terms (``Postings.column_ids``' syntax), most postings
        over all text fields first, each with that count."""
        ...


@dataclass(frozen=True)
class _Kept:
    """A common term's postings kept compactly at one generation (``Relevance.keep_common``)."""

    generation: int
    size: int
    """How many entries the catalog held at ``generation``."""
    fields: tuple[np.ndarray, ...]
    """Per field: a bitmap over the entries (uint8, ``np.packbits``) or int32 positions."""

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self.fields)

    def positions(self) -> tuple[np.ndarray, ...]:
        return tuple(_expand(f, self.size) for f in self.fields)


def _compact(positions: np.ndarray, size: int) -> np.ndarray:
    """``positions`` (sorted, of a catalog of ``size`` entries) in the fewer bytes: a bitmap
    when dense, else int32."""
    if len(positions) * _BITMAP_SHARE > size:
        bits = np.zeros(size, dtype=bool)
        bits[positions] = True
        return np.packbits(bits)
    return positions.astype(np.int32)


def _expand(kept: np.ndarray, size: int) -> np.ndarray:
    """The sorted positions ``_compact`` kept."""
    if kept.dtype == np.uint8:
        return np.flatnonzero(np.unpackbits(kept, count=size))
    return kept.astype(np.intp)


@dataclass(frozen=True)
class RankTable:
    """Per entry (in id order, as ``FacetIndex.ranks``): its fields' lengths in index tokens and
    its publish date, at one write generation."""

    generation: int
    lengths: np.ndarray
    """Shape (entries, 4): tokens in name, department, data items, abstract."""
    days: np.ndarray
    """Publish date as days since 1970-01-01 (0 when unreadable)."""
    field_tokens: tuple[int, ...]
    """Per field, its tokens in all entries (``CollectionStats.field_tokens``)."""


def days_since_epoch(dates: Sequence[str]) -> np.ndarray:
    """ISO dates as days since 1970-01-01; a date numpy cannot read counts as 0."""
    try:
        return np.array(dates, dtype="datetime64[D]").astype(np.int64)
    except ValueError:
        out = np.zeros(len(dates), dtype=np.int64)
        for i, date in enumerate(dates):
            try:
                out[i] = np.datetime64(date, "D").astype(np.int64)
            except ValueError:
                pass
        return out


def build_rank_table(
    index: FacetIndex, ids: Sequence[int] | np.ndarray, lengths: np.ndarray, dates: Sequence[str]
) -> RankTable:
    """The table of the entries ``ids`` (ascending), which must be the facet index's."""
    return _rank_table(index, ids, lengths, days_since_epoch(dates))


def patch_rank_table(
    table: RankTable, before: FacetIndex, index: FacetIndex, written: WrittenEntries, shift: Moved
) -> RankTable:
    """``table`` (of the facet index ``before``) brought forward to ``index``, the facet
    index ``patch_facet_index`` made of ``before``, ``written`` and ``shift``: as
    ``build_rank_table`` would build it from every entry."""
    if table.generation != before.generation:
        raise LookupError(f"rank table {table.generation}, facet index {before.generation}")
    stays, at = shift.stays, shift.inserted_at
    return _rank_table(
        index,
        np.insert(before.ranks[stays], at, shift.written),
        np.insert(table.lengths[stays], at, written.lengths, axis=0),
        np.insert(table.days[stays], at, written.days),
    )


def _rank_table(
    index: FacetIndex, ids: Sequence[int] | np.ndarray, lengths: np.ndarray, days: np.ndarray
) -> RankTable:
    if not np.array_equal(np.asarray(ids, dtype=np.int64), index.ranks):
        raise LookupError(f"rank table and facet index {index.generation} list other entries")
    shaped = np.ascontiguousarray(lengths, dtype=np.int32).reshape(len(ids), _FIELDS)
    tokens = tuple(int(n) for n in shaped.sum(axis=0, dtype=np.int64))
    return RankTable(index.generation, shaped, np.asarray(days, dtype=np.int64), tokens)


def _positions(index: FacetIndex, ids: str | None) -> np.ndarray:
    if not ids:
        return np.zeros(0, dtype=np.intp)
    return index.positions(np.fromstring(ids, dtype=np.int64, sep=","))


class Relevance:
    """Postings per term and field, and each term's BM25 at its occurrences per statistics,
    cached by write generation, and the searches run on them. Thread-safe (the caches are).

    A common term (数据 is in most entries, 信息 in all) recurs in many queries, and
    ranking its hundred thousand matches was most of a slow search's cost. Its BM25 at every
    entry is kept; for a query of it alone, so is the rounded score of its ``limit``-th best
    entry; only hits whose rounded BM25 can make the page are tie-broken, and only names of the
    query's length are looked up for an exact match. On four catalogs of 131,000 entries
    (``scripts/bench_federated_search.py --entries 131000 --per-query 3``, 400 cold queries)
    that took the set's p99 from 18-19 to 8-10 ms of CPU, 信息 from 35 to 18 ms and 数据 from
    29 to 9, with the same hits and scores. 信息 is in every entry: its idf is nearly zero, so
    every match ties on BM25 and the tie-breaks order all of them.
    """

    def __init__(
        self, *, postings_cache: int, common_bytes: int = 0, cache_bytes: int | None = None
    ) -> None:
        """``postings_cache``: how many recent terms keep their postings (and scores);
        ``common_bytes``: how much memory ``keep_common`` may give the commonest terms;
        ``cache_bytes``: how much the recent terms' postings and scores, and the filters' masks,
        normalizers and paths across writes, may take together (None: bounded by count alone).
        """
        budget = ByteBudget(cache_bytes) if cache_bytes is not None else None
        arrays = _nbytes if budget is not None else None
        self._postings: GenerationCache[str, tuple[np.ndarray, ...]] = GenerationCache(
            postings_cache, budget=budget, weigh=arrays
        )
        self._common_bytes = common_bytes
        self._common: dict[str, _Kept] = {}
        self._common_used = 0
        self._chosen_at = 0  # how many entries the catalog held when the terms were chosen
        #: By the generation moved from: (the generation moved to, ``Moved.moved`` as int32).
        self._shifts: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()
        self._paths: GenerationCache[int, tuple[np.ndarray, np.ndarray]] = GenerationCache(
            _PATHS_KEPT, budget=budget, weigh=arrays
        )
        self._lock = threading.Lock()  # the common terms' choice and the shifts
        self._terms: GenerationCache[str, TermPostings] = GenerationCache(
            postings_cache, budget=budget, weigh=_term_nbytes if budget is not None else None
        )
        self._scored: GenerationCache[tuple, np.ndarray] = GenerationCache(
            postings_cache, budget=budget, weigh=arrays
        )
        self._kths: GenerationCache[tuple, float] = GenerationCache(postings_cache)
        self._masks: GenerationCache[tuple, np.ndarray] = GenerationCache(
            64, budget=budget, weigh=arrays
        )
        self._weights: GenerationCache[tuple[float, ...], np.ndarray] = GenerationCache(
            4, budget=budget, weigh=arrays
        )
        self._sizes: GenerationCache[tuple, tuple[int, tuple[int, ...]]] = GenerationCache(8)
        self._budget = budget

    @property
    def cached_bytes(self) -> int | None:
        """What the caches under ``cache_bytes`` hold now (None: no such bound)."""
        return self._budget.used if self._budget is not None else None

    def note_moved(self, moved: Moved) -> None:
        """Entries moved to a new generation (``moved``): a term whose postings are kept at
        an earlier one is carried across when next asked, rather than read again."""
        with self._lock:
            self._shifts[moved.before] = (moved.after, moved.moved.astype(np.int32))
            while len(self._shifts) > _SHIFTS_KEPT:
                self._shifts.popitem(last=False)

    def keep_common(
        self, source: Postings, index: FacetIndex, *, stop: Callable[[], bool] = bool
    ) -> int:
        """Read and keep for good the postings of the catalog's commonest terms (its
        vocabulary's, ``CommonTerms``), most postings first, in at most ``common_bytes``;
        once per store, and again once the catalog holds twice the entries it held then (the
        commonest terms of a catalog being loaded may not be those of the whole). Returns how
        many terms it keeps (0 when it did nothing).

        Why: a term's first read costs about 0.11 µs a posting, and the commonest terms
        (信息, in every entry; 数据, 登记, 社会) cost 20-110 ms across four catalogs the first
        time a search asks them, then fall out of the recent-terms cache again. Kept compactly
        (a dense field as a bitmap: 16 KB at 131,000 entries where positions took 1 MB), they
        cost a few milliseconds to expand, and are carried across writes like cached ones.
        ``stop`` is asked before each term: True ends the reading there."""
        if not isinstance(source, CommonTerms):
            return 0
        with self._lock:
            if not self.common_due(index.size):
                return 0
            self._chosen_at = index.size
            self._common, self._common_used = {}, 0
        for term, _ in source.common_terms(_COMMON_LISTED):
            if stop():
                break
            postings = self._postings.get(index.generation, term)
            if postings is None:
                postings = tuple(_positions(index, ids) for ids in source.column_ids(term))
            if not self._keep(term, index, postings):
                break
        return len(self._common)

    def common_due(self, size: int) -> bool:
        """Whether ``keep_common`` would choose terms for a catalog of ``size`` entries now."""
        return bool(self._common_bytes) and size > 0 and size >= 2 * self._chosen_at

    def _keep(self, term: str, index: FacetIndex, postings: tuple[np.ndarray, ...]) -> bool:
        """Keep ``term``'s ``postings`` (at ``index``'s generation) compactly, in place of what
        is kept of it, if the budget allows; False (and nothing kept of it) if not."""
        kept = _Kept(index.generation, index.size, tuple(_compact(p, index.size) for p in postings))
        with self._lock:
            before = self._common.get(term)
            used = self._common_used - (before.nbytes if before is not None else 0)
            if used + kept.nbytes > self._common_bytes:
                self._common.pop(term, None)
                self._common_used = used
                return False
            self._common[term] = kept
            self._common_used = used + kept.nbytes
            return True

    @property
    def common(self) -> dict[str, int]:
        """The terms ``keep_common`` keeps, each with the generation it is kept at."""
        return {term: kept.generation for term, kept in self._common.items()}

    def term(self, source: Postings, index: FacetIndex, query_term: QueryTerm) -> TermPostings:
        """Where ``query_term`` and its synonyms occur (cached by write generation)."""
        cached = self._terms.get(index.generation, query_term.key)
        if cached is not None:
            return cached
        exact = self._fields(source, index, query_term.exact)
        synonyms = [self._fields(source, index, s) for s in query_term.synonyms]
        merged = tuple(
            ranking.sorted_union([alt[f] for alt in synonyms])
            if synonyms
            else np.zeros(0, dtype=np.intp)
            for f in range(_FIELDS)
        )
        term = TermPostings(query_term.key, exact, merged, index.size)
        self._terms.put(index.generation, query_term.key, term)
        return term

    def stats(
        self,
        source: Postings,
        index: FacetIndex,
        table: RankTable,
        terms: Sequence[QueryTerm],
        allowed: list[set[int] | None] | None = None,
    ) -> CollectionStats:
        """This catalog's statistics for ``terms`` (``CollectionStats.combine`` them across
        stores for the federation's): over the entries the filters ``allowed`` select (as for
        ``search``; None: every entry)."""
        postings = [self.term(source, index, t) for t in terms]
        if allowed is None or all(ids is None for ids in allowed):
            return _stats(index, table, postings)
        chars = _chars(index, allowed)
        mask = self._mask(index, allowed, chars)
        sizes = self._sizes.get(index.generation, chars)
        if sizes is None:
            counted = table.lengths[mask].sum(axis=0, dtype=np.int64)
            sizes = (int(np.count_nonzero(mask)), tuple(int(n) for n in counted))
            self._sizes.put(index.generation, chars, sizes)
        documents, field_tokens = sizes
        df = tuple(sorted((t.key, int(np.count_nonzero(mask[t.occurrences]))) for t in postings))
        return CollectionStats(documents, field_tokens, df)

    def search(
        self,
        source: Postings,
        index: FacetIndex,
        table: RankTable,
        terms: Sequence[QueryTerm],
        allowed: list[set[int] | None],
        stats: CollectionStats | None,
        limit: int,
        facets: bool,
        floor: float | None = None,
    ) -> tuple[list[tuple[int, float]], int, dict[str, dict[str, int]]]:
        """The best ``limit`` (id, score) pairs, the total and the facets of the entries holding
        every term (or a synonym of it) in some field, within the filters ``allowed``; of the
        pairs, only those scoring at least ``floor`` when given (``SearchQuery.floor``)."""
        postings = [self.term(source, index, t) for t in terms]
        stats = stats or _stats(index, table, postings)
        matched: np.ndarray | None = None
        for term in postings:
            found = term.occurrences
            matched = found if matched is None else ranking.sorted_intersection(matched, found)
        assert matched is not None  # a search with text has terms
        mask = self.selected(index, allowed)
        if mask is not None:
            matched = matched[mask[matched]]
        total = len(matched)
        counts: dict[str, dict[str, int]] = {}
        if facets:
            per_combo = np.bincount(index.combo_at[matched], minlength=len(index.value_at[0]))
            counts = index.by_value(per_combo)
        if not total or not limit:
            return [], total, counts
        weights = self._normalizers(table, stats)
        alone = postings[0] if len(postings) == 1 else None
        if (
            alone is not None
            and total == len(alone.occurrences)  # no filter left any of its entries out
            and total > limit
            and total * ranking.DENSE_SHARE > index.size
        ):
            # A query of one common term (信息, 数据), unfiltered: its BM25 is kept, and so is
            # the rounded score of its ``limit``-th best entry, so the entries that can make the
            # page are found in one pass over the kept scores, without ranking every match.
            bm25 = self._contribution(index.generation, alone, weights, stats)
            kth = self._kth(index.generation, alone, stats, bm25, limit)
            # A superset first (rounding to kth needs bm25 ≥ (kth - 0.5) steps), then exactly.
            near = np.flatnonzero(bm25 >= (kth - 2) * ranking.SCORE_STEP)
            best = near[ranking.rounded_steps(bm25[near]) >= kth]
            matched, bm25 = matched[best], bm25[best]
        else:
            bm25 = np.zeros(total, dtype=np.float64)
            for term in postings:
                if len(matched) * _NARROWED < len(term.occurrences):
                    # Another term leaves a few of its entries: score just those (scoring them
                    # all, to keep, would cost more than this search).
                    tf = term.weighted_tf(weights, matched)
                    bm25 += ranking.bm25(tf, stats.documents, stats.frequency(term.key))
                    continue
                scored = self._contribution(index.generation, term, weights, stats)
                bm25 += _at(term.occurrences, scored, matched, index.size)
            if total > limit:
                # Only the hits whose rounded BM25 reaches the ``limit``-th best can make the
                # page (the tie-breaks add less than one step): the rest are never tie-broken.
                rounded = ranking.rounded_steps(bm25)
                kth = _kth_best(rounded, limit)
                best = np.flatnonzero(rounded >= kth)
                matched, bm25 = matched[best], bm25[best]
        exact_name = _exact_names(table, matched, terms, postings)
        scores = ranking.tie_break_score(bm25, exact_name, table.days[matched])
        if len(matched) > limit:
            # The best ``limit`` scores, and every hit tying with the last of them: which of
            # those make the page is decided below.
            kth = -np.partition(-scores, limit - 1)[limit - 1]
            best = np.flatnonzero(scores >= kth)
            matched, scores = matched[best], scores[best]
        ids = index.ranks[matched]
        # Equal scores (same BM25, name match and date) in an order fixed by the id's hash:
        # deterministic, and not code order.
        spread = (ids * 0x9E3779B1) & 0xFFFFFFFF
        order = np.lexsort((spread, -scores))[:limit]
        if floor is not None:
            order = order[scores[order] >= floor]  # a prefix: scores descend along ``order``
        hits = list(zip(ids[order].tolist(), scores[order].tolist(), strict=True))
        return hits, total, counts

    def _contribution(
        self, generation: int, term: TermPostings, weights: np.ndarray, stats: CollectionStats
    ) -> np.ndarray:
        """``term``'s BM25 contribution at each of its occurrences (aligned with
        ``term.occurrences``), under ``stats``; cached, since a common term recurs in many
        queries and its contribution is the same in each (read-only: callers must not change
        it)."""
        key = _ranked_with(term, stats)
        scored = self._scored.get(generation, key)
        if scored is None:
            tf = term.weighted_tf(weights, term.occurrences)
            scored = ranking.bm25(tf, stats.documents, stats.frequency(term.key))
            self._scored.put(generation, key, scored)
        return scored

    def _kth(
        self,
        generation: int,
        term: TermPostings,
        stats: CollectionStats,
        bm25: np.ndarray,
        limit: int,
    ) -> float:
        """The ``limit``-th best of ``ranking.rounded_steps(bm25)``, ``bm25`` being ``term``'s
        kept BM25 at every occurrence under ``stats``; cached (one number per term and limit)."""
        key = (*_ranked_with(term, stats), limit)
        kth = self._kths.get(generation, key)
        if kth is None:
            kth = _kth_best(ranking.rounded_steps(bm25), limit)
            self._kths.put(generation, key, kth)
        return kth

    def _fields(self, source: Postings, index: FacetIndex, term: str) -> tuple[np.ndarray, ...]:
        cached = self._postings.get(index.generation, term)
        if cached is None:
            common = self._common.get(term)
            if common is not None and common.generation == index.generation:
                cached = common.positions()
            else:
                cached = self._carried(source, index, term)
                if cached is None:
                    cached = tuple(_positions(index, ids) for ids in source.column_ids(term))
                if common is not None and common.generation < index.generation:
                    # A kept common term stays kept, now at this generation (while the
                    # budget holds it: the catalog may have grown).
                    self._keep(term, index, cached)
            self._postings.put(index.generation, term, cached)
        return cached

    def _carried(
        self, source: Postings, index: FacetIndex, term: str
    ) -> tuple[np.ndarray, ...] | None:
        """``term``'s postings at ``index``'s generation, carried from those kept at an earlier
        generation that the remembered moves lead from (``note_moved``): its entries that were
        not written since moved to their new positions, and the written ones that hold it looked
        up alone. None when nothing is kept to carry, or when reading the term again costs
        less: a look-up costs about as much per written entry as reading
        ``_CARRIED_PER_WRITTEN`` postings. Correct because a write changes no other entry's
        text.
        """
        if not _looks_up_written(source):
            return None
        earlier = self._earlier(index.generation, term)
        if earlier is None:
            return None
        generation, before = earlier
        path = self._path(generation, index)
        if path is None:
            return None
        moved, written = path
        if len(written) * _CARRIED_PER_WRITTEN > sum(len(p) for p in before):
            return None
        found = source.column_ids_among(term, written) if len(written) else [None] * len(before)
        carried = []
        for positions, ids in zip(before, found, strict=True):
            kept = moved[positions].astype(np.intp)
            kept = kept[kept >= 0]  # in order: the entries kept their order
            added = _positions(index, ids)
            carried.append(np.sort(np.concatenate([kept, added])) if len(added) else kept)
        return tuple(carried)

    def _earlier(self, generation: int, term: str) -> tuple[int, tuple[np.ndarray, ...]] | None:
        """The latest generation before ``generation``, along the remembered moves, at which
        ``term``'s postings are kept (recently asked, or a common term), with them."""
        with self._lock:
            into = {after: before for before, (after, _) in self._shifts.items()}
        common = self._common.get(term)
        while generation in into:
            generation = into.pop(generation)
            found = self._postings.get(generation, term)
            if found is not None:
                return generation, found
            if common is not None and common.generation == generation:
                return generation, common.positions()
        return None

    def _path(self, generation: int, index: FacetIndex) -> tuple[np.ndarray, np.ndarray] | None:
        """From ``generation`` to ``index``'s, along the remembered moves: each position's new
        position (-1: written since), and the ids of the entries written since that ``index``
        holds (ascending). Kept per pair of generations; None if the moves do not lead there."""
        cached = self._paths.get(index.generation, generation)
        if cached is not None:
            return cached
        with self._lock:
            shifts = dict(self._shifts)
        moved: np.ndarray | None = None
        at = generation
        while at != index.generation:
            shift = shifts.get(at)
            if shift is None or shift[0] > index.generation:
                return None
            after, step = shift
            moved = step if moved is None else np.where(moved >= 0, step[np.maximum(moved, 0)], -1)
            at = after
        if moved is None:
            return None
        carried = np.zeros(index.size, dtype=bool)
        carried[moved[moved >= 0]] = True
        path = (moved, index.ranks[~carried])
        self._paths.put(index.generation, generation, path)
        return path

    def _normalizers(self, table: RankTable, stats: CollectionStats) -> np.ndarray:
        averages = stats.averages()
        weights = self._weights.get(table.generation, averages)
        if weights is None:
            weights = ranking.normalizers(table.lengths, averages)
            self._weights.put(table.generation, averages, weights)
        return weights

    def selected(self, index: FacetIndex, allowed: list[set[int] | None]) -> np.ndarray | None:
        """Which entries (a mask in id order) the filters ``allowed`` select; None: all."""
        if all(ids is None for ids in allowed):
            return None
        return self._mask(index, allowed, _chars(index, allowed))

    def _mask(
        self,
        index: FacetIndex,
        allowed: list[set[int] | None],
        chars: tuple[frozenset[str] | None, ...],
    ) -> np.ndarray:
        """The mask of the entries whose facet values are ``allowed`` (cached by their
        characters, ``chars``). Computed over the catalog's combinations of facet values, one
        ``isin`` per filtered field: 0.1-0.2 ms a catalog at 131,000 entries, where a Python
        test per combination (2,119-3,009 of them) cost 1.1-3.0 ms, paid by every catalog at
        the first search with each filter after each write."""
        mask = self._masks.get(index.generation, chars)
        if mask is None:
            ok = np.ones(len(index.combo_ids), dtype=bool)
            for field, ids in enumerate(allowed):
                if ids is not None:
                    wanted = np.fromiter(ids, dtype=np.int64, count=len(ids))
                    ok &= np.isin(index.combo_ids[:, field], wanted)
            mask = ok[index.combo_at]
            self._masks.put(index.generation, chars, mask)
        return mask


#: By backend type: whether it is a ``WrittenPostings`` (checking a runtime protocol walks its
#: members, several microseconds that every catalog's search paid).
_WRITTEN_BY_TYPE: dict[type, bool] = {}


def _looks_up_written(source: Postings) -> TypeGuard[WrittenPostings]:
    kind = type(source)
    known = _WRITTEN_BY_TYPE.get(kind)
    if known is None:
        known = _WRITTEN_BY_TYPE[kind] = isinstance(source, WrittenPostings)
    return known


def _nbytes(arrays: np.ndarray | tuple[np.ndarray, ...]) -> int:
    """The bytes of ``arrays`` (one, or a tuple), each counted once."""
    if isinstance(arrays, np.ndarray):
        return arrays.nbytes
    return sum({id(a): a.nbytes for a in arrays}.values())


def _term_nbytes(term: TermPostings) -> int:
    """The bytes of ``term``'s arrays, its occurrences included (computed now, since every
    search asks them, so that what it holds is counted when it is kept)."""
    return _nbytes((*term.exact, *term.synonyms, term.occurrences))


def _kth_best(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of ``values`` (1-based; ``k`` at most their number)."""
    return float(-np.partition(-values, k - 1)[k - 1])


def _ranked_with(term: TermPostings, stats: CollectionStats) -> tuple:
    """What a term's kept scores depend on besides the write generation: the term, and the
    statistics its BM25 reads (the documents, its df, the field lengths)."""
    return (term.key, stats.documents, stats.frequency(term.key), stats.field_tokens)


def _at(positions: np.ndarray, values: np.ndarray, at: np.ndarray, size: int) -> np.ndarray:
    """The ``values`` (one per sorted position in ``positions``) at the positions ``at``, a
    subset of ``positions``; ``size``: how many entries the catalog holds."""
    if len(at) == len(positions):
        return values  # the subset is the whole set
    if len(at) * ranking.DENSE_SHARE > size:
        dense = np.zeros(size, dtype=values.dtype)
        dense[positions] = values
        return dense[at]
    return values[np.searchsorted(positions, at)]


def _exact_names(
    table: RankTable,
    matched: np.ndarray,
    terms: Sequence[QueryTerm],
    postings: list[TermPostings],
) -> np.ndarray:
    """Which of the entries at ``matched`` have a name that is exactly the query: as many
    tokens as its terms, each of them there. Only entries of the right name length are looked
    up in the terms' name postings (for a common term, a few of many thousand matches)."""
    exact = np.zeros(len(matched), dtype=bool)
    candidates = np.flatnonzero(table.lengths[matched, 0] == sum(t.tokens for t in terms))
    if len(candidates):
        at = matched[candidates]
        named = np.ones(len(candidates), dtype=bool)
        for term in postings:
            named &= ranking.member(at, term.exact[0])
        exact[candidates[named]] = True
    return exact


def _chars(index: FacetIndex, allowed: list[set[int] | None]) -> tuple[frozenset[str] | None, ...]:
    """The facet characters of the filters ``allowed``, per field (a cache key)."""
    return tuple(
        None if ids is None else frozenset(index.char_of[i] for i in ids) for ids in allowed
    )


def _stats(index: FacetIndex, table: RankTable, postings: list[TermPostings]) -> CollectionStats:
    df = tuple(sorted((term.key, len(term.occurrences)) for term in postings))
    return CollectionStats(index.size, table.field_tokens, df)
