"""The sharing store on PostgreSQL shared by several replicas of one province: one quota, one
set of grants, one schema migrated once."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.errors import ResourceExhausted, SchemaTooNew
from gateway.postgres import Postgres
from gateway.sharing.model import Quota
from gateway.sharing.pgdatabase import MIGRATIONS
from gateway.sharing.store import SharingStore
from tests.support.applications import apply
from tests.support.names import APP, IFACE, T0

NEWER = len(MIGRATIONS) + 1
"""A schema version a newer node would have written."""


def test_day_quota_is_exact_across_replicas(replicas: list[SharingStore]) -> None:
    grant = replicas[0].approve(apply(replicas[0], quota=Quota(100, 7)).id, now=T0)
    start = threading.Barrier(20)

    def call(i: int) -> str:
        start.wait()
        try:
            replicas[i % len(replicas)].consume_quota(grant, APP, T0)
        except ResourceExhausted as refused:
            return refused.reason
        return "ok"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(call, range(20)))
    assert outcomes.count("ok") == 7
    assert outcomes.count("QUOTA_DAY_EXCEEDED") == 13
    # The next day is a new window, on any replica.
    replicas[2].consume_quota(grant, APP, T0 + timedelta(days=1))


def test_minute_quota_refusal_counts_nothing_in_the_day(replicas: list[SharingStore]) -> None:
    grant = replicas[0].approve(apply(replicas[0], quota=Quota(2, 5)).id, now=T0)
    for i in range(2):
        replicas[i].consume_quota(grant, APP, T0)
    with pytest.raises(ResourceExhausted) as info:
        replicas[2].consume_quota(grant, APP, T0)
    assert info.value.reason == "QUOTA_MINUTE_EXCEEDED"
    # Two more minutes' worth: the refused call above took nothing from the day's five.
    for i, minute in enumerate((1, 1, 2)):
        replicas[i].consume_quota(grant, APP, T0 + timedelta(minutes=minute))
    with pytest.raises(ResourceExhausted) as info:
        replicas[0].consume_quota(grant, APP, T0 + timedelta(minutes=2))
    assert info.value.reason == "QUOTA_DAY_EXCEEDED"


def test_revoke_on_one_replica_counts_on_every_replica_next_call(
    replicas: list[SharingStore],
) -> None:
    grant = replicas[0].approve(apply(replicas[0]).id, now=T0)
    # Every replica has the grant in its in-memory view.
    assert all(r.find_grant(APP, IFACE, T0) == grant for r in replicas)
    replicas[1].revoke_grant(grant.id, "purpose ended", T0)
    assert [r.find_grant(APP, IFACE, T0) for r in replicas] == [None] * len(replicas)


def test_replicas_starting_together_migrate_once(pg_dsn: str) -> None:
    start = threading.Barrier(4)

    def replica() -> None:
        start.wait()
        with Postgres(pg_dsn) as pg:
            SharingStore(pg).close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: replica(), range(4)))
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT component, version FROM schema_migrations ORDER BY version"
        ).fetchall()
    # Each step once, however many replicas started together.
    assert rows == [("sharing", v) for v in range(1, len(MIGRATIONS) + 1)]


def test_node_refuses_a_newer_postgresql_schema(pg_dsn: str) -> None:
    with Postgres(pg_dsn) as pg:
        SharingStore(pg).close()
        with pg.transaction() as conn:
            conn.execute(
                "INSERT INTO schema_migrations (component, version) VALUES ('sharing', ?)",
                (NEWER,),
            )
        with pytest.raises(SchemaTooNew) as info:
            SharingStore(pg)
    assert (info.value.component, info.value.found, info.value.known) == (
        "sharing",
        NEWER,
        len(MIGRATIONS),
    )
    assert "upgrade this node" in str(info.value)
    assert "schema_migrations.sharing" in str(info.value)


def test_node_refuses_a_newer_sqlite_schema(tmp_path: Path) -> None:
    path = tmp_path / "sharing.db"
    SharingStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    with pytest.raises(SchemaTooNew) as info:
        SharingStore(path)
    assert (info.value.found, info.value.known) == (2, 1)
    assert str(path) in str(info.value)
