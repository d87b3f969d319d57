"""``yrdgw seed`` and a starting node fill the catalog by one path (``gateway.seeding``): what
the verb seeded, the node finds already seeded, generated entries and published interfaces
alike, on the node's own storage (SQLite or PostgreSQL)."""

from __future__ import annotations

from gateway.catalog.store import CatalogStore, PgCatalogStore
from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from gateway.postgres import Postgres
from tests.support.cli import yrdgw
from tests.support.federation import js_nodes_dir, write_federation


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


def test_yrdgw_seed_fills_the_provinces_postgresql_database(tmp_path, pg_dsn):
    nodes_dir = js_nodes_dir(tmp_path, storage=pg_dsn)
    path = write_federation(tmp_path, tmp_path / "certs", node_ids=["js"], nodes_dir=nodes_dir)
    code, out, _ = yrdgw("--federation", str(path), "seed", "--node", "js", "--entries", "60")
    assert (code, out.split(" in ")[0]) == (0, "js: seeded 60 entries")
    assert not (tmp_path / "var" / "js" / "catalog.db").exists()  # no SQLite file beside it
    with Postgres(pg_dsn) as pg:
        store = PgCatalogStore(pg)
        try:
            assert store.count() >= 60
        finally:
            store.close()
    code, out, _ = yrdgw("--federation", str(path), "seed", "--node", "js", "--entries", "60")
    assert (code, out) == (0, "js: already seeded with 60 entries\n")


def test_workers_are_refused_on_postgresql(tmp_path, pg_dsn):
    nodes_dir = js_nodes_dir(tmp_path, storage=pg_dsn)
    path = write_federation(tmp_path, tmp_path / "certs", node_ids=["js"], nodes_dir=nodes_dir)
    code, _, err = yrdgw("--federation", str(path), "node", "--node", "js", "--workers", "2")
    assert code == 2
    assert "--workers" in err and "PostgreSQL" in err and "replicas replace workers" in err
