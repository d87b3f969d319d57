"""Exchange messages: an owner's answer is relayed as it came (records never decoded), with the
home node's trace id; interface listings and calls survive the round trip."""

from __future__ import annotations

from gateway._pb.yrd.v1 import exchange_pb2
from gateway.exchange.calls import Call, CallResult, FieldNote
from gateway.exchange.catalogue import InterfaceOffer
from gateway.exchange.model import Field, Param
from gateway.wire.exchange import (
    RelayedResult,
    call_from_pb,
    call_to_pb,
    offer_from_pb,
    offer_to_pb,
    result_from_pb,
    result_to_pb,
)

NOTE = FieldNote("id_number", "L3", "id_number", "MASKED")


def owners_answer() -> exchange_pb2.InvokeResponse:
    return exchange_pb2.InvokeResponse(
        records=[
            exchange_pb2.Record(fields={"name": "张*", "gender": "女"}),
            exchange_pb2.Record(fields={"name": "李*", "gender": "男"}),
        ],
        masked_fields=[
            exchange_pb2.FieldDecision(
                field="id_number", grade="L3", kind="id_number", reason="MASKED"
            )
        ],
        grade="L3",
        served_by="sh",
        trace_id="owner-trace",
        provider_audit_hash="abc",
        record_count=2,
    )


def test_a_relayed_answer_is_what_the_home_node_audits_and_the_app_gets() -> None:
    message = owners_answer()
    result = result_from_pb(message)
    assert isinstance(result, RelayedResult) and isinstance(result, CallResult)
    assert result.records == () and result.record_count == 2
    assert set(result.fields) == {"name", "gender"} and result.masked == (NOTE,)
    assert (result.grade, result.served_by, result.provider_hash) == ("L3", "sh", "abc")
    reply = result_to_pb(result, "home-trace")
    assert reply is message  # passed on, not rebuilt
    expected = owners_answer()
    expected.trace_id = "home-trace"
    assert reply == expected


def test_an_own_result_is_encoded_with_the_trace_id() -> None:
    result = CallResult(
        records=({"name": "张*"},),
        verify_only=False,
        match=False,
        masked=(NOTE,),
        dropped=(),
        grade="L3",
        served_by="js",
        provider_hash="h",
    )
    reply = result_to_pb(result, "t")
    assert (
        reply.trace_id == "t"
        and reply.record_count == 1
        and reply.records[0].fields["name"] == "张*"
    )
    assert result.record_count == 1


def test_a_call_round_trips() -> None:
    call = Call("sh/gaj/resident-basic/v1", {"id_number": "1"}, "养老", ("name",))
    assert call_from_pb(call_to_pb(call)) == call


def test_an_interface_offer_round_trips() -> None:
    offer = InterfaceOffer(
        id="sh/gaj/resident-basic/v1",
        province="sh",
        department="gaj",
        department_name="公安局",
        name="居民基本信息",
        resource_code="101001/310001",
        mode="query",
        params=(Param("id_number", "resident_id", True, "身份证号"),),
        fields=(Field("name", "姓名", "name", "L2"),),
        streamable=False,
        callable=True,
        granted_fields=("name",),
        granted_purposes=("养老",),
    )
    assert offer_from_pb(offer_to_pb(offer)) == offer
