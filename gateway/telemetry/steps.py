"""One step of a call recorded as an event on the span it runs under (``step``), below the
layer of ``gateway.tracing`` (which re-exports it) so that the peer stub
(``gateway.telemetry.outbound``) records a forward as one too."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from gateway.telemetry.attributes import STEP_ERROR, STEP_MS, STEP_STATUS

__all__ = ["step"]


class step:  # noqa: N801 - used like a function: ``with step("masking") as s``
    """One step of a call that starts no spans of its own (authorize, backend call, masking),
    recorded as an event on the current span when the block ends: the event's time is the
    step's start, its attributes the step's (``set_attribute``), its length ``STEP_MS``, and a
    failure ``STEP_STATUS``/``STEP_ERROR``. The span store keeps the steps in their span's row
    and reads each back as a row under the span, so ``yrdgw trace show`` and the web page show
    the step as before; OTLP receives a plain span event.

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

    @property
    def span(self) -> Span | None:
        """The span the step is recorded on; None when it records nothing."""
        return self._parent

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

    def end(self) -> None:
        """End the step outside a ``with`` block (as a span ends): it records what it holds."""
        self.__exit__(None, None, None)

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
