"""A failed read of a peer as the partial answer reports it (catalog search, span gathering)."""

from __future__ import annotations

import pytest

from gateway.errors import DeadlineExceeded, FailedPrecondition, GatewayError, NotFound
from gateway.partial import AnswerState
from gateway.peers.failures import peer_failure
from gateway.peers.translate import circuit_open, out_of_time, timed_out


@pytest.mark.parametrize(
    ("error", "state", "reason"),
    [
        (circuit_open("sh", 1.0), AnswerState.SKIPPED, "CIRCUIT_OPEN"),
        (timed_out("sh", timeout=0.2), AnswerState.TIMED_OUT, "DEADLINE_EXCEEDED"),
        (out_of_time("sh"), AnswerState.TIMED_OUT, "DEADLINE_EXCEEDED"),
        (
            DeadlineExceeded("sh's own peer was slow", node="zj"),
            AnswerState.TIMED_OUT,
            "DEADLINE_EXCEEDED",
        ),
        (
            FailedPrecondition("other standard", reason="STANDARD_MISMATCH"),
            AnswerState.FAILED,
            "STANDARD_MISMATCH",
        ),
        (NotFound("gone", reason="RESOURCE_NOT_FOUND"), AnswerState.FAILED, "RESOURCE_NOT_FOUND"),
    ],
)
def test_each_failure_reports_its_state_and_reason(
    error: GatewayError, state: AnswerState, reason: str
) -> None:
    failure = peer_failure(error)
    assert (failure.state, failure.reason, failure.message) == (state, reason, error.message)
