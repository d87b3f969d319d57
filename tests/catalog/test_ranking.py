"""BM25F's arithmetic (``gateway.catalog.ranking``) as its formulas state it, to the last bit:
scores are compared exactly across backends and against longhand searches."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gateway.catalog import ranking

FIELDS = len(ranking.FIELDS)


@given(
    lengths=hnp.arrays(
        np.int32,
        st.tuples(st.integers(0, 300), st.just(FIELDS)),
        elements=st.integers(0, 5000),
    ),
    averages=st.lists(
        st.floats(0.01, 10_000, allow_nan=False, allow_infinity=False),
        min_size=FIELDS,
        max_size=FIELDS,
    ),
)
def test_normalizers_are_the_formula(lengths: np.ndarray, averages: list[float]) -> None:
    b = np.asarray(ranking.B, dtype=np.float64)
    weights = np.asarray(ranking.WEIGHTS, dtype=np.float64)
    expected = weights / ((1.0 - b) + b * (lengths.astype(np.float64) / np.asarray(averages)))
    before = lengths.copy()
    got = ranking.normalizers(lengths, averages)
    assert got.dtype == np.float64 and got.shape == lengths.shape
    assert np.array_equal(got, expected)
    assert np.array_equal(lengths, before)  # the rank table's lengths are left as they were


#: Sorted, unique positions, as postings are; sizes across both of an intersection's ways (a
#: look-up of the shorter in the longer, or a merge of two of like length).
POSTINGS = st.sets(st.integers(0, 3000), max_size=400).map(
    lambda values: np.array(sorted(values), dtype=np.intp)
)


@given(st.lists(POSTINGS, min_size=1, max_size=5))
def test_sorted_union_is_numpys(arrays: list[np.ndarray]) -> None:
    got = ranking.sorted_union(arrays)
    assert np.array_equal(got, np.unique(np.concatenate(arrays)))
    assert got.dtype == np.intp


@given(st.lists(st.integers(-(2**40), 2**40), max_size=300))
def test_unique_values_is_numpys(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    assert np.array_equal(ranking.unique_values(array.copy()), np.unique(array))


@given(POSTINGS, POSTINGS)
def test_sorted_intersection_is_numpys(a: np.ndarray, b: np.ndarray) -> None:
    expected = np.intersect1d(a, b, assume_unique=True)
    assert np.array_equal(ranking.sorted_intersection(a, b), expected)
    assert np.array_equal(ranking.sorted_intersection(b, a), expected)


def test_sorted_intersection_takes_both_ways() -> None:
    """A short array is looked up in a long one; two of like length are merged: both agree."""
    long = np.arange(0, 20_000, 3, dtype=np.intp)
    short = np.array([0, 2, 3, 9_999, 19_998], dtype=np.intp)
    assert ranking.sorted_intersection(short, long).tolist() == [0, 3, 9_999, 19_998]
    alike = np.arange(0, 20_000, 2, dtype=np.intp)
    both = ranking.sorted_intersection(alike, long)
    assert np.array_equal(both, np.arange(0, 20_000, 6, dtype=np.intp))
