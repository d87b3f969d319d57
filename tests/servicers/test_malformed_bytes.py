"""Malformed protobuf sent as raw bytes through generic calls to every method of both ports.

What grpc does with a request it cannot decode is pinned first, on a bare ``grpc.aio`` server:
the aio server answers UNKNOWN "Unexpected <class 'google.protobuf.message.DecodeError'>: ..."
(the sync server would say INTERNAL "Exception deserializing request!"), and our interceptor
never sees the call. Our nodes decode in the error translator instead and answer their own
INVALID_ARGUMENT MALFORMED_REQUEST with ErrorInfo, stay healthy and leak no paths.

Bytes that do decode (a known field with the wrong wire type is kept as an unknown field, not
refused) must get exactly the answer of the same message without that field.
"""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.message import DecodeError, Message
from grpc import aio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    exchange_pb2,
    federation_pb2,
    ops_pb2,
    sharing_pb2,
)
from gateway.errors import ERROR_DOMAIN
from tests.support.hostile import (
    APP,
    EXPECTED,
    PURPOSE,
    RESIDENT,
    ROSTER,
    TIME_BOUND,
    Refusal,
    check_refusal,
    healthy,
    refusal_of,
    strings_in,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVICES = (
    catalog_pb2.DESCRIPTOR.services_by_name["Catalog"],
    exchange_pb2.DESCRIPTOR.services_by_name["Exchange"],
    sharing_pb2.DESCRIPTOR.services_by_name["Sharing"],
    sharing_pb2.DESCRIPTOR.services_by_name["Admin"],
    ops_pb2.DESCRIPTOR.services_by_name["Ops"],
    federation_pb2.DESCRIPTOR.services_by_name["Federation"],
)
METHODS = [m for s in SERVICES for m in s.methods]
"""Every method of every public service, from the descriptors: a new RPC is covered unasked."""

DECODE_REFUSAL = "Unexpected <class 'google.protobuf.message.DecodeError'>: Error parsing message"
"""How grpc.aio itself answers (UNKNOWN) a request its deserializer cannot decode."""

CORRUPT = {
    "bad_tag": b"\xff\xff\xff\xff\xff",
    "field_number_zero": b"\x00\x01",
    "length_past_the_end": b"\x0a\x10abc",
    "overlong_varint": b"\x08" + b"\xff" * 10 + b"\x01",
    "unmatched_end_group": b"\x0c",
    "unterminated_groups": b"\x5b" * 120 + b"\x5c" * 120,
    "reserved_wire_type": b"\x0e",
}


def input_type(method) -> type[Message]:
    module = {
        "catalog": catalog_pb2,
        "exchange": exchange_pb2,
        "sharing": sharing_pb2,
        "federation": federation_pb2,
        "ops": ops_pb2,
    }[method.input_type.file.name.rsplit("/", 1)[-1].removesuffix(".proto")]
    return getattr(module, method.input_type.name)


def path_of(method) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def sample(h, method) -> Message:
    """A well-formed request of ``method``'s type, to truncate, mutate and compare against."""
    call = exchange_pb2.InvokeRequest(
        interface_id=RESIDENT,
        params={"id_number": h.samples["id_number"]},
        purpose=PURPOSE,
        fields=["gender"],
    )
    roster = exchange_pb2.InvokeStreamRequest(
        call=exchange_pb2.InvokeRequest(
            interface_id=ROSTER, params={"district": h.samples["district"]}, purpose=PURPOSE
        ),
        batch_size=3,
    )
    apply = sharing_pb2.ApplyRequest(
        interface_id=RESIDENT, fields=["gender"], purpose=PURPOSE, valid_until=until()
    )
    return {
        "SearchRequest": catalog_pb2.SearchRequest(
            query="人口", filters=catalog_pb2.SearchFilters(grades=["L1"]), page_size=5
        ),
        "GetRequest": catalog_pb2.GetRequest(code="101001/310001"),
        "InvokeRequest": call,
        "InvokeStreamRequest": roster,
        "ListInterfacesRequest": exchange_pb2.ListInterfacesRequest(provinces=["sh"]),
        "ApplyRequest": apply,
        "ListApplicationsRequest": sharing_pb2.ListApplicationsRequest(state="pending"),
        # Another province's namespace: refused, so repeating it changes nothing.
        "CreateAppRequest": sharing_pb2.CreateAppRequest(app="sh/raw/bytes", name="原始字节"),
        "RevokeAppRequest": sharing_pb2.RevokeAppRequest(app="js/rsj/nobody"),
        "DecideRequest": sharing_pb2.DecideRequest(application_id="app-x", reason="不同意"),
        "RevokeGrantRequest": sharing_pb2.RevokeGrantRequest(grant_id="grant-x", reason="r"),
        "BlanketGrantRequest": sharing_pb2.BlanketGrantRequest(
            province="js",
            interface_id=RESIDENT,
            fields=["gender"],
            purposes=["整体授权"],
            valid_until=until(),
        ),
        "ListGrantsRequest": sharing_pb2.ListGrantsRequest(interface_id=RESIDENT),
        "HelloRequest": federation_pb2.HelloRequest(
            node="js", standard=federation_pb2.StandardRef(id="x", version="1")
        ),
        "LocalSearchRequest": federation_pb2.LocalSearchRequest(query="人口", limit=5),
        "FollowChangesRequest": federation_pb2.FollowChangesRequest(since=0, page_size=2),
        "ForwardedInvoke": federation_pb2.ForwardedInvoke(app=APP, call=call),
        "ForwardedInvokeStream": federation_pb2.ForwardedInvokeStream(app=APP, call=roster),
        "ForwardedApplication": federation_pb2.ForwardedApplication(app=APP, application=apply),
        "ForwardedListApplications": federation_pb2.ForwardedListApplications(apps=[APP]),
        "ForwardedListInterfaces": federation_pb2.ForwardedListInterfaces(app=APP),
        "GetTraceRequest": ops_pb2.GetTraceRequest(trace_id="ab" * 16),
        "ListTracesRequest": ops_pb2.ListTracesRequest(app=APP, limit=5, since_unix=1),
        "VerifyAuditRequest": ops_pb2.VerifyAuditRequest(),
        "QueryAuditRequest": ops_pb2.QueryAuditRequest(app=APP, decision="deny", limit=5),
        "AuditEvidenceRequest": ops_pb2.AuditEvidenceRequest(
            seqs=[1, 2], hashes=["ab" * 32], witnessed=True, receipts=True
        ),
        # js's chain is intact: refused, so repeating it changes nothing.
        "AcknowledgeAuditRequest": ops_pb2.AcknowledgeAuditRequest(note="演练"),
        # Signed by nobody: refused by the witness.
        "SignedHead": federation_pb2.SignedHead(
            seq=3, hash="ab" * 32, time="2026-12-06T08:00:00.000Z", signature=b"0" * 70
        ),
    }[method.input_type.name]


def raw_call(h, method, payload: bytes):
    """The call with raw bytes on the right port, with good credentials for the service."""
    service = method.containing_service.name
    if service == "Federation":
        channel, metadata = h.peer("sh", "js"), h.fed_md("js")
    else:
        channel = h.client("js")
        metadata = {
            "Exchange": h.app_md,
            "Sharing": h.app_md,
            "Admin": h.op_md("js"),
            "Ops": h.op_md("js"),
        }.get(service, ())
    if method.server_streaming:
        stub = channel.unary_stream(path_of(method))

        async def stream():
            out = []
            call = stub(payload, metadata=metadata, timeout=10)
            async for item in call:
                out.append(item)
                if len(out) >= 3:
                    call.cancel()
                    break
            return out

        return stream()
    return channel.unary_unary(path_of(method))(payload, metadata=metadata, timeout=10)


def decoded(method, payload: bytes) -> Message | None:
    try:
        return input_type(method).FromString(payload)
    except DecodeError:
        return None


def key(outcome) -> tuple:
    """What two answers must share to count as the same answer."""
    if isinstance(outcome, Refusal):
        return (outcome.code, outcome.reason, outcome.field)
    return ("OK",)


async def send(h, method, payload: bytes):
    """Send raw bytes: a reply or a proper refusal (grpc's own one for undecodable bytes),
    quickly, and every node healthy afterwards."""
    message = decoded(method, payload)
    started = time.monotonic()
    try:
        outcome = await raw_call(h, method, payload)
    except aio.AioRpcError as exc:
        if message is None and exc.code() == grpc.StatusCode.UNKNOWN:
            outcome = refusal_of(exc)
            assert outcome.message.startswith(DECODE_REFUSAL), outcome
            assert method.input_type.full_name in outcome.message
            assert "/" not in outcome.message and "Traceback" not in outcome.message
        else:
            inputs = strings_in(message) if message is not None else []
            inputs.append(payload.decode("utf-8", "replace"))
            outcome = check_refusal(exc, inputs=inputs, request=message)
    assert time.monotonic() - started < TIME_BOUND
    await healthy(h)
    return outcome


# --------------------------------------------------------------------------- grpc itself


async def test_grpc_aio_answers_undecodable_requests_with_unknown():
    """The ground truth for the rest of this module: a bare aio server, no interceptor."""

    class Catalog(catalog_pb2_grpc.CatalogServicer):
        async def Search(self, request, context):
            return catalog_pb2.SearchResponse()

    server = aio.server()
    catalog_pb2_grpc.add_CatalogServicer_to_server(Catalog(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            search = channel.unary_unary("/yrd.v1.Catalog/Search")
            with pytest.raises(aio.AioRpcError) as info:
                await search(CORRUPT["bad_tag"], timeout=5)
            assert info.value.code() == grpc.StatusCode.UNKNOWN
            assert info.value.details() == (
                f"{DECODE_REFUSAL} with type 'yrd.v1.SearchRequest': Wire format was corrupt"
            )
            assert await search(b"", timeout=5) == b""  # empty bytes: a valid empty message
    finally:
        await server.stop(0)


# --------------------------------------------------------------------------- our nodes


@pytest.mark.parametrize("name", sorted(CORRUPT))
@pytest.mark.parametrize("method", METHODS, ids=path_of)
async def test_corrupt_bytes_get_a_status_and_the_node_stays_healthy(harness, method, name):
    payload = CORRUPT[name]
    outcome = await send(harness, method, payload)
    # upb decodes field number 0 without complaint into a message that has no fields
    # (VerifyAuditRequest): such bytes are a valid request and may well succeed.
    assert isinstance(outcome, Refusal) or decoded(method, payload) is not None


@pytest.mark.parametrize("method", METHODS, ids=path_of)
async def test_truncated_and_bad_utf8_requests(harness, method):
    whole = sample(harness, method).SerializeToString()
    for cut in sorted({1, 2, len(whole) // 2, len(whole) - 1}):
        outcome = await send(harness, method, whole[:cut])
        if decoded(method, whole[:cut]) is None:
            assert isinstance(outcome, Refusal)
    # The first string field of the request, holding bytes that are not UTF-8.
    for fd in input_type(method).DESCRIPTOR.fields:
        if fd.type == fd.TYPE_STRING:
            bad = bytes([fd.number << 3 | 2, 3]) + b"\xff\xfe\xc0"
            assert decoded(method, bad) is None
            assert isinstance(await send(harness, method, bad), Refusal)
            break
    # A sub-message field whose bytes are no message at all.
    for fd in input_type(method).DESCRIPTOR.fields:
        if fd.message_type is not None and not fd.message_type.GetOptions().map_entry:
            garbage = bytes([fd.number << 3 | 2, 2]) + b"\xff\xff"
            assert isinstance(await send(harness, method, garbage), Refusal)


def wrong_wire_type(fd) -> bytes:
    """``fd`` encoded with a wire type its type does not use."""
    if fd.type in (fd.TYPE_STRING, fd.TYPE_MESSAGE, fd.TYPE_BYTES):
        return bytes([fd.number << 3 | 0, 5])  # a varint where bytes belong
    if fd.type == fd.TYPE_DOUBLE:
        return bytes([fd.number << 3 | 2, 3]) + b"abc"
    return bytes([fd.number << 3 | 5]) + b"\x01\x02\x03\x04"  # fixed32 where a varint belongs


@pytest.mark.parametrize("method", METHODS, ids=path_of)
async def test_a_field_with_the_wrong_wire_type_is_ignored_like_an_unknown_field(harness, method):
    """upb keeps a mistyped known field as an unknown field: the request reads as if the field
    were absent, and gets exactly that answer."""
    for fd in input_type(method).DESCRIPTOR.fields:
        message = sample(harness, method)
        message.ClearField(fd.name)
        plain = message.SerializeToString()
        mistyped = plain + wrong_wire_type(fd)
        assert decoded(method, mistyped).ListFields() == message.ListFields()  # kept as unknown
        assert key(await send(harness, method, mistyped)) == key(
            await send(harness, method, plain)
        ), fd.name


# Was a bug (grpc answered UNKNOWN naming a Python class, without ErrorInfo); the
# Edge interceptor decodes safely and refuses with INVALID_ARGUMENT MALFORMED_REQUEST.
@pytest.mark.parametrize("method", METHODS, ids=path_of)
async def test_undecodable_request_is_refused_by_the_gateway_with_error_info(harness, method):
    with pytest.raises(aio.AioRpcError) as info:
        await raw_call(harness, method, CORRUPT["bad_tag"])
    refusal = refusal_of(info.value)
    assert refusal.code == grpc.StatusCode.INVALID_ARGUMENT, refusal
    assert refusal.info is not None and refusal.info.domain == ERROR_DOMAIN, refusal
    assert refusal.node in ("js", "sh") and refusal.reason, refusal
    assert "<class" not in refusal.message and "DecodeError" not in refusal.message, refusal


# --------------------------------------------------------------------------- hypothesis

RAW = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def mutations(whole: bytes):
    """Random bytes, or a valid request truncated, with bytes overwritten or inserted."""
    n = len(whole)
    return st.one_of(
        st.binary(max_size=512),
        st.tuples(st.integers(0, n), st.binary(max_size=8)).map(lambda t: whole[: t[0]] + t[1]),
        st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 255)).map(
            lambda t: whole[: t[0]] + bytes([t[1]]) + whole[t[0] + 1 :]
        ),
        st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=16)).map(
            lambda t: whole[: t[0]] + t[1] + whole[t[0] :]
        ),
    )


@pytest.mark.parametrize("method", METHODS, ids=path_of)
@RAW
@given(data=st.data())
async def test_random_and_mutated_bytes(harness, method, data):
    payload = data.draw(mutations(sample(harness, method).SerializeToString()))
    outcome = await send(harness, method, payload)
    if not isinstance(outcome, Refusal):
        assert decoded(method, payload) is not None
    else:
        assert outcome.code in EXPECTED | {grpc.StatusCode.UNKNOWN}


async def test_audit_chains_still_verify(harness):
    for node in harness.nodes.values():
        report = node._audit.verify()
        assert report.ok, (node.id, report)
