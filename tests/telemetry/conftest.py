"""Three real in-process nodes (js, sh, zj): a call between two, inspected from the third."""

from __future__ import annotations

import pytest_asyncio

from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from tests.support.cluster import Cluster
from tests.support.federation import write_federation
from tests.support.nodes import PEOPLE, stop_all

NODES = ("js", "sh", "zj")


@pytest_asyncio.fixture
async def cluster(tmp_path, certs_dir):
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=NODES))
    nodes = {}
    for n in NODES:
        nodes[n] = Node(fed, n, NodeOptions(entries=200, people=PEOPLE))
        await nodes[n].start()
    running = Cluster(fed, nodes, [])
    yield running
    await stop_all(running)
