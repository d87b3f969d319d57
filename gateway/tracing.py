"""The current trace id, as callers see it in replies and the CLI."""

from __future__ import annotations

from opentelemetry import trace


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
