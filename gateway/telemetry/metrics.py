"""One node's metrics (Prometheus text format): RPCs served, interface calls, peer calls, errors.

Each node owns a ``CollectorRegistry`` (several nodes share a process in tests, so never the
global one). Two grpc.aio interceptors feed it: ``MetricsServerInterceptor`` on the client and
peer ports, ``peer_interceptors(peer)`` on each peer channel. Recording never breaks or holds up
a call: it happens outside the awaited path and a failure is logged and swallowed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc import aio
from prometheus_client import CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.exposition import choose_encoder

from gateway.exchange.model import INTERFACE_ID_RE

log = logging.getLogger(__name__)

__all__ = [
    "LATENCY_BUCKETS",
    "Metrics",
    "MetricsServerInterceptor",
    "PeerMetricsInterceptor",
]

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds: a local SQLite lookup (sub-millisecond) up to a call at the edge of its deadline."""
SIDES = ("local", "consumer", "provider")
OTHER = "other"
"""Label value once a caller-influenced label (interface id, refusal reason) hits its cap."""
DETAILS_KEY = "grpc-status-details-bin"


class _BoundedValues:
    """Caps how many distinct values a label takes: interface ids come from callers, and an
    unbounded label would let any client grow the node's memory and every scrape."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(value)
            return value


class Metrics:
    """The counters and histograms of one node, in its own registry."""

    def __init__(
        self, node: str, name: str = "", *, max_interfaces: int = 1000, max_reasons: int = 200
    ) -> None:
        self.node = node
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Info("yrd_node", "The gateway node (province) these metrics describe.", registry=r).info(
            {"node": node, "name": name or node}
        )
        self._rpc_total = Counter(
            "yrd_rpc_server_handled",
            "RPCs served by this node, by port, method and final status.",
            ("port", "method", "code"),
            registry=r,
        )
        self._rpc_seconds = Histogram(
            "yrd_rpc_server_handling_seconds",
            "Time to serve an RPC, until its status is sent.",
            ("port", "method"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._errors = Counter(
            "yrd_rpc_server_errors",
            "RPCs this node answered with a non-OK status, by status "
            "and stable reason (google.rpc.ErrorInfo).",
            ("code", "reason"),
            registry=r,
        )
        self._iface_total = Counter(
            "yrd_interface_calls",
            "Interface calls by interface, side (local: app and "
            "interface in this province; consumer: this node forwarded its app's call; "
            "provider: this node served another province's call) and status.",
            ("interface", "side", "status"),
            registry=r,
        )
        self._iface_seconds = Histogram(
            "yrd_interface_call_seconds",
            "Interface call latency as seen by this node.",
            ("interface", "side"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._peer_total = Counter(
            "yrd_peer_calls",
            "Calls this node made to a peer node, by method and status.",
            ("peer", "method", "code"),
            registry=r,
        )
        self._peer_seconds = Histogram(
            "yrd_peer_call_seconds",
            "Latency of calls to a peer node, until their status.",
            ("peer", "method"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._interface_label = _BoundedValues(max_interfaces)
        self._reason_label = _BoundedValues(max_reasons)

    def observe_rpc(
        self,
        method: str,
        code: grpc.StatusCode,
        seconds: float,
        *,
        port: str = "client",
        reason: str = "",
    ) -> None:
        """One served RPC; a non-OK one also counts as an error (with its reason, if any)."""
        self._rpc_total.labels(port, method, code.name).inc()
        self._rpc_seconds.labels(port, method).observe(seconds)
        if code != grpc.StatusCode.OK:
            self._errors.labels(code.name, self._reason_label(reason or code.name)).inc()

    def observe_interface(self, interface: str, side: str, status: str, seconds: float) -> None:
        """One interface call; ``status`` is a gRPC status name (``OK``, ``NOT_FOUND``)."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, not {side!r}")
        label = self._interface_label(interface) if INTERFACE_ID_RE.match(interface) else "invalid"
        self._iface_total.labels(label, side, status).inc()
        self._iface_seconds.labels(label, side).observe(seconds)

    def observe_peer(self, peer: str, method: str, code: grpc.StatusCode, seconds: float) -> None:
        """One call to a peer node, as this node's client saw it."""
        self._peer_total.labels(peer, method, code.name).inc()
        self._peer_seconds.labels(peer, method).observe(seconds)

    def render(self) -> bytes:
        """The whole registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """Body and content type for a scrape: the Prometheus text format (0.0.4) unless the
        scraper's ``Accept`` header asks for OpenMetrics."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type

    def peer_interceptors(self, peer: str) -> list[aio.ClientInterceptor]:
        """Client interceptors for the channel to ``peer`` (a channel knows only one target,
        and its calls do not say which, so each peer channel gets its own pair)."""
        return [_PeerUnaryUnary(self, peer), _PeerUnaryStream(self, peer)]


# -- server side -----------------------------------------------------------------------------


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


class _Observation:
    """What the server interceptor learns about one RPC before it can record it."""

    __slots__ = ("method", "port", "started", "interface", "side")

    def __init__(self, method: str, port: str) -> None:
        self.method = method
        self.port = port
        self.started = time.perf_counter()
        self.interface = ""
        self.side = ""


class MetricsServerInterceptor(aio.ServerInterceptor):
    """Times every unary-unary and unary-stream RPC and records its final status.

    Put it first (outermost) in the server's interceptor list so it sees what the client sees:
    the status an inner interceptor aborted with (``context.code()`` after ``AbortError``),
    UNKNOWN for an exception that escapes, CANCELLED or DEADLINE_EXCEEDED for a cancelled
    handler.
    """

    def __init__(self, metrics: Metrics, port: str = "client") -> None:
        self._metrics = metrics
        self._port = port

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:  # the method name is the caller's text: never a label
            self._safely(
                self._metrics.observe_rpc,
                "unimplemented",
                grpc.StatusCode.UNIMPLEMENTED,
                0.0,
                port=self._port,
            )
            return None
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap_unary(self, method: str, behavior: Callable[..., Any]):
        async def wrapped(request, context):
            seen = self._begin(method, request)
            code = grpc.StatusCode.UNKNOWN
            try:
                response = await behavior(request, context)
                code = _final_code(context, grpc.StatusCode.OK)
                return response
            except aio.AbortError:
                code = _final_code(context, grpc.StatusCode.UNKNOWN)
                raise
            except BaseException as exc:
                code = _interrupted_code(context, exc)
                raise
            finally:
                self._finish(seen, code, context)

        return wrapped

    def _wrap_stream(self, method: str, behavior: Callable[..., Any]):
        async def wrapped(request, context):
            seen = self._begin(method, request)
            code = grpc.StatusCode.UNKNOWN
            try:
                async for item in behavior(request, context):
                    yield item
                code = _final_code(context, grpc.StatusCode.OK)
            except aio.AbortError:
                code = _final_code(context, grpc.StatusCode.UNKNOWN)
                raise
            except BaseException as exc:  # also GeneratorExit: the client left mid-stream
                code = _interrupted_code(context, exc)
                raise
            finally:
                self._finish(seen, code, context)

        return wrapped

    def _begin(self, method: str, request: Any) -> _Observation:
        seen = _Observation(method, self._port)
        known = INTERFACE_METHODS.get(method)
        if known is not None:
            try:
                side, interface_of = known
                seen.interface = interface_of(request)
                if side == "consumer" and seen.interface.split("/", 1)[0] == self._metrics.node:
                    side = "local"
                seen.side = side
            except Exception:  # noqa: BLE001 - metrics never break a call
                log.debug("no interface id in %s", method, exc_info=True)
        return seen

    def _finish(self, seen: _Observation, code: grpc.StatusCode, context) -> None:
        try:
            seconds = time.perf_counter() - seen.started
            reason = _reason(context) if code != grpc.StatusCode.OK else ""
            self._metrics.observe_rpc(seen.method, code, seconds, port=seen.port, reason=reason)
            if seen.side:
                self._metrics.observe_interface(seen.interface, seen.side, code.name, seconds)
        except Exception:  # noqa: BLE001 - metrics never break a call
            log.exception("recording metrics for %s failed", seen.method)

    @staticmethod
    def _safely(record: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        try:
            record(*args, **kwargs)
        except Exception:  # noqa: BLE001 - metrics never break a call
            log.exception("recording metrics failed")


def _final_code(context, default: grpc.StatusCode) -> grpc.StatusCode:
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - an older grpc without ServicerContext.code()
        return default
    if isinstance(code, grpc.StatusCode):
        return code
    return default


def _interrupted_code(context, exc: BaseException) -> grpc.StatusCode:
    """An escaping exception is UNKNOWN to the client; a cancelled handler ran out of time or
    lost its client."""
    if isinstance(exc, Exception):
        return grpc.StatusCode.UNKNOWN
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
        for key, value in context.trailing_metadata() or ():
            if key != DETAILS_KEY:
                continue
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                    return info.reason
    except Exception:  # noqa: BLE001 - metrics never break a call
        log.debug("unreadable status details", exc_info=True)
    return ""


# -- client side (peer channels) -------------------------------------------------------------


class PeerMetricsInterceptor:
    """Records a peer call when its status arrives: a done callback, so the interceptor hands
    the call straight back and cancellation still reaches the real call."""

    def __init__(self, metrics: Metrics, peer: str) -> None:
        self._metrics = metrics
        self._peer = peer
        self._pending: set[asyncio.Task] = set()

    def _watch(self, call: Any, method: Any, started: float) -> None:
        name = method.decode() if isinstance(method, bytes) else str(method)

        def done(finished: Any) -> None:
            seconds = time.perf_counter() - started
            try:
                if finished.cancelled():
                    self._metrics.observe_peer(self._peer, name, grpc.StatusCode.CANCELLED, seconds)
                    return
                # The status is already there; aio only offers it through a coroutine.
                task = asyncio.get_running_loop().create_task(finished.code())
                self._pending.add(task)
                task.add_done_callback(lambda t: self._record(t, name, seconds))
            except Exception:  # noqa: BLE001 - metrics never break a call
                log.exception("recording peer metrics failed")

        try:
            call.add_done_callback(done)
        except Exception:  # noqa: BLE001 - metrics never break a call
            log.exception("cannot watch a call to %s", self._peer)

    def _record(self, task: asyncio.Task, method: str, seconds: float) -> None:
        self._pending.discard(task)
        try:
            code = grpc.StatusCode.CANCELLED if task.cancelled() else task.result()
            self._metrics.observe_peer(self._peer, method, code, seconds)
        except Exception:  # noqa: BLE001 - metrics never break a call
            log.exception("recording peer metrics failed")


class _PeerUnaryUnary(PeerMetricsInterceptor, aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        self._watch(call, client_call_details.method, started)
        return call


class _PeerUnaryStream(PeerMetricsInterceptor, aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        started = time.perf_counter()
        call = await continuation(client_call_details, request)
        self._watch(call, client_call_details.method, started)
        return call
