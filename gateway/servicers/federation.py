"""Federation service (peer port, mutual TLS): what one node asks of another."""

from __future__ import annotations

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    exchange_pb2,
    federation_pb2,
    federation_pb2_grpc,
    sharing_pb2,
)
from gateway.catalog.federated import LocalCatalog
from gateway.catalog.query import normalize_text
from gateway.config import SearchSettings
from gateway.convert import (
    add_facets,
    add_hits,
    application_to_pb,
    batch_to_pb,
    call_from_pb,
    entry_to_pb,
    filters_from_pb,
    result_to_pb,
)
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from gateway.exchange.catalogue import InterfaceDirectory
from gateway.exchange.model import owner_of, province_of_app
from gateway.exchange.provider import Caller, Provider
from gateway.ops.traces import TraceGatherer, check_trace_id, span_to_pb
from gateway.peers import MD_HOPS, standard_ref
from gateway.server.guards import PeerGuard, metadata_of
from gateway.server.limits import InFlight
from gateway.servicers.sharing import apply_input
from gateway.sharing.service import SharingService
from gateway.standard import Standard
from gateway.tracing import current_trace_id

MAX_HOPS = 1
"""A call is forwarded once, home node to owner node; anything more is a loop."""


class FederationExchangeMixin:
    """Peer-port verbs of the exchange and sharing flows; the owner node alone decides."""

    _node: str
    _guard: PeerGuard
    _provider: Provider
    _sharing: SharingService
    _directory: InterfaceDirectory
    _gatherer: TraceGatherer
    _peer_limits: InFlight

    def _forwarded(self, context, app: str, interface_id: str | None) -> Caller:
        via = self._guard.caller(context)
        md = metadata_of(context)
        try:
            hops = int(md.get(MD_HOPS, "1"))
        except ValueError:
            hops = MAX_HOPS + 1
        if hops > MAX_HOPS:
            raise FailedPrecondition(
                f"call forwarded {hops} times; the federation is misconfigured",
                reason="HOP_LIMIT_EXCEEDED",
            )
        if province_of_app(app) != via:
            raise PermissionDenied(
                f"node {via} may not act for app {app[:80]!r}: apps outside "
                f"{via}/ are not its to assert",
                reason="NAMESPACE_VIOLATION",
            )
        if interface_id is not None and owner_of(interface_id) != self._node:
            raise FailedPrecondition(
                f"{self._node} does not own {interface_id[:80]}; calls are never forwarded twice",
                reason="NOT_OWNER",
            )
        return Caller(app=app, via=via, trace_id=current_trace_id())

    async def Invoke(self, request, context):
        caller = self._forwarded(context, request.app, request.call.interface_id)
        with self._peer_limits.slot(caller.via):
            result = await self._provider.invoke(caller, call_from_pb(request.call))
        return result_to_pb(result, caller.trace_id)

    async def InvokeStream(self, request, context):
        caller = self._forwarded(context, request.app, request.call.call.interface_id)
        with self._peer_limits.slot(caller.via):
            async for batch in self._provider.invoke_stream(
                caller,
                call_from_pb(request.call.call),
                resume_token=request.call.resume_token,
                batch_size=request.call.batch_size,
            ):
                yield batch_to_pb(batch, caller.trace_id)

    async def SubmitApplication(self, request, context):
        caller = self._forwarded(context, request.app, request.application.interface_id)
        application = await self._sharing.receive(
            request.app, apply_input(request.application), via=caller.via
        )
        return application_to_pb(application)

    async def ListApplications(self, request, context):
        via = self._guard.caller(context)
        applications = await self._sharing.list_received(
            tuple(request.apps), request.state, via=via
        )
        return sharing_pb2.ListApplicationsResponse(
            applications=[application_to_pb(a) for a in applications]
        )

    async def GetSpans(self, request, context):
        self._guard.caller(context)
        trace_id = check_trace_id(request.trace_id)
        spans = await self._gatherer.local_spans(trace_id)
        return federation_pb2.GetSpansResponse(
            node=self._node, spans=[span_to_pb(s) for s in spans]
        )

    async def ListInterfaces(self, request, context):
        via = self._guard.caller(context)
        app = request.app
        if app and province_of_app(app) != via:
            raise PermissionDenied(
                f"node {via} may not ask for app {app[:80]!r}", reason="NAMESPACE_VIOLATION"
            )
        return exchange_pb2.ListInterfacesResponse(interfaces=await self._directory.local(app))


class FederationServicer(FederationExchangeMixin, federation_pb2_grpc.FederationServicer):
    def __init__(
        self,
        node: str,
        name: str,
        standard: Standard,
        local: LocalCatalog,
        settings: SearchSettings,
        category_names: dict[str, str],
        province_names: dict[str, str],
        *,
        guard: PeerGuard,
        provider: Provider,
        sharing: SharingService,
        directory: InterfaceDirectory,
        gatherer: TraceGatherer,
        peer_limits: InFlight,
    ) -> None:
        self._peer_limits = peer_limits
        self._gatherer = gatherer
        self._guard = guard
        self._provider = provider
        self._sharing = sharing
        self._directory = directory
        self._node = node
        self._name = name
        self._standard = standard
        self._local = local
        self._settings = settings
        self._categories = category_names
        self._names = province_names

    async def Hello(self, request, context):
        return federation_pb2.HelloResponse(
            node=self._node, name=self._name, standard=standard_ref(self._standard)
        )

    async def SearchLocal(self, request, context):
        text = normalize_text(request.query)
        if not text or len(text) > self._settings.max_query_chars:
            raise InvalidArgument(
                "query",
                f"must be 1 to {self._settings.max_query_chars} characters",
                reason="BAD_QUERY",
            )
        max_limit = self._settings.max_offset + self._settings.max_page_size
        if not 1 <= request.limit <= max_limit:
            raise InvalidArgument(
                "limit", f"must be between 1 and {max_limit}", reason="LIMIT_OUT_OF_RANGE"
            )
        with self._peer_limits.slot(self._guard.caller(context)):
            answer = await self._local.search(
                text, filters_from_pb(request.filters), request.limit, facets=request.facets
            )
        reply = federation_pb2.LocalSearchResponse(total=answer.total, node=self._node)
        add_hits(reply.results, answer.hits, self._names, self._categories)
        add_facets(reply.facets, answer.facets)
        return reply

    async def GetLocal(self, request, context):
        entry = await self._local.get(request.code)
        if entry is None:
            raise NotFound(
                f"{self._node} has no resource {request.code[:40]}", reason="RESOURCE_NOT_FOUND"
            )
        return catalog_pb2.GetResponse(
            entry=entry_to_pb(
                entry,
                province_name=self._name,
                category_name=self._categories.get(entry.category, ""),
            )
        )
