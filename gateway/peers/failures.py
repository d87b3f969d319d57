"""A failed read of a peer as the partial answer reports it: skipped (breaker open), timed out,
or failed, with the stable reason of the ``GatewayError`` the policy raised."""

from __future__ import annotations

from gateway.errors import DeadlineExceeded, GatewayError
from gateway.partial import AnswerState, PeerFailure


def peer_failure(exc: GatewayError) -> PeerFailure:
    if exc.metadata.get("breaker") == "open":
        state = AnswerState.SKIPPED
    elif isinstance(exc, DeadlineExceeded):
        state = AnswerState.TIMED_OUT
    else:
        state = AnswerState.FAILED
    return PeerFailure(state, exc.reason, exc.message)
