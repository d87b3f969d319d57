"""The benchmark waits for every replica to hold its owner's head before it measures a case,
wherever the owners keep their catalogs: the SQLite federation's own files, or (``head``)
another store, as the PostgreSQL federation's databases (``pgfederation``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.catalog.store import CatalogStore
from tests.support.entries import entry
from tests.support.replicas import follow
from yrdtools.bench.replication import wait_in_sync

NODES = ("js", "sh")


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[tuple[SimpleNamespace, dict, dict]]:
    """Owners kept apart from the nodes' directories (as in PostgreSQL), and each node's
    replica of the other, level with its owner."""
    for directory in ("elsewhere", *(f"var/{n}/replicas" for n in NODES)):
        (tmp_path / directory).mkdir(parents=True)
    owners = {n: CatalogStore(tmp_path / "elsewhere" / f"{n}.db") for n in NODES}
    replicas = {
        (n, p): CatalogStore(tmp_path / "var" / n / "replicas" / f"{p}.db")
        for n in NODES
        for p in NODES
        if p != n
    }
    try:
        for n, owner in owners.items():
            owner.insert_many(
                [entry(f"{n} 户籍信息 {i}", code=f"101001/{100 + i:06d}") for i in range(3)]
            )
        for (_, p), replica in replicas.items():
            follow(owners[p], replica)
        yield SimpleNamespace(data_dir=tmp_path / "var"), owners, replicas
    finally:
        for store in [*owners.values(), *replicas.values()]:
            store.close()


def _head(owners: dict[str, CatalogStore]):
    return lambda province: owners[province].changes_since(0, 1).head


def test_level_replicas_are_waited_for_no_longer(federation):
    fed, owners, _ = federation
    waited = wait_in_sync(fed, NODES, lambda *_: None, head=_head(owners), timeout=5)
    assert set(waited["first_catch_up_s"]) == {"js<-sh", "sh<-js"}


def test_a_replica_behind_its_owner_is_waited_for(federation):
    fed, owners, replicas = federation
    owners["js"].insert_many([entry("js 新增 户籍", code="101001/000900")])
    with pytest.raises(TimeoutError):
        wait_in_sync(fed, NODES, lambda *_: None, head=_head(owners), timeout=0.6)
    follow(owners["js"], replicas[("sh", "js")])
    wait_in_sync(fed, NODES, lambda *_: None, head=_head(owners), timeout=5)


def test_without_head_the_owners_files_under_the_data_dir_are_read(federation):
    """The SQLite federation's owners are ``<data_dir>/<node>/catalog.db``: here there are
    none, so only ``head`` can say where the owners stand."""
    fed, _, _ = federation
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        wait_in_sync(fed, NODES, lambda *_: None, timeout=0.6)
