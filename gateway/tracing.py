"""The current trace id, as callers see it in replies and the CLI, and spans for the steps of a
call and for the work made current around them (``current``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from gateway.telemetry.light import start_light


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


class step:  # noqa: N801 - used like a function: ``with step(tracer, "masking") as span``
    """A span for one step of a call that starts no spans of its own (authorize, backend call,
    masking): a light span (``gateway.telemetry.light``) under the current span, not made
    current itself. An exception leaving the block marks it ERROR unless the step already set
    its own status."""

    __slots__ = ("_name", "_span", "_tracer")

    def __init__(self, tracer: Tracer, name: str) -> None:
        self._tracer = tracer
        self._name = name
        self._span: Any = None

    def __enter__(self) -> Span:
        self._span = start_light(self._tracer, self._name)
        return self._span

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        span = self._span
        if exc is not None and span.is_recording():
            status = getattr(span, "status", None)
            if status is None or status.status_code is StatusCode.UNSET:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        span.end()


@contextmanager
def current(tracer: Tracer, name: str, *, kind: SpanKind = SpanKind.INTERNAL) -> Iterator[Span]:
    """A light span made current for the block (``start_as_current_span`` without the SDK's span
    object): ended when the block leaves, ERROR with the exception recorded if one escapes."""
    span = start_light(tracer, name, kind=kind)
    with trace.use_span(span, end_on_exit=True):  # records an escaping exception, sets ERROR
        yield span
