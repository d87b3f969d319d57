"""Real in-process nodes with the metrics interceptors installed and an ops web page each.

``gateway.node`` builds its servers and peer channels itself; until it wires the metrics and the
ops page, these tests hand it a stand-in for ``grpc.aio`` while the nodes start, which adds
``MetricsServerInterceptor`` to each server and the per-peer interceptors to each peer channel,
then serve an ``OpsWeb`` on each node's configured ops port. Where the node already does either
(``node.metrics``), the stand-in steps aside. Everything else is the real node: mutual TLS,
SQLite stores, spans, audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from grpc import aio

import gateway.node
import gateway.peers
from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc, sharing_pb2, sharing_pb2_grpc
from gateway.cli.credentials import operator_token_path
from gateway.config import FederationConfig, load_federation
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.node import Node, NodeOptions
from gateway.ops.traces import TraceGatherer
from gateway.ops.web import OpsWeb
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET, MD_OPERATOR
from gateway.telemetry.metrics import Metrics, MetricsServerInterceptor, PeerMetricsInterceptor
from gateway.tls import channel_options_for, client_channel_credentials
from tests.conftest import write_federation

APP = "js/rsj/pension-transfer"
RESIDENT = "sh/gaj/resident-basic/v1"
ROSTER = "sh/rsj/insured-roster/v1"
PURPOSE = "养老保险关系转移接续"
UNTIL = (datetime.now(UTC) + timedelta(days=365)).isoformat(timespec="seconds")
PEOPLE = 300


class InstrumentedAio:
    """``grpc.aio`` as ``gateway.node`` and ``gateway.peers`` see it while one node starts."""

    def __init__(self, fed: FederationConfig) -> None:
        self.metrics: dict[str, Metrics] = {}
        self.current = ""
        self._servers: dict[str, int] = {}
        self._peer_at = {a.peer: a.id for a in fed.nodes.values()}

    def __getattr__(self, name: str):
        return getattr(aio, name)

    def server(self, *, interceptors=(), **kwargs):
        built = self._servers.get(self.current, 0)
        self._servers[self.current] = built + 1
        if not any(isinstance(i, MetricsServerInterceptor) for i in interceptors):
            port = ("client", "peer")[built]  # node.py builds the client port first
            outermost = MetricsServerInterceptor(self.metrics[self.current], port)
            interceptors = [outermost, *interceptors]
        return aio.server(interceptors=list(interceptors), **kwargs)

    def secure_channel(
        self, target, credentials, options=None, compression=None, interceptors=None
    ):
        return aio.secure_channel(
            target,
            credentials,
            options=options,
            compression=compression,
            interceptors=self._with_peer_metrics(target, interceptors),
        )

    def insecure_channel(self, target, options=None, compression=None, interceptors=None):
        return aio.insecure_channel(
            target,
            options=options,
            compression=compression,
            interceptors=self._with_peer_metrics(target, interceptors),
        )

    def _with_peer_metrics(self, target, interceptors):
        interceptors = list(interceptors or ())
        if target in self._peer_at and not any(
            isinstance(i, PeerMetricsInterceptor) for i in interceptors
        ):
            interceptors += self.metrics[self.current].peer_interceptors(self._peer_at[target])
        return interceptors


@dataclass
class OpsCluster:
    fed: FederationConfig
    nodes: dict[str, Node]
    metrics: dict[str, Metrics]
    webs: dict[str, OpsWeb] = field(default_factory=dict)
    channels: list[aio.Channel] = field(default_factory=list)

    def ops_url(self, node: str, path: str = "") -> str:
        return f"http://{self.fed.node(node).ops}{path}"

    def stub(self, node: str, kind):
        ca = (self.fed.certs_dir / "ca.pem").read_bytes()
        channel = aio.secure_channel(
            self.fed.node(node).client,
            client_channel_credentials(ca),
            options=channel_options_for(node),
        )
        self.channels.append(channel)
        return kind(channel)

    def operator(self, node: str):
        token = operator_token_path(self.fed, node).read_text().strip()
        return self.stub(node, sharing_pb2_grpc.AdminStub), ((MD_OPERATOR, token),)

    def samples(self, node: str) -> dict[str, str]:
        return sample_values(dataset_path(self.nodes[node].config.data_dir))

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
        web = self.webs.pop(node, None)
        if web is not None:
            await web.stop()
        await self.nodes.pop(node).stop(0)

    async def stop(self) -> None:
        for channel in self.channels:
            await channel.close()
        for node in list(self.nodes):
            await self.stop_node(node)


async def start_cluster(tmp, certs_dir, node_ids) -> OpsCluster:
    fed = load_federation(write_federation(tmp, certs_dir, node_ids=node_ids))
    shim = InstrumentedAio(fed)
    cluster = OpsCluster(fed, {}, shim.metrics)
    names = {n.id: n.name for n in fed.nodes.values()}
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(gateway.node, "aio", shim)
            patch.setattr(gateway.peers, "aio", shim)
            for node_id in node_ids:  # one at a time: the stand-in wires the node starting now
                shim.current = node_id
                shim.metrics[node_id] = Metrics(node_id, names[node_id])
                node = Node(fed, node_id, NodeOptions(entries=200, people=PEOPLE))
                cluster.nodes[node_id] = node
                await node.start()
                if isinstance(getattr(node, "metrics", None), Metrics):  # node.py wires its own
                    shim.metrics[node_id] = node.metrics
        for node_id, node in cluster.nodes.items():
            spans, telemetry = node._spans, node.telemetry
            assert spans is not None and telemetry is not None and node._peers is not None
            gatherer = TraceGatherer(
                node_id, spans, {p.id: p for p in node._peers}, flush=telemetry.flush
            )
            web = OpsWeb(
                node_id, names, gatherer, spans, shim.metrics[node_id], flush=telemetry.flush
            )
            host, port = fed.node(node_id).ops.rsplit(":", 1)
            try:
                await web.start(host, int(port))
            except OSError:
                if not hasattr(node, "metrics"):
                    raise
                continue  # node.py serves its ops port itself now
            cluster.webs[node_id] = web
    except BaseException:
        await cluster.stop()
        raise
    return cluster
