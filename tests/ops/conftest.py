"""Real in-process nodes, each serving its ops web page and metrics on its configured ops port:
mutual TLS, SQLite stores, spans, audit — the node as it runs in production."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc, sharing_pb2, sharing_pb2_grpc
from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET
from gateway.telemetry.metrics import Metrics
from tests.conftest import write_federation
from tests.exchange.test_workflow import Cluster

APP = "js/rsj/pension-transfer"
RESIDENT = "sh/gaj/resident-basic/v1"
ROSTER = "sh/rsj/insured-roster/v1"
PURPOSE = "养老保险关系转移接续"
UNTIL = (datetime.now(UTC) + timedelta(days=365)).isoformat(timespec="seconds")
PEOPLE = 300


@dataclass
class OpsCluster(Cluster):
    """The exchange tests' cluster (stubs, operator, samples) plus each node's metrics."""

    metrics: dict[str, Metrics] = field(default_factory=dict)

    def ops_url(self, node: str, path: str = "") -> str:
        return f"http://{self.fed.node(node).ops}{path}"

    async def new_app(self, app: str = APP):
        admin, md = self.operator(app[:2])
        reply = await admin.CreateApp(
            sharing_pb2.CreateAppRequest(app=app, name="养老保险关系转移"), metadata=md, timeout=5
        )
        return ((MD_APP_ID, app), (MD_APP_SECRET, reply.secret))

    async def grant(self, creds, interface: str, fields) -> sharing_pb2.Grant:
        """Apply at js, approve at the owner: the whole 申请-审核-授权 path."""
        sharing = self.stub("js", sharing_pb2_grpc.SharingStub)
        application = await sharing.Apply(
            sharing_pb2.ApplyRequest(
                interface_id=interface,
                fields=fields,
                purpose=PURPOSE,
                valid_until=UNTIL,
                quota=sharing_pb2.Quota(per_minute=100, per_day=1000),
            ),
            metadata=creds,
            timeout=5,
        )
        admin, md = self.operator(interface[:2])
        return await admin.Approve(
            sharing_pb2.DecideRequest(application_id=application.id), metadata=md, timeout=5
        )

    def invoke(self, creds, params, *, interface: str = RESIDENT, purpose: str = PURPOSE):
        exchange = self.stub("js", exchange_pb2_grpc.ExchangeStub)
        return exchange.Invoke(
            exchange_pb2.InvokeRequest(interface_id=interface, params=params, purpose=purpose),
            metadata=creds,
            timeout=10,
        )

    async def stop_node(self, node: str) -> None:
        await self.nodes.pop(node).stop(0)

    async def stop(self) -> None:
        for channel in self.channels:
            await channel.close()
        for node in list(self.nodes):
            await self.stop_node(node)


async def start_cluster(tmp, certs_dir, node_ids, *, nodes_dir=None) -> OpsCluster:
    """Real nodes: each serves its ops page and metrics itself (see gateway/node.py)."""
    fed = load_federation(write_federation(tmp, certs_dir, node_ids=node_ids, nodes_dir=nodes_dir))
    cluster = OpsCluster(fed, {}, [], {})
    try:
        for node_id in node_ids:
            node = Node(fed, node_id, NodeOptions(entries=200, people=PEOPLE))
            cluster.nodes[node_id] = node
            await node.start()
            assert node.metrics is not None
            cluster.metrics[node_id] = node.metrics
    except BaseException:
        await cluster.stop()
        raise
    return cluster
