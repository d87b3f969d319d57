"""Span attributes shared by the server interceptor and the peer stub (``rpc.*``)."""

from __future__ import annotations


def rpc_attributes(method: str) -> dict[str, str]:
    """The semantic-convention attributes of a gRPC span for ``method`` (``/pkg.Service/Name``):
    built once per method by the server interceptor and the peer stub, not per call."""
    service, _, name = method[1:].partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
