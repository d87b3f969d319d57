"""Real nodes in this process (real gRPC servers, mTLS, SQLite files), started and stopped
together, and TLS-verified async client channels to them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from grpc import aio

from gateway._pb.yrd.v1 import catalog_pb2_grpc
from gateway.config import FederationConfig
from gateway.node import Node, NodeOptions
from gateway.tls import channel_options_for, client_channel_credentials
from tests.support.federation import eventually

ENTRIES = 400
PEOPLE = 300


@dataclass
class Running:
    fed: FederationConfig
    nodes: dict[str, Node]
    channels: list[aio.Channel]

    def channel(self, node_id: str) -> aio.Channel:
        """A client-port channel, TLS-verified as an app or the CLI would; closed at teardown."""
        ca = (Path(self.fed.certs_dir) / "ca.pem").read_bytes()
        channel = aio.secure_channel(
            self.fed.node(node_id).client,
            client_channel_credentials(ca),
            options=channel_options_for(node_id),
        )
        self.channels.append(channel)
        return channel

    def catalog(self, node_id: str) -> catalog_pb2_grpc.CatalogStub:
        return catalog_pb2_grpc.CatalogStub(self.channel(node_id))


async def start_nodes(
    fed: FederationConfig,
    node_ids,
    entries: int = ENTRIES,
    feds: dict[str, FederationConfig] | None = None,
) -> dict[str, Node]:
    nodes = {
        n: Node((feds or {}).get(n, fed), n, NodeOptions(entries=entries, people=PEOPLE))
        for n in node_ids
    }
    await asyncio.gather(*(node.start() for node in nodes.values()))
    return nodes


async def stop_all(running: Running) -> None:
    for channel in running.channels:
        await channel.close()
    await asyncio.gather(*(node.stop(0) for node in running.nodes.values()))


def replicas_in_sync(nodes: dict[str, Node]) -> bool:
    """Whether every node's replica of every other province's catalog holds all its owner had
    and follows its feed: the federation at rest, when any node answers a search as any other
    (replicas that are still catching up answer from the owners, with their own statistics)."""
    for node in nodes.values():
        assert node.replication is not None
        for replica in node.replication.catalogs.values():
            report = replica.report()
            if report is None or report.stale or report.behind:
                return False
    return True


async def wait_replicas_in_sync(nodes: dict[str, Node], timeout: float = 60.0) -> None:
    """Wait (bounded by ``timeout``, generous for a loaded box) for ``replicas_in_sync``."""
    await eventually(lambda: replicas_in_sync(nodes), timeout)
