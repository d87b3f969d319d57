"""The resume token decoder of bulk streams: bound to the call it was minted for (app,
interface, parameters, purpose, fields), and anything else is INVALID_ARGUMENT on
``resume_token`` (reason BAD_RESUME_TOKEN), never another exception."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidArgument
from gateway.exchange.calls import Call, call_fingerprint, decode_resume, encode_resume
from tests.support.names import APP

CALL = Call("sh/rsj/insured-roster/v1", {"district": "浦东新区"}, "养老保险关系转移接续")
FP = call_fingerprint(APP, CALL)


def refused(token: str, fingerprint: str = FP) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        decode_resume(token, fingerprint)
    assert (info.value.field, info.value.reason) == ("resume_token", "BAD_RESUME_TOKEN")
    return info.value


@given(st.text(max_size=40))
def test_round_trip(cursor: str):
    assert decode_resume(encode_resume(cursor, FP), FP) == cursor


@pytest.mark.parametrize(
    ("app", "call"),
    [
        ("js/ybj/medical-transfer", CALL),
        ("sh/rsj/pension-transfer", CALL),
        (APP, Call("zj/rsj/insured-roster/v1", CALL.params, CALL.purpose)),
        (APP, Call(CALL.interface_id, {"district": "黄浦区"}, CALL.purpose)),
        (APP, Call(CALL.interface_id, {**CALL.params, "insurance_type": "x"}, CALL.purpose)),
        (APP, Call(CALL.interface_id, CALL.params, "跨省通办")),
        (APP, Call(CALL.interface_id, CALL.params, CALL.purpose, ("name",))),
    ],
)
def test_a_token_is_bound_to_its_app_and_call(app: str, call: Call):
    token = encode_resume("000000000042", FP)
    assert decode_resume(token, FP) == "000000000042"
    assert "different call" in refused(token, call_fingerprint(app, call)).message


def test_parameter_order_does_not_matter():
    swapped = Call(CALL.interface_id, dict(reversed([*CALL.params.items(), ("a", "b")])), "p")
    again = Call(CALL.interface_id, {**CALL.params, "a": "b"}, "p")
    assert call_fingerprint(APP, swapped) == call_fingerprint(APP, again)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        "续传",
        b64(b"[]"),
        b64(b'"c"'),
        b64(b"{}"),
        b64(json.dumps({"c": "1"}).encode()),
        b64(json.dumps({"f": FP}).encode()),
        b64(json.dumps({"c": 1, "f": FP}).encode()),
        b64(json.dumps({"c": None, "f": FP}).encode()),
        b64(json.dumps({"c": "1", "f": [FP]}).encode()),
        b64(b"\xff\xfe"),
        b64(b"[" * 100_000),
    ],
)
def test_malformed_tokens_name_the_field(token: str):
    assert refused(token).message.endswith("malformed resume token")


@given(st.text(max_size=200))
def test_any_text_decodes_or_is_refused_on_the_field(token: str):
    try:
        cursor = decode_resume(token, FP)
    except InvalidArgument as exc:
        assert (exc.field, exc.reason) == ("resume_token", "BAD_RESUME_TOKEN")
    else:
        assert isinstance(cursor, str)
