"""Catalog service (client port): federated search and lookup."""

from __future__ import annotations

from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc
from gateway.catalog.answers import FederatedAnswer
from gateway.catalog.federated import FederatedCatalog
from gateway.catalog.query import QueryValidator, RawSearch
from gateway.convert import (
    add_facets,
    add_hits,
    entry_to_pb,
    filters_from_pb,
    province_to_pb,
    scope_from_pb,
)
from gateway.tracing import current_trace_id


class CatalogServicer(catalog_pb2_grpc.CatalogServicer):
    def __init__(
        self,
        catalog: FederatedCatalog,
        validator: QueryValidator,
        province_names: dict[str, str],
        category_names: dict[str, str],
    ) -> None:
        self._catalog = catalog
        self._validator = validator
        self._names = province_names
        self._categories = category_names

    async def Search(self, request, context):
        query = self._validator.validate(
            RawSearch(
                query=request.query,
                filters=filters_from_pb(request.filters),
                page_size=request.page_size,
                page_token=request.page_token,
                scope=scope_from_pb(request.scope),
                scope_provinces=tuple(request.provinces),
            )
        )
        answer = await self._catalog.search(query, context.time_remaining())
        reply = self._to_reply(answer)
        reply.trace_id = current_trace_id()
        context.set_trailing_metadata((("yrd-trace-id", reply.trace_id),))
        return reply

    async def Get(self, request, context):
        entry = await self._catalog.get(request.code, context.time_remaining())
        return catalog_pb2.GetResponse(
            entry=entry_to_pb(
                entry,
                province_name=self._names.get(entry.province, ""),
                category_name=self._categories.get(entry.category, ""),
            ),
            trace_id=current_trace_id(),
        )

    def _to_reply(self, answer: FederatedAnswer) -> catalog_pb2.SearchResponse:
        reply = catalog_pb2.SearchResponse(
            provinces=[province_to_pb(p) for p in answer.provinces],
            partial=answer.partial,
            next_page_token=answer.next_page_token,
            total=answer.total,
            answered_by=answer.answered_by,
        )
        add_hits(reply.results, answer.hits, self._names, self._categories)
        add_facets(reply.facets, answer.facets)
        return reply
