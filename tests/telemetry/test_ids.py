"""Trace ids begin with the time (so the span store's index grows at one end) and stay valid,
random W3C trace ids everywhere else."""

from __future__ import annotations

import time

from opentelemetry.trace import TraceFlags

from gateway.telemetry.ids import TimeOrderedIdGenerator
from gateway.telemetry.provider import Telemetry
from gateway.telemetry.spanstore import SpanStore


def test_trace_ids_are_the_time_then_96_random_bits():
    gen = TimeOrderedIdGenerator()
    before = int(time.time())
    ids = [gen.generate_trace_id() for _ in range(2000)]
    after = int(time.time())
    assert all(before <= i >> 96 <= after for i in ids)
    assert len(set(ids)) == len(ids)
    low = [i & (2**96 - 1) for i in ids]
    # Random, not a counter: about half the low bits set, and no order among them.
    ones = sum(bin(v).count("1") for v in low) / (96 * len(low))
    assert 0.45 < ones < 0.55
    assert low != sorted(low)
    assert gen.is_trace_id_random()
    assert gen.generate_span_id() != 0


def test_ids_of_later_seconds_sort_after_earlier_ones():
    early = [TimeOrderedIdGenerator.trace_id_at(1_700_000_000) for _ in range(100)]
    late = [TimeOrderedIdGenerator.trace_id_at(1_700_000_001) for _ in range(100)]
    assert max(early) < min(late)
    assert f"{max(early):032x}" < f"{min(late):032x}"  # the stored hex text sorts the same way


def test_a_node_starts_traces_with_time_ordered_ids(tmp_path):
    telemetry = Telemetry("js", SpanStore(tmp_path / "spans.db", "js"))
    try:
        span = telemetry.tracer("test").start_span("/yrd.v1.Catalog/Search")
        span.end()
        ctx = span.get_span_context()
        assert abs((ctx.trace_id >> 96) - time.time()) < 5
        assert ctx.trace_flags & TraceFlags.SAMPLED
    finally:
        telemetry.shutdown()
