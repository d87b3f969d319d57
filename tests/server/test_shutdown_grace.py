"""node.yaml's ``limits.shutdown_grace_s`` is how long a node drains in-flight calls on SIGTERM;
``yrdgw node --grace`` overrides it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from tests.conftest import ROOT, write_federation


def _nodes_dir(tmp_path: Path, grace: float) -> Path:
    """A copy of js's node folder whose node.yaml drains for ``grace`` seconds."""
    target = tmp_path / "nodes" / "js"
    target.mkdir(parents=True)
    for f in (ROOT / "nodes" / "js").iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    doc = yaml.safe_load((target / "node.yaml").read_text(encoding="utf-8"))
    doc["limits"]["shutdown_grace_s"] = grace
    doc["seed"].update(entries=50, people=10)
    (target / "node.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return tmp_path / "nodes"


class _Server:
    """Stands in for a started ``grpc.aio.Server``: records the grace it is stopped with."""

    def __init__(self) -> None:
        self.graces: list[float | None] = []

    async def stop(self, grace: float | None) -> None:
        self.graces.append(grace)


@pytest.mark.parametrize(("given", "used"), [(None, 0.25), (1.5, 1.5)])
async def test_stop_drains_for_the_configured_grace_unless_told(tmp_path, given, used):
    fed = load_federation(
        write_federation(
            tmp_path, tmp_path / "certs", node_ids=["js"], nodes_dir=_nodes_dir(tmp_path, 0.25)
        )
    )
    node = Node(fed, "js", NodeOptions(insecure=True))
    servers = [_Server(), _Server()]
    node._servers = servers  # type: ignore[assignment]
    await node.stop(given)
    assert [s.graces for s in servers] == [[used], [used]]


@pytest.mark.parametrize(("args", "shown"), [((), "0.4"), (("--grace", "1.5"), "1.5")])
def test_yrdgw_node_drains_for_node_yaml_grace_on_sigterm(tmp_path, certs_dir, args, shown):
    fed = write_federation(
        tmp_path, certs_dir, node_ids=["js"], nodes_dir=_nodes_dir(tmp_path, 0.4)
    )
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
    assert f"node js: draining (grace {shown} s)" in log.read_text(encoding="utf-8")
