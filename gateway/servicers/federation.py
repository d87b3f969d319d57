"""Federation service (peer port, mutual TLS): what one node asks of another."""

from __future__ import annotations

from gateway._pb.yrd.v1 import catalog_pb2, federation_pb2, federation_pb2_grpc
from gateway.catalog.federated import LocalCatalog
from gateway.catalog.query import normalize_text
from gateway.config import SearchSettings
from gateway.convert import entry_to_pb, facets_to_pb, filters_from_pb, hits_to_pb
from gateway.errors import InvalidArgument, NotFound
from gateway.peers import standard_ref
from gateway.standard import Standard


class FederationServicer(federation_pb2_grpc.FederationServicer):
    def __init__(self, node: str, name: str, standard: Standard, local: LocalCatalog,
                 settings: SearchSettings, category_names: dict[str, str],
                 province_names: dict[str, str]) -> None:
        self._node = node
        self._name = name
        self._standard = standard
        self._local = local
        self._settings = settings
        self._categories = category_names
        self._names = province_names

    async def Hello(self, request, context):
        return federation_pb2.HelloResponse(
            node=self._node, name=self._name, standard=standard_ref(self._standard))

    async def SearchLocal(self, request, context):
        text = normalize_text(request.query)
        if not text or len(text) > self._settings.max_query_chars:
            raise InvalidArgument("query", f"must be 1 to {self._settings.max_query_chars} "
                                  "characters", reason="BAD_QUERY")
        max_limit = self._settings.max_offset + self._settings.max_page_size
        if not 1 <= request.limit <= max_limit:
            raise InvalidArgument("limit", f"must be between 1 and {max_limit}",
                                  reason="LIMIT_OUT_OF_RANGE")
        answer = await self._local.search(text, filters_from_pb(request.filters), request.limit,
                                          facets=request.facets)
        return federation_pb2.LocalSearchResponse(
            results=hits_to_pb(answer.hits, self._names, self._categories),
            total=answer.total, facets=facets_to_pb(answer.facets), node=self._node)

    async def GetLocal(self, request, context):
        entry = await self._local.get(request.code)
        if entry is None:
            raise NotFound(f"{self._node} has no resource {request.code[:40]}",
                           reason="RESOURCE_NOT_FOUND")
        return catalog_pb2.GetResponse(entry=entry_to_pb(
            entry, province_name=self._name, category_name=self._categories.get(entry.category, "")))
