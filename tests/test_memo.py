"""IdentityMemo: a value is found only for the very object it was kept for, and the memo stays
bounded."""

from __future__ import annotations

from gateway.memo import IdentityMemo


def test_a_value_is_found_for_its_object_only() -> None:
    memo: IdentityMemo[tuple[int, ...], str] = IdentityMemo(4)
    kept = tuple(range(3))
    memo.put(kept, "built")
    assert memo.get(kept) == "built"
    assert memo.get(tuple(range(3))) is None  # equal, but another object


def test_an_object_kept_cannot_lend_its_id() -> None:
    memo: IdentityMemo[list[int], str] = IdentityMemo(4)
    memo.put([1, 2], "of a list")  # the memo holds the list, so its id stays its own
    assert all(memo.get([1, 2]) is None for _ in range(100))


def test_the_memo_is_bounded() -> None:
    memo: IdentityMemo[object, int] = IdentityMemo(3)
    objects = [object() for _ in range(10)]
    for i, obj in enumerate(objects):
        memo.put(obj, i)
        assert len(memo) <= 3 and memo.get(obj) == i
