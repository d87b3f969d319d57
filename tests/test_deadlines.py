"""The one rule for how much of a caller's deadline a hop may spend downstream."""

from __future__ import annotations

import pytest

from gateway.deadlines import budget


@pytest.mark.parametrize(
    "remaining, default, expected",
    [
        (None, 7.0, 7.0),  # no deadline: the node's default
        (5.0, 7.0, 4.5),  # a quarter, capped at 0.5 s
        (2.0, 7.0, 1.5),  # a quarter: exactly the cap
        (1.0, 7.0, 0.75),  # a quarter
        (0.2, 7.0, 0.15),
        (0.03, 7.0, 0.02),  # at least 10 ms kept for our own reply
        (0.008, 7.0, 0.0),  # nothing left: never negative
        (0.0, 7.0, 0.0),
    ],
)
def test_budget_keeps_a_margin_for_the_reply(remaining, default, expected):
    assert budget(remaining, default) == pytest.approx(expected)
