"""Two real in-process nodes (js, sh) and ``yrdgw`` run against them as an operator would."""

from __future__ import annotations

import asyncio

import pytest_asyncio

from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from tests.support.cli import CliFederation
from tests.support.federation import write_federation

NODES = ("js", "sh")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cli_federation(tmp_path_factory, certs_dir):
    tmp = tmp_path_factory.mktemp("cli")
    fed = load_federation(write_federation(tmp, certs_dir, node_ids=NODES))
    nodes: dict[str, Node] = {}
    try:
        for n in NODES:
            nodes[n] = Node(fed, n, NodeOptions(entries=200, people=300))
            await nodes[n].start()
        yield CliFederation(fed, nodes)
    finally:
        await asyncio.gather(*(node.stop(0) for node in nodes.values()))
