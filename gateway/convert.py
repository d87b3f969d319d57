"""Conversions between protobuf messages and domain records; the only place that knows both."""

from __future__ import annotations

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


def entry_to_pb(e: CatalogEntry, *, province_name: str = "", category_name: str = "") -> catalog_pb2.CatalogEntry:
    return catalog_pb2.CatalogEntry(
        code=e.code, name=e.name, province=e.province, province_name=province_name,
        department_code=e.department_code, department=e.department, category=e.category,
        category_name=category_name, abstract=e.abstract, format=e.format,
        share_type=e.share_type, share_conditions=e.share_conditions,
        open_attribute=e.open_attribute, update_cycle=e.update_cycle,
        publish_date=e.publish_date, grade=e.grade,
        items=[catalog_pb2.DataItem(name=i.name, type=i.type, length=i.length, grade=i.grade,
                                    kind=i.kind) for i in e.items],
        local_grade=e.local_grade, local_category=e.local_category,
    )


def entry_from_pb(m: catalog_pb2.CatalogEntry) -> CatalogEntry:
    return CatalogEntry(
        code=m.code, name=m.name, province=m.province, department_code=m.department_code,
        department=m.department, category=m.category, abstract=m.abstract, format=m.format,
        share_type=m.share_type, share_conditions=m.share_conditions,
        open_attribute=m.open_attribute, update_cycle=m.update_cycle,
        publish_date=m.publish_date, grade=m.grade,
        items=tuple(DataItem(name=i.name, type=i.type, length=i.length, grade=i.grade, kind=i.kind)
                    for i in m.items),
        local_grade=m.local_grade, local_category=m.local_category,
    )


def filters_from_pb(m: catalog_pb2.SearchFilters) -> Filters:
    return Filters(
        categories=tuple(m.categories), grades=tuple(m.grades), share_types=tuple(m.share_types),
        provinces=tuple(m.provinces), departments=tuple(m.departments),
        update_cycles=tuple(m.update_cycles),
    )


def filters_to_pb(f: Filters) -> catalog_pb2.SearchFilters:
    return catalog_pb2.SearchFilters(
        categories=f.categories, grades=f.grades, share_types=f.share_types,
        provinces=f.provinces, departments=f.departments, update_cycles=f.update_cycles,
    )


def scope_from_pb(value: int) -> str:
    return _SCOPES.get(value, f"unknown({value})")


def facets_to_pb(facets: Facets) -> list[catalog_pb2.Facet]:
    out = []
    for name, buckets in facets.items():
        ordered = sorted(buckets.items(), key=lambda kv: (-kv[1].count, kv[0]))
        out.append(catalog_pb2.Facet(field=name, values=[
            catalog_pb2.FacetValue(value=v, label=b.label, count=b.count) for v, b in ordered]))
    return out


def facets_from_pb(facets) -> Facets:
    return {f.field: {v.value: Bucket(v.label, v.count) for v in f.values} for f in facets}


def hits_to_pb(hits: tuple[ScoredEntry, ...], names: dict[str, str],
               category_names: dict[str, str]) -> list[catalog_pb2.SearchResult]:
    return [catalog_pb2.SearchResult(
        entry=entry_to_pb(h.entry, province_name=names.get(h.entry.province, ""),
                          category_name=category_names.get(h.entry.category, "")),
        score=h.score) for h in hits]


def hits_from_pb(results) -> tuple[ScoredEntry, ...]:
    return tuple(ScoredEntry(entry_from_pb(r.entry), r.score) for r in results)


def province_to_pb(p: ProvinceAnswer) -> catalog_pb2.ProvinceStatus:
    return catalog_pb2.ProvinceStatus(
        province=p.province, name=p.name, state=_STATES[p.state], total=p.total,
        latency_ms=round(p.latency_ms, 3), reason=p.reason, message=p.message,
    )
