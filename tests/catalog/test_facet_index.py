"""The facet index built in numpy from every entry's facet-value ids, against a longhand
reading of the same rows (one dictionary lookup per entry, as it was built before)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.catalog.model import FACET_FIELDS
from gateway.catalog.store import facets
from gateway.catalog.store.facets import FacetIndex, build_facet_index

#: Per field, how many values its dictionary holds.
SIZES = st.lists(st.integers(1, 6), min_size=len(FACET_FIELDS), max_size=len(FACET_FIELDS))


@st.composite
def catalogs(draw: st.DrawFn, wide: bool = False) -> tuple[list, list]:
    """A facet-value dictionary (id, field, value) and entries' rows (id, one id per field)
    in id order; ``wide``: ids too large for one mixed-radix key."""
    sizes = draw(SIZES)
    base = 2**40 if wide else 1
    dictionary, per_field = [], []
    next_id = base
    for name, size in zip(FACET_FIELDS, sizes, strict=True):
        ids = []
        for k in range(size):
            dictionary.append((next_id, name, f"{name}-{k}"))
            ids.append(next_id)
            next_id += draw(st.integers(1, 3))
        per_field.append(ids)
    count = draw(st.integers(0, 60))
    entry_ids = sorted(draw(st.sets(st.integers(1, 10**9), min_size=count, max_size=count)))
    rows = [[i, *(draw(st.sampled_from(ids)) for ids in per_field)] for i in entry_ids]
    return dictionary, rows


def longhand(dictionary: list, rows: list) -> tuple[dict, list, dict]:
    """Combinations (characters -> count, in order of first appearance), each entry's
    combination number, and per field value -> entries with it."""
    position = {}
    for name in FACET_FIELDS:
        ids = [value_id for value_id, field, _ in dictionary if field == name]
        position.update({value_id: k for k, value_id in enumerate(ids)})
    keys = ["".join(chr(position[v] + 1) for v in row[1:]) for row in rows]
    numbers: dict[str, int] = {}
    for key in keys:
        numbers.setdefault(key, len(numbers))
    value_of = {value_id: value for value_id, _, value in dictionary}
    everything = {
        name: dict(Counter(value_of[row[1 + f]] for row in rows))
        for f, name in enumerate(FACET_FIELDS)
    }
    return dict(Counter(keys)), [numbers[k] for k in keys], everything


@pytest.mark.parametrize("wide", [False, True])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_built_from_an_array_as_longhand(wide: bool, data: st.DataObject) -> None:
    dictionary, rows = data.draw(catalogs(wide=wide))
    combos, numbers, everything = longhand(dictionary, rows)
    width = 1 + len(FACET_FIELDS)
    for given_rows in (rows, np.array(rows, dtype=np.int64).reshape(-1, width)):
        index = build_facet_index(3, dictionary, given_rows)
        assert index.generation == 3
        assert index.ranks.tolist() == [row[0] for row in rows]
        assert index.combos == combos
        assert list(index.combos) == list(combos)  # numbered by first appearance
        assert index.combo_at.tolist() == numbers
        assert index.everything == everything
        for f, name in enumerate(FACET_FIELDS):
            values = [v for _, field, v in dictionary if field == name]
            assert [values[k] for k in index.value_at[f][index.combo_at].tolist()] == [
                next(v for i, _, v in dictionary if i == row[1 + f]) for row in rows
            ]
        # A match set's counts: per field, each value its matches hold, in the dictionary's
        # order, the empty value (no mark) and values no match holds left out.
        chosen = data.draw(
            st.lists(st.sampled_from(rows), unique_by=lambda r: r[0]) if rows else st.just([])
        )
        chosen.sort(key=lambda row: row[0])
        value_of = {i: v for i, _, v in dictionary}
        expected = {}
        for f, name in enumerate(FACET_FIELDS):
            held = Counter(value_of[row[1 + f]] for row in chosen)
            order = [v for _, field, v in dictionary if field == name]
            expected[name] = {v: held[v] for v in order if held[v] and v}
        text = ",".join(str(row[0]) for row in chosen)
        assert index.count(text) == (len(chosen), expected)
        assert [list(counts) for counts in index.count(text)[1].values()] == [
            list(counts) for counts in expected.values()
        ]


def test_rows_out_of_id_order_are_refused() -> None:
    dictionary = [(i + 1, name, "v") for i, name in enumerate(FACET_FIELDS)]
    row = list(range(1, len(FACET_FIELDS) + 1))
    with pytest.raises(LookupError, match="id order"):
        build_facet_index(1, dictionary, [[5, *row], [4, *row]])


@st.composite
def id_runs(draw: st.DrawFn) -> list[int]:
    """Entry ids as a catalog holds them: runs of consecutive ids (resource codes in code order)
    far apart, of a few ids each or of many."""
    ids: list[int] = []
    at = draw(st.integers(-(2**40), 2**40))
    for length in draw(st.lists(st.integers(1, 80), max_size=12)):
        ids.extend(range(at, at + length))
        at += length + draw(st.sampled_from([1, 2, 10**6, 2**44]))
    return ids


@settings(max_examples=300)
@given(ids=id_runs(), data=st.data())
def test_positions_of_ids_by_runs_and_by_search(ids: list[int], data: st.DataObject) -> None:
    """Ids to positions, by runs of consecutive ids (long runs) or by binary search (short
    ones): each id's position in ``ranks``, and any id the index does not hold refused."""
    ranks = np.array(ids, dtype=np.int64)
    index = FacetIndex(0, (), {}, {}, ranks=ranks)
    runs = 1 + int(np.count_nonzero(np.diff(ranks) != 1)) if ids else 0
    assert (index._runs is None) == (not ids or runs * facets._IDS_PER_RUN > len(ids))
    picked = data.draw(st.lists(st.sampled_from(ids), unique=True) if ids else st.just([]))
    rows = np.array(sorted(picked), dtype=np.int64)
    at = index.positions(rows)
    assert np.array_equal(ranks[at], rows)
    held = set(ids)
    near = [i + d for i in ids[:1] + ids[-1:] for d in (-1, 1)] + [0]
    stranger = data.draw(
        st.one_of(st.sampled_from(near), st.integers(-(2**45), 2**45)).filter(
            lambda i: i not in held
        ),
        label="stranger",
    )
    with pytest.raises(LookupError):
        index.positions(np.array(sorted([*picked, stranger]), dtype=np.int64))
