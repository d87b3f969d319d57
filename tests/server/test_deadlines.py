"""The one rule for how much of a caller's deadline a hop may spend downstream."""

from __future__ import annotations

import pytest

from gateway.deadlines import budget


@pytest.mark.parametrize(
    "remaining, default, expected",
    [
        (None, 7.0, 7.0),  # no deadline: the node's default
        (1.0, 7.0, 0.95),  # 10% margin, capped at 50 ms
        (0.2, 7.0, 0.18),  # 10% margin
        (0.03, 7.0, 0.025),  # at least 5 ms kept for our own reply
        (0.004, 7.0, 0.0),  # nothing left: never negative
        (0.0, 7.0, 0.0),
    ],
)
def test_budget_keeps_a_margin_for_the_reply(remaining, default, expected):
    assert budget(remaining, default) == pytest.approx(expected)
