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
