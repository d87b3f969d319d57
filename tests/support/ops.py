"""Real in-process nodes, each serving its ops web page and metrics on its configured ops port:
mutual TLS, SQLite stores, spans, audit — the node as it runs in production."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway._pb.yrd.v1 import sharing_pb2
from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from gateway.telemetry.metrics import Metrics
from tests.support.cluster import Cluster, grant_via_application, invoke, new_app
from tests.support.federation import write_federation
from tests.support.names import APP, PURPOSE, RESIDENT
from tests.support.nodes import PEOPLE


@dataclass
class OpsCluster(Cluster):
    """The exchange tests' cluster (stubs, operator, samples) plus each node's metrics."""

    metrics: dict[str, Metrics] = field(default_factory=dict)

    def ops_url(self, node: str, path: str = "") -> str:
        return f"http://{self.fed.node(node).ops}{path}"

    async def new_app(self, app: str = APP):
        return await new_app(self, app)

    async def grant(self, creds, interface: str, fields) -> sharing_pb2.Grant:
        """Apply at js, approve at the owner: the whole 申请-审核-授权 path."""
        return await grant_via_application(self, creds, fields, interface=interface)

    def invoke(self, creds, params, *, interface: str = RESIDENT, purpose: str = PURPOSE):
        return invoke(self, creds, params, interface=interface, purpose=purpose)

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
