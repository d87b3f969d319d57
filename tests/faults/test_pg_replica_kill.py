"""kill -9 of one of sh's two replicas under load, as real processes on PostgreSQL: only calls
that were on it fail, as UNAVAILABLE; the survivor serves on without a restart; nothing was
released without its audit entry, and sh's one chain verifies."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import grpc
import yaml

from gateway.cli import eventloop
from gateway.config import load_federation
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.pgdeploy import ReplicaProcesses
from gateway.ports import free_ports
from tests.support.federation import TEMPLATE
from tests.support.postgres import new_schema
from yrdtools.faults.clients import FederationClients

RESIDENT = "sh/gaj/resident-basic/v1"
FIELDS = ["id_number", "name", "gender"]
PURPOSE = "养老保险关系转移接续"
OK, UNAVAILABLE = grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE


class Clients(FederationClients):
    def __init__(self, fed, certs_dir: Path) -> None:
        self.fed = fed
        self.certs_dir = certs_dir
        self._init_clients()

    def address(self, node: str, kind: str = "peer") -> str:
        return getattr(self.fed.node(node), kind)


def write(tmp_path: Path, certs_dir: Path, dsns: dict[str, str]):
    nodes_dir = tmp_path / "nodes"
    nodes = {}
    for node in ("js", "sh"):
        target = nodes_dir / node
        target.mkdir(parents=True)
        for f in (TEMPLATE.nodes_dir / node).iterdir():
            (target / f.name).write_bytes(f.read_bytes())
        doc = yaml.safe_load((target / "node.yaml").read_text(encoding="utf-8"))
        doc.setdefault("seed", {}).update(entries=100, people=200)
        doc["storage"] = dsns[node]
        (target / "node.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
        ports = free_ports(3)
        nodes[node] = {
            "name": TEMPLATE.node(node).name,
            "region_code": TEMPLATE.node(node).region_code,
            **{k: [f"127.0.0.1:{p}", f"127.0.0.1:{p + 1}"] for k, p in zip(
                ("client", "peer", "ops"), ports, strict=True)},
        }  # fmt: skip
    doc = {
        "federation": "yrd-replica-kill",
        "standard": str(TEMPLATE.standard_path),
        "certs_dir": str(certs_dir),
        "data_dir": str(tmp_path / "var"),
        "nodes_dir": str(nodes_dir),
        "nodes": nodes,
    }
    path = tmp_path / "federation.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_federation(path)


def test_kill_9_of_one_replica_fails_only_its_calls(tmp_path, certs_dir, postgres) -> None:
    fed = write(tmp_path, certs_dir, {n: new_schema(postgres) for n in ("js", "sh")})
    procs = ReplicaProcesses(fed, 2)
    clients = Clients(fed, certs_dir)
    try:
        procs.start_all(procs.keys(0))  # replica 0 seeds each database first
        procs.wait_ready(timeout=300)
        procs.start_all(procs.keys(1))
        procs.wait_ready(timeout=300)

        async def run():
            try:
                app = await clients.setup_app_with_grant("js/rsj/kill", RESIDENT, FIELDS, PURPOSE)
                params = {
                    "id_number": sample_values(dataset_path(fed.data_dir / "sh"))["id_number"]
                }

                async def calls(n: int) -> list:
                    return await asyncio.gather(
                        *(
                            clients.call(app, RESIDENT, params, PURPOSE, timeout=10)
                            for _ in range(n)
                        )
                    )

                assert {o.code for o in await calls(20)} == {OK}
                load = asyncio.ensure_future(calls(30))  # under the per-app in-flight bound (32)
                await asyncio.sleep(0)  # the load's calls are sent
                victim = procs.procs["sh.1"]
                os.kill(victim.pid, signal.SIGKILL)
                await asyncio.to_thread(victim.wait)
                during = await load
                # Once the replica is gone, every call is served by the survivor.
                after = await calls(30)
                verified = await clients.verify_audit_rpc("sh")
                return during, after, verified
            finally:
                await clients.aclose()

        during, after, verified = eventloop.run(run())
    finally:
        procs.stop_all()
    assert {o.code for o in during} <= {OK, UNAVAILABLE}, {o.code for o in during}
    assert {o.code for o in after} == {OK}, [o for o in after if not o.ok][:3]
    assert verified.ok and verified.reply.ok, verified
    released = sum(o.ok for o in during) + len(after) + 20
    assert verified.reply.checked >= released  # every released answer has its entry
