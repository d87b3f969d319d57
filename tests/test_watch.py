"""A real node's watch over audit chains: heads witnessed over the peer API (a forged one
refused), and a node whose chain fails verification at start refusing data calls, saying so in
its log and health, until an operator acknowledges it with the CLI."""

from __future__ import annotations

import sqlite3

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc, ops_pb2, ops_pb2_grpc
from gateway.audit import AuditLog
from gateway.audit.heads import HeadSigner
from gateway.certs import key_file
from gateway.config import load_federation, load_province
from gateway.credentials import operator_token
from gateway.errors import GatewayError
from gateway.node import Node, NodeOptions
from gateway.peers import Peers
from gateway.peers.witness import WitnessClient
from gateway.server.identity import MD_OPERATOR
from gateway.status import failure_of
from gateway.tls import NodeTLS, channel_options_for, client_channel_credentials
from tests.support.federation import write_federation
from tests.support.records import make_record

HASH = "ab" * 32


def client_channel(fed, node: str) -> aio.Channel:
    ca = (fed.certs_dir / "ca.pem").read_bytes()
    return aio.secure_channel(
        fed.node(node).client, client_channel_credentials(ca), options=channel_options_for(node)
    )


async def test_the_witness_keeps_a_peer_head_and_refuses_one_signed_by_another_key(
    tmp_path, certs_dir
) -> None:
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=["js", "sh"]))
    js = Node(fed, "js", NodeOptions(entries=50, people=50))
    await js.start()
    # sh's side of the peer API, with sh's certificate, as sh's node would call js.
    sh_peers = Peers(fed, "sh", load_province(fed, "sh").standard, NodeTLS.load(certs_dir, "sh"))
    channel = client_channel(fed, "js")
    try:
        to_js = WitnessClient(sh_peers.get("js"))
        genuine = HeadSigner("sh", key_file(certs_dir, "sh").read_bytes())
        assert await to_js.witness(genuine.sign(5, HASH, "2026-12-06T08:00:00.000Z")) == 5
        forged = HeadSigner("sh", key_file(certs_dir, "zj").read_bytes())
        with pytest.raises(GatewayError) as refused:
            await to_js.witness(forged.sign(6, HASH, "2026-12-06T08:00:01.000Z"))
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert refused.value.reason == "HEAD_SIGNATURE_INVALID"

        ops = ops_pb2_grpc.OpsStub(channel)
        evidence = await ops.AuditEvidence(
            ops_pb2.AuditEvidenceRequest(witnessed=True),
            metadata=((MD_OPERATOR, operator_token(fed, "js")),),
        )
        assert [(h.node, h.seq, h.witness) for h in evidence.witnessed] == [("sh", 5, "js")]
    finally:
        await channel.close()
        await sh_peers.close()
        await js.stop(0)


def forge_row(db, seq: int) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute("UPDATE entries SET app = 'js/x/forged' WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()


async def exchange_health(channel: aio.Channel) -> int:
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service="yrd.v1.Exchange"))
    return reply.status


async def test_a_node_with_a_broken_chain_refuses_data_until_an_operator_acknowledges(
    tmp_path, certs_dir, caplog
) -> None:
    from tests.support.cli import yrdgw_on

    path = write_federation(tmp_path, certs_dir, node_ids=["js"])
    fed = load_federation(path)
    options = NodeOptions(entries=50, people=50)
    first = Node(fed, "js", options)
    await first.start()
    await first.stop(0)
    db = fed.data_dir / "js" / "audit.db"
    with AuditLog(db, "js") as log:
        for i in range(1, 4):
            log.append(make_record(i))
    forge_row(db, 1)

    node = Node(fed, "js", options)
    await node.start()
    channel = client_channel(fed, "js")
    try:
        assert "AUDIT_CHAIN_BROKEN" in caplog.text
        assert await exchange_health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
        exchange = exchange_pb2_grpc.ExchangeStub(channel)
        with pytest.raises(aio.AioRpcError) as refused:
            await exchange.Invoke(exchange_pb2.InvokeRequest(interface_id="sh/gaj/x/v1"))
        failure = failure_of(refused.value)
        assert failure.code == grpc.StatusCode.FAILED_PRECONDITION
        assert (failure.reason, failure.node) == ("AUDIT_CHAIN_BROKEN", "js")
        assert "yrdgw audit acknowledge" in failure.message

        acked = await yrdgw_on(
            path, "audit", "acknowledge", "--node", "js", "--note", "row 1 restored", "--json"
        )
        assert acked.code == 0, acked.err
        assert acked.json()["chain_state"] == "acknowledged"
        assert acked.json()["first_bad_seq"] == 1
        assert await exchange_health(channel) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(aio.AioRpcError) as after:
            await exchange.Invoke(exchange_pb2.InvokeRequest(interface_id="sh/gaj/x/v1"))
        assert failure_of(after.value).reason != "AUDIT_CHAIN_BROKEN"  # past the guard now
        # The acknowledgement is in the audit trail, with who and why.
        ops = ops_pb2_grpc.OpsStub(channel)
        trail = await ops.QueryAudit(
            ops_pb2.QueryAuditRequest(limit=5),
            metadata=((MD_OPERATOR, operator_token(fed, "js")),),
        )
        assert any(
            '"acknowledge_chain_break"' in line.json and "row 1 restored" in line.json
            for line in trail.entries
        )
    finally:
        await channel.close()
        await node.stop(0)
