"""Catalog service (client port): federated search and lookup."""

from __future__ import annotations

from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc
from gateway.catalog.federated import FederatedCatalog
from gateway.catalog.query import QueryValidator
from gateway.tracing import current_trace_id
from gateway.wire.catalog import EntryWire, replica_to_pb, search_from_pb, search_reply


class CatalogServicer(catalog_pb2_grpc.CatalogServicer):
    def __init__(
        self, catalog: FederatedCatalog, validator: QueryValidator, encoder: EntryWire
    ) -> None:
        self._catalog = catalog
        self._validator = validator
        self._encoder = encoder

    async def Search(self, request, context):
        query = self._validator.validate(search_from_pb(request))
        answer = await self._catalog.search(query, context.time_remaining())
        trace_id = current_trace_id()
        context.set_trailing_metadata((("yrd-trace-id", trace_id),))
        return search_reply(answer, self._encoder, trace_id)

    async def Get(self, request, context):
        found = await self._catalog.lookup(request.code, context.time_remaining())
        return catalog_pb2.GetResponse(
            entry=self._encoder.entry(found.entry),
            trace_id=current_trace_id(),
            replica=replica_to_pb(found.replica) if found.replica is not None else None,
        )
