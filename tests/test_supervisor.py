"""The federation as four real OS processes: the CLI, and a peer killed mid-suite."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from gateway.config import load_federation
from gateway.supervisor import NodeProcesses
from tests.support.cli import yrdgw_process
from tests.support.federation import NODE_IDS, write_federation


@pytest.fixture(scope="module")
def processes(tmp_path_factory, certs_dir):
    tmp = tmp_path_factory.mktemp("procs")
    fed = load_federation(write_federation(tmp, certs_dir))
    procs = NodeProcesses(fed, entries=500)
    procs.start_all()
    try:
        procs.wait_ready(timeout=120)
        yield procs
    finally:
        procs.stop_all()


def yrdgw(procs: NodeProcesses, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "YRD_FEDERATION": str(procs.fed.path)}
    result = yrdgw_process(*args, env=env, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_cli_search_json_from_every_node_agrees(processes):
    answers = {}
    for node in NODE_IDS:
        # From the owners, over what they share: a node's own answer also holds the entries
        # its province keeps to itself, and ranks its replicas with its own statistics.
        shared = ("--share-type", "unconditional", "--share-type", "conditional", "--live")
        out = json.loads(
            yrdgw(
                processes, "search", "户籍", "--via", node, "--json", "--page-size", "30", *shared
            ).stdout
        )
        assert set(out) >= {
            "results",
            "facets",
            "provinces",
            "partial",
            "next_page_token",
            "trace_id",
        }
        assert out["partial"] is False
        assert {r["province"] for r in out["results"]} == set(NODE_IDS)
        answers[node] = [r["code"] for r in out["results"]]
    assert len({tuple(a) for a in answers.values()}) == 1


def test_cli_text_output_shows_chinese_names_and_status(processes):
    out = yrdgw(processes, "search", "公积金", "--via", "js").stdout
    assert "公积金" in out
    for node in NODE_IDS:
        assert f"{node} " in out
    assert "answered" in out


def test_cli_refusal_exits_non_zero_with_reason(processes):
    result = yrdgw(processes, "search", "户籍", "--grade", "L7", check=False)
    assert result.returncode != 0
    assert "INVALID_ARGUMENT" in result.stderr and "filters.grades[0]" in result.stderr
    assert "Traceback" not in result.stderr


def test_killed_peer_makes_answers_partial_then_rejoins(processes):
    processes.kill("zj")  # kill -9: no goodbye
    try:
        # An answer at all is within the CLI's deadline (5 s): past it the CLI fails instead.
        live = ("search", "户籍", "--via", "sh", "--json", "--live")  # the owners themselves
        out = json.loads(yrdgw(processes, *live).stdout)
        assert out["partial"] is True
        by = {p["province"]: p for p in out["provinces"]}
        assert by["zj"]["state"] in ("failed", "timed_out")
        assert by["zj"]["reason"]
        assert all(by[p]["state"] == "answered" for p in ("js", "sh", "ah"))
        assert "zj" not in {r["province"] for r in out["results"]}
    finally:
        processes.start("zj")
        processes.wait_ready(["zj"], timeout=60)
    # sh rejoins zj when its breaker's background probe next succeeds (the back-off doubles per
    # failed probe, at most 15 s plus jitter), not at the instant zj is ready.
    deadline = time.monotonic() + 20
    while True:
        out = json.loads(yrdgw(processes, *live).stdout)
        if not out["partial"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert out["partial"] is False, out["provinces"]
