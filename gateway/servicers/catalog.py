"""Catalog service (client port): federated search and lookup."""

from __future__ import annotations

from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc
from gateway.catalog.answers import Facets, FederatedAnswer
from gateway.catalog.federated import KEPT_ANSWERS, FederatedCatalog
from gateway.catalog.query import QueryValidator
from gateway.memo import IdentityMemo
from gateway.tracing import current_trace_id
from gateway.wire.catalog import (
    EntryWire,
    replica_to_pb,
    search_body,
    search_from_pb,
    search_reply,
)

#: Encoded hits and facets kept for kept answers: more than the answers a ``FederatedCatalog``
#: keeps, so every kept answer finds its encoding.
_BODIES_KEPT = 2 * KEPT_ANSWERS


class CatalogServicer(catalog_pb2_grpc.CatalogServicer):
    def __init__(
        self, catalog: FederatedCatalog, validator: QueryValidator, encoder: EntryWire
    ) -> None:
        self._catalog = catalog
        self._validator = validator
        self._encoder = encoder
        # A kept answer's hits and facets, encoded once. Keyed by its facets: a kept answer's
        # own object, always handed out with the same hits.
        self._bodies: IdentityMemo[Facets, catalog_pb2.SearchResponse] = IdentityMemo(_BODIES_KEPT)

    async def Search(self, request, context):
        query = self._validator.validate(search_from_pb(request))
        answer = await self._catalog.search(query, context.time_remaining())
        trace_id = current_trace_id()
        context.set_trailing_metadata((("yrd-trace-id", trace_id),))
        return search_reply(answer, self._encoder, trace_id, self._body(answer))

    def _body(self, answer: FederatedAnswer) -> catalog_pb2.SearchResponse | None:
        """The encoded hits and facets of a kept answer (built the first time it is reused);
        None for any other answer."""
        if not answer.kept:
            return None
        body = self._bodies.get(answer.facets)
        if body is None:
            body = search_body(answer, self._encoder)
            self._bodies.put(answer.facets, body)
        return body

    async def Get(self, request, context):
        found = await self._catalog.lookup(request.code, context.time_remaining())
        return catalog_pb2.GetResponse(
            entry=self._encoder.entry(found.entry),
            trace_id=current_trace_id(),
            replica=replica_to_pb(found.replica) if found.replica is not None else None,
        )
