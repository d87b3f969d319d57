"""The current trace id, as callers see it in replies and the CLI; the steps of a call, recorded
as events on the span they run under; and spans for the work made current around them
(``current``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer

from gateway.telemetry.light import start_light
from gateway.telemetry.steps import step

__all__ = ["current", "current_trace_id", "step"]


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


@contextmanager
def current(tracer: Tracer, name: str, *, kind: SpanKind = SpanKind.INTERNAL) -> Iterator[Span]:
    """A light span made current for the block (``start_as_current_span`` without the SDK's span
    object): ended when the block leaves, ERROR with the exception recorded if one escapes."""
    span = start_light(tracer, name, kind=kind)
    with trace.use_span(span, end_on_exit=True):  # records an escaping exception, sets ERROR
        yield span
