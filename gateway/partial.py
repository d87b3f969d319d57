"""How one province answered a question the federation asked of it (a catalog search, the
gathering of a trace's spans), reported per province beside a partial answer; and the failure a
peer client raises to say which state it ended in."""

from __future__ import annotations

from enum import StrEnum

from gateway.errors import Fault


class AnswerState(StrEnum):
    """A ``StrEnum``: it compares equal to, and renders as, the word callers already see."""

    ANSWERED = "answered"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    """Not asked: its circuit breaker is open."""
    NOT_ASKED = "not_asked"
    """Outside the question's scope."""


class PeerFailure(Fault):
    """A peer did not answer: how (state) and why (stable reason, message)."""

    def __init__(self, state: AnswerState, reason: str, message: str) -> None:
        super().__init__(message)
        self.state, self.reason, self.message = state, reason, message
