"""One translation point: every GatewayError maps to its status with ErrorInfo naming the node;
anything unexpected becomes INTERNAL with a fixed message. Real grpc.aio server on port 0."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio

from gateway.errors import (
    ALL_ERRORS,
    ERROR_DOMAIN,
    GatewayError,
    InvalidArgument,
    PermissionDenied,
)
from gateway.server.interceptors import Edge
from gateway.status import failure_of

EXPECTED = {
    "InvalidArgument": grpc.StatusCode.INVALID_ARGUMENT,
    "NotFound": grpc.StatusCode.NOT_FOUND,
    "Unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "PermissionDenied": grpc.StatusCode.PERMISSION_DENIED,
    "ResourceExhausted": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "FailedPrecondition": grpc.StatusCode.FAILED_PRECONDITION,
    "Unavailable": grpc.StatusCode.UNAVAILABLE,
    "DeadlineExceeded": grpc.StatusCode.DEADLINE_EXCEEDED,
    "Internal": grpc.StatusCode.INTERNAL,
}


def make(cls: type[GatewayError]) -> GatewayError:
    if cls is InvalidArgument:
        return cls("params.id_number", "bad check digit", reason="BAD_CHECK_DIGIT")
    return cls(f"{cls.__name__} happened", reason=f"{cls.__name__.upper()}_REASON")


async def serve(raise_this: BaseException):
    async def handler(request: bytes, context) -> bytes:
        raise raise_this

    server = aio.server(interceptors=[Edge("sh")])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Svc", {"Call": grpc.unary_unary_rpc_method_handler(handler)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def call(port: int):
    async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(aio.AioRpcError) as info:
            await channel.unary_unary("/test.Svc/Call")(b"", timeout=5)
    return info.value


def test_every_subclass_is_listed_and_mapped():
    assert {c.__name__ for c in ALL_ERRORS} == set(EXPECTED)
    for cls in ALL_ERRORS:
        assert cls.code == EXPECTED[cls.__name__]


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
async def test_gateway_errors_reach_the_client_with_reason_and_node(cls):
    err = make(cls)
    server, port = await serve(err)
    try:
        exc = await call(port)
    finally:
        await server.stop(0)
    failure = failure_of(exc)
    assert failure.code == EXPECTED[cls.__name__]
    assert failure.reason == err.reason and failure.node == "sh"
    assert exc.details() == f"[sh] {err.message}"
    status_bin = dict(exc.trailing_metadata())["grpc-status-details-bin"]
    assert ERROR_DOMAIN.encode() in status_bin
    if cls is InvalidArgument:
        assert failure.metadata["field"] == "params.id_number"


async def test_a_relayed_refusal_keeps_the_refusing_node():
    relayed = GatewayError.relayed(
        grpc.StatusCode.PERMISSION_DENIED, "no grant", reason="NO_GRANT", node="zj"
    )
    assert isinstance(relayed, PermissionDenied)
    server, port = await serve(relayed)
    try:
        failure = failure_of(await call(port))
    finally:
        await server.stop(0)
    assert (failure.reason, failure.node) == ("NO_GRANT", "zj")


@pytest.mark.parametrize(
    "boom",
    [
        RuntimeError("/work/main/var/sh/audit.db: database is locked"),
        KeyError("SELECT * FROM grants"),
        ZeroDivisionError(),
    ],
)
async def test_unexpected_errors_become_internal_and_leak_nothing(boom, caplog):
    server, port = await serve(boom)
    try:
        exc = await call(port)
    finally:
        await server.stop(0)
    assert exc.code() == grpc.StatusCode.INTERNAL
    assert exc.details() == "[sh] internal error"
    assert failure_of(exc).reason == "INTERNAL"
    assert any("unexpected error" in r.message for r in caplog.records)  # logged, not sent
