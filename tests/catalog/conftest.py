"""The four-node federation the catalog's read-only federated tests share, one per module."""

from __future__ import annotations

import pytest_asyncio

from gateway.config import load_federation
from tests.support.federation import NODE_IDS, write_federation
from tests.support.nodes import Running, start_nodes, stop_all, wait_replicas_in_sync


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def federation(tmp_path_factory, certs_dir):
    """Shared by a module's read-only tests; tests that change state start their own. At rest:
    every node's replicas in sync, so every node ranks with the same statistics."""
    fed = load_federation(write_federation(tmp_path_factory.mktemp("fed"), certs_dir))
    running = Running(fed, await start_nodes(fed, NODE_IDS), [])
    try:
        await wait_replicas_in_sync(running.nodes)
        yield running
    finally:
        await stop_all(running)
