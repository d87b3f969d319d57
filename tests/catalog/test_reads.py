"""Where a search's blocking catalog reads run (``gateway.catalog.reads``): a SQLite catalog's on
the process's one reader thread, one read at a time however many searches are in flight, the
caller's context with them; anything else on the default executor, never queued behind them;
and reads at once on an idle node only."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from gateway.catalog import reads
from gateway.catalog.federated import Labels, LocalCatalog
from gateway.catalog.query import Filters
from gateway.catalog.reads import read
from gateway.catalog.store import CatalogStore
from tests.support.entries import ALL


def test_sqlite_catalog_reads_run_one_at_a_time_on_one_thread(tmp_path, monkeypatch) -> None:
    threads: set[int] = set()
    running = 0
    most = 0
    lock = threading.Lock()
    original = CatalogStore.search

    def spy(self, query):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            threads.add(threading.get_ident())
        try:
            return original(self, query)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(CatalogStore, "search", spy)
    stores = [CatalogStore(tmp_path / f"{i}.db") for i in range(4)]
    try:
        for store in stores:
            store.insert_many(ALL)
        catalogs = [LocalCatalog("js", s, Labels("js", {}, {})) for s in stores]

        async def main() -> tuple[int, list[int]]:
            # Distinct texts: a repeated one would come from the answer cache, off no thread.
            texts = ["户籍", "社保", "公积金", "营业执照", "不动产", "医保", "驾驶", "婚姻"]
            answers = await asyncio.gather(
                *(c.search(t, Filters(), 10) for c in catalogs for t in texts)
            )
            return threading.get_ident(), [a.total for a in answers]

        loop_thread, totals = asyncio.run(main())
    finally:
        for store in stores:
            store.close()
    assert any(totals)  # real answers, not refusals
    assert len(threads) == 1 and loop_thread not in threads
    assert most == 1


def test_other_reads_are_not_queued_behind_the_sqlite_reader(tmp_path) -> None:
    """A store of another kind (a PostgreSQL catalog waits on its server) reads on the default
    executor: while the SQLite reader is held, it still answers."""
    release = threading.Event()

    class NetworkStore:  # the dispatch looks only at the store's type
        def get(self, code: str) -> str:
            return f"{code} from {threading.current_thread().name}"

    with CatalogStore(tmp_path / "catalog.db") as store:

        def held() -> str:
            release.wait(timeout=30)
            return threading.current_thread().name

        async def main() -> tuple[str, str]:
            blocked = asyncio.create_task(read(store, held))
            await asyncio.sleep(0)  # the reader thread is now held (or about to be)
            other = await asyncio.wait_for(read(NetworkStore(), NetworkStore().get, "x"), 10)
            release.set()
            return other, await blocked

        other, reader = asyncio.run(main())
    assert reader.startswith("catalog-read")
    assert other.startswith("x from ") and "catalog-read" not in other


def test_a_read_carries_the_callers_context(tmp_path) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    with CatalogStore(tmp_path / "catalog.db") as store:

        async def main() -> str:
            var.set("the caller's span")
            return await read(store, var.get)

        assert asyncio.run(main()) == "the caller's span"


def test_calls_at_once_run_beside_each_other_off_the_loop() -> None:
    """Each call must meet the other at a barrier: one at a time, they never would."""
    meet = threading.Barrier(2, timeout=30)

    def call(n: int) -> tuple[int, str]:
        meet.wait()
        return n, threading.current_thread().name

    got = asyncio.run(reads.at_once([lambda: call(1), lambda: call(2)]))
    assert got is not None and [n for n, _ in got] == [1, 2]  # in the calls' order
    assert all(name.startswith("catalog-at-once") for _, name in got)


def test_nothing_runs_at_once_while_a_read_is_in_flight(tmp_path) -> None:
    """While any catalog read is queued or running (a loaded node), ``at_once`` runs nothing
    and says so: the search reads on the reader thread as it would have."""
    release = threading.Event()
    ran: list[str] = []
    with CatalogStore(tmp_path / "catalog.db") as store:

        async def main() -> tuple[list[str] | None, list[str] | None]:
            held = asyncio.create_task(read(store, release.wait, 30))
            await asyncio.sleep(0)  # the read is queued or running now
            during = await reads.at_once([lambda: ran.append("while held") or "no"])
            release.set()
            await held
            after = await reads.at_once([lambda: ran.append("after") or "yes"])
            return during, after

        during, after = asyncio.run(main())
    assert during is None and after == ["yes"]
    assert ran == ["after"]


def test_a_call_that_fails_gives_none_and_frees_the_threads() -> None:
    ran: list[str] = []

    def broken() -> str:
        raise OSError("disk I/O error")

    assert asyncio.run(reads.at_once([broken, lambda: ran.append("the other") or "x"])) is None
    assert ran == ["the other"]
    assert asyncio.run(reads.at_once([lambda: "next time"])) == ["next time"]
