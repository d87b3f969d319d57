"""A node whose own catalog is on PostgreSQL makes no round trip to its server on the event loop:
one would hold up every call the loop serves meanwhile (up to the pool's wait while the server
is down). Its searches, from its own catalog and with SQLite replicas of the others, read the
store off the loop, where the store still answers a repeated search from its caches; the cache
checks a SQLite catalog answers on the loop (``search_if_cached`` and its like) are not made."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from gateway.catalog.federated import FederatedCatalog, Labels, LocalCatalog
from gateway.catalog.query import FederatedQuery, Filters
from gateway.catalog.replicas import ReplicaCatalog
from gateway.catalog.store import CatalogStore
from gateway.catalog.store.pg import PgCatalogStore
from gateway.postgres import Postgres
from tests.support.entries import entry

NAMES = {"js": "江苏", "sh": "上海"}


def _entries(province: str, prefix: str):
    return [
        replace(
            entry(f"户籍人口登记信息{'第' * (n % 5)}", code=f"{prefix}/{n:06d}"), province=province
        )
        for n in range(40)
    ]


def test_a_postgresql_catalog_is_never_asked_on_the_event_loop(pg_dsn, tmp_path) -> None:
    threads: list[int] = []

    with (
        Postgres(pg_dsn) as pg,
        CatalogStore(tmp_path / "sh.db") as owner,
        CatalogStore(tmp_path / "replica-sh.db") as replica,
    ):
        transaction = pg.transaction  # the pool's only way in: every round trip

        def spy():
            threads.append(threading.get_ident())
            return transaction()

        pg.transaction = spy  # type: ignore[method-assign]
        store = PgCatalogStore(pg)
        store.insert_many(_entries("js", "101001"))
        owner.insert_many(_entries("sh", "101002"))
        state = replica.reset_replica(owner.changes_since(0, 1).feed_id)
        page = owner.changes_since(state.seq, 500)
        replica.apply_changes(page)
        replica.note_replica(connected=True, head=page.head)
        threads.clear()

        local = LocalCatalog("js", store, Labels("js", {}, {}))
        catalog = FederatedCatalog(
            "js",
            NAMES,
            local,
            {},
            default_budget=30.0,
            replicas={"sh": ReplicaCatalog("sh", replica, {}, stale_after=3600)},
        )
        query = FederatedQuery("户籍", Filters(), 20, 0, tuple(NAMES))

        async def main() -> tuple[int, list]:
            answers = [await catalog.search(query, 30.0) for _ in range(2)]
            answers.append(await local.search("户籍", Filters(), 10))
            answers.append(await local.search("户籍", Filters(), 10))  # from the store's cache
            return threading.get_ident(), answers

        loop_thread, answers = asyncio.run(main())

    federated, again, own, own_again = answers
    assert federated.total == again.total == 80 and not federated.partial
    assert {p.province for p in federated.provinces} == {"js", "sh"}
    assert own.total == own_again.total == 40
    assert threads, "no round trip to the server at all"
    on_loop = [thread for thread in threads if thread == loop_thread]
    assert on_loop == [], f"{len(on_loop)} round trips on the event loop"
