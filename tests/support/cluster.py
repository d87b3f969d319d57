"""The exchange tests' cluster: real nodes with stubs, operator credentials and sample people;
and, once for every suite that runs real nodes, the steps most exchange tests start with: an app,
a grant through the 申请-审核-授权 workflow, a call."""

from __future__ import annotations

from typing import Protocol

from grpc import aio

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc, sharing_pb2, sharing_pb2_grpc
from gateway.config import FederationConfig
from gateway.credentials import operator_token_path
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.node import Node, NodeOptions
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET, MD_OPERATOR
from tests.support.federation import HeldClock
from tests.support.names import APP, PURPOSE, RESIDENT, UNTIL
from tests.support.nodes import PEOPLE, Running


class Cluster(Running):
    clock: HeldClock | None = None
    """The nodes' clock, when the test started them with one."""

    def stub(self, node: str, kind):
        return kind(self.channel(node))

    def operator(self, node: str):
        return operator(self, node)

    def samples(self, node: str) -> dict[str, str]:
        return sample_values(dataset_path(self.nodes[node].config.data_dir))


def node(fed, node_id: str, clock: HeldClock) -> Node:
    return Node(fed, node_id, NodeOptions(entries=200, people=PEOPLE, clock=clock))


async def start(fed, node_ids, clock: HeldClock) -> dict[str, Node]:
    nodes = {}
    for n in node_ids:
        nodes[n] = node(fed, n, clock)
        await nodes[n].start()
    return nodes


DEFAULT_QUOTA = sharing_pb2.Quota(per_minute=100, per_day=1000)


class Channels(Protocol):
    """What the app-and-grant steps need: the federation and a client channel to a node."""

    @property
    def fed(self) -> FederationConfig: ...

    def channel(self, node_id: str) -> aio.Channel: ...


def operator(running: Channels, node: str):
    """``node``'s Admin stub and the operator metadata its token file grants."""
    token = operator_token_path(running.fed, node).read_text().strip()
    return sharing_pb2_grpc.AdminStub(running.channel(node)), ((MD_OPERATOR, token),)


async def new_app(
    running: Channels, app: str = APP, *, name: str = "养老保险关系转移", timeout: float = 5
) -> tuple[tuple[str, str], ...]:
    """Register ``app`` at its province's node; its credentials as call metadata."""
    admin, md = operator(running, app[:2])
    reply = await admin.CreateApp(
        sharing_pb2.CreateAppRequest(app=app, name=name), metadata=md, timeout=timeout
    )
    assert reply.secret
    return ((MD_APP_ID, app), (MD_APP_SECRET, reply.secret))


async def grant_via_application(
    running: Channels,
    creds,
    fields,
    *,
    interface: str = RESIDENT,
    quota: sharing_pb2.Quota | None = DEFAULT_QUOTA,
    narrow_fields=(),
    valid_until: str = UNTIL,
    timeout: float = 5,
) -> sharing_pb2.Grant:
    """Apply at js, see the application pending at the owner, approve it there: the whole
    申请-审核-授权 path. ``quota=None`` applies without a quota."""
    sharing = sharing_pb2_grpc.SharingStub(running.channel("js"))
    application = await sharing.Apply(
        sharing_pb2.ApplyRequest(
            interface_id=interface,
            fields=fields,
            purpose=PURPOSE,
            valid_until=valid_until,
            quota=quota,
        ),
        metadata=creds,
        timeout=timeout,
    )
    owner = interface[:2]
    assert application.state == "pending" and application.owner == owner
    admin, md = operator(running, owner)
    pending = await admin.ListApplications(
        sharing_pb2.ListApplicationsRequest(state="pending"), metadata=md, timeout=timeout
    )
    assert application.id in [a.id for a in pending.applications]
    return await admin.Approve(
        sharing_pb2.DecideRequest(application_id=application.id, fields=narrow_fields),
        metadata=md,
        timeout=timeout,
    )


def invoke(cluster: Cluster, creds, params, *, interface=RESIDENT, purpose=PURPOSE, fields=()):
    exchange = cluster.stub("js", exchange_pb2_grpc.ExchangeStub)
    return exchange.Invoke(
        exchange_pb2.InvokeRequest(
            interface_id=interface, params=params, purpose=purpose, fields=fields
        ),
        metadata=creds,
        timeout=10,
    )
