"""Each fuzz module gets its own two-node federation (js, sh) in this process, torn down after."""

from __future__ import annotations

import pytest_asyncio

from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from tests.conftest import write_federation
from tests.fuzz.hostile import ENTRIES, NODES, PEOPLE, Harness


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def harness(tmp_path_factory, certs_dir):
    fed = load_federation(
        write_federation(tmp_path_factory.mktemp("fuzz"), certs_dir, node_ids=NODES)
    )
    nodes = {}
    h = Harness(fed, nodes)
    try:
        for node_id in NODES:
            nodes[node_id] = Node(fed, node_id, NodeOptions(entries=ENTRIES, people=PEOPLE))
            await nodes[node_id].start()
        await h.setup()
        yield h
    finally:
        await h.close()
