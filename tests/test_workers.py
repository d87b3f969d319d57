"""Starting a node with workers: settings, refusals and the port check, before anything serves;
and stopping one: node.yaml's ``limits.shutdown_grace_s`` is how long it drains on SIGTERM.

The workers' behaviour under load and faults is in ``tests/faults/test_workers.py``.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from gateway.config import load_federation, load_node
from gateway.errors import ConfigError
from gateway.node import Node, NodeOptions
from gateway.portcheck import check_ports_free
from gateway.workers import parse_worker
from tests.support.cli import yrdgw_process
from tests.support.federation import ROOT, js_nodes_dir, write_federation


def test_workers_and_peer_connections_are_read_from_node_yaml(tmp_path, certs_dir):
    nodes = js_nodes_dir(tmp_path, workers=4, limits={"peer_connections": 3})
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=["js"], nodes_dir=nodes))
    cfg = load_node(fed, "js")
    assert (cfg.workers, cfg.limits.peer_connections) == (4, 3)


def test_defaults_are_one_process_and_connections_by_worker_count(tmp_path, certs_dir):
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=["js"]))
    cfg = load_node(fed, "js")
    assert (cfg.workers, cfg.limits.peer_connections) == (1, 0)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"workers": 0}, "workers"),
        ({"workers": 65}, "workers"),
        ({"workers": "two"}, "workers"),
        ({"limits": {"peer_connections": -1}}, "limits.peer_connections"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, certs_dir, settings, key):
    nodes = js_nodes_dir(tmp_path, **settings)
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=["js"], nodes_dir=nodes))
    with pytest.raises(ConfigError) as err:
        load_node(fed, "js")
    assert key in str(err.value)


def test_worker_slot_is_parsed_and_checked(tmp_path):
    slot = parse_worker("1/3", tmp_path)
    assert (slot.index, slot.count, slot.table("quota.shm")) == (1, 3, tmp_path / "quota.shm")
    for bad in ("3/3", "-1/2", "1", "a/b", "0/65"):
        with pytest.raises(ValueError, match="--worker"):
            parse_worker(bad, tmp_path)


def test_a_held_port_is_refused_by_address():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        with pytest.raises(OSError, match=f"{address} is in use"):
            check_ports_free([address])
    check_ports_free([address])  # released: free again


def test_cli_refuses_a_bad_worker_count(tmp_path, certs_dir):
    fed = write_federation(tmp_path, certs_dir, node_ids=["js"])
    done = yrdgw_process("--federation", str(fed), "node", "--node", "js", "--workers", "0")
    assert done.returncode == 2
    assert "--workers: expected 1 to 64, got 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_primary_refuses_to_start_on_a_port_in_use(tmp_path, certs_dir):
    path = write_federation(tmp_path, certs_dir, node_ids=["js"])
    fed = load_federation(path)
    host, port = fed.node("js").peer.split(":")
    with socket.socket() as holder:
        holder.bind((host, int(port)))
        holder.listen()
        done = yrdgw_process(
            "--federation", str(path), "node", "--node", "js", "--workers", "2", "--entries", "50"
        )
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"node js: {fed.node('js').peer} is in use" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (fed.data_dir / "js" / "run").exists()  # no worker was started


# --------------------------------------------------------------------------- SIGTERM drain

_SMALL = {"seed": {"entries": 50, "people": 10}}


class _Server:
    """Stands in for a started ``grpc.aio.Server``: records the grace it is stopped with."""

    def __init__(self) -> None:
        self.graces: list[float | None] = []

    async def stop(self, grace: float | None) -> None:
        self.graces.append(grace)


@pytest.mark.parametrize(("given", "used"), [(None, 0.25), (1.5, 1.5)])
async def test_stop_drains_for_the_configured_grace_unless_told(tmp_path, given, used):
    nodes = js_nodes_dir(tmp_path, limits={"shutdown_grace_s": 0.25}, **_SMALL)
    fed = load_federation(
        write_federation(tmp_path, tmp_path / "certs", node_ids=["js"], nodes_dir=nodes)
    )
    node = Node(fed, "js", NodeOptions(insecure=True))
    servers = [_Server(), _Server()]
    node._servers = servers  # type: ignore[assignment]
    await node.stop(given)
    assert [s.graces for s in servers] == [[used], [used]]


@pytest.mark.parametrize(("args", "shown"), [((), "0.4"), (("--grace", "1.5"), "1.5")])
def test_yrdgw_node_drains_for_node_yaml_grace_on_sigterm(tmp_path, certs_dir, args, shown):
    nodes = js_nodes_dir(tmp_path, limits={"shutdown_grace_s": 0.4}, **_SMALL)
    fed = write_federation(tmp_path, certs_dir, node_ids=["js"], nodes_dir=nodes)
    log = tmp_path / "node.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "--federation", str(fed)]
            + ["node", "--node", "js", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + 90
        while "serving" not in log.read_text(encoding="utf-8", errors="replace"):
            assert proc.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            assert time.monotonic() < deadline, "node did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(encoding="utf-8")
    assert "node js (江苏) of federation yrd-test serving" in text  # federation.yaml's name
    assert f"node js: draining (grace {shown} s)" in text
