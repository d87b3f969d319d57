"""``yrdgw seed`` and a starting node fill the catalog by one path (``gateway.seeding``): what
the verb seeded, the node finds already seeded, generated entries and published interfaces
alike."""

from __future__ import annotations

from gateway.catalog.store import CatalogStore
from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from tests.support.cli import yrdgw
from tests.support.federation import write_federation


def test_a_node_finds_what_yrdgw_seed_seeded(tmp_path):
    path = write_federation(tmp_path, tmp_path / "certs", node_ids=["sh"])
    code, out, _ = yrdgw("--federation", str(path), "seed", "--node", "sh", "--entries", "60")
    assert (code, out.split(" in ")[0]) == (0, "sh: seeded 60 entries")

    node = Node(load_federation(path), "sh", NodeOptions(insecure=True, entries=60))
    with CatalogStore(node.config.catalog_db) as store:
        assert node._seed(store) is None  # the same signature: nothing to redo
        published = {i.resource_code for i in node.interfaces.values()}
        assert all(store.get(code) is not None for code in published)
        assert store.count() >= 60

    code, out, _ = yrdgw("--federation", str(path), "seed", "--node", "sh", "--entries", "60")
    assert (code, out) == (0, "sh: already seeded with 60 entries\n")
