"""Light spans are real spans of the trace: the right parents and ids, the SDK's sampling and
status rules, and they reach every span processor (an exporter, OTLP encoding, the span store)
as the SDK's own ReadableSpan."""

from __future__ import annotations

import time

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    NoOpTracer,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.telemetry.ids import TimeOrderedIdGenerator
from gateway.telemetry.light import LightSpan, start_light
from gateway.telemetry.spanstore import SpanStore, SpanStoreProcessor
from gateway.tracing import current, step

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def traced(tmp_path):
    exporter = InMemorySpanExporter()
    store = SpanStore(tmp_path / "spans.db", "sh")
    stored = SpanStoreProcessor(store, interval=60)
    provider = TracerProvider(
        resource=Resource.create({"service.name": "yrd-gateway", "yrd.node": "sh"}),
        id_generator=TimeOrderedIdGenerator(),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(stored)
    yield provider.get_tracer("gateway"), exporter, store, stored
    provider.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


def test_a_server_span_continues_the_callers_trace_and_parents_its_steps(traced):
    tracer, exporter, store, stored = traced
    caller = TraceContextTextMapPropagator().extract({"traceparent": CALLER})
    server = start_light(
        tracer,
        "/yrd.v1.Federation/Invoke",
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "yrd.fields": ["姓名", "id"]},
        context=caller,
    )
    assert isinstance(server, LightSpan)
    with trace.use_span(server, end_on_exit=True):
        trace.get_current_span().set_attribute("yrd.app", "js/rst/a")
        with step("authorize") as span:
            span.set_attributes({"yrd.decision": "allow", "yrd.grade": "L3"})
        with current(tracer, "fanout.peer"):
            with step("backend.call"):
                pass
    spans = by_name(exporter)
    # Steps are events on the span they ran under (issue 18), not spans of their own.
    assert set(spans) == {"/yrd.v1.Federation/Invoke", "fanout.peer"}
    root = spans["/yrd.v1.Federation/Invoke"]
    assert root.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert root.parent.span_id == 0x00F067AA0BA902B7 and root.parent.is_remote
    assert root.kind is SpanKind.SERVER
    assert dict(root.attributes) == {
        "rpc.system": "grpc",
        "yrd.fields": ("姓名", "id"),
        "yrd.app": "js/rst/a",
    }
    assert root.resource.attributes["yrd.node"] == "sh"
    assert root.instrumentation_scope.name == "gateway"
    assert [e.name for e in root.events] == ["authorize"]
    assert [e.name for e in spans["fanout.peer"].events] == ["backend.call"]
    assert root.events[0].attributes["yrd.grade"] == "L3"
    assert len({s.context.span_id for s in spans.values()}) == 2
    assert all(s.context.trace_id == root.context.trace_id for s in spans.values())
    assert all(s.start_time <= s.end_time for s in spans.values())
    assert root.start_time <= root.events[0].timestamp <= root.end_time
    # The span store keeps each step as a row under its span, so traces show it as before.
    stored.force_flush()
    rows = {s.name: s for s in store.trace(f"{root.context.trace_id:032x}")}
    assert set(rows) == {"/yrd.v1.Federation/Invoke", "authorize", "fanout.peer", "backend.call"}
    assert rows["authorize"].parent_id == f"{root.context.span_id:016x}"
    assert rows["backend.call"].parent_id == f"{spans['fanout.peer'].context.span_id:016x}"
    assert rows["authorize"].kind == rows["backend.call"].kind == "STEP"
    assert rows["authorize"].attributes == {"yrd.decision": "allow", "yrd.grade": "L3"}
    assert rows["authorize"].status == "OK" and rows["authorize"].duration_ms >= 0
    assert len({r.span_id for r in rows.values()}) == 4
    assert rows["/yrd.v1.Federation/Invoke"].attributes["yrd.fields"] == "姓名,id"
    assert rows["/yrd.v1.Federation/Invoke"].kind == "SERVER"
    assert not rows["/yrd.v1.Federation/Invoke"].root  # a peer's forwarded call: not a root


def test_light_spans_encode_as_otlp(traced):
    tracer, exporter, _, _ = traced
    with current(tracer, "catalog.local_search") as outer:
        outer.set_attribute("yrd.total", 3)
        span = start_light(tracer, "/yrd.v1.Federation/SearchLocal", kind=SpanKind.CLIENT)
        span.set_status(Status(StatusCode.ERROR, "UNAVAILABLE"))
        span.end()
    request = encode_spans(exporter.get_finished_spans())
    (scope,) = request.resource_spans[0].scope_spans
    encoded = {s.name: s for s in scope.spans}
    client = encoded["/yrd.v1.Federation/SearchLocal"]
    assert client.parent_span_id == encoded["catalog.local_search"].span_id
    assert client.status.message == "UNAVAILABLE"
    assert client.kind == 3  # SPAN_KIND_CLIENT
    (total,) = encoded["catalog.local_search"].attributes
    assert (total.key, total.value.int_value) == ("yrd.total", 3)


def test_a_new_trace_is_sampled_with_a_time_ordered_id(traced):
    tracer, exporter, _, _ = traced
    span = start_light(tracer, "/yrd.v1.Catalog/Search", kind=SpanKind.SERVER)
    span.end()
    ctx = span.get_span_context()
    assert ctx.trace_flags.sampled and abs((ctx.trace_id >> 96) - time.time()) < 5
    (done,) = exporter.get_finished_spans()
    assert done.parent is None


def test_an_unsampled_parent_gives_a_span_that_records_nothing(traced):
    tracer, exporter, _, _ = traced
    parent = SpanContext(7, 9, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    with trace.use_span(NonRecordingSpan(parent)):
        span = start_light(tracer, "authorize")
        span.set_attribute("yrd.decision", "deny")
        span.end()
    assert not span.is_recording()
    assert span.get_span_context().trace_id == 7
    assert exporter.get_finished_spans() == ()


def test_status_rules_follow_the_sdk(traced):
    tracer, exporter, _, _ = traced
    ok = start_light(tracer, "ok")
    ok.set_status(StatusCode.OK)
    ok.set_status(Status(StatusCode.ERROR, "late"))  # OK is final
    ok.end()
    unset = start_light(tracer, "unset")
    unset.set_status(StatusCode.ERROR, "NO_GRANT")
    unset.set_status(StatusCode.UNSET)  # never replaces anything
    unset.end()
    unset.set_status(StatusCode.OK)  # after the end: ignored
    unset.set_attribute("late", "x")
    spans = by_name(exporter)
    assert spans["ok"].status.status_code is StatusCode.OK
    assert spans["unset"].status.status_code is StatusCode.ERROR
    assert spans["unset"].status.description == "NO_GRANT"
    assert "late" not in spans["unset"].attributes


def test_an_escaping_exception_is_recorded_and_marks_the_span(traced):
    tracer, exporter, _, _ = traced
    with pytest.raises(KeyError), current(tracer, "fanout.peer"):
        raise KeyError("sh")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception" and event.attributes["exception.type"] == "KeyError"


def test_ending_twice_reports_once_and_attributes_are_bounded(traced):
    tracer, exporter, _, _ = traced
    span = start_light(tracer, "many")
    for i in range(200):
        span.set_attribute(f"k{i}", i)
    span.set_attribute("k0", "changed")  # an existing key may still change
    span.end()
    span.end()
    (done,) = exporter.get_finished_spans()
    assert len(done.attributes) == 128 and done.attributes["k0"] == "changed"


def test_a_node_without_tracing_gets_no_spans():
    span = start_light(NoOpTracer(), "authorize")
    assert not span.is_recording() and not span.get_span_context().is_valid
    with step("masking") as masked:  # no span is current: nothing to record on
        masked.set_attribute("yrd.masked_fields", 1)
    assert not masked.is_recording()
