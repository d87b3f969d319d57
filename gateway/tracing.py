"""Trace context helpers: the current trace id, and W3C trace context for outgoing metadata."""

from __future__ import annotations

from opentelemetry import propagate, trace


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def trace_metadata() -> tuple[tuple[str, str], ...]:
    """traceparent/tracestate of the current span, for a hand-built outgoing call."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple(carrier.items())
