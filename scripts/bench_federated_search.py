"""CPU of one federated search answered from replicas, in one process, without gRPC: what a
node spends between a validated query and the reply's message (``FederatedCatalog.search``
over its own catalog and three replicas, then ``search_reply``).

Usage: ``.venv/bin/python scripts/bench_federated_search.py [--entries 20000] [--rounds 5]``
(``--per-query K``: each cold query's least CPU over K passes instead, the slowest named;
``--fresh N``: N cold queries the other modes never ask, each asked once in a new process, so
every term is read for the first time, as the benchmark's cold case asks them;
``--latency N``: N such queries, the first third one at a time, timed by the clock as a client
waits for them, the rest sixteen at a time, for searches a second)

Seeds four provinces' catalogs, builds js's replicas of the other three through the real
change feed (``changes_since`` then ``apply_changes``), then answers, round after round, the
benchmark's ten popular queries (``search-hot``: the stores' answer caches warm) and 400
distinct queries cut from the entries' names (``search``, cold: more than the answer caches
hold). Prints the median over rounds of CPU per search for each. A measurement, not a test:
run it with ``PYTHONPATH`` on each checkout to compare them; the box's other load disturbs it
less than the benchmark, which has the client and four node processes share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway._pb.yrd.v1 import catalog_pb2  # noqa: E402
from gateway.catalog.federated import FederatedCatalog, Labels, LocalCatalog  # noqa: E402
from gateway.catalog.query import QueryValidator  # noqa: E402
from gateway.catalog.replicas import ReplicaCatalog  # noqa: E402
from gateway.catalog.settings import SEARCH_CACHE_MIB  # noqa: E402
from gateway.catalog.store import CatalogStore  # noqa: E402
from gateway.config import load_departments, load_standard  # noqa: E402
from gateway.config.node import SearchSettings  # noqa: E402
from gateway.wire.catalog import EntryWire, search_from_pb, search_reply  # noqa: E402
from scripts.shipped import STANDARD, province_entries  # noqa: E402
from yrdtools.bench import procstat  # noqa: E402
from yrdtools.bench.cases import cold_search_requests, search_requests  # noqa: E402

PROVINCES = {"js": "江苏", "sh": "上海", "zj": "浙江", "ah": "安徽"}
COLD = 400
"""Cold queries asked: the first 400 of the benchmark's cold set (the whole set of its earlier
rounds), so this script's figures compare across rounds. In one process the tasks take turns
and never drift together, so 400 in rotation stay cold."""


def follow(owner: CatalogStore, replica: CatalogStore) -> None:
    """Bring ``replica`` level with ``owner`` through the change feed, as a follower does."""
    state = replica.reset_replica(owner.changes_since(0, 1).feed_id)
    while True:
        page = owner.changes_since(state.seq, 2000)
        state = replica.apply_changes(page)
        if state.seq >= page.head:
            replica.note_replica(connected=True, head=page.head)
            return


async def rounds(
    catalog, validator, encoder, requests, count: int, concurrency: int = 1
) -> list[tuple[float, float]]:
    """(CPU seconds, wall seconds) per search, one pair per round over every request, asked by
    ``concurrency`` tasks at once (each starting its share of the rotation)."""
    queries = []
    for raw in requests:
        message = catalog_pb2.SearchRequest.FromString(raw)
        queries.append(validator.validate(search_from_pb(message)))
    share = -(-len(queries) // concurrency)
    slices = [queries[i * share : (i + 1) * share] for i in range(concurrency)]

    async def ask(part) -> None:
        for query in part:
            answer = await catalog.search(query, None)
            search_reply(answer, encoder, "0" * 32)

    per_round = []
    for _ in range(count):
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(ask(part) for part in slices))
        n = len(queries)
        per_round.append(((time.process_time() - cpu) / n, (time.perf_counter() - wall) / n))
    return per_round


async def per_query(catalog, validator, encoder, requests, rounds: int) -> list[tuple[float, str]]:
    """Each query's least CPU over ``rounds`` passes (the stores keep no answers, so every
    pass ranks again from the kept postings and scores), with its text: the least is the
    figure another process on the box disturbs least, one query at a time."""
    queries = []
    for raw in requests:
        message = catalog_pb2.SearchRequest.FromString(raw)
        filtered = message.HasField("filters") and message.filters.ByteSize() > 0
        queries.append((validator.validate(search_from_pb(message)), message.query, filtered))
    for query, _, _ in queries:  # read every term once
        await catalog.search(query, None)
    best = [float("inf")] * len(queries)
    for _ in range(rounds):
        for i, (query, _, _) in enumerate(queries):
            cpu = time.process_time()
            search_reply(await catalog.search(query, None), encoder, "0" * 32)
            best[i] = min(best[i], time.process_time() - cpu)
    return [
        (t, text + (" (filtered)" if f else ""))
        for t, (_, text, f) in zip(best, queries, strict=True)
    ]


async def fresh(catalog, validator, encoder, requests) -> list[tuple[float, str]]:
    """Each query's CPU, asked once, in turn, with its text (after ``_first_search``)."""
    await _first_search(catalog, validator)
    out = []
    for raw in requests:
        message = catalog_pb2.SearchRequest.FromString(raw)
        filtered = message.HasField("filters") and message.filters.ByteSize() > 0
        query = validator.validate(search_from_pb(message))
        cpu = time.process_time()
        search_reply(await catalog.search(query, None), encoder, "0" * 32)
        out.append((time.process_time() - cpu, message.query + (" (filtered)" if filtered else "")))
    return out


def _memory(stores: list[CatalogStore]) -> None:
    """The process's heap and what the stores' search caches hold."""
    anon = (procstat.rss_kib(os.getpid()) or {}).get("anon", 0)
    held = [s.search_cache_bytes for s in stores]
    counted = [n for n in held if n is not None]
    cached = f"{sum(counted) / 2**20:.1f} MiB" if len(counted) == len(held) else "not counted"
    print(f"heap (RssAnon) {anon / 1024:.0f} MiB; the stores' search caches of arrays: {cached}")


async def _first_search(catalog, validator) -> None:
    """One popular query, unmeasured: it reads what a node reads once (the replicas'
    department names)."""
    first = catalog_pb2.SearchRequest.FromString(search_requests()[0])
    await catalog.search(validator.validate(search_from_pb(first)), None)


async def latency(catalog, validator, encoder, requests) -> None:
    """The first third of ``requests`` asked one at a time, each timed by the clock (threads
    read while the asking task waits: ``gateway.catalog.reads.at_once``), then the rest
    sixteen at a time (``rounds``, once), after ``_first_search``."""
    await _first_search(catalog, validator)
    ones, sixteen = requests[: len(requests) // 3], requests[len(requests) // 3 :]
    queries = [
        validator.validate(search_from_pb(catalog_pb2.SearchRequest.FromString(raw)))
        for raw in ones
    ]
    walls = []
    cpu = time.process_time()
    for query in queries:
        wall = time.perf_counter()
        search_reply(await catalog.search(query, None), encoder, "0" * 32)
        walls.append(time.perf_counter() - wall)
    cpu = (time.process_time() - cpu) / len(ones)
    walls.sort()
    n = len(walls)
    print(
        f"one at a time ({n} new cold queries): p50 {walls[n // 2] * 1e3:.2f} ms, "
        f"p90 {walls[int(n * 0.9)] * 1e3:.2f} ms, p99 {walls[int(n * 0.99)] * 1e3:.2f} ms, "
        f"mean {statistics.fmean(walls) * 1e3:.2f} ms; CPU {cpu * 1e3:.2f} ms per search"
    )
    ((cpu, wall),) = await rounds(catalog, validator, encoder, sixteen, 1, 16)
    print(
        f"sixteen at a time ({len(sixteen)} more): {1 / wall:.1f} searches/s, "
        f"CPU {cpu * 1e3:.2f} ms per search"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default="search-hot,search", help="either or both")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="searches in flight at once (default 1)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the seeded stores in this directory and reuse them on the next run "
        "(default: a temporary directory, removed afterwards)",
    )
    parser.add_argument(
        "--per-query",
        type=int,
        metavar="K",
        help="instead: each cold query's least CPU over K passes, with no answer kept between "
        "them; prints the spread over the queries and the slowest",
    )
    parser.add_argument(
        "--common-mib",
        type=float,
        default=4.0,
        help="memory each store gives its commonest terms' postings (CatalogStore "
        "common_postings_mib; default 4, a node's; 0: none); --fresh keeps them first",
    )
    parser.add_argument(
        "--cache-mib",
        type=float,
        help="memory each store's search caches of arrays may hold together (CatalogStore "
        "search_cache_mib; default: the store's; negative: bounded by count alone)",
    )
    parser.add_argument(
        "--latency",
        type=int,
        metavar="N",
        help="instead: N new cold queries as --fresh, a third one at a time timed by the clock "
        "(p50/p90/p99), the rest sixteen at a time (searches/s)",
    )
    parser.add_argument(
        "--fresh",
        type=int,
        metavar="N",
        help="instead: N cold queries beyond the first 400, each asked once (every term read "
        "for the first time); prints the spread and the slowest",
    )
    args = parser.parse_args()
    standard = load_standard(STANDARD)
    category_names = {c.code: c.full_name for c in standard.categories.values()}
    mark_names = {t.id: t.name for t in standard.data_marks.values()}
    by_field = {
        "category": category_names,
        "grade": {g.id: g.name for g in standard.grades.values()},
        "share_type": {t.id: t.name for t in standard.share_types.values()},
        "update_cycle": {t.id: t.name for t in standard.update_cycles.values()},
        "data_mark": mark_names,
    }
    synonyms = standard.synonyms.equivalents()
    departments = load_departments(ROOT / "nodes" / "js" / "departments.yaml", standard)
    with contextlib.ExitStack() as cleanup:
        if args.data is None:
            tmp = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="yrd-fedsearch-")))
        else:
            tmp = args.data / str(args.entries)
            tmp.mkdir(parents=True, exist_ok=True)
        seeded = (tmp / "seeded").exists()
        results = 0 if args.per_query else 128
        cache_mib = SEARCH_CACHE_MIB if args.cache_mib is None else args.cache_mib
        if cache_mib is not None and cache_mib < 0:
            cache_mib = None

        def opened(name: str) -> CatalogStore:
            return CatalogStore(
                tmp / f"{name}.db",
                result_cache=results,
                common_postings_mib=args.common_mib,
                search_cache_mib=cache_mib,
            )

        stores = {p: opened(p) for p in PROVINCES}
        replicas = {p: opened(f"replica-{p}") for p in PROVINCES if p != "js"}
        try:
            if not seeded:
                for province, store in stores.items():
                    store.insert_many(province_entries(province, args.entries))
                for province, replica in replicas.items():
                    follow(stores[province], replica)
                (tmp / "seeded").touch()
            for province, replica in replicas.items():  # in sync now, as a follower would say
                replica.note_replica(connected=True, head=stores[province].changes_since(0, 1).head)
            labels = Labels("js", by_field, {d.code: d.name for d in departments.departments})
            local = LocalCatalog(
                "js", stores["js"], labels, synonyms, share_types=tuple(standard.share_types)
            )
            catalog = FederatedCatalog(
                "js",
                PROVINCES,
                local,
                {},
                default_budget=5.0,
                replicas={
                    p: ReplicaCatalog(p, r, by_field, stale_after=3600, synonyms=synonyms)
                    for p, r in replicas.items()
                },
            )
            validator = QueryValidator(
                provinces=tuple(PROVINCES),
                self_id="js",
                categories=category_names,
                grades=tuple(standard.grades),
                share_types=tuple(standard.share_types),
                update_cycles=tuple(standard.update_cycles),
                settings=SearchSettings(),
                data_marks=tuple(standard.data_marks),
            )
            encoder = EntryWire(PROVINCES, category_names, mark_names=mark_names)
            names = [e.name for e in province_entries("sh", min(args.entries, 20_000))]
            every = {
                "search-hot": search_requests(),
                "search": cold_search_requests(names, count=COLD),
            }
            cases = {name: every[name] for name in args.cases.split(",")}

            if args.fresh or args.latency:
                # Warm the per-generation tables first, as a node does before serving, and keep
                # each catalog's commonest terms, as it does once it serves.
                for store in (*stores.values(), *replicas.values()):
                    store.warm()
                    store.keep_common()
                if args.latency:
                    gc.collect()
                    gc.freeze()  # as a node does once it serves
                    beyond = cold_search_requests(names, count=COLD + args.latency)[COLD:]
                    asyncio.run(latency(catalog, validator, encoder, beyond))
                    return
                beyond = cold_search_requests(names, count=COLD + args.fresh)[COLD:]
                each = asyncio.run(fresh(catalog, validator, encoder, beyond))
                report_per_query(each, 1, args.entries, "new cold queries, each asked once")
                _memory([*stores.values(), *replicas.values()])
                return
            if args.per_query:
                each = asyncio.run(
                    per_query(catalog, validator, encoder, every["search"], args.per_query)
                )
                report_per_query(each, args.per_query, args.entries)
                return

            async def run() -> dict[str, list[tuple[float, float]]]:
                out = {}
                for name, requests in cases.items():
                    c = args.concurrency
                    await rounds(catalog, validator, encoder, requests, 1, c)  # warm up
                    out[name] = await rounds(catalog, validator, encoder, requests, args.rounds, c)
                return out

            results = asyncio.run(run())
        finally:
            for store in (*stores.values(), *replicas.values()):
                store.close()
    for name, per in results.items():
        cpu = [c for c, _ in per]
        spread = ", ".join(f"{x * 1e6:,.0f}" for x in cpu)
        wall = statistics.median(w for _, w in per)
        print(
            f"{name:10} {statistics.median(cpu) * 1e6:8,.0f} µs CPU per search, "
            f"{1 / wall:6,.0f} searches/s at concurrency {args.concurrency} "
            f"(median of {len(per)} rounds: {spread}; {args.entries:,} entries per province)"
        )


def report_per_query(
    each: list[tuple[float, str]], rounds: int, entries: int, what: str = ""
) -> None:
    cpu = sorted(t for t, _ in each)
    n = len(cpu)
    what = what or f"cold queries, least CPU of {rounds} passes each"
    print(
        f"{what} ({n} queries, {entries:,} entries per province): "
        f"p50 {cpu[n // 2] * 1e3:.2f} ms, p90 {cpu[int(n * 0.9)] * 1e3:.2f} ms, "
        f"p99 {cpu[int(n * 0.99)] * 1e3:.2f} ms, max {cpu[-1] * 1e3:.1f} ms, "
        f"mean {statistics.fmean(cpu) * 1e3:.2f} ms"
    )
    slowest = sorted(each, reverse=True)[:10]
    print("slowest: " + ", ".join(f"{text} {t * 1e3:.1f} ms" for t, text in slowest))


if __name__ == "__main__":
    main()
