"""A warning repeated on every call is written once per interval, with how many were left out."""

from __future__ import annotations

import logging

import pytest

from gateway.lograte import Throttled


def test_first_at_once_then_one_per_interval_with_the_count_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    throttled = Throttled(logging.getLogger("t"), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="t"):
        assert throttled.warning("audit write failed on %s", "js")
        for _ in range(500):  # an outage: every call fails within the interval
            now[0] += 0.01
            assert not throttled.warning("audit write failed on %s", "js")
        now[0] = 110.0
        assert throttled.warning("audit write failed on %s", "js")
        now[0] = 125.0
        assert throttled.warning("audit write failed on %s", "js")
    assert [r.getMessage() for r in caplog.records] == [
        "audit write failed on js",
        "audit write failed on js (and 500 more like it in the last 10 s)",
        "audit write failed on js",
    ]
