"""Federation service (peer port, mutual TLS): what one node asks of another.

Who calls is read from the peer's certificate (``PeerGuard``); whether a forwarded call is taken
is the admission's to say (``gateway.exchange.admission``); the rest is decode, delegate, encode.
"""

from __future__ import annotations

import asyncio

from gateway._pb.yrd.v1 import catalog_pb2, federation_pb2, federation_pb2_grpc
from gateway.audit.witnessing import Witness
from gateway.catalog.changefeed import ChangeFeed
from gateway.catalog.federated import LocalCatalog
from gateway.catalog.query import QueryValidator
from gateway.errors import FailedPrecondition, NotFound
from gateway.exchange.admission import Admission
from gateway.exchange.catalogue import InterfaceDirectory
from gateway.exchange.provider import Caller, Provider
from gateway.ops.traces import TraceGatherer, check_trace_id
from gateway.peers import MD_HOPS
from gateway.server.guards import PeerGuard, metadata_of
from gateway.server.limits import InFlightBound
from gateway.sharing.service import SharingService
from gateway.standard import Standard
from gateway.tls import peer_certificate
from gateway.tracing import current_trace_id
from gateway.wire.catalog import EntryWire, filters_from_pb, local_search_reply
from gateway.wire.exchange import batch_to_pb, call_from_pb, interfaces_reply, result_to_pb
from gateway.wire.federation import head_from_pb, standard_ref
from gateway.wire.ops import spans_reply
from gateway.wire.replication import page_to_pb
from gateway.wire.sharing import application_to_pb, applications_reply, apply_input


class FederationServicer(federation_pb2_grpc.FederationServicer):
    def __init__(
        self,
        node: str,
        name: str,
        standard: Standard,
        local: LocalCatalog,
        validator: QueryValidator,
        encoder: EntryWire,
        *,
        guard: PeerGuard,
        admission: Admission,
        provider: Provider,
        sharing: SharingService,
        directory: InterfaceDirectory,
        gatherer: TraceGatherer,
        peer_limits: InFlightBound,
        witness: Witness | None = None,
        feed: ChangeFeed,
    ) -> None:
        self._node = node
        self._name = name
        self._standard = standard
        self._local = local
        self._validator = validator
        self._encoder = encoder
        self._guard = guard
        self._admission = admission
        self._provider = provider
        self._sharing = sharing
        self._directory = directory
        self._gatherer = gatherer
        self._peer_limits = peer_limits
        self._witness = witness
        self._feed = feed

    def _forwarded(self, context, app: str, interface_id: str | None) -> Caller:
        return self._admission.forwarded(
            via=self._guard.caller(context),
            hops=metadata_of(context).get(MD_HOPS),
            app=app,
            interface_id=interface_id,
            trace_id=current_trace_id(),
        )

    async def Hello(self, request, context):
        return federation_pb2.HelloResponse(
            node=self._node, name=self._name, standard=standard_ref(self._standard)
        )

    async def SearchLocal(self, request, context):
        text = self._validator.validate_local(request.query, request.limit)
        with self._peer_limits.slot(self._guard.caller(context)):
            answer = await self._local.search(
                text,
                filters_from_pb(request.filters),
                request.limit,
                facets=request.facets,
                published_only=True,
            )
        return local_search_reply(answer, self._node, self._encoder)

    async def GetLocal(self, request, context):
        entry = await self._local.get(request.code, published_only=True)
        if entry is None:
            raise NotFound(
                f"{self._node} has no resource {request.code[:40]}", reason="RESOURCE_NOT_FOUND"
            )
        return catalog_pb2.GetResponse(entry=self._encoder.entry(entry))

    async def FollowChanges(self, request, context):
        with self._peer_limits.slot(self._guard.caller(context)):
            async for page in self._feed.follow(
                request.since, request.page_size, request.wait_ms / 1000
            ):
                # A page is hundreds of entries: encoded off the event loop, like its read.
                yield (
                    await asyncio.to_thread(page_to_pb, page) if page.changes else page_to_pb(page)
                )

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
        return applications_reply(applications)

    async def GetSpans(self, request, context):
        self._guard.caller(context)
        trace_id = check_trace_id(request.trace_id)
        return spans_reply(self._node, await self._gatherer.local_spans(trace_id))

    async def ListInterfaces(self, request, context):
        self._admission.listing(via=self._guard.caller(context), app=request.app)
        return interfaces_reply(await self._directory.local(request.app))

    async def WitnessHead(self, request, context):
        caller = self._guard.caller(context)
        if self._witness is None:
            raise FailedPrecondition(
                f"{self._node} keeps no audit heads", reason="WITNESS_UNAVAILABLE"
            )
        seq = await self._witness.receive(caller, head_from_pb(request), peer_certificate(context))
        return federation_pb2.WitnessReply(witness=self._node, seq=seq)
