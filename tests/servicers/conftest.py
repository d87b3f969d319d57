"""Each fuzz module gets its own two-node federation (js, sh) in this process, torn down after."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from tests.support.federation import ROOT, write_federation
from tests.support.hostile import ENTRIES, NODES, PEOPLE, Harness


async def running_harness(tmp: Path, certs_dir: Path, nodes_dir: Path | None = None):
    """Start js and sh (configs from ``nodes_dir``, default the shipped ones) with an app and
    its grants; the caller closes the harness."""
    fed = load_federation(write_federation(tmp, certs_dir, node_ids=NODES, nodes_dir=nodes_dir))
    nodes: dict[str, Node] = {}
    h = Harness(fed, nodes)
    try:
        for node_id in NODES:
            nodes[node_id] = Node(
                fed, node_id, NodeOptions(entries=ENTRIES, people=PEOPLE, clock=h.clock)
            )
            await nodes[node_id].start()
        await h.setup()
    except BaseException:
        await h.close()
        raise
    return h


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def harness(tmp_path_factory, certs_dir) -> AsyncIterator[Harness]:
    h = await running_harness(tmp_path_factory.mktemp("fuzz"), certs_dir)
    try:
        yield h
    finally:
        await h.close()


@pytest_asyncio.fixture(loop_scope="module")
async def bounded(tmp_path, certs_dir) -> AsyncIterator[Harness]:
    """js admits one call per app at a time: any two overlapping calls of one app meet the
    bound, where the shipped 32 needs a flood that one process may not overlap enough."""
    nodes_dir = tmp_path / "nodes"
    shutil.copytree(ROOT / "nodes", nodes_dir)
    config = nodes_dir / "js" / "node.yaml"
    text = config.read_text(encoding="utf-8")
    assert "max_inflight_per_app: 32" in text
    config.write_text(
        text.replace("max_inflight_per_app: 32", "max_inflight_per_app: 1"), encoding="utf-8"
    )
    h = await running_harness(tmp_path, certs_dir, nodes_dir)
    try:
        yield h
    finally:
        await h.close()
