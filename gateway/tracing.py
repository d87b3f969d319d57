"""The current trace id, as callers see it in replies and the CLI; the steps of a call, recorded
as events on the span they run under; and spans for the work made current around them
(``current``)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from gateway.telemetry.attributes import STEP_ERROR, STEP_MS, STEP_STATUS
from gateway.telemetry.light import start_light


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


class step:  # noqa: N801 - used like a function: ``with step("masking") as s``
    """One step of a call that starts no spans of its own (authorize, backend call, masking),
    recorded as an event on the current span when the block ends: the event's time is the
    step's start, its attributes the step's (``set_attribute``), its length ``STEP_MS``, and a
    failure ``STEP_STATUS``/``STEP_ERROR``. The span store keeps each such event as a row under
    its span, so ``yrdgw trace show`` and the web page show the step as before; OTLP receives a
    plain span event.

    Why events (issue 18): as child spans, the owner's three steps were half the spans of a
    cross-province call, each with its own ids, span object and trip through the processors.
    An exception leaving the block marks the step failed unless it already set its own status.
    Without a recording span (tracing off, or an unsampled trace) a step records nothing.
    """

    __slots__ = ("_attributes", "_error", "_name", "_parent", "_start")

    def __init__(self, name: str) -> None:
        self._name = name
        self._attributes: dict[str, AttributeValue] = {}
        self._error: str | None = None
        self._parent: Span | None = None
        self._start = 0

    def __enter__(self) -> step:
        parent = trace.get_current_span()
        if parent.is_recording():
            self._parent = parent
            self._start = time.time_ns()
        return self

    def is_recording(self) -> bool:
        return self._parent is not None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self._parent is not None:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        if self._parent is not None:
            self._attributes.update(attributes)

    def set_status(self, status: Status) -> None:
        """Only an error is kept (a step that ends without one succeeded)."""
        if status.status_code is StatusCode.ERROR and self._error is None:
            self._error = status.description or "ERROR"

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        parent = self._parent
        if parent is None:
            return
        ended = time.time_ns()
        attributes = self._attributes
        attributes[STEP_MS] = round((ended - self._start) / 1e6, 3)
        error = self._error
        if error is None and exc is not None:
            error = type(exc).__name__
        if error is not None:
            attributes[STEP_STATUS] = "ERROR"
            attributes[STEP_ERROR] = error
        parent.add_event(self._name, attributes, self._start)


@contextmanager
def current(tracer: Tracer, name: str, *, kind: SpanKind = SpanKind.INTERNAL) -> Iterator[Span]:
    """A light span made current for the block (``start_as_current_span`` without the SDK's span
    object): ended when the block leaves, ERROR with the exception recorded if one escapes."""
    span = start_light(tracer, name, kind=kind)
    with trace.use_span(span, end_on_exit=True):  # records an escaping exception, sets ERROR
        yield span
