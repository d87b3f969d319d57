"""The refusal asserter: a call must fail with this gRPC code and, when given, this reason and
refusing node (read from the status details, as a client would)."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio

from gateway.status import RpcFailure, failure_of


async def refused(
    call, code: grpc.StatusCode, reason: str | None = None, node: str | None = None
) -> RpcFailure:
    with pytest.raises(aio.AioRpcError) as info:
        await call
    failure = failure_of(info.value)
    if reason is None:
        assert failure.code == code, failure
    else:
        assert (failure.code, failure.reason) == (code, reason), failure
    if node is not None:
        assert failure.node == node
    return failure
