"""One QueryValidator for both ports: a peer's SearchLocal is held to the client's text rules."""

from __future__ import annotations

import pytest

from gateway.catalog.query import QueryValidator, RawSearch
from gateway.config import SearchSettings
from gateway.errors import InvalidArgument

VALIDATOR = QueryValidator(
    provinces=("js", "sh"),
    self_id="js",
    categories={"101": "基础/人口"},
    grades=("L1", "L2"),
    share_types=("unconditional",),
    update_cycles=("daily",),
    settings=SearchSettings(max_query_chars=8, max_page_size=10, max_offset=20),
)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "EMPTY_QUERY"),
        ("   ", "EMPTY_QUERY"),
        ("人口\x00", "BAD_QUERY_TEXT"),
        ("人口\x07", "BAD_QUERY_TEXT"),
        # nothing the index holds: refused, where it used to return the whole catalog
        ("*", "NO_SEARCHABLE_TEXT"),
        ('"', "NO_SEARCHABLE_TEXT"),
        ("-", "NO_SEARCHABLE_TEXT"),
        ("。", "NO_SEARCHABLE_TEXT"),
        ("\U0001f600", "NO_SEARCHABLE_TEXT"),
        ("！？ ·", "NO_SEARCHABLE_TEXT"),
        ("\x00", "NO_SEARCHABLE_TEXT"),
        ("\x07\x1b", "NO_SEARCHABLE_TEXT"),
        ("户籍人口信息户籍人口", "QUERY_TOO_LONG"),
        ("x" * 100, "QUERY_TOO_LONG"),
    ],
)
def test_both_ports_refuse_the_same_query_text(query: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as client:
        VALIDATOR.validate(RawSearch(query=query))
    with pytest.raises(InvalidArgument) as peer:
        VALIDATOR.validate_local(query, 5)
    assert client.value.reason == peer.value.reason == reason
    assert client.value.field == peer.value.field == "query"
    assert "query" in str(client.value)


@pytest.mark.parametrize("limit", [0, -1, 31])
def test_a_peer_may_not_ask_deeper_than_any_page_could_need(limit: int) -> None:
    with pytest.raises(InvalidArgument) as refused:
        VALIDATOR.validate_local("人口", limit)
    assert refused.value.reason == "LIMIT_OUT_OF_RANGE" and refused.value.field == "limit"


def test_the_checked_text_is_normalised() -> None:
    assert VALIDATOR.validate_local(" 户籍\u3000人口 ", 30) == "户籍 人口"
