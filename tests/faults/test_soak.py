"""The short soak CI runs: ~50 s of mixed load with random kill -9, SIGSTOP and SIGTERM faults on
a fresh four-node federation; nothing released unaudited, nothing acknowledged lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from gateway.faults.harness import Federation, Released
from gateway.soak import SoakReport, check
from tests.conftest import ROOT

DURATION = 50
STATUS_LINE = re.compile(r"^([A-Z_]+): (\d+)$")


@pytest.mark.timeout(DURATION + 120)
def test_soak_releases_nothing_unaudited_and_loses_nothing_acknowledged(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli.main",
            "soak",
            "--duration",
            str(DURATION),
            "--keep",
            str(tmp_path / "soak"),
        ],
        capture_output=True,
        text=True,
        timeout=DURATION + 110,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
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
