"""Light spans: the gateway's spans recorded without the SDK's mutable span object, handed to
the SDK's span processors as the SDK's own ``ReadableSpan`` when they end.

A light span is timed, collects its attributes, events and status in plain Python, and is made
current through the OpenTelemetry API like any span (``trace.use_span``,
``trace.set_span_in_context``), so children, ``get_current_span()`` and W3C propagation work as
usual. When it ends it becomes a ``ReadableSpan`` with ids from the provider's id generator and
the provider's resource and instrumentation scope, and goes to the tracer's span processors: the
node's span store, and OTLP when configured. Stores and exporters see a span like any other.

Why (issue 6): in a serving node an SDK span cost ~100 µs of the event loop's time from
``start_span`` to the end of its processors (the sampler, a ``BoundedAttributes`` with its lock
and per-value validation, the span's own lock, the processors' multiplexer), several times a
microbenchmark's figure once the caches are shared with the rest of a call, and a
cross-province call makes six spans. Sampling follows the parent (the SDK's default
``ParentBased(ALWAYS_ON)``): a node records every trace it starts.

What a light span does not do: links, and attribute limits beyond a count (the gateway sets its
own attributes, a handful per span). It is not thread-safe beyond what a dict under the GIL
gives: a span belongs to the task that timed it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import Attributes, AttributeValue

__all__ = ["LightSpan", "start_light"]

log = logging.getLogger(__name__)

_MAX_ATTRIBUTES = 128
_UNSET = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def start_light(
    tracer: trace.Tracer,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
    context: Context | None = None,
) -> Span:
    """A span under the span of ``context`` (default: the current context), not made current.

    ``tracer`` must be an SDK tracer for the span to be recorded; any other tracer (the no-op
    one of a node without tracing) gets ``tracer.start_span``'s answer. A parent that is not
    sampled gives a non-recording span carrying the parent's trace, as the SDK's parent-based
    sampler would; no valid parent starts a new, sampled trace.
    """
    processor = getattr(tracer, "span_processor", None)
    ids = getattr(tracer, "id_generator", None)
    if processor is None or ids is None:
        return tracer.start_span(name, context=context, kind=kind, attributes=attributes)
    parent = trace.get_current_span(context).get_span_context()
    if not parent.is_valid:
        own = SpanContext(
            ids.generate_trace_id(), ids.generate_span_id(), is_remote=False, trace_flags=_SAMPLED
        )
        return LightSpan(tracer, processor, name, kind, own, None, attributes)
    own = SpanContext(
        parent.trace_id,
        ids.generate_span_id(),
        is_remote=False,
        trace_flags=parent.trace_flags,
        trace_state=parent.trace_state,
    )
    if not parent.trace_flags.sampled:
        return NonRecordingSpan(own)
    return LightSpan(tracer, processor, name, kind, own, parent, attributes)


class LightSpan(Span):
    """A recording span that reaches the span processors as a ``ReadableSpan`` when it ends."""

    __slots__ = (
        "_attributes",
        "_context",
        "_end",
        "_events",
        "_kind",
        "_name",
        "_parent",
        "_processor",
        "_start",
        "_status",
        "_tracer",
    )

    def __init__(
        self,
        tracer: Any,
        processor: Any,
        name: str,
        kind: SpanKind,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: Mapping[str, AttributeValue] | None,
    ) -> None:
        self._tracer = tracer
        self._processor = processor
        self._name = name
        self._kind = kind
        self._context = context
        self._parent = parent
        self._attributes: dict[str, AttributeValue] = dict(attributes) if attributes else {}
        if attributes and not all(type(v) is str for v in self._attributes.values()):
            self._attributes = {k: _clean(v) for k, v in self._attributes.items()}
        self._events: list[Event] = []
        self._status = _UNSET
        self._end: int | None = None
        self._start = time.time_ns()

    # -- the API -------------------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end is None

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> SpanKind:
        return self._kind

    @property
    def parent(self) -> SpanContext | None:
        return self._parent

    @property
    def status(self) -> Status:
        return self._status

    @property
    def attributes(self) -> Mapping[str, AttributeValue]:
        return self._attributes

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self._end is not None:
            return
        attributes = self._attributes
        if len(attributes) < _MAX_ATTRIBUTES or key in attributes:
            attributes[key] = value if type(value) is str else _clean(value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end is None:
            self._events.append(Event(name, attributes, timestamp or time.time_ns()))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        log.debug("a light span keeps no links (%s)", self._name)

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: OK is final, and UNSET never replaces anything.
        if self._end is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        event: dict[str, AttributeValue] = {
            "exception.type": type(exception).__name__,
            "exception.message": str(exception),
            "exception.escaped": str(escaped),
        }
        event.update(attributes or {})
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end is not None:
            return
        self._end = end_time or time.time_ns()
        tracer = self._tracer
        span = ReadableSpan(
            name=self._name,
            context=self._context,
            parent=self._parent,
            resource=tracer.resource,
            attributes=self._attributes,
            events=tuple(self._events),
            kind=self._kind,
            status=self._status,
            start_time=self._start,
            end_time=self._end,
            instrumentation_scope=getattr(tracer, "_instrumentation_scope", None),
        )
        try:
            self._processor.on_end(span)
        except Exception:  # noqa: BLE001 - telemetry never breaks the caller
            log.exception("span %s could not be processed", self._name)

    def __repr__(self) -> str:
        return f"LightSpan({self._name!r}, {self._context.span_id:016x})"


def _clean(value: AttributeValue) -> AttributeValue:
    """A sequence becomes a tuple (the span must not share a list its caller may change); other
    values are kept as given (the gateway's own: text, numbers, booleans)."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Sequence):
        return tuple(value)
    return str(value)
