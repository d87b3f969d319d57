"""What each benchmark case sends, to whom, which processes serve it, and its correctness probe.

All lookup cases send the very same ``InvokeRequest`` bytes for the same Shanghai residents, so
the direct, proxied and gateway numbers differ only by what sits in the path. The probe makes
one decoded call per request before the clock starts: a case that answers wrongly fast must not
show up as a fast case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from gateway._pb.yrd.v1 import catalog_pb2, exchange_pb2
from gateway.benchmark.loadgen import Target, open_channel

__all__ = ["ALL_CASES", "Case", "INVOKE", "SEARCH", "TITLES", "probe", "search_requests"]

INVOKE = "/yrd.v1.Exchange/Invoke"
SEARCH = "/yrd.v1.Catalog/Search"

TITLES = {
    "direct": "Direct: client → backend data service (the floor)",
    "raw": "Raw forward: client → grpc.aio pass-through → backend",
    "raw-tls": "Raw forward, TLS in + mTLS out like the gateway hop",
    "nginx": "nginx grpc_pass → backend (C proxy, reference)",
    "local": "Local call: js app → js interface through js",
    "cross": "Cross-province call: js app → js → sh (mTLS) → dataset",
    "search": "Federated search via js across js, sh, zj, ah",
    "cross-untraced": "Cross-province call, js and sh restarted with tracing off",
}
#: Also the order they run in: the untraced case restarts two nodes, so it comes last.
ALL_CASES = tuple(TITLES)

#: Queries of 2, 3, 4 and 5 characters, with and without filters (shared-standard values).
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


def search_requests() -> tuple[bytes, ...]:
    return tuple(
        catalog_pb2.SearchRequest(
            query=query, filters=catalog_pb2.SearchFilters(**filters), page_size=20
        ).SerializeToString()
        for query, filters in SEARCHES
    )


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
    call = channel.unary_unary(
        case.method,
        request_serializer=None,
        response_deserializer=catalog_pb2.SearchResponse.FromString,
    )
    queries = []
    for request in case.requests:
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
        if not reply.results:
            raise RuntimeError(f"{case.name}: {label!r} found nothing")
        if scores != sorted(scores, reverse=True):
            raise RuntimeError(f"{case.name}: {label!r} results are not ranked by score")
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
                "top": reply.results[0].entry.name,
            }
        )
    return {"requests": len(case.requests), "queries": queries}
