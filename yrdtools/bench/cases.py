"""What each benchmark case sends, to whom, which processes serve it, and its correctness probe.

All lookup cases send the very same ``InvokeRequest`` bytes for the same Shanghai residents, so
the direct, proxied and gateway numbers differ only by what sits in the path. The probe makes
one decoded call per request before the clock starts: a case that answers wrongly fast must not
show up as a fast case.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from gateway._pb.yrd.v1 import catalog_pb2, exchange_pb2
from yrdtools.bench.loadgen import Target, open_channel

__all__ = [
    "ALL_CASES",
    "CROSS_TRACED",
    "WORKER_CASES",
    "Case",
    "INVOKE",
    "PG_CASES",
    "SEARCH",
    "TITLES",
    "cold_search_requests",
    "probe",
    "search_requests",
]

INVOKE = "/yrd.v1.Exchange/Invoke"
SEARCH = "/yrd.v1.Catalog/Search"

TITLES = {
    "direct": "Direct: client → backend data service (the floor)",
    "raw": "Raw forward: client → grpc.aio pass-through → backend",
    "raw-tls": "Raw forward, TLS in + mTLS out like the gateway hop",
    "nginx": "nginx grpc_pass → backend (C proxy, reference)",
    "local": "Local call: js app → js interface through js",
    "cross": "Cross-province call: js app → js → sh (mTLS) → dataset",
    "search": "Federated search via js across js, sh, zj, ah: distinct queries (cold)",
    "search-hot": "Federated search, the same ten queries over and over (answer caches warm)",
    "cross-untraced": (
        "Cross-province call, js and sh restarted with tracing off; paired in rounds with "
        "cross-traced (restarted with it on)"
    ),
    "local-workers": "Local call, js restarted with several worker processes (--node-workers)",
    "cross-workers": "Cross-province call, js and sh each restarted with several workers",
    "search-workers": "Federated search (cold), js and sh each restarted with several workers",
    "pg-local": "Local call on PostgreSQL stores (one replica per province)",
    "pg-cross": "Cross-province call on PostgreSQL stores (one replica per province)",
    "pg-search": "Federated search via js on PostgreSQL stores (the cold queries of search)",
    "pg-cross2": "Cross-province call on PostgreSQL, two replicas of sh (round_robin)",
}
#: Also the order they run in: the last cases restart nodes (tracing off and on, then several
#: workers each), so they come after the rest; then the PostgreSQL federation's (its last one
#: restarts it with two replicas of sh).
ALL_CASES = tuple(TITLES)

PG_CASES = ("pg-local", "pg-cross", "pg-search", "pg-cross2")
"""Cases on the PostgreSQL federation (``pgfederation``); ``--quick`` leaves them out unless
named, and each compares with its SQLite counterpart (the name without ``pg-``; ``pg-cross2``
with ``cross``)."""

WORKER_CASES = ("local-workers", "cross-workers", "search-workers")
"""Cases run on js and sh restarted with ``Options.node_workers`` worker processes each."""
CROSS_TRACED = "cross-traced"
"""Rows of ``cross-untraced``'s other side: the same call on js and sh restarted with tracing
on, in the same rounds, so tracing on vs off compares like with like (not a case of its own)."""
TITLES[CROSS_TRACED] = "Cross-province call, js and sh restarted with tracing on (pairs the above)"

#: Queries of 2, 3, 4 and 5 characters, with and without filters (shared-standard values): the
#: ``search-hot`` case repeats them, so it measures what the nodes' answer caches make of a
#: popular query.
SEARCHES: tuple[tuple[str, dict[str, list[str]]], ...] = (
    ("户籍", {}),
    ("社保", {}),
    ("公积金", {}),
    ("营业执照", {}),
    ("不动产登记", {}),
    ("公积", {"grades": ["L1", "L2"]}),
    ("社保", {"categories": ["2"]}),
    ("医保", {"share_types": ["unconditional"]}),
    ("户籍", {"grades": ["L1", "L2", "L3"], "categories": ["1"]}),
    ("营业执照", {"update_cycles": ["daily", "realtime"]}),
)


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    target: Target
    method: str
    requests: tuple[bytes, ...]
    metadata: tuple[tuple[str, str], ...] = ()
    served_by: tuple[str, ...] = ()
    """Process groups that do this case's work (the others are idle bystanders)."""
    notes: dict[str, Any] = field(default_factory=dict)
    cold: bool = False
    """Each run asks queries no run before it asked (``requests_at``)."""

    def requests_at(self, concurrency: int) -> tuple[bytes, ...]:
        """What a run at ``concurrency`` rotates through: for a cold case the first half of the
        requests at concurrency 1 and the second half otherwise, else all of them."""
        if not self.cold:
            return self.requests
        half = len(self.requests) // 2
        return self.requests[:half] if concurrency == 1 else self.requests[half:]

    @property
    def title(self) -> str:
        return TITLES[self.name]


def invoke_requests(interface_id: str, ids: tuple[str, ...], purpose: str) -> tuple[bytes, ...]:
    return tuple(
        exchange_pb2.InvokeRequest(
            interface_id=interface_id, params={"id_number": i}, purpose=purpose
        ).SerializeToString()
        for i in ids
    )


def search_requests(
    searches: Sequence[tuple[str, dict[str, list[str]]]] = SEARCHES,
) -> tuple[bytes, ...]:
    return tuple(
        catalog_pb2.SearchRequest(
            query=query, filters=catalog_pb2.SearchFilters(**filters), page_size=20
        ).SerializeToString()
        for query, filters in searches
    )


COLD_SEARCHES = 4000
"""Distinct queries in the cold set. Each run of a cold case takes its own half (``Case.cold``)
and the load generator gives each slot its own stretch of that half, so at this box's rates no
run asks a query twice, nor one the run before it asked: no answer cache can serve one (a node
keeps 256 whole answers, each store 128). With 400 queries in one rotation, as before, slots
that drifted together served each other's answers from the node's kept answers."""
PROBED_COLD = 400
"""Queries of a long (cold) set the probe asks, spread evenly over it."""


def cold_search_requests(
    names: Iterable[str], count: int = COLD_SEARCHES, seed: int = 6
) -> tuple[bytes, ...]:
    """``count`` distinct searches cut from catalog entry names: 2-, 3- and 4-character runs of
    Chinese in equal shares, a third of them with one of the filters of ``SEARCHES``."""
    pool = sorted({n for n in names if n})
    if not pool:
        raise ValueError("no catalog entry names to cut queries from")
    rng = random.Random(seed)
    filters = [f for _, f in SEARCHES if f]
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, dict[str, list[str]]]] = []
    attempts = 0
    while len(out) < count and attempts < count * 200:
        attempts += 1
        size = 2 + len(out) % 3
        name = rng.choice(pool)
        if len(name) < size:
            continue
        start = rng.randrange(len(name) - size + 1)
        term = name[start : start + size]
        if not all("\u4e00" <= ch <= "\u9fff" for ch in term):
            continue
        chosen = rng.choice(filters) if rng.random() < 1 / 3 else {}
        key = (term, repr(sorted(chosen.items())))
        if key in seen:
            continue
        seen.add(key)
        out.append((term, chosen))
    if len(out) < count:
        raise ValueError(f"only {len(out)} distinct queries in the catalog's names, not {count}")
    return search_requests(out)


def probe(case: Case, timeout: float = 10.0) -> dict[str, Any]:
    """Decode one reply per request; raises RuntimeError naming the case when one is wrong."""
    channel = open_channel(case.target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        if case.method == SEARCH:
            return _probe_search(case, channel, timeout)
        return _probe_invoke(case, channel, timeout)
    except grpc.RpcError as exc:
        raise RuntimeError(
            f"{case.name}: probe failed: {exc.code().name}: {exc.details()}"
        ) from None
    finally:
        channel.close()


def _probe_invoke(case: Case, channel: grpc.Channel, timeout: float) -> dict[str, Any]:
    call = channel.unary_unary(
        case.method,
        request_serializer=None,
        response_deserializer=exchange_pb2.InvokeResponse.FromString,
    )
    reply = None
    for request in case.requests:
        reply = call(request, timeout=timeout, metadata=case.metadata)
        if not reply.records:
            raise RuntimeError(f"{case.name}: a lookup answered with no record")
    assert reply is not None
    return {
        "requests": len(case.requests),
        "served_by": reply.served_by,
        "fields": sorted(reply.records[0].fields),
        "masked": sorted(m.field for m in reply.masked_fields),
        "dropped": sorted(d.field for d in reply.dropped_fields),
    }


def _probe_search(case: Case, channel: grpc.Channel, timeout: float) -> dict[str, Any]:
    """Every query answered by all four provinces and ranked (of a long, cold set, an even
    sample of ``PROBED_COLD``); a long set is summarised, and may hold queries that find
    nothing, but not mostly such."""
    call = channel.unary_unary(
        case.method,
        request_serializer=None,
        response_deserializer=catalog_pb2.SearchResponse.FromString,
    )
    queries = []
    step = max(1, len(case.requests) // PROBED_COLD)
    for request in case.requests[::step]:
        reply = call(request, timeout=timeout, metadata=case.metadata)
        asked = catalog_pb2.SearchRequest.FromString(request)
        scores = [r.score for r in reply.results]
        answered = sorted(
            p.province for p in reply.provinces if p.state == catalog_pb2.PROVINCE_STATE_ANSWERED
        )
        label = asked.query + (
            " +filters" if asked.HasField("filters") and asked.filters.ByteSize() else ""
        )
        if reply.partial or len(answered) < 4:
            raise RuntimeError(f"{case.name}: {label!r} was answered by {answered} only")
        if scores != sorted(scores, reverse=True):
            raise RuntimeError(f"{case.name}: {label!r} results are not ranked by score")
        if not reply.results and len(case.requests) <= _LISTED_QUERIES:
            raise RuntimeError(f"{case.name}: {label!r} found nothing")
        queries.append(
            {
                "query": asked.query,
                "chars": len(asked.query),
                "filters": {
                    k: list(v)
                    for k, v in (
                        (f.name, getattr(asked.filters, f.name))
                        for f in asked.filters.DESCRIPTOR.fields
                    )
                    if v
                },
                "total": reply.total,
                "results": len(reply.results),
                "provinces": sorted({r.entry.province for r in reply.results}),
                "top": reply.results[0].entry.name if reply.results else "",
            }
        )
    if len(queries) <= _LISTED_QUERIES:
        return {"requests": len(case.requests), "queries": queries}
    found = [q for q in queries if q["total"]]
    if len(found) * 2 < len(queries):
        raise RuntimeError(f"{case.name}: {len(queries) - len(found)} queries found nothing")
    totals = sorted(q["total"] for q in queries)
    return {
        "requests": len(case.requests),
        "probed": len(queries),
        "by_chars": {
            str(n): sum(1 for q in queries if q["chars"] == n)
            for n in sorted({q["chars"] for q in queries})
        },
        "with_filters": sum(1 for q in queries if q["filters"]),
        "found_nothing": len(queries) - len(found),
        "median_total": totals[len(totals) // 2],
        "examples": [q["query"] for q in queries[:12]],
    }


_LISTED_QUERIES = 20
"""Probes of at most this many queries list each one; longer sets are summarised."""
