"""Translation between ``GatewayError`` and gRPC statuses carrying ``google.rpc.ErrorInfo``.

The server side builds the status (one place); the client side (peers, CLI) reads it back so a
refusal keeps its reason and the node that refused across every hop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.errors import ERROR_DOMAIN, GatewayError

DETAILS_KEY = "grpc-status-details-bin"


MAX_MESSAGE_CHARS = 500
MAX_METADATA_CHARS = 200
"""Refusals may quote caller text; capped so a status always fits the 16 KiB metadata a client
accepts (a larger one arrives as a bare RESOURCE_EXHAUSTED and the real refusal is lost)."""


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_status(err: GatewayError, node: str) -> grpc.Status:
    """The status a client sees for ``err``, with ErrorInfo naming the refusing node."""
    meta = {
        _cap(str(k), 64): _cap(str(v), MAX_METADATA_CHARS)
        for k, v in {"node": err.node or node, **err.metadata}.items()
    }
    if len(meta) > 16:
        meta = dict(list(meta.items())[:16])
    if err.field:
        meta["field"] = _cap(err.field, MAX_METADATA_CHARS)
    info = error_details_pb2.ErrorInfo(reason=err.reason, domain=ERROR_DOMAIN, metadata=meta)
    detail = any_pb2.Any()
    detail.Pack(info)
    message = f"[{meta['node']}] {_cap(err.message, MAX_MESSAGE_CHARS)}"
    return rpc_status.to_status(
        status_pb2.Status(code=err.code.value[0], message=message, details=[detail])
    )


@dataclass(frozen=True, slots=True)
class RpcFailure:
    """What a client learns from a failed call: status, stable reason, refusing node."""

    code: grpc.StatusCode
    message: str
    reason: str
    node: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def failure_of(exc: grpc.RpcError) -> RpcFailure:
    """Read code, message and ErrorInfo from a failed call (sync or aio)."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    message = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    trailers = exc.trailing_metadata() if callable(getattr(exc, "trailing_metadata", None)) else ()
    info = error_info(trailers)
    if info is not None:
        meta = dict(info.metadata)
        return RpcFailure(code, message or "", info.reason, meta.get("node", ""), meta)
    return RpcFailure(code, message or "", code.name if code else "UNKNOWN")


def error_info(trailers) -> error_details_pb2.ErrorInfo | None:
    """The ``ErrorInfo`` a status carries in its trailing metadata (``grpc-status-details-bin``),
    if any; raises on undecodable details (callers decide whether that matters)."""
    for key, value in trailers or ():
        if key != DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                return info
    return None
