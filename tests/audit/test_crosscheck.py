"""The federation's cross-check as a table: each way a log can disagree with what its peers
hold, and what is named (kind, node, seq, witness)."""

from __future__ import annotations

import pytest

from gateway.audit.crosscheck import Head, NodeLog, Receipt, cross_check

H = {n: f"{n:02x}" * 32 for n in range(1, 30)}


def sh_log(end: int, **changed: str) -> NodeLog:
    at = {s: H[s] for s in range(1, end + 1)}
    at.update({int(k[1:]): v for k, v in changed.items()})
    return NodeLog("sh", end, at, frozenset(at.values()))


CASES = [
    ("intact", sh_log(20), [Head("sh", "js", 20, H[20])], [], []),
    (
        "truncated",
        sh_log(14),
        [Head("sh", "js", 20, H[20]), Head("sh", "zj", 20, H[20])],
        [],
        [("truncated", "sh", 20, "js"), ("truncated", "sh", 20, "zj")],
    ),
    (
        "rewritten",
        sh_log(25, s20="ee" * 32),
        [Head("sh", "js", 20, H[20]), Head("sh", "js", 10, H[10])],
        [],
        [("rewritten", "sh", 20, "js")],
    ),
    (
        "receipt kept",
        sh_log(20),
        [],
        [Receipt("js", 5, "sh", H[12])],
        [],
    ),
    (
        "receipt missing",
        sh_log(11),
        [],
        [Receipt("js", 5, "sh", H[12]), Receipt("js", 4, "sh", H[11])],
        [("missing_owner_entry", "sh", 5, "js")],
    ),
]


@pytest.mark.parametrize(
    "log, heads, receipts, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_disagreement_is_named(log, heads, receipts, expected) -> None:
    findings = cross_check({"sh": log}, heads, receipts)
    assert [(f.kind, f.node, f.seq, f.witness) for f in findings] == expected


def test_a_forged_head_is_named_with_the_witness_that_keeps_it() -> None:
    forged = Head("sh", "ah", 99, H[1])
    findings = cross_check({"sh": sh_log(20)}, [], [], [forged])
    assert [(f.kind, f.node, f.seq, f.witness) for f in findings] == [("forged", "sh", 99, "ah")]
    assert "ah" in findings[0].line() and "99" in findings[0].line()


def test_nodes_not_answering_are_left_to_the_caller() -> None:
    assert cross_check({}, [Head("sh", "js", 20, H[20])], [Receipt("js", 1, "sh", H[1])]) == []
