"""A province as two replicas on one PostgreSQL database: federation.yaml lists both replicas'
addresses, js's calls to sh balance over them (gRPC round_robin, the certificate checked per
replica), and a revoke made on one replica refuses the next call on every replica."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta

import grpc
import yaml
from grpc import aio

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.config import load_federation
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.node import Node, NodeOptions
from gateway.ports import free_ports
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET
from gateway.sharing.model import Quota
from gateway.tls import channel_options_for, client_channel_credentials
from tests.support.federation import TEMPLATE
from tests.support.names import PURPOSE, RESIDENT
from tests.support.postgres import new_schema

APP = "js/rsj/replicas"
CALLS = 24


def write_federation(tmp_path, certs_dir, sh_dsn: str):
    nodes_dir = tmp_path / "nodes"
    for node in ("js", "sh"):
        shutil.copytree(TEMPLATE.nodes_dir / node, nodes_dir / node)
        path = nodes_dir / node / "node.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc.setdefault("seed", {}).update(entries=100, people=200)
        if node == "sh":
            doc["storage"] = sh_dsn
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    ports = iter(free_ports(9))
    addresses = {
        "js": {kind: f"127.0.0.1:{next(ports)}" for kind in ("client", "peer", "ops")},
        "sh": {
            kind: [f"127.0.0.1:{next(ports)}" for _ in range(2)]
            for kind in ("client", "peer", "ops")
        },
    }
    doc = {
        "federation": "yrd-replicas",
        "standard": str(TEMPLATE.standard_path),
        "certs_dir": str(certs_dir),
        "data_dir": str(tmp_path / "var"),
        "nodes_dir": str(nodes_dir),
        "nodes": {
            n: {"name": TEMPLATE.node(n).name, "region_code": TEMPLATE.node(n).region_code, **a}
            for n, a in addresses.items()
        },
    }
    path = tmp_path / "federation.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_federation(path)


async def test_calls_balance_over_replicas_and_a_revoke_holds_on_all(
    tmp_path, certs_dir, postgres
) -> None:
    fed = write_federation(tmp_path, certs_dir, new_schema(postgres))
    sh = fed.node("sh")
    assert sh.peer.startswith("ipv4:") and len(sh.replicas) == 2
    replicas = [Node(fed, "sh", NodeOptions(replica=i)) for i in range(2)]
    js = Node(fed, "js", NodeOptions())
    for node in (*replicas, js):  # one after another: the first seeds the shared catalog
        await node.start()
    ca = (certs_dir / "ca.pem").read_bytes()
    channel = aio.secure_channel(
        fed.node("js").client, client_channel_credentials(ca), options=channel_options_for("js")
    )
    try:
        secret = js._sharing_store.create_app(APP, "replicas")
        now = datetime.now(UTC)
        owner = replicas[0]._sharing_store
        application = owner.add_application(
            APP, RESIDENT, ("name", "gender"), PURPOSE, now, now + timedelta(days=30),
            Quota(1000, 10_000), now=now,
        )  # fmt: skip
        grant = owner.approve(application.id, now=now)
        person = sample_values(dataset_path(replicas[0].config.data_dir))
        stub = exchange_pb2_grpc.ExchangeStub(channel)
        creds = ((MD_APP_ID, APP), (MD_APP_SECRET, secret))

        async def call():
            request = exchange_pb2.InvokeRequest(
                interface_id=RESIDENT, params={"id_number": person["id_number"]}, purpose=PURPOSE
            )
            try:
                await stub.Invoke(request, metadata=creds, timeout=10)
            except aio.AioRpcError as failed:
                return failed.code()
            return grpc.StatusCode.OK

        before = [r._audit.stats().entries_written for r in replicas]
        assert await asyncio.gather(*(call() for _ in range(CALLS))) == [grpc.StatusCode.OK] * CALLS
        served = [
            r._audit.stats().entries_written - b for r, b in zip(replicas, before, strict=True)
        ]
        assert all(n > 0 for n in served), served  # both replicas answered some of the calls

        # Revoked through replica 1: every call after it is refused, whichever replica it meets.
        replicas[1]._sharing_store.revoke_grant(grant.id, "到期", datetime.now(UTC))
        after = await asyncio.gather(*(call() for _ in range(CALLS)))
        assert set(after) == {grpc.StatusCode.PERMISSION_DENIED}, after
        assert replicas[0]._audit.verify().ok
    finally:
        await channel.close()
        await asyncio.gather(*(n.stop(0) for n in (js, *replicas)))
