"""The server interceptor and the observed peer stub: one trace across a real gRPC hop.

A real grpc.aio server (the Edge interceptor, its own tracer provider) and a real channel (the
ObservedStub, another provider), so parentage can only come from the ``traceparent`` metadata.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
import pytest_asyncio
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from gateway._pb.yrd.v1 import exchange_pb2, federation_pb2, federation_pb2_grpc
from gateway.errors import PermissionDenied
from gateway.server.interceptors import Edge
from gateway.status import failure_of
from gateway.telemetry.attributes import STEP_ERROR, STEP_MS, STEP_STATUS
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.outbound import ObservedStub
from gateway.tracing import step
from tests.support.federation import eventually

in_module_loop = pytest.mark.asyncio(loop_scope="module")
SERVICE = federation_pb2.DESCRIPTOR.services_by_name["Federation"]
HELLO = "/yrd.v1.Federation/Hello"
INVOKE = "/yrd.v1.Federation/Invoke"
STREAM = "/yrd.v1.Federation/InvokeStream"


class Owner(federation_pb2_grpc.FederationServicer):
    def __init__(self) -> None:
        self.stream_cancelled = asyncio.Event()

    async def Hello(self, request, context):
        return federation_pb2.HelloResponse(node="sh")

    async def Invoke(self, request, context):
        raise PermissionDenied("no grant for this app", reason="NO_GRANT")

    async def InvokeStream(self, request, context):
        try:
            for i in range(int(request.app or "3")):
                yield exchange_pb2.RecordBatch(resume_token=str(i))
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.stream_cancelled.set()
            raise


class Traced:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    def spans(self, name: str | None = None):
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]


class Hop:
    def __init__(self) -> None:
        self.client, self.server = Traced(), Traced()
        self.client_metrics, self.server_metrics = Metrics("js"), Metrics("sh")
        self.owner = Owner()

    def clear(self) -> None:
        self.client.exporter.clear()
        self.server.exporter.clear()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hop():
    h = Hop()
    server = aio.server(
        interceptors=[Edge("sh", port="peer", metrics=h.server_metrics, tracer=h.server.tracer)]
    )
    federation_pb2_grpc.add_FederationServicer_to_server(h.owner, server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    h.raw = channel
    h.stub = ObservedStub(
        federation_pb2_grpc.FederationStub(channel),
        SERVICE,
        "sh",
        metrics=h.client_metrics,
        tracer=h.client.tracer,
    )
    yield h
    await channel.close()
    await server.stop(0)


def peer_calls(metrics: Metrics, method: str, code: str) -> float:
    return (
        metrics.registry.get_sample_value(
            "yrd_peer_calls_total", {"peer": "sh", "method": method, "code": code}
        )
        or 0.0
    )


@in_module_loop
async def test_the_server_span_hangs_under_the_client_span(hop: Hop):
    hop.clear()
    with hop.client.tracer.start_as_current_span("route") as root:
        reply = await hop.stub.Hello(federation_pb2.HelloRequest(node="js"), timeout=5)
    assert reply.node == "sh"
    await eventually(lambda: hop.server.spans(HELLO))
    (client,) = hop.client.spans(HELLO)
    (server,) = hop.server.spans(HELLO)
    assert client.kind == SpanKind.CLIENT and server.kind == SpanKind.SERVER
    assert client.parent.span_id == root.get_span_context().span_id
    assert server.context.trace_id == client.context.trace_id
    assert server.parent.span_id == client.context.span_id and server.parent.is_remote
    assert client.attributes["yrd.peer"] == "sh"
    for span in (client, server):
        assert span.attributes["rpc.system"] == "grpc"
        assert span.attributes["rpc.service"] == "yrd.v1.Federation"
        assert span.attributes["rpc.method"] == "Hello"
        assert span.attributes["rpc.grpc.status_code"] == 0
        assert span.status.status_code == StatusCode.UNSET
    assert peer_calls(hop.client_metrics, HELLO, "OK") >= 1


@in_module_loop
async def test_a_refusal_is_an_error_on_both_sides_with_the_reason(hop: Hop):
    hop.clear()
    before = peer_calls(hop.client_metrics, INVOKE, "PERMISSION_DENIED")
    with pytest.raises(aio.AioRpcError) as info:
        await hop.stub.Invoke(federation_pb2.ForwardedInvoke(app="js/a/b"), timeout=5)
    failure = failure_of(info.value)
    assert failure.code == grpc.StatusCode.PERMISSION_DENIED and failure.reason == "NO_GRANT"
    await eventually(lambda: hop.server.spans(INVOKE))
    (server,) = hop.server.spans(INVOKE)
    (client,) = hop.client.spans(INVOKE)
    assert server.status.status_code == StatusCode.ERROR
    assert server.attributes["yrd.reason"] == "NO_GRANT"
    assert server.attributes["yrd.refused_by"] == "sh"
    assert client.status.status_code == StatusCode.ERROR
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert peer_calls(hop.client_metrics, INVOKE, "PERMISSION_DENIED") == before + 1
    errors = hop.server_metrics.registry.get_sample_value(
        "yrd_rpc_server_errors_total", {"code": "PERMISSION_DENIED", "reason": "NO_GRANT"}
    )
    assert errors and errors >= 1


@in_module_loop
async def test_a_method_named_a_step_is_a_step_of_the_calling_span(hop: Hop):
    """A forward named in ``steps`` (issue 18) is an event on the span it is called under, with
    its length, peer and outcome, and the peer's span hangs under that span; called under no
    recording span it is a CLIENT span as before. Calls and refusals are counted alike."""
    stub = ObservedStub(
        federation_pb2_grpc.FederationStub(hop.raw),
        SERVICE,
        "sh",
        metrics=hop.client_metrics,
        tracer=hop.client.tracer,
        steps=frozenset({"Hello", "Invoke"}),
    )
    hop.clear()
    before = peer_calls(hop.client_metrics, INVOKE, "PERMISSION_DENIED")
    with hop.client.tracer.start_as_current_span("route") as root:
        assert (await stub.Hello(federation_pb2.HelloRequest(node="js"), timeout=5)).node == "sh"
        with pytest.raises(aio.AioRpcError):
            await stub.Invoke(federation_pb2.ForwardedInvoke(app="js/a/b"), timeout=5)
    await eventually(lambda: hop.server.spans(HELLO) and hop.server.spans(INVOKE))
    assert hop.client.spans(HELLO) == [] and hop.client.spans(INVOKE) == []
    ctx = root.get_span_context()
    for name in (HELLO, INVOKE):
        (server,) = hop.server.spans(name)
        assert server.context.trace_id == ctx.trace_id and server.parent.span_id == ctx.span_id
    (route,) = hop.client.spans("route")
    hello, invoke = route.events
    assert (hello.name, invoke.name) == (HELLO, INVOKE)
    assert hello.attributes["yrd.peer"] == "sh" and hello.attributes[STEP_MS] >= 0
    assert hello.attributes["rpc.grpc.status_code"] == 0 and STEP_STATUS not in hello.attributes
    assert invoke.attributes[STEP_STATUS] == "ERROR"
    assert invoke.attributes[STEP_ERROR] == "PERMISSION_DENIED"
    assert hello.timestamp <= invoke.timestamp
    assert peer_calls(hop.client_metrics, INVOKE, "PERMISSION_DENIED") == before + 1
    hop.clear()
    await stub.Hello(federation_pb2.HelloRequest(node="js"), timeout=5)  # no span current
    (client,) = hop.client.spans(HELLO)
    assert client.kind == SpanKind.CLIENT and client.parent is None
    with pytest.raises(ValueError, match="only a unary call"):
        ObservedStub(
            federation_pb2_grpc.FederationStub(hop.raw),
            SERVICE,
            "sh",
            steps=frozenset({"InvokeStream"}),
        )


@in_module_loop
async def test_a_stream_read_to_the_end_is_one_ok_client_span(hop: Hop):
    hop.clear()
    stream = hop.stub.InvokeStream(federation_pb2.ForwardedInvokeStream(app="3"), timeout=5)
    assert [b.resume_token async for b in stream] == ["0", "1", "2"]
    (client,) = hop.client.spans(STREAM)
    assert client.status.status_code == StatusCode.UNSET
    assert client.attributes["rpc.grpc.status_code"] == 0
    await eventually(lambda: hop.server.spans(STREAM))
    assert hop.server.spans(STREAM)[0].parent.span_id == client.context.span_id


@in_module_loop
async def test_leaving_a_stream_early_cancels_the_real_call(hop: Hop):
    hop.clear()
    hop.owner.stream_cancelled.clear()
    stream = hop.stub.InvokeStream(federation_pb2.ForwardedInvokeStream(app="1000"), timeout=5)
    async for batch in stream:
        assert batch.resume_token == "0"
        break
    await stream.aclose()
    await asyncio.wait_for(hop.owner.stream_cancelled.wait(), 5)
    (client,) = hop.client.spans(STREAM)
    assert client.status.status_code == StatusCode.ERROR
    assert client.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    await eventually(lambda: hop.server.spans(STREAM))
    (server,) = hop.server.spans(STREAM)
    assert server.status.status_code == StatusCode.ERROR
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]


@in_module_loop
async def test_a_caller_without_trace_context_starts_a_trace(hop: Hop):
    hop.clear()
    plain = federation_pb2_grpc.FederationStub(hop.raw)
    await plain.Hello(federation_pb2.HelloRequest(node="js"), timeout=5)
    await eventually(lambda: hop.server.spans(HELLO))
    (server,) = hop.server.spans(HELLO)
    assert server.parent is None and server.context.is_valid


async def plain_hello(hop: Hop, metadata=()) -> federation_pb2.HelloResponse:
    """A Hello without the client's tracing (so only the server may trace it)."""
    plain = federation_pb2_grpc.FederationStub(hop.raw)
    return await plain.Hello(federation_pb2.HelloRequest(node="js"), metadata=metadata, timeout=5)


@in_module_loop
async def test_a_malformed_traceparent_starts_a_trace_and_the_call_still_works(hop: Hop):
    hop.clear()
    reply = await plain_hello(hop, metadata=(("traceparent", "00-zz-not-a-trace"),))
    assert reply.node == "sh"
    await eventually(lambda: hop.server.spans(HELLO))
    assert hop.server.spans(HELLO)[0].parent is None


@in_module_loop
async def test_health_probes_are_counted_but_not_traced(hop: Hop):
    hop.clear()
    check = "/grpc.health.v1.Health/Check"
    before = (
        hop.server_metrics.registry.get_sample_value(
            "yrd_rpc_server_handled_total", {"port": "peer", "method": check, "code": "OK"}
        )
        or 0.0
    )
    await health_pb2_grpc.HealthStub(hop.raw).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert (
        hop.server_metrics.registry.get_sample_value(
            "yrd_rpc_server_handled_total", {"port": "peer", "method": check, "code": "OK"}
        )
        == before + 1
    )
    # Absence means something only once the server has traced a later call: a Hello sent after
    # the probe finished ends its span after the probe's would have, and force_flush leaves
    # nothing in flight in the pipeline; then the Hello's span is the only one.
    await plain_hello(hop)
    await eventually(lambda: hop.server.spans(HELLO))
    assert hop.server.provider.force_flush()
    assert [s.name for s in hop.server.spans()] == [HELLO]


# -- step events ------------------------------------------------------------------------------


def test_a_step_is_an_event_on_the_current_span_without_becoming_current():
    """A step (issue 18) is no span of its own: an event on the span it runs under, at the
    step's start, with its attributes and its length in ``yrd.step_ms``."""
    traced = Traced()
    with traced.tracer.start_as_current_span("call") as parent:
        with step("authorize") as span:
            assert trace.get_current_span() is parent
            span.set_attribute("yrd.decision", "allow")
    assert traced.spans("authorize") == []
    (call,) = traced.spans("call")
    (event,) = call.events
    assert event.name == "authorize" and call.start_time <= event.timestamp <= call.end_time
    assert event.attributes["yrd.decision"] == "allow"
    assert 0 <= event.attributes[STEP_MS] <= (call.end_time - call.start_time) / 1e6
    assert STEP_STATUS not in event.attributes


def test_an_exception_leaving_a_step_marks_it_unless_it_set_its_own_status():
    traced = Traced()
    with traced.tracer.start_as_current_span("call"):
        with pytest.raises(PermissionDenied), step("authorize") as span:
            span.set_status(Status(StatusCode.ERROR, "NO_GRANT"))
            raise PermissionDenied("no grant", reason="NO_GRANT")
        with pytest.raises(KeyError), step("backend.call"):
            raise KeyError("x")
    authorize, backend = traced.spans("call")[0].events
    assert (authorize.attributes[STEP_STATUS], authorize.attributes[STEP_ERROR]) == (
        "ERROR",
        "NO_GRANT",
    )
    assert (backend.attributes[STEP_STATUS], backend.attributes[STEP_ERROR]) == (
        "ERROR",
        "KeyError",
    )
