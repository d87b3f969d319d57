"""What a failed aio call raises, built by hand for the peer translation and policy tests."""

from __future__ import annotations

import grpc


class FakeRpcError(grpc.RpcError):
    """What a failed aio call raises: a code, details and trailing metadata."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers=()) -> None:
        self._code, self._details, self._trailers = code, details, tuple(trailers)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self):
        return self._trailers
