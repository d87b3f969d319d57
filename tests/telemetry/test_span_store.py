"""The span store and the processor that feeds it: real SDK spans into a real SQLite file and
into PostgreSQL."""

from __future__ import annotations

import json
import logging
import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from gateway.postgres import Postgres
from gateway.telemetry.spanstore import STEP_KIND, SpanStore, SpanStoreProcessor
from gateway.tracing import step


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path):
    """Where the store keeps its spans: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield tmp_path / "spans.db"
        return
    with Postgres(request.getfixturevalue("pg_dsn")) as pg:
        yield pg


def traced(where, **kwargs):
    store = SpanStore(where, "sh")
    processor = SpanStoreProcessor(store, **kwargs)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return store, processor, provider.get_tracer("test")


def test_flushed_spans_are_in_the_store_with_their_tree(where):
    store, processor, tracer = traced(where, interval=60)  # only the flush writes
    with tracer.start_as_current_span(
        "/yrd.v1.Exchange/Invoke", kind=SpanKind.SERVER, attributes={"yrd.app": "js/rsj/a"}
    ) as root:
        with tracer.start_as_current_span("authorize") as child:
            child.set_attribute("yrd.decision", "allow")
    trace_id = format(root.get_span_context().trace_id, "032x")
    assert store.trace(trace_id) == []  # nothing written before the flush
    assert processor.force_flush()
    spans = {s.name: s for s in store.trace(trace_id)}
    assert set(spans) == {"/yrd.v1.Exchange/Invoke", "authorize"}
    assert spans["authorize"].parent_id == spans["/yrd.v1.Exchange/Invoke"].span_id
    assert spans["authorize"].attributes == {"yrd.decision": "allow"}
    assert (
        spans["/yrd.v1.Exchange/Invoke"].kind == "SERVER" and spans["/yrd.v1.Exchange/Invoke"].root
    )
    assert [t.app for t in store.recent()] == ["js/rsj/a"]
    processor.shutdown()


def test_a_step_is_read_as_a_row_under_its_span_on_both_backends(where):
    """A step (an event on its span, issue 18) is stored in its span's row, and read back as a
    STEP row under the span, with its length, attributes and failure, in order of start; it is
    not counted among the trace's spans. An event that is no step (a recorded exception) is
    not a row."""
    store, processor, tracer = traced(where, interval=60)
    with tracer.start_as_current_span("/yrd.v1.Exchange/Invoke", kind=SpanKind.SERVER) as root:
        with step("authorize") as s:
            s.set_attribute("yrd.decision", "deny")
            s.set_attribute("yrd.fields", ["姓名", "id"])
            s.set_status(Status(StatusCode.ERROR, "NO_GRANT"))
        root.record_exception(ValueError("not a step"))
        with step("masking") as s:
            s.set_attribute("yrd.masked_fields", 2)
    assert processor.force_flush()
    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = store.trace(trace_id)
    assert [s.name for s in spans] == [root.name, "authorize", "masking"]
    span, authorize, masking = spans
    assert authorize.kind == STEP_KIND and authorize.parent_id == span.span_id
    assert (authorize.status, authorize.status_message) == ("ERROR", "NO_GRANT")
    assert authorize.attributes == {"yrd.decision": "deny", "yrd.fields": "姓名,id"}
    assert authorize.duration_ms >= 0 and span.start_ns <= authorize.start_ns
    assert (masking.status, masking.status_message) == ("OK", "")
    assert masking.attributes == {"yrd.masked_fields": "2"} and masking.parent_id == span.span_id
    assert authorize.span_id != masking.span_id != span.span_id
    assert store.trace(trace_id) == spans  # the steps' ids are the same at every read
    assert [t.span_count for t in store.recent()] == [1]
    processor.shutdown()


def test_a_span_store_written_before_steps_were_folded_is_migrated_and_still_read(tmp_path):
    """A SQLite span store whose steps were rows of their own (before issue 18's fold) gains
    the steps column when opened, and its old STEP rows still read under their spans."""
    import sqlite3

    from gateway.telemetry.spanstore import _SCHEMA

    path = tmp_path / "spans.db"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA)
    old = ("t" * 32, "a" * 16, "", "sh", "/yrd.v1.Federation/Invoke", "SERVER", 10, 2.0)
    conn.execute(
        "INSERT INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (*old, "UNSET", "", "js/rsj/a", "sh/gaj/x/v1", "{}", 0),
    )
    conn.execute(
        "INSERT INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            "t" * 32,
            "b" * 16,
            "a" * 16,
            "sh",
            "authorize",
            STEP_KIND,
            11,
            0.5,
            "UNSET",
            "",
            "",
            "",
            '{"yrd.decision": "allow"}',
            0,
        ),
    )
    conn.commit()
    conn.close()
    store = SpanStore(path, "sh")
    spans = store.trace("t" * 32)
    assert [(s.name, s.kind, s.parent_id, s.status) for s in spans] == [
        ("/yrd.v1.Federation/Invoke", "SERVER", "", "OK"),
        ("authorize", STEP_KIND, "a" * 16, "OK"),
    ]
    assert spans[1].attributes == {"yrd.decision": "allow"}
    store.close()
    SpanStore(path, "sh").close()  # opening a migrated store again changes nothing


def test_the_writer_thread_stores_without_a_flush(where):
    store, processor, tracer = traced(where, interval=0.01)
    with tracer.start_as_current_span("masking") as span:
        pass
    trace_id = format(span.get_span_context().trace_id, "032x")
    for _ in range(500):
        if store.trace(trace_id):
            break
        time.sleep(0.01)
    assert [s.name for s in store.trace(trace_id)] == ["masking"]
    processor.shutdown()


def test_unsampled_spans_are_not_stored(where):
    store, processor, tracer = traced(where, interval=60)
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    with tracer.start_as_current_span(
        "gather", context=trace.set_span_in_context(NonRecordingSpan(parent))
    ):
        pass
    processor.force_flush()
    assert store.trace(format(0x1234, "032x")) == []
    processor.shutdown()


def test_a_stalled_store_drops_and_counts_beyond_its_bound(where, caplog):
    store, processor, tracer = traced(where, interval=60, max_pending=3)
    with caplog.at_level(logging.WARNING, logger="gateway.telemetry.spanstore"):
        for i in range(5):
            with tracer.start_as_current_span(f"s{i}"):
                pass
    assert processor.dropped == 2
    assert "2 spans dropped" not in caplog.text and "1 spans dropped" in caplog.text
    processor.force_flush()
    assert len(store.recent(limit=10)) == 3
    processor.shutdown()


def test_shutdown_writes_what_is_pending_and_then_ignores_spans(where):
    store, processor, tracer = traced(where, interval=60)
    with tracer.start_as_current_span("before"):
        pass
    processor.shutdown()
    with tracer.start_as_current_span("after"):
        pass
    processor.force_flush()
    assert [t.root for t in store.recent(limit=10)] == ["before"]


def test_a_row_keeps_every_attribute_kind_and_status_from_sdk_and_plain_spans():
    """span_row reads the SDK's dict behind its bounded attributes, and a plain mapping when a
    span has no such dict (a ReadableSpan built by hand, as exporters' tests do)."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Status, StatusCode

    from gateway.telemetry.spanstore import span_row

    provider = TracerProvider()
    span = provider.get_tracer("test").start_span(
        "masking",
        kind=SpanKind.CLIENT,
        attributes={"yrd.app": "js/rsj/a", "yrd.masked_fields": 2, "yrd.fields": ["姓名", "id"]},
    )
    span.set_status(Status(StatusCode.ERROR, "NO_GRANT"))
    span.end()
    ctx = span.get_span_context()
    plain = ReadableSpan(
        name="backend.call",
        context=ctx,
        attributes={"yrd.interface": "sh/gaj/x/v1", "n": 1.5},
        start_time=10,
        end_time=2_000_010,
    )
    row = span_row(span, "sh")
    assert row[3:6] == ("sh", "masking", "CLIENT")
    assert row[8:11] == ("ERROR", "NO_GRANT", "js/rsj/a")
    assert json.loads(row[12]) == {
        "yrd.app": "js/rsj/a",
        "yrd.masked_fields": "2",
        "yrd.fields": "姓名,id",
    }
    assert "姓名" in row[12]  # stored as text, not \\u escapes
    other = span_row(plain, "js")
    assert other[4:8] == ("backend.call", "INTERNAL", 10, 2.0)
    assert other[8] == "UNSET" and other[11] == "sh/gaj/x/v1"
    assert json.loads(other[12]) == {"yrd.interface": "sh/gaj/x/v1", "n": "1.5"}
    assert row[14] == other[14] == ""  # no steps


def test_any_replica_gathers_a_trace_whose_spans_other_replicas_wrote(pg_dsn):
    """Two replicas of sh, each with its own pool, span store and processor: a trace that
    crossed both is whole from either."""
    with Postgres(pg_dsn) as pg_a, Postgres(pg_dsn) as pg_b:
        stores, processors, tracers = [], [], []
        for pg in (pg_a, pg_b):
            store, processor, tracer = traced(pg, interval=60)
            stores.append(store)
            processors.append(processor)
            tracers.append(tracer)
        with tracers[0].start_as_current_span("/yrd.v1.Exchange/Invoke") as root:
            context = trace.set_span_in_context(NonRecordingSpan(root.get_span_context()))
        with tracers[1].start_as_current_span("provide", context=context):
            pass
        for processor in processors:
            assert processor.force_flush()
        trace_id = format(root.get_span_context().trace_id, "032x")
        for store in stores:
            assert {s.name for s in store.trace(trace_id)} == {"/yrd.v1.Exchange/Invoke", "provide"}
        for processor in processors:
            processor.shutdown()
