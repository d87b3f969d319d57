"""The short soak CI runs: 30 s (25 s with workers) of mixed load with random kill -9, SIGSTOP and
SIGTERM faults on a fresh four-node federation; nothing released unaudited, nothing acknowledged
lost. Every kind of fault happens at least once however short the run (``yrdtools.soak``); under
the loaded step's hog a 30 s run made 4,340 calls, a 25 s run with workers 4,992."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support.federation import ROOT
from yrdtools.faults import Federation, Released
from yrdtools.soak import SoakReport, check

DURATION = 30
STATUS_LINE = re.compile(r"^([A-Z_]+): (\d+)$")


def soak(duration: float, *args: str, timeout: float) -> tuple[subprocess.CompletedProcess, str]:
    """``yrdgw soak`` as its own process; the result and a report of its output."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "soak", "--duration", str(duration), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return result, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"


@pytest.mark.timeout(DURATION + 120)
def test_soak_releases_nothing_unaudited_and_loses_nothing_acknowledged(tmp_path):
    result, report = soak(DURATION, "--keep", str(tmp_path / "soak"), timeout=DURATION + 110)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, report
    assert "Traceback" not in result.stderr, report

    assert lines[0].startswith("calls: "), report
    calls = int(lines[0].removeprefix("calls: "))
    assert lines[-3:-1] == ["released without audit: 0", "acknowledged state lost: 0"], report
    assert re.fullmatch(r"p50/p99 ms: \d+ / \d+", lines[-1]), report
    statuses = {}
    for line in lines[1:-3]:
        m = STATUS_LINE.match(line)
        assert m, report
        statuses[m[1]] = int(m[2])
    assert sum(statuses.values()) == calls, report
    assert calls > 500 and statuses.get("OK", 0) > calls / 3, report
    assert "faults: " in result.stderr, report

    # The checker is not blind: fabricated acknowledgements over the same files are caught.
    fed = Federation(tmp_path / "soak")  # reopens the kept files; starts nothing
    real = fed.audit_rows("sh")[-1]
    report = SoakReport(
        released=[Released("js", "sh", real.trace_id or "0" * 32, "f" * 64)],
        applications=[("zj", "app-never-filed")],
        grants=[("ah", "grant-never-made", "app-never-filed")],
        audit_heads=[("sh", real.seq, real.hash), ("js", 10**9, "0" * 64)],
    )
    check(fed, report)
    assert len(report.unaudited) == 1 and len(report.lost) == 3, report
    assert not report.broken_chains and not report.ok


WORKERS_DURATION = 25


@pytest.mark.timeout(WORKERS_DURATION + 150)
def test_soak_with_workers_and_worker_kills_loses_nothing(tmp_path):
    """The same promises with every node a primary and two workers, and single workers of any
    node (js, the home of most apps, too) killed -9 besides the node-level faults."""
    result, report = soak(
        WORKERS_DURATION, "--workers", "2", "--seed", "20261127", timeout=WORKERS_DURATION + 140
    )
    assert result.returncode == 0, report
    assert "Traceback" not in result.stderr, report
    lines = result.stdout.strip().splitlines()
    assert lines[-3:-1] == ["released without audit: 0", "acknowledged state lost: 0"], report
    assert "2 workers each" in result.stderr, report
    faults = next(line for line in result.stderr.splitlines() if "soak: faults: " in line)
    assert re.search(r"kill-worker [1-9]", faults), report
    calls = int(lines[0].removeprefix("calls: "))
    ok = next(int(line.split(": ")[1]) for line in lines if line.startswith("OK: "))
    assert calls > 300 and ok > calls / 3, report
