"""Span attributes shared by the server interceptor and the peer stub (``rpc.*``), and those
that make a span event a step of its span (``yrd.step_*``: written by ``gateway.telemetry.steps``,
read by the span store)."""

from __future__ import annotations

STEP_MS = "yrd.step_ms"
"""A step event's duration in milliseconds (events have a time, not a length)."""
STEP_STATUS = "yrd.step_status"
"""``ERROR`` on a step that failed; absent otherwise."""
STEP_ERROR = "yrd.step_error"
"""What failed: the step's own status description, or the exception's type."""


def rpc_attributes(method: str) -> dict[str, str]:
    """The semantic-convention attributes of a gRPC span for ``method`` (``/pkg.Service/Name``):
    built once per method by the server interceptor and the peer stub, not per call."""
    service, _, name = method[1:].partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
