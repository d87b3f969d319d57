"""Server interceptors: the one translation point from exceptions to gRPC statuses.

``GatewayError`` becomes its status with ErrorInfo naming this node; anything else is logged with
its stack and the client sees INTERNAL with a fixed message, so internals never leak. Optional
guards run before a handler (peer identity, standard version) and refuse by raising.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc import aio
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from gateway.errors import GatewayError, Internal, InvalidArgument
from gateway.status import to_status

log = logging.getLogger(__name__)

Guard = Callable[[str, aio.ServicerContext], Awaitable[None] | None]
"""Called with the full method name and the context before the handler; raises to refuse."""


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


class ErrorTranslator(aio.ServerInterceptor):
    def __init__(self, node: str, guards: Sequence[Guard] = ()) -> None:
        self._node = node
        self._guards = tuple(guards)

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=_safe(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=_safe(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _check(self, method: str, request, context: aio.ServicerContext) -> None:
        if isinstance(request, Malformed):
            raise InvalidArgument(
                "request", f"not a valid {request.type_name} message", reason="MALFORMED_REQUEST"
            )
        for guard in self._guards:
            result = guard(method, context)
            if asyncio.iscoroutine(result):
                await result

    def _wrap_unary(self, method: str, behavior: Callable[..., Any]):
        async def wrapped(request, context):
            try:
                await self._check(method, request, context)
                return await behavior(request, context)
            except Exception as exc:  # noqa: BLE001 - the translation point
                await self._abort(method, context, exc)

        return wrapped

    def _wrap_stream(self, method: str, behavior: Callable[..., Any]):
        async def wrapped(request, context):
            try:
                await self._check(method, request, context)
                async for item in behavior(request, context):
                    yield item
            except Exception as exc:  # noqa: BLE001 - the translation point
                await self._abort(method, context, exc)

        return wrapped

    async def _abort(self, method: str, context: aio.ServicerContext, exc: Exception) -> None:
        if isinstance(exc, aio.AbortError):
            raise exc
        if not isinstance(exc, GatewayError):
            log.exception("unexpected error in %s", method)
            exc = Internal()
        # Refusals show as errors in traces (the gRPC instrumentation leaves them UNSET).
        span = trace.get_current_span()
        span.set_status(Status(StatusCode.ERROR, exc.reason))
        span.set_attributes({"yrd.reason": exc.reason, "yrd.refused_by": exc.node or self._node})
        status = to_status(exc, self._node)
        await context.abort(status.code, status.details, status.trailing_metadata)
