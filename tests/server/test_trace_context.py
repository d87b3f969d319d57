"""A caller's trace context read from its metadata: the fast reading of a version-00
``traceparent`` gives exactly the context the standard W3C propagator gives, and anything else
is left to that propagator."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.server import interceptors

PROPAGATOR = TraceContextTextMapPropagator()
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"

HEADERS = [
    [("traceparent", f"00-{TRACE}-{SPAN}-01")],
    [("traceparent", f"00-{TRACE}-{SPAN}-00")],
    [("traceparent", f"00-{TRACE}-{SPAN}-ff")],
    [("traceparent", f"00-{'0' * 32}-{SPAN}-01")],  # invalid ids: ignored
    [("traceparent", f"00-{TRACE}-{'0' * 16}-01")],
    [("traceparent", f"00-{TRACE.upper()}-{SPAN}-01")],  # upper case: not W3C
    [("traceparent", f" 00-{TRACE}-{SPAN}-01 ")],
    [("traceparent", f"00-{TRACE}-{SPAN}-01-extra")],  # version 00 has four fields
    [("traceparent", f"01-{TRACE}-{SPAN}-01-future")],  # a later version may have more
    [("traceparent", f"ff-{TRACE}-{SPAN}-01")],
    [("traceparent", f"00-{TRACE}-{SPAN}")],
    [("traceparent", "")],
    [("traceparent", f"00-{TRACE}-{SPAN}-01"), ("tracestate", "yrd=1,other=x")],
    [("traceparent", f"00-{TRACE}-{SPAN}-01"), ("tracestate", "bad state")],
    [("tracestate", "yrd=1")],
    [("x-other", "1")],
    [],
]


def _context(ctx) -> tuple | None:
    if ctx is None:
        return None
    span = trace.get_current_span(ctx).get_span_context()
    return (
        span.trace_id,
        span.span_id,
        span.is_remote,
        span.trace_flags,
        span.trace_state.to_header(),
        span.is_valid,
        sorted(ctx),
    )


@pytest.mark.parametrize("metadata", HEADERS)
def test_the_callers_context_is_the_propagators(metadata) -> None:
    got = interceptors._extract(tuple(metadata))
    carrier = {k: v for k, v in metadata if k in ("traceparent", "tracestate")}
    if not carrier:
        assert got is None  # nothing to read: the call starts a new trace
        return
    expected = PROPAGATOR.extract(carrier)
    assert _context(got) == _context(expected)


def test_the_fast_reading_serves_what_nodes_send() -> None:
    assert interceptors._parent_of(f"00-{TRACE}-{SPAN}-01") is not None
    for other in (f"00-{TRACE}-{SPAN}-01-x", f"00-{TRACE.upper()}-{SPAN}-01", None):
        assert interceptors._parent_of(other) is None
