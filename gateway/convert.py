"""Conversions between protobuf messages and domain records; the only place that knows both."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from gateway._pb.yrd.v1 import catalog_pb2
from gateway.catalog.answers import (
    ANSWERED,
    FAILED,
    NOT_ASKED,
    SKIPPED,
    TIMED_OUT,
    Bucket,
    Facets,
    ProvinceAnswer,
    ScoredEntry,
)
from gateway.catalog.model import CatalogEntry, DataItem
from gateway.catalog.query import Filters

_STATES = {
    ANSWERED: catalog_pb2.PROVINCE_STATE_ANSWERED,
    FAILED: catalog_pb2.PROVINCE_STATE_FAILED,
    TIMED_OUT: catalog_pb2.PROVINCE_STATE_TIMED_OUT,
    SKIPPED: catalog_pb2.PROVINCE_STATE_SKIPPED,
    NOT_ASKED: catalog_pb2.PROVINCE_STATE_NOT_ASKED,
}
_SCOPES = {
    catalog_pb2.SCOPE_UNSPECIFIED: "all",
    catalog_pb2.SCOPE_ALL: "all",
    catalog_pb2.SCOPE_LOCAL: "local",
    catalog_pb2.SCOPE_PROVINCES: "provinces",
}


def entry_to_pb(
    e: CatalogEntry, *, province_name: str = "", category_name: str = ""
) -> catalog_pb2.CatalogEntry:
    return catalog_pb2.CatalogEntry(
        code=e.code,
        name=e.name,
        province=e.province,
        province_name=province_name,
        department_code=e.department_code,
        department=e.department,
        category=e.category,
        category_name=category_name,
        abstract=e.abstract,
        format=e.format,
        share_type=e.share_type,
        share_conditions=e.share_conditions,
        open_attribute=e.open_attribute,
        update_cycle=e.update_cycle,
        publish_date=e.publish_date,
        grade=e.grade,
        items=[
            catalog_pb2.DataItem(
                name=i.name, type=i.type, length=i.length, grade=i.grade, kind=i.kind
            )
            for i in e.items
        ],
        local_grade=e.local_grade,
        local_category=e.local_category,
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
        self, province_names: dict[str, str], category_names: dict[str, str], size: int = 4096
    ) -> None:
        self._names = province_names
        self._categories = category_names
        self._size = size
        self._cache: OrderedDict[str, tuple[CatalogEntry, bytes]] = OrderedDict()
        self._scores: dict[float, bytes] = {}

    def result(self, entry: CatalogEntry, score: float) -> bytes:
        cached = self._cache.get(entry.code)
        if cached is not None and (cached[0] is entry or cached[0] == entry):
            self._cache.move_to_end(entry.code)
            part = cached[1]
        else:
            message = entry_to_pb(
                entry,
                province_name=self._names.get(entry.province, ""),
                category_name=self._categories.get(entry.category, ""),
            )
            part = catalog_pb2.SearchResult(entry=message).SerializeToString()
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
    )


def filters_from_pb(m: catalog_pb2.SearchFilters) -> Filters:
    return Filters(
        categories=tuple(m.categories),
        grades=tuple(m.grades),
        share_types=tuple(m.share_types),
        provinces=tuple(m.provinces),
        departments=tuple(m.departments),
        update_cycles=tuple(m.update_cycles),
    )


def filters_to_pb(f: Filters) -> catalog_pb2.SearchFilters:
    return catalog_pb2.SearchFilters(
        categories=f.categories,
        grades=f.grades,
        share_types=f.share_types,
        provinces=f.provinces,
        departments=f.departments,
        update_cycles=f.update_cycles,
    )


def scope_from_pb(value: int) -> str:
    return _SCOPES.get(value, f"unknown({value})")


def add_facets(into, facets: Facets) -> None:
    """Append ``facets`` to a reply's repeated ``Facet`` field ``into``, values by count desc,
    then value. Built in place: a message passed to a constructor is copied (serialized and
    parsed again by upb)."""
    for name, buckets in facets.items():
        add = into.add(field=name).values.add
        for value, bucket in sorted(buckets.items(), key=_by_count):
            add(value=value, label=bucket.label, count=bucket.count)


def _by_count(item: tuple[str, Bucket]) -> tuple[int, str]:
    return -item[1].count, item[0]


def facets_from_pb(facets) -> Facets:
    return {f.field: {v.value: Bucket(v.label, v.count) for v in f.values} for f in facets}


def add_hits(
    results,
    hits: Sequence[ScoredEntry],
    names: dict[str, str],
    category_names: dict[str, str],
) -> None:
    """Append ``hits`` to a reply's repeated ``SearchResult`` field ``results``."""
    for h in hits:
        wire = h.wire
        if type(wire) is bytes:  # this node's hit, serialized by EntryWire
            results.add().MergeFromString(wire)
        elif wire is not None:  # a peer's hit: the SearchResult it sent, passed through
            results.add().CopyFrom(wire)
        else:
            assert h.entry is not None
            results.add(
                entry=entry_to_pb(
                    h.entry,
                    province_name=names.get(h.entry.province, ""),
                    category_name=category_names.get(h.entry.category, ""),
                ),
                score=h.score,
            )


def hits_from_pb(results) -> tuple[ScoredEntry, ...]:
    hits = []
    for r in results:
        entry = r.entry  # each access builds a wrapper
        hits.append(ScoredEntry(r.score, entry.code, entry.province, None, r))
    return tuple(hits)


def province_to_pb(p: ProvinceAnswer) -> catalog_pb2.ProvinceStatus:
    return catalog_pb2.ProvinceStatus(
        province=p.province,
        name=p.name,
        state=_STATES[p.state],
        total=p.total,
        latency_ms=round(p.latency_ms, 3),
        reason=p.reason,
        message=p.message,
    )


# --------------------------------------------------------------------------- exchange

from gateway._pb.yrd.v1 import exchange_pb2  # noqa: E402
from gateway.exchange.calls import Batch, Call, CallResult, FieldNote  # noqa: E402


def call_from_pb(m: exchange_pb2.InvokeRequest) -> Call:
    return Call(
        interface_id=m.interface_id,
        params=dict(m.params),
        purpose=m.purpose,
        fields=tuple(m.fields),
    )


def call_to_pb(c: Call) -> exchange_pb2.InvokeRequest:
    return exchange_pb2.InvokeRequest(
        interface_id=c.interface_id, params=dict(c.params), purpose=c.purpose, fields=c.fields
    )


def _notes_to_pb(notes) -> list[exchange_pb2.FieldDecision]:
    return [
        exchange_pb2.FieldDecision(field=n.field, grade=n.grade, kind=n.kind, reason=n.reason)
        for n in notes
    ]


def _notes_from_pb(items) -> tuple[FieldNote, ...]:
    return tuple(FieldNote(i.field, i.grade, i.kind, i.reason) for i in items)


def result_to_pb(r: CallResult, trace_id: str = "") -> exchange_pb2.InvokeResponse:
    if r.wire is not None:  # the owner's answer, passed on as it came
        r.wire.trace_id = trace_id
        return r.wire
    return exchange_pb2.InvokeResponse(
        records=[exchange_pb2.Record(fields=rec) for rec in r.records],
        verify_only=r.verify_only,
        match=r.match,
        masked_fields=_notes_to_pb(r.masked),
        dropped_fields=_notes_to_pb(r.dropped),
        grade=r.grade,
        served_by=r.served_by,
        trace_id=trace_id,
        provider_audit_hash=r.provider_hash,
        record_count=len(r.records),
    )


def result_from_pb(m: exchange_pb2.InvokeResponse) -> CallResult:
    """What a home node needs of the owner's answer (for its audit), records left encoded."""
    return CallResult(
        records=(),
        wire=m,
        wire_count=len(m.records),
        verify_only=m.verify_only,
        match=m.match,
        masked=_notes_from_pb(m.masked_fields),
        dropped=_notes_from_pb(m.dropped_fields),
        grade=m.grade,
        served_by=m.served_by,
        provider_hash=m.provider_audit_hash,
        fields=tuple(m.records[0].fields) if m.records else (),
    )


def batch_to_pb(b: Batch, trace_id: str = "") -> exchange_pb2.RecordBatch:
    return exchange_pb2.RecordBatch(
        records=[exchange_pb2.Record(fields=rec) for rec in b.records],
        resume_token=b.resume_token,
        last=b.last,
        masked_fields=_notes_to_pb(b.masked),
        dropped_fields=_notes_to_pb(b.dropped),
        grade=b.grade,
        served_by=b.served_by,
        trace_id=trace_id,
    )


def batch_from_pb(m: exchange_pb2.RecordBatch) -> Batch:
    return Batch(
        records=tuple(dict(rec.fields) for rec in m.records),
        resume_token=m.resume_token,
        last=m.last,
        masked=_notes_from_pb(m.masked_fields),
        dropped=_notes_from_pb(m.dropped_fields),
        grade=m.grade,
        served_by=m.served_by,
    )


# --------------------------------------------------------------------------- sharing

from gateway._pb.yrd.v1 import sharing_pb2  # noqa: E402
from gateway.sharing.model import Application, Grant, Quota  # noqa: E402


def _iso(moment) -> str:
    if moment is None:
        return ""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(value: str):
    from gateway import timefmt

    return timefmt.parse(value) if value else None


def quota_to_pb(q: Quota) -> sharing_pb2.Quota:
    return sharing_pb2.Quota(per_minute=q.per_minute, per_day=q.per_day)


def quota_from_pb(m: sharing_pb2.Quota) -> Quota:
    return Quota(per_minute=m.per_minute, per_day=m.per_day)


def application_to_pb(a: Application) -> sharing_pb2.Application:
    return sharing_pb2.Application(
        id=a.id,
        app=a.app,
        interface_id=a.interface_id,
        fields=a.fields,
        purpose=a.purpose,
        valid_from=_iso(a.valid_from),
        valid_until=_iso(a.valid_until),
        quota=quota_to_pb(a.quota),
        state=a.state,
        reason=a.reason,
        grant_id=a.grant_id or "",
        created_at=_iso(a.created_at),
        decided_at=_iso(a.decided_at),
        owner=a.owner,
    )


def application_from_pb(m: sharing_pb2.Application) -> Application:
    return Application(
        id=m.id,
        app=m.app,
        interface_id=m.interface_id,
        fields=tuple(m.fields),
        purpose=m.purpose,
        valid_from=_parse(m.valid_from),
        valid_until=_parse(m.valid_until),
        quota=quota_from_pb(m.quota),
        state=m.state,
        reason=m.reason,
        grant_id=m.grant_id,
        created_at=_parse(m.created_at),
        decided_at=_parse(m.decided_at),
        owner=m.owner,
    )


def grant_to_pb(g: Grant, state: str = "") -> sharing_pb2.Grant:
    return sharing_pb2.Grant(
        id=g.id,
        grantee=g.grantee,
        blanket=g.blanket,
        interface_id=g.interface_id,
        fields=g.fields,
        purposes=g.purposes,
        max_grade=g.max_grade,
        valid_from=_iso(g.valid_from),
        valid_until=_iso(g.valid_until),
        quota=quota_to_pb(g.quota),
        state=state or g.state,
        application_id=g.application_id or "",
        revoked_reason=g.revoked_reason or "",
        created_at=_iso(g.created_at),
    )


def interface_to_pb(iface, grant: Grant | None = None, now=None) -> exchange_pb2.InterfaceInfo:
    info = exchange_pb2.InterfaceInfo(
        id=iface.id,
        province=iface.province,
        department=iface.department,
        department_name=iface.department_name,
        name=iface.name,
        resource_code=iface.resource_code,
        mode=iface.mode,
        params=[
            exchange_pb2.InterfaceParam(
                name=p.name, kind=p.kind, required=p.required, description=p.description
            )
            for p in iface.params
        ],
        fields=[
            exchange_pb2.InterfaceField(name=f.name, label=f.label, kind=f.kind, grade=f.grade)
            for f in iface.fields
        ],
        streamable=iface.streamable,
    )
    if grant is not None:
        info.callable = True
        info.granted_fields.extend(grant.fields)
        info.granted_purposes.extend(grant.purposes)
    return info
