"""The report's word on the box's speed: a run's reference workload against the earlier runs'
on the same kind of machine, and against itself from start to end."""

from __future__ import annotations

import json
from pathlib import Path

from yrdtools.bench.reference import reference_ms
from yrdtools.bench.report import box_speed, earlier_results


def run(start: float | None, end: float | None, machine: str = "x86_64", cores: int = 2) -> dict:
    environment: dict = {"machine": machine, "cores": cores}
    if start is not None:
        environment["reference_ms"] = {"start": start, "end": end}
    return {"environment": environment}


def test_a_run_as_fast_as_the_earlier_ones_is_not_flagged() -> None:
    earlier = [run(150, 151), run(160, 158), run(155, 150)]
    lines = box_speed(run(152, 158), earlier)
    assert lines == [
        "box speed: the reference workload took 152 ms at the start, 158 at the end"
        " (the median of 3 earlier runs here: 155 ms)"
    ]


def test_a_slowed_box_is_flagged_with_its_speed() -> None:
    """The 2026-12-07 evening: the same work took about twice as long for an hour."""
    earlier = [run(150, 150), run(152, 149), run(148, 151)]
    lines = box_speed(run(276, 270), earlier)
    assert len(lines) == 2
    assert "warning: the box ran at 54% of its usual speed" in lines[1]


def test_a_box_that_slows_during_the_run_is_flagged() -> None:
    lines = box_speed(run(150, 200), [])
    assert lines[0] == "box speed: the reference workload took 150 ms at the start, 200 at the end"
    assert "changed by +33% during the run" in lines[1]


def test_only_machines_of_the_same_kind_and_readable_references_count() -> None:
    earlier = [
        run(100, 100, cores=8),  # another machine
        run(None, None),  # a run from before the reference
        {"environment": {"machine": "x86_64", "cores": 2, "reference_ms": {"start": "fast"}}},
        {"environment": []},
        run(150, 150),
    ]
    (line,) = box_speed(run(150, 152), earlier)
    assert line.endswith("(the median of 1 earlier runs here: 150 ms)")
    assert box_speed(run(None, None), earlier) == []


def test_earlier_results_skip_the_run_itself_and_what_is_not_a_result(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(run(150, 150)), encoding="utf-8")
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "c.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "d.txt").write_text(json.dumps(run(1, 1)), encoding="utf-8")
    own = tmp_path / "e.json"
    own.write_text(json.dumps(run(300, 300)), encoding="utf-8")
    assert earlier_results(tmp_path, exclude=own) == [run(150, 150)]
    assert earlier_results(tmp_path / "none") == []


def test_the_reference_workload_takes_a_measurable_time() -> None:
    took = reference_ms(repeats=1)
    assert 1.0 < took < 60_000
