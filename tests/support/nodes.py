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
