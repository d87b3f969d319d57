"""The one server interceptor of a port: trace span, metrics, guards and error translation.

``GatewayError`` becomes its status with ErrorInfo naming this node; anything else is logged with
its stack and the client sees INTERNAL with a fixed message, so internals never leak. Guards run
before a handler (peer identity, standard version) and refuse by raising.

It is one interceptor, not a stack of four (metrics, OpenTelemetry's gRPC instrumentation, guards,
translation), because every grpc.aio interceptor layer costs a handler rebuild and a coroutine
frame per call. With the peer stub of ``gateway.telemetry.outbound``, replacing the stacks cut
a cross-province hop from ~1,630 to ~1,300 µs of CPU (issue 6). Wrapped handlers are built
once per method and reused.

What it records:

- a SERVER span named after the method, continuing the caller's W3C ``traceparent``
  (``rpc.system``, ``rpc.service``, ``rpc.method``, ``rpc.grpc.status_code``; refusals are
  ERROR with ``yrd.reason`` and ``yrd.refused_by``);
- the status the client sees, its latency and the refusal reason, in the node's ``Metrics``,
  with interface calls also counted per interface and side.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc
from grpc import aio
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.errors import GatewayError, Internal, InvalidArgument
from gateway.server.drain import Drain
from gateway.status import error_info, to_status
from gateway.telemetry.attributes import rpc_attributes
from gateway.telemetry.light import start_light
from gateway.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

Guard = Callable[[str, aio.ServicerContext], Awaitable[None] | None]
"""Called with the full method name and the context before the handler; raises to refuse."""

UNTRACED = ("/grpc.health.", "/grpc.reflection.")
"""Health probes and reflection would bury real traces; they are not user actions."""
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset(_PROPAGATOR.fields)
_INTERRUPTED = (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)


class Malformed:
    """Stands in for a request whose bytes did not decode, so the refusal is ours
    (INVALID_ARGUMENT with ErrorInfo) rather than grpc's bare UNKNOWN naming a Python class."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def _safe(deserializer):
    if deserializer is None:
        return None
    type_name = getattr(getattr(deserializer, "__self__", None), "DESCRIPTOR", None)
    type_name = type_name.full_name if type_name is not None else "request"

    def decode(data: bytes):
        try:
            return deserializer(data)
        except Exception:  # noqa: BLE001 - DecodeError and friends: refused in the handler
            return Malformed(type_name)

    return decode


# -- which interface a call is for (metrics per interface) ------------------------------------


def _interface_of_exchange(request: Any) -> str:
    return request.interface_id


def _interface_of_exchange_stream(request: Any) -> str:
    return request.call.interface_id


def _interface_of_forwarded_stream(request: Any) -> str:
    return request.call.call.interface_id


InterfaceOf = Callable[[Any], str]
INTERFACE_METHODS: dict[str, tuple[str, InterfaceOf]] = {
    # method -> (side, how to read the interface id from its request); the client-port side
    # becomes "local" when the interface belongs to this node.
    "/yrd.v1.Exchange/Invoke": ("consumer", _interface_of_exchange),
    "/yrd.v1.Exchange/InvokeStream": ("consumer", _interface_of_exchange_stream),
    "/yrd.v1.Federation/Invoke": ("provider", _interface_of_exchange_stream),
    "/yrd.v1.Federation/InvokeStream": ("provider", _interface_of_forwarded_stream),
}


class _Call:
    """What the interceptor keeps about one RPC until its status is known."""

    __slots__ = ("started", "span", "token", "code", "reason", "interface", "side")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.span: Any = None
        self.token: Any = None
        self.code = grpc.StatusCode.OK
        self.reason = ""
        self.interface = ""
        self.side = ""


class Edge(aio.ServerInterceptor):
    """Put it alone on a server: ``aio.server(interceptors=[Edge(...)])``.

    ``metrics`` and ``tracer`` are optional (a node started with tracing off passes no tracer);
    ``port`` labels the metrics ("client" or "peer").
    """

    def __init__(
        self,
        node: str,
        *,
        port: str = "client",
        metrics: Metrics | None = None,
        tracer: Tracer | None = None,
        guards: Sequence[Guard] = (),
        span_attributes: Mapping[str, str | int] | None = None,
        drain: Drain | None = None,
    ) -> None:
        """``span_attributes`` go on every SERVER span as well (which worker of a node served
        the call, say). ``drain``: where calls in flight are registered, so a stopping node
        answers those it cannot finish UNAVAILABLE (``gateway.server.drain``)."""
        self._node = node
        self._span_attributes = dict(span_attributes or {})
        self._port = port
        self._metrics = metrics
        self._tracer = tracer
        self._guards = tuple(guards)
        self._drain = drain or Drain(node)
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:  # the method name is the caller's text: never a label or a key
            if self._metrics is not None:
                self._safely(
                    self._metrics.observe_rpc,
                    "unimplemented",
                    grpc.StatusCode.UNIMPLEMENTED,
                    0.0,
                    port=self._port,
                )
            return None
        # The span's attributes, built once per method; None: this method is not traced.
        traced = (
            {**rpc_attributes(method), **self._span_attributes}
            if self._tracer is not None and not method.startswith(UNTRACED)
            else None
        )
        if handler.unary_unary:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary, traced),
                request_deserializer=_safe(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        elif handler.unary_stream:
            wrapped = grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream, traced),
                request_deserializer=_safe(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        else:  # no client-streaming methods in our services
            return handler
        self._handlers[method] = wrapped  # registered methods only: a bounded set
        return wrapped

    # -- the wrappers ----------------------------------------------------------------------

    def _wrap_unary(self, method: str, behavior: Callable[..., Any], traced: dict | None):
        async def wrapped(request, context):
            seen = self._begin(method, request, context, traced)
            task = self._drain.enter()
            try:
                await self._check(method, request, context)
                response = await behavior(request, context)
                seen.code = _final_code(context, grpc.StatusCode.OK)
                return response
            except aio.AbortError:
                self._aborted(seen, context)
                raise
            except Exception as exc:  # noqa: BLE001 - the translation point
                await self._refuse(method, context, exc, seen)
            except asyncio.CancelledError as exc:  # out of time, the client left, or shed
                await self._interrupted(method, context, exc, seen, task)
            except BaseException as exc:
                seen.code = _interrupted_code(context, exc)
                raise
            finally:
                self._drain.leave(task)
                self._finish(method, seen)

        return wrapped

    def _wrap_stream(self, method: str, behavior: Callable[..., Any], traced: dict | None):
        async def wrapped(request, context):
            seen = self._begin(method, request, context, traced)
            task = self._drain.enter()
            try:
                await self._check(method, request, context)
                async for item in behavior(request, context):
                    yield item
                seen.code = _final_code(context, grpc.StatusCode.OK)
            except aio.AbortError:
                self._aborted(seen, context)
                raise
            except Exception as exc:  # noqa: BLE001 - the translation point
                await self._refuse(method, context, exc, seen)
            except asyncio.CancelledError as exc:  # out of time, the client left, or shed
                await self._interrupted(method, context, exc, seen, task)
            except BaseException as exc:  # also GeneratorExit: the client left mid-stream
                seen.code = _interrupted_code(context, exc)
                raise
            finally:
                self._drain.leave(task)
                self._finish(method, seen)

        return wrapped

    # -- steps -----------------------------------------------------------------------------

    def _begin(self, method: str, request: Any, context, traced: dict | None) -> _Call:
        seen = _Call()
        tracer = self._tracer
        if traced is not None and tracer is not None:
            try:
                parent = _extract(context.invocation_metadata())
                seen.span = start_light(
                    tracer, method, kind=SpanKind.SERVER, attributes=traced, context=parent
                )
                seen.token = otel_context.attach(trace.set_span_in_context(seen.span, parent))
            except Exception:  # noqa: BLE001 - tracing never breaks a call
                log.exception("cannot start the span of %s", method)
        if self._metrics is not None:
            known = INTERFACE_METHODS.get(method)
            if known is not None:
                try:
                    side, interface_of = known
                    seen.interface = interface_of(request)
                    if side == "consumer" and seen.interface.split("/", 1)[0] == self._node:
                        side = "local"
                    seen.side = side
                except Exception:  # noqa: BLE001 - a Malformed request has no interface
                    log.debug("no interface id in %s", method, exc_info=True)
        return seen

    async def _check(self, method: str, request, context: aio.ServicerContext) -> None:
        if isinstance(request, Malformed):
            raise InvalidArgument(
                "request", f"not a valid {request.type_name} message", reason="MALFORMED_REQUEST"
            )
        for guard in self._guards:
            result = guard(method, context)
            if asyncio.iscoroutine(result):
                await result

    async def _refuse(self, method: str, context, exc: Exception, seen: _Call) -> None:
        if not isinstance(exc, GatewayError):
            log.exception("unexpected error in %s", method)
            exc = Internal()
        seen.code, seen.reason = exc.code, exc.reason
        if seen.span is not None:
            # Refusals show as errors in traces, with the stable reason and who refused.
            seen.span.set_status(Status(StatusCode.ERROR, exc.reason))
            seen.span.set_attributes(
                {"yrd.reason": exc.reason, "yrd.refused_by": exc.node or self._node}
            )
        status = to_status(exc, self._node)
        await context.abort(status.code, status.details, status.trailing_metadata)

    async def _interrupted(
        self, method: str, context, exc: asyncio.CancelledError, seen: _Call, task
    ) -> None:
        """A cancelled handler: a stopping node's drain answers it UNAVAILABLE (the caller may
        retry); otherwise it ran out of time or lost its client, and the cancel goes on."""
        refusal = self._drain.refusal(task)
        if refusal is None:
            seen.code = _interrupted_code(context, exc)
            raise exc
        await self._refuse(method, context, refusal, seen)

    @staticmethod
    def _aborted(seen: _Call, context) -> None:
        """A handler called ``context.abort`` itself: read the status it left."""
        seen.code = _final_code(context, grpc.StatusCode.UNKNOWN)
        seen.reason = _reason(context)
        if seen.span is not None:
            seen.span.set_status(Status(StatusCode.ERROR, seen.reason or seen.code.name))

    def _finish(self, method: str, seen: _Call) -> None:
        span = seen.span
        if span is not None:
            try:
                span.set_attribute("rpc.grpc.status_code", seen.code.value[0])
                if seen.code in _INTERRUPTED:
                    span.set_status(Status(StatusCode.ERROR, seen.code.name))
                span.end()
                otel_context.detach(seen.token)
            except Exception:  # noqa: BLE001 - tracing never breaks a call
                log.exception("cannot end the span of %s", method)
        if self._metrics is None:
            return
        try:
            seconds = time.perf_counter() - seen.started
            self._metrics.observe_rpc(
                method, seen.code, seconds, port=self._port, reason=seen.reason
            )
            if seen.side:
                self._metrics.observe_interface(seen.interface, seen.side, seen.code.name, seconds)
        except Exception:  # noqa: BLE001 - metrics never break a call
            log.exception("recording metrics for %s failed", method)

    @staticmethod
    def _safely(record: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        try:
            record(*args, **kwargs)
        except Exception:  # noqa: BLE001 - metrics never break a call
            log.exception("recording metrics failed")


def _extract(metadata) -> Any:
    """The caller's trace context from ``traceparent``/``tracestate``; None starts a new trace.

    A lone version-00 ``traceparent`` (what peers and the CLI send) is read here at half the
    propagator's cost (issue 18: every peer call's server span reads one); anything else (a
    ``tracestate``, another version, zero ids) goes to the propagator."""
    carrier = None
    for key, value in metadata or ():
        if key in _TRACE_HEADERS:
            if carrier is None:
                carrier = {}
            carrier[key] = value
    if carrier is None:
        return None
    if len(carrier) == 1:
        parent = _traceparent(carrier.get("traceparent"))
        if parent is not None:
            return trace.set_span_in_context(NonRecordingSpan(parent))
    return _PROPAGATOR.extract(carrier)


_TRACEPARENT_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def _traceparent(value: str | None) -> SpanContext | None:
    """The remote span context of a well-formed version-00 ``traceparent`` with valid ids, as
    ``TraceContextTextMapPropagator`` reads it; None for anything else."""
    if value is None or len(value) != 55:
        return None
    match = _TRACEPARENT_00.fullmatch(value)
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    parent = SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16))
    )
    return parent if parent.is_valid else None


def _final_code(context, default: grpc.StatusCode) -> grpc.StatusCode:
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - an older grpc without ServicerContext.code()
        return default
    if isinstance(code, grpc.StatusCode):
        return code
    return default


def _interrupted_code(context, exc: BaseException) -> grpc.StatusCode:
    """A cancelled handler ran out of time or lost its client."""
    try:
        remaining = context.time_remaining()
    except Exception:  # noqa: BLE001
        remaining = None
    if remaining is not None and remaining <= 0:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED


def _reason(context) -> str:
    """The ErrorInfo reason an abort carried in its trailing metadata, if any."""
    try:
        info = error_info(context.trailing_metadata())
        if info is not None:
            return info.reason
    except Exception:  # noqa: BLE001 - metrics never break a call
        log.debug("unreadable status details", exc_info=True)
    return ""
