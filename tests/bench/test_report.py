"""How the report judges the tracing target: on the paired rounds, median against median."""

from __future__ import annotations

import pytest

from yrdtools.bench.cases import CROSS_TRACED
from yrdtools.bench.report import judge


def row(case: str, concurrency: int, rps: float, rnd: int = 0, cpu: float = 1.0) -> dict:
    out = {
        "case": case,
        "concurrency": concurrency,
        "rps": rps,
        "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0},
        "errors": {},
        "served_by": ["js", "sh"],
        "cpu_us_per_call": {"js": cpu, "sh": cpu},
        "rss_peak_mib": {},
    }
    if rnd:
        out["round"] = rnd
    return out


def tracing(rows) -> dict:
    (found,) = [t for t in judge(rows, 16) if t["target"].startswith("tracing")]
    return found


def test_paired_rounds_are_judged_median_against_median_not_against_the_long_lived_case():
    rows = [
        row("cross", 16, 100),  # long-lived nodes: ignored once pairs exist
        row("cross-untraced", 1, 50, 1),
        row("cross-untraced", 16, 600, 1),
        row(CROSS_TRACED, 16, 590, 1),
        row(CROSS_TRACED, 16, 600, 2),
        row("cross-untraced", 16, 640, 2),
        row("cross-untraced", 16, 9_000, 3),  # one outlier round moves a median by little
        row(CROSS_TRACED, 16, 595, 3),
    ]
    found = tracing(rows)
    assert found["value"] == pytest.approx((640 - 595) / 640 * 100)
    assert found["status"] == "PASS"
    assert "3 paired round(s)" in found["detail"] and "595/640" not in found["detail"]


def test_the_paired_rounds_also_report_what_tracing_costs_per_call():
    """The gateway's CPU per call, traced against untraced (medians), beside the throughput."""
    rows = [
        row("cross-untraced", 16, 600, 1, cpu=700),
        row(CROSS_TRACED, 16, 590, 1, cpu=800),
        row(CROSS_TRACED, 16, 600, 2, cpu=770),
        row("cross-untraced", 16, 640, 2, cpu=690),
        row("cross-untraced", 16, 9_000, 3, cpu=100),  # an outlier round
        row(CROSS_TRACED, 16, 595, 3, cpu=780),
    ]
    detail = tracing(rows)["detail"]
    assert "js + sh CPU per call, medians: 1,560 µs traced vs 1,380 µs untraced (+13.0%)" in detail


def test_issue_18_allows_tracing_a_tenth_of_the_throughput():
    assert (
        tracing([row(CROSS_TRACED, 16, 91, 1), row("cross-untraced", 16, 100, 1)])["status"]
        == "PASS"
    )
    assert (
        tracing([row(CROSS_TRACED, 16, 89, 1), row("cross-untraced", 16, 100, 1)])["status"]
        == "MISS"
    )


def test_without_pairs_the_cross_case_is_the_traced_side():
    found = tracing([row("cross", 16, 400), row("cross-untraced", 16, 500, 1)])
    assert found["value"] == pytest.approx(20.0)
    assert found["status"] == "MISS"
    assert "(cross)" in found["detail"]


def test_missing_sides_are_not_judged():
    assert tracing([row("cross", 16, 400)])["status"] == "n/a"
    assert tracing([row("cross-untraced", 16, 400, 1)])["status"] == "n/a"


def test_dips_are_intervals_far_under_the_median():
    from yrdtools.bench.runner import dips

    found = dips([100, 98, 0, 101, 15, 99, 97])
    assert found["count"] == 2 and found["at_s"] == [0.2, 0.4] and found["min_rps"] == 0
    assert dips([50, 52, 49])["count"] == 0
    assert dips([])["count"] == 0
