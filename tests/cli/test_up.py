"""``yrdgw up`` as a newcomer runs it: real processes, ended every way a terminal ends them.

A taken port is refused before anything starts, naming the port and its holder; the nodes die
with ``yrdgw up`` (Ctrl-C through a pipe, SIGHUP, SIGTERM, kill -9); a crashed node is
restarted; the demo tells the same true story on every run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from gateway.config import load_federation
from gateway.supervisor import NodeProcesses, process_alive
from tests.support.federation import NODE_IDS, ROOT, write_federation

YRDGW = [sys.executable, "-m", "gateway.cli.main"]
_BOUND = 180.0
"""Seconds any state below is waited for: far above what it takes, only a bound on a hang."""


def _node_pids(fed_path: Path) -> dict[int, str]:
    """Every live process running a node of this federation (workers included): pid → node."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in args]
        if str(fed_path) in words and "node" in words and process_alive(int(entry)):
            found[int(entry)] = words[words.index("--node") + 1]
    return found


def _wait_for(what: str, check, bound: float = _BOUND):
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {bound:.0f} s: {what}")
        time.sleep(0.1)


def _start_up(fed_path: Path, log: Path, *, shell_pipe: bool = False) -> subprocess.Popen:
    cmd = [*YRDGW, "--federation", str(fed_path), "up", "--entries", "200"]
    log.touch()
    if shell_pipe:  # as `make demo | tee log`: a pipeline in its own process group
        line = " ".join(f"'{c}'" for c in cmd) + f" | tee '{log}'"
        return subprocess.Popen(
            ["bash", "-c", line],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    with log.open("wb") as out:  # the child holds its own copy
        return subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_running(fed_path: Path, log: Path) -> dict[int, str]:
    _wait_for(
        "yrdgw up says it is running",
        lambda: "running;" in log.read_text(encoding="utf-8", errors="replace"),
    )
    return _wait_for(
        "every node's process",
        lambda: p if set((p := _node_pids(fed_path)).values()) == set(NODE_IDS) else None,
    )


@pytest.fixture
def federation(tmp_path, certs_dir):
    path = write_federation(tmp_path, certs_dir)
    yield path
    for pid in _node_pids(path):  # a failing test must not leave its nodes behind
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_taken_port_is_refused_naming_it_and_its_holder(federation):
    fed = load_federation(federation)
    address = fed.node("zj").ops
    host, port = address.split(":")
    with socket.socket() as holder:
        holder.bind((host, int(port)))
        holder.listen()
        for verb in (["up", "--entries", "50"], ["node", "--node", "zj", "--entries", "50"]):
            done = subprocess.run(
                [*YRDGW, "--federation", str(federation), *verb],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=_BOUND,
            )
            assert done.returncode == 1, done.stderr[-2000:]
            assert f"node zj: {address} is in use (held by pid {os.getpid()} (" in done.stderr
            assert "Traceback" not in done.stderr
            assert "up in" not in done.stdout  # nothing claimed to have started
    assert not _node_pids(federation)


def test_kill_9_of_up_leaves_no_node_and_a_crashed_node_is_restarted(federation, tmp_path):
    log = tmp_path / "up.log"
    up = _start_up(federation, log)
    try:
        pids = _wait_running(federation, log)
        # A node that crashes is restarted (the supervisor's own back-off, first time at once).
        crashed = next(pid for pid, node in pids.items() if node == "sh")
        os.kill(crashed, signal.SIGKILL)
        procs = NodeProcesses(load_federation(federation))
        _wait_for(
            "sh restarted and serving",
            lambda: (
                any(n == "sh" and p != crashed for p, n in _node_pids(federation).items())
                and procs.is_serving("sh")
            ),
        )
        assert "node sh exited with SIGKILL; restarting" in log.read_text(encoding="utf-8")
        assert set(_node_pids(federation).values()) == set(NODE_IDS)
        up.kill()  # kill -9: no handler runs; the kernel ends the nodes
        up.wait()
        _wait_for("no node of the federation left", lambda: not _node_pids(federation))
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


@pytest.mark.parametrize("how", ["ctrl-c through a pipe", "SIGHUP", "SIGTERM"])
def test_the_nodes_stop_with_up(federation, tmp_path, how):
    log = tmp_path / "up.log"
    up = _start_up(federation, log, shell_pipe=how.startswith("ctrl-c"))
    try:
        _wait_running(federation, log)
        if how.startswith("ctrl-c"):
            os.killpg(up.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole pipeline
        else:
            up.send_signal(getattr(signal, how))
        up.wait(_BOUND)
        _wait_for("no node of the federation left", lambda: not _node_pids(federation))
        fed = load_federation(federation)
        for node in fed.nodes.values():  # and every port is free again
            for address in (node.client, node.peer, node.ops):
                host, port = address.split(":")
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host, int(port)))
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()


def _story(out: str) -> list[str]:
    """What the demo tells, without what differs between runs (ids, timings, counts, secrets)."""
    lines = []
    for line in out.splitlines():
        if line.startswith(("=== ", "(exit status", "error: ", "partial:", "stale:")):
            lines.append(re.sub(r"(grant|app)-[0-9A-Z]{26}", r"\1-ID", line))
    return lines


def test_the_demo_tells_the_same_true_story_twice(federation):
    runs, errors = [], []
    for _ in range(2):
        done = subprocess.run(
            [
                *YRDGW,
                "--federation",
                str(federation),
                "up",
                "--entries",
                "200",
                "--demo",
                "--exit-after-demo",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        runs.append(done.stdout)
        errors.append(done.stderr)
    first, second = (_story(out) for out in runs)
    assert "(exit status 1)" in first  # refused without a grant ...
    assert first == second  # ... and again on the second run, with the same story around it
    assert "revoke grant-" in runs[1] and "revoke grant-" not in runs[0]
    for out in runs:
        assert "L4_NEVER_LEAVES" in out  # the granted call answered
        # valid sample parameters for each interface, from the owner's dataset
        assert re.search(r"sh/scjgj/business-license/v1 +--param credit_code=\d{2}31\d{14}", out)
        assert re.search(r"sh/rsj/insured-roster/v1 +--param 'district=\S+区'", out)
    for err in errors:  # the one refusal is the call without a grant
        assert len(re.findall(r"error: PERMISSION_DENIED", err)) == 1, err[-3000:]
    assert not _node_pids(federation)


def test_up_on_postgresql_with_two_replicas_of_every_province(federation):
    """``yrdgw up --store postgresql --replicas 2``: a throwaway cluster under var/, eight
    replicas on it, and the demo's federated search, authorized call and audit verify."""
    # As root the server runs as the unprivileged yrdpg user, which must be able to reach
    # var/ (pytest's temp tree is 0700; a checkout's var/ is not).
    for folder in [federation.parent, *federation.parent.parents]:
        if folder == Path(tempfile.gettempdir()):
            break
        folder.chmod(folder.stat().st_mode | stat.S_IXOTH)
    done = subprocess.run(
        [
            *YRDGW,
            "--federation",
            str(federation),
            "up",
            "--store",
            "postgresql",
            "--replicas",
            "2",
            "--entries",
            "200",
            "--demo",
            "--exit-after-demo",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fed = load_federation(federation)
    for node in fed.nodes:
        logs = [fed.data_dir / node / name for name in ("node.log", "node-1.log")]
        assert all("serving" in log.read_text() for log in logs), node  # two replicas each
        assert not (fed.data_dir / node / "audit.db").exists()  # the chain is in PostgreSQL
    assert "L4_NEVER_LEAVES" in done.stdout  # the granted call answered
    assert len(re.findall(r"^\w\w: OK, \d+ entries", done.stdout, re.M)) == 4  # audit verify
    assert not (fed.data_dir / "postgresql" / "data" / "postmaster.pid").exists()  # stopped
    assert not _node_pids(federation)
