"""Catalog and catalog-search messages <-> catalog records (client port ``Catalog`` and the peer
port's ``SearchLocal`` / ``GetLocal``).

A peer's hit stays the ``SearchResult`` it sent (``PeerHit``) and this node's own hits are
encoded once per entry (``EntryWire``): building and parsing messages is the biggest cost of a
federated search, so a hit is never decoded and encoded again on its way through a node.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from gateway._pb.yrd.v1 import catalog_pb2, federation_pb2
from gateway.catalog.answers import (
    Bucket,
    Facets,
    FederatedAnswer,
    Hit,
    LocalAnswer,
    ProvinceAnswer,
    ReplicaReport,
    ScoredEntry,
)
from gateway.catalog.model import CatalogEntry, DataItem
from gateway.catalog.query import Filters, RawSearch
from gateway.partial import AnswerState

_STATES = {
    AnswerState.ANSWERED: catalog_pb2.PROVINCE_STATE_ANSWERED,
    AnswerState.FAILED: catalog_pb2.PROVINCE_STATE_FAILED,
    AnswerState.TIMED_OUT: catalog_pb2.PROVINCE_STATE_TIMED_OUT,
    AnswerState.SKIPPED: catalog_pb2.PROVINCE_STATE_SKIPPED,
    AnswerState.NOT_ASKED: catalog_pb2.PROVINCE_STATE_NOT_ASKED,
}
_SCOPES: dict[int, str] = {
    catalog_pb2.SCOPE_UNSPECIFIED: "all",
    catalog_pb2.SCOPE_ALL: "all",
    catalog_pb2.SCOPE_LOCAL: "local",
    catalog_pb2.SCOPE_PROVINCES: "provinces",
}


class PeerHit(NamedTuple):
    """A peer's hit as it came (its ``SearchResult``): merged by score with the other hits and
    copied into the reply as it is. A named tuple: one per hit of every peer, each search."""

    score: float
    code: str
    province: str
    message: Any
    """The ``catalog_pb2.SearchResult`` the peer sent."""


def entry_to_pb(
    e: CatalogEntry, *, province_name: str = "", category_name: str = "", mark_name: str = ""
) -> catalog_pb2.CatalogEntry:
    m = catalog_pb2.CatalogEntry()
    fill_entry(m, e, province_name, category_name, mark_name)
    return m


def fill_entry(
    m: catalog_pb2.CatalogEntry,
    e: CatalogEntry,
    province_name: str = "",
    category_name: str = "",
    mark_name: str = "",
) -> None:
    """Set the empty message ``m`` (a reply's own, or a new one) to the entry ``e``, in place.

    Field by field, data items through ``items.add``: building ``CatalogEntry(items=[DataItem(
    ...)])`` copied each item into the entry, and the entry into its ``SearchResult``, which
    upb does by serializing and parsing it again. In place, encoding a hit takes half as long
    (11.3 against 21.4 µs an entry of 7.1 items, ``scripts/bench_encode.py``): a cold search's
    reply holds about 18 hits, most of them new to ``EntryWire``'s cache."""
    m.code = e.code
    m.name = e.name
    m.province = e.province
    m.province_name = province_name
    m.department_code = e.department_code
    m.department = e.department
    m.category = e.category
    m.category_name = category_name
    m.abstract = e.abstract
    m.format = e.format
    m.share_type = e.share_type
    m.share_conditions = e.share_conditions
    m.open_attribute = e.open_attribute
    m.update_cycle = e.update_cycle
    m.publish_date = e.publish_date
    m.grade = e.grade
    add = m.items.add
    for i in e.items:
        add(name=i.name, type=i.type, length=i.length, grade=i.grade, kind=i.kind)
    m.local_grade = e.local_grade
    m.local_category = e.local_category
    m.data_mark = e.data_mark
    m.data_mark_name = mark_name


def entry_from_pb(m: catalog_pb2.CatalogEntry) -> CatalogEntry:
    return CatalogEntry(
        code=m.code,
        name=m.name,
        province=m.province,
        department_code=m.department_code,
        department=m.department,
        category=m.category,
        abstract=m.abstract,
        format=m.format,
        share_type=m.share_type,
        share_conditions=m.share_conditions,
        open_attribute=m.open_attribute,
        update_cycle=m.update_cycle,
        publish_date=m.publish_date,
        grade=m.grade,
        items=tuple(
            DataItem(name=i.name, type=i.type, length=i.length, grade=i.grade, kind=i.kind)
            for i in m.items
        ),
        local_grade=m.local_grade,
        local_category=m.local_category,
        data_mark=m.data_mark,
    )


class EntryWire:
    """This node's hits in wire form: a serialized ``SearchResult``, its entry part built once
    per entry and kept in a bounded LRU. A search returns the same popular entries over and over,
    and building the message is the biggest cost of answering a peer; bytes, because adding a
    message to a reply copies it (upb serializes and parses it again) while bytes are parsed
    straight into place (``add_hits``). A cached part is used only for the very entry it was built
    from (same object, or equal), so a replaced entry is never served from an old encoding.

    Keeping the entry costs memory (~4 KiB each), hence a size of the order of the store's own
    decoded-entry cache, whose objects it mostly shares (the identity check is then the hit)."""

    def __init__(
        self,
        province_names: dict[str, str],
        category_names: dict[str, str],
        size: int = 4096,
        *,
        mark_names: dict[str, str] | None = None,
    ) -> None:
        self.province_names = province_names
        self.category_names = category_names
        self.mark_names = mark_names or {}
        self._size = size
        self._cache: OrderedDict[str, tuple[CatalogEntry, bytes]] = OrderedDict()
        self._scores: dict[float, bytes] = {}

    def entry(self, entry: CatalogEntry) -> catalog_pb2.CatalogEntry:
        """One entry as a message, with its province's and category's names."""
        m = catalog_pb2.CatalogEntry()
        self._fill(m, entry)
        return m

    def _fill(self, m: catalog_pb2.CatalogEntry, entry: CatalogEntry) -> None:
        fill_entry(
            m,
            entry,
            self.province_names.get(entry.province, ""),
            self.category_names.get(entry.category, ""),
            self.mark_names.get(entry.data_mark, ""),
        )

    def result(self, entry: CatalogEntry, score: float) -> bytes:
        cached = self._cache.get(entry.code)
        if cached is not None and (cached[0] is entry or cached[0] == entry):
            self._cache.move_to_end(entry.code)
            part = cached[1]
        else:
            result = catalog_pb2.SearchResult()
            self._fill(result.entry, entry)
            part = result.SerializeToString()
            self._cache[entry.code] = (entry, part)
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        # Serialized messages concatenate into their merge: entry (field 1), then score (2), the
        # very bytes SerializeToString gives. Scores are a few small sums, so their bytes are kept.
        tail = self._scores.get(score)
        if tail is None:
            tail = catalog_pb2.SearchResult(score=score).SerializeToString()
            if len(self._scores) < 1024:
                self._scores[score] = tail
        return part + tail


def filters_from_pb(m: catalog_pb2.SearchFilters) -> Filters:
    return Filters(
        categories=tuple(m.categories),
        grades=tuple(m.grades),
        share_types=tuple(m.share_types),
        provinces=tuple(m.provinces),
        departments=tuple(m.departments),
        update_cycles=tuple(m.update_cycles),
        data_marks=tuple(m.data_marks),
    )


def filters_to_pb(f: Filters) -> catalog_pb2.SearchFilters:
    return catalog_pb2.SearchFilters(
        categories=f.categories,
        grades=f.grades,
        share_types=f.share_types,
        provinces=f.provinces,
        departments=f.departments,
        update_cycles=f.update_cycles,
        data_marks=f.data_marks,
    )


def scope_from_pb(value: int) -> str:
    return _SCOPES.get(value, f"unknown({value})")


def search_from_pb(m: catalog_pb2.SearchRequest) -> RawSearch:
    return RawSearch(
        query=m.query,
        filters=filters_from_pb(m.filters),
        page_size=m.page_size,
        page_token=m.page_token,
        scope=scope_from_pb(m.scope),
        scope_provinces=tuple(m.provinces),
        live=m.live,
    )


def add_facets(into: Any, facets: Facets) -> None:
    """Append ``facets`` to a reply's repeated ``Facet`` field ``into``, values by count desc,
    then value. Built in place: a message passed to a constructor is copied (serialized and
    parsed again by upb)."""
    for name, buckets in facets.items():
        add = into.add(field=name).values.add
        for value, bucket in sorted(buckets.items(), key=_by_count):
            add(value=value, label=bucket.label, count=bucket.total)


def _by_count(item: tuple[str, Bucket]) -> tuple[int, str]:
    return -item[1].total, item[0]


def facets_from_pb(facets: Iterable[Any]) -> Facets:
    return {f.field: {v.value: Bucket(v.label, v.count) for v in f.values} for f in facets}


def add_hits(results: Any, hits: Sequence[Hit], encoder: EntryWire) -> None:
    """Append ``hits`` to a reply's repeated ``SearchResult`` field ``results``: a peer's as it
    sent it, this node's from its cached encoding."""
    for h in hits:
        if type(h) is PeerHit:
            results.add().CopyFrom(h.message)
        else:
            assert isinstance(h, ScoredEntry)
            results.add().MergeFromString(encoder.result(h.entry, h.score))


def hits_from_pb(results: Iterable[Any]) -> tuple[PeerHit, ...]:
    hits = []
    for r in results:
        entry = r.entry  # each access builds a wrapper
        hits.append(PeerHit(r.score, entry.code, entry.province, r))
    return tuple(hits)


def replica_to_pb(r: ReplicaReport) -> catalog_pb2.ReplicaStatus:
    return catalog_pb2.ReplicaStatus(
        from_replica=True,
        stale=r.stale,
        last_change_at=rfc3339(r.last_change_at) if r.last_change_at else "",
        lag_ms=r.lag_ms,
        behind=r.behind,
    )


def rfc3339(seconds: float) -> str:
    """Seconds since the epoch as RFC 3339 text in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def province_to_pb(p: ProvinceAnswer) -> catalog_pb2.ProvinceStatus:
    return catalog_pb2.ProvinceStatus(
        province=p.province,
        name=p.name,
        state=_STATES[p.state],
        total=p.total,
        latency_ms=round(p.latency_ms, 3),
        reason=p.reason,
        message=p.message,
        replica=replica_to_pb(p.replica) if p.replica is not None else None,
    )


def search_reply(
    answer: FederatedAnswer,
    encoder: EntryWire,
    trace_id: str,
    body: catalog_pb2.SearchResponse | None = None,
) -> catalog_pb2.SearchResponse:
    """The reply to a federated search; ``body``: the answer's ``search_body``, if kept."""
    reply = catalog_pb2.SearchResponse(
        provinces=[province_to_pb(p) for p in answer.provinces],
        partial=answer.partial,
        next_page_token=answer.next_page_token,
        total=answer.total,
        answered_by=answer.answered_by,
        trace_id=trace_id,
    )
    if body is None:
        add_hits(reply.results, answer.hits, encoder)
        add_facets(reply.facets, answer.facets)
    else:
        reply.MergeFrom(body)  # one copy in C of the results and facets it holds
    return reply


def search_body(answer: FederatedAnswer, encoder: EntryWire) -> catalog_pb2.SearchResponse:
    """A reply holding only the answer's hits and facets: what a kept answer's replies share
    (``FederatedAnswer.kept``), merged into each."""
    body = catalog_pb2.SearchResponse()
    add_hits(body.results, answer.hits, encoder)
    add_facets(body.facets, answer.facets)
    return body


def local_search_request(text: str, filters: Filters, limit: int) -> Any:
    return federation_pb2.LocalSearchRequest(
        query=text, filters=filters_to_pb(filters), limit=limit, facets=True
    )


def local_search_reply(
    answer: LocalAnswer, node: str, encoder: EntryWire
) -> federation_pb2.LocalSearchResponse:
    reply = federation_pb2.LocalSearchResponse(total=answer.total, node=node)
    add_hits(reply.results, answer.hits, encoder)
    add_facets(reply.facets, answer.facets)
    return reply


def local_answer_from_pb(reply: federation_pb2.LocalSearchResponse, peer: str) -> LocalAnswer:
    return LocalAnswer(
        node=reply.node or peer,
        hits=hits_from_pb(reply.results),
        total=reply.total,
        facets=facets_from_pb(reply.facets),
    )
