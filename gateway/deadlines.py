"""How much of a caller's deadline one hop may spend on the calls it makes downstream."""

from __future__ import annotations

DEFAULT_BUDGET_S = 5.0
"""For a caller that set no deadline, when the node's configuration names none either."""


def budget(time_remaining: float | None, default: float = DEFAULT_BUDGET_S) -> float:
    """The caller's remaining time less a margin for this hop's own reply (10%, kept between
    5 and 50 ms), or ``default`` when the caller set no deadline. Never negative."""
    if time_remaining is None:
        return default
    return max(0.0, time_remaining - min(0.05, max(0.005, time_remaining * 0.1)))
