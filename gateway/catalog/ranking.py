"""Relevance: BM25F over the catalog's weighted text fields, with collection statistics as an
explicit input, so every province's scores are computed against the same statistics.

The model (Robertson & Zaragoza's BM25F, as Lucene's ``BM25Similarity`` per field):

* a query term's weighted frequency in an entry is
  ``Σ_f w_f · tf_f / (1 - b_f + b_f · len_f / avg_f)``
  over the fields name, department, data items and abstract (``WEIGHTS``: name ≫ department ≫
  data items ≫ abstract), where ``len_f`` is the field's length in index tokens and ``avg_f``
  the collection's average;
* the term scores ``idf · tf / (k1 + tf)`` with ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``;
  an entry's score is the sum over the query's terms.

A query term is a phrase of bigrams (``textindex``), and ``tf_f`` is 1 when the phrase occurs in
the field: the backends answer "which entries have this phrase in this field" from their index
(FTS5 tokens marked per field, per-column ``tsvector``) in one pass each, where counting occurrences
would need positions per entry. Names and department names almost never repeat a phrase, and
BM25's saturation makes a second occurrence worth little. A synonym of the term counts in its
field at ``SYNONYM_WEIGHT`` of an exact occurrence (Lucene's ``SynonymQuery`` with a boost), so
an exact match ranks above a synonym match, and the term's ``df`` is that of its alternatives
together.

``CollectionStats`` is what makes scores comparable: a store ranks with the statistics it is
given (by default its own). Stores of disjoint catalogs (one per province) ``combine`` by
summing, which is what the federation's statistics are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = [
    "B",
    "FIELDS",
    "K1",
    "SYNONYM_WEIGHT",
    "WEIGHTS",
    "CollectionStats",
    "TermPostings",
    "bm25",
    "idf",
    "member",
    "rounded_steps",
    "normalizers",
    "sorted_intersection",
    "sorted_union",
    "tie_break_score",
    "unique_values",
]

#: The text fields, most telling first (the stores' column order).
FIELDS = ("name", "department", "items", "abstract")
#: BM25F field weights: a term in the name is worth ten times one in the abstract.
WEIGHTS = (10.0, 3.0, 1.5, 1.0)
K1 = 1.2
#: Length normalization per field: none for department names (their length says nothing about
#: how much of the department is about the term), half for names, Lucene's 0.75 for the rest.
B = (0.5, 0.0, 0.75, 0.75)
#: Sets of positions larger than 1/DENSE_SHARE of the catalog are worked on as one array over
#: every entry (a scatter), smaller ones by binary search (the cheaper way for each).
DENSE_SHARE = 8
#: What an occurrence of a synonym is worth against an exact occurrence in the same field.
SYNONYM_WEIGHT = 0.7


@dataclass(frozen=True)
class CollectionStats:
    """The statistics BM25 reads from a collection: how many entries, how many index tokens
    each field holds in all (averages are ``field_tokens / documents``), and per query term how
    many entries contain it (``df``, keyed by the term's text as ``textindex.QueryTerm.key``).

    Hashable (a store's answer cache is keyed by the query, statistics included)."""

    documents: int
    field_tokens: tuple[int, ...]
    df: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def combine(stats: Iterable[CollectionStats]) -> CollectionStats:
        """The statistics of the union of disjoint collections (every province's catalog):
        counts add up, term by term."""
        documents = 0
        tokens = [0] * len(FIELDS)
        df: dict[str, int] = {}
        for part in stats:
            documents += part.documents
            tokens = [a + b for a, b in zip(tokens, part.field_tokens, strict=True)]
            for term, n in part.df:
                df[term] = df.get(term, 0) + n
        return CollectionStats(documents, tuple(tokens), tuple(sorted(df.items())))

    def frequency(self, term: str) -> int:
        return dict(self.df).get(term, 0)

    def averages(self) -> tuple[float, ...]:
        """Each field's average length in tokens (1 when the collection is empty)."""
        return tuple(t / self.documents if self.documents and t else 1.0 for t in self.field_tokens)


def idf(documents: int, df: int) -> float:
    """Lucene's BM25 idf: always positive, near zero for a term in every entry."""
    return math.log(1.0 + (documents - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class TermPostings:
    """Where one query term occurs, as positions into the store's entries (sorted, unique
    arrays), per field: the term itself, and any of its synonyms."""

    key: str
    exact: tuple[np.ndarray, ...]
    synonyms: tuple[np.ndarray, ...]
    size: int
    """How many entries the store holds (positions are below it)."""

    @cached_property
    def occurrences(self) -> np.ndarray:
        """The positions of the entries holding the term or a synonym in some field (its df is
        how many there are)."""
        return _union([*self.exact, *self.synonyms], self.size)

    def weighted_tf(self, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
        """For the entries at positions ``at`` (sorted), the term's weighted frequency
        ``Σ_f w_f · tf_f / norm_f``, where a field with a synonym but not the term itself counts
        ``SYNONYM_WEIGHT``; zero where neither occurs. ``weights``: ``normalizers``' array."""
        if len(at) * DENSE_SHARE > self.size:
            # Most of the catalog: scatter into one array over every entry, then pick.
            dense = np.zeros(self.size, dtype=np.float64)
            for field, (exact, synonyms) in enumerate(zip(self.exact, self.synonyms, strict=True)):
                if len(synonyms):
                    within = np.zeros(self.size, dtype=np.float64)
                    within[synonyms] = SYNONYM_WEIGHT * weights[synonyms, field]
                    within[exact] = weights[exact, field]  # the term itself wins in its field
                    dense += within
                else:
                    dense[exact] += weights[exact, field]
            return dense[at]
        tf = np.zeros(len(at), dtype=np.float64)
        for field, (exact, synonyms) in enumerate(zip(self.exact, self.synonyms, strict=True)):
            inside = member(at, exact)
            tf[inside] += weights[at[inside], field]
            if len(synonyms):
                only = member(at, synonyms) & ~inside
                tf[only] += SYNONYM_WEIGHT * weights[at[only], field]
        return tf


def member(at: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Which of ``at`` are in the sorted ``positions``."""
    if not len(positions) or not len(at):
        return np.zeros(len(at), dtype=bool)
    found = np.searchsorted(positions, at)
    np.minimum(found, len(positions) - 1, out=found)
    return positions[found] == at


def _union(arrays: Sequence[np.ndarray], size: int) -> np.ndarray:
    present = [a for a in arrays if len(a)]
    if not present:
        return np.zeros(0, dtype=np.intp)
    if len(present) == 1:
        return present[0]
    if sum(map(len, present)) * DENSE_SHARE > size:
        mask = np.zeros(size, dtype=bool)
        for positions in present:
            mask[positions] = True
        return np.flatnonzero(mask)
    return sorted_union(present)


def sorted_union(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The sorted, unique values of ``arrays`` (each sorted and unique), as ``np.unique`` of
    them joined gives (one array: that array itself)."""
    if not arrays:
        return np.zeros(0, dtype=np.intp)
    if len(arrays) == 1:
        return arrays[0]
    return unique_values(np.concatenate(arrays))


def unique_values(values: np.ndarray) -> np.ndarray:
    """``values`` (integers, in any order) sorted, each once: ``np.unique(values)``, sorting
    ``values`` in place.

    Not ``np.unique``: since numpy 2.3 it finds unique integers by hashing them, then sorts,
    and took 14 ms for 100,000 positions where this takes 0.7 (a stable sort merges the sorted
    runs that joined postings are, then one comparison of neighbours; scripts/bench_sets.py)."""
    values.sort(kind="stable")
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


#: An intersection looks each value of the shorter array up in the longer one (``member``) when
#: the longer is at least this many times longer; otherwise it merges the two.
_LOOKUP_RATIO = 8


def sorted_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both ``a`` and ``b`` (each sorted and unique), sorted: as
    ``np.intersect1d(a, b, assume_unique=True)``, which sorts the two joined with quicksort
    every time. A short array against a long one is looked up in it (0.49 ms against 8 µs at
    300 and 90,000 positions); arrays of like length are merged by a stable sort of the runs."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if not len(short):
        return short
    if len(short) * _LOOKUP_RATIO <= len(long):
        return short[member(short, long)]
    joined = np.concatenate((a, b))
    joined.sort(kind="stable")
    return joined[:-1][joined[1:] == joined[:-1]]


def normalizers(lengths: np.ndarray, averages: Sequence[float]) -> np.ndarray:
    """Per entry and field, ``w_f / (1 - b_f + b_f · len_f / avg_f)`` (entries × fields).

    In place, in that order of operations (so to the last bit what the formula gives): one
    array instead of five temporaries, 5.0 -> 2.9 ms at 131,000 entries. A catalog pays it at
    the first search after any catalog of the federation changes, the averages with it."""
    avg = np.asarray(averages, dtype=np.float64)
    b = np.asarray(B, dtype=np.float64)
    norm = lengths.astype(np.float64)
    norm /= avg
    norm *= b
    norm += 1.0 - b
    return np.divide(np.asarray(WEIGHTS, dtype=np.float64), norm, out=norm)


def bm25(tf: np.ndarray, documents: int, df: int) -> np.ndarray:
    """One term's BM25 contribution for weighted frequencies ``tf``."""
    return idf(documents, df) * tf / (K1 + tf)


#: Scores are rounded to this step; what follows only orders hits whose rounded scores tie.
SCORE_STEP = 1e-6


def rounded_steps(bm25: np.ndarray) -> np.ndarray:
    """BM25 in whole ``SCORE_STEP``s, at least one: what ``tie_break_score`` keeps of it (a
    search compares these to find the hits that can make its page)."""
    return np.maximum(np.round(bm25 / SCORE_STEP), 1.0)


def tie_break_score(bm25: np.ndarray, exact_name: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The score a hit reports: BM25 rounded to ``SCORE_STEP``, plus less than one step for
    the tie-breaks a user accepts: the name is exactly the query (half a step), then recency
    (the publish date, up to 0.4 of a step). Never code order, and the same on every node, so
    the federated merge by score keeps them."""
    rounded = rounded_steps(bm25) * SCORE_STEP
    recency = np.clip(days, 0, 39_999) / 40_000 * 0.4 * SCORE_STEP
    return rounded + exact_name * (0.5 * SCORE_STEP) + recency
