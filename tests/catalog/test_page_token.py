"""The page token decoder: what it accepts, and that anything else is INVALID_ARGUMENT on
``page_token`` (reason BAD_PAGE_TOKEN), never another exception."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.catalog.query import decode_token, encode_token
from gateway.errors import InvalidArgument


def raw(doc) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


@given(st.integers(min_value=0, max_value=10**30), st.text(max_size=40))
def test_round_trip(offset: int, fingerprint: str):
    token = encode_token(offset, fingerprint)
    assert decode_token(token) == (offset, fingerprint)
    assert "=" not in token and "+" not in token and "/" not in token


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "====",
        "页码",
        raw([]),
        raw("o"),
        raw(7),
        raw(None),
        raw({}),
        raw({"o": 20}),
        raw({"q": "abc"}),
        raw({"o": -1, "q": "abc"}),
        raw({"o": 1.5, "q": "abc"}),
        raw({"o": True, "q": "abc"}),
        raw({"o": "20", "q": "abc"}),
        raw({"o": 20, "q": 5}),
        raw({"o": 20, "q": None}),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),
        base64.urlsafe_b64encode(b'{"o": NaN, "q": "x"}').decode(),
    ],
)
def test_malformed_tokens_name_the_field(token: str):
    with pytest.raises(InvalidArgument) as info:
        decode_token(token)
    assert (info.value.field, info.value.reason) == ("page_token", "BAD_PAGE_TOKEN")


@given(st.text(max_size=200))
def test_any_text_decodes_or_is_refused_on_the_field(token: str):
    try:
        offset, fingerprint = decode_token(token)
    except InvalidArgument as exc:
        assert (exc.field, exc.reason) == ("page_token", "BAD_PAGE_TOKEN")
    else:
        assert isinstance(offset, int) and offset >= 0 and isinstance(fingerprint, str)
