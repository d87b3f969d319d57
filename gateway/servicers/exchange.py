"""Exchange service (client port): apps call interfaces through their home node."""

from __future__ import annotations

from gateway._pb.yrd.v1 import exchange_pb2_grpc
from gateway.exchange.catalogue import InterfaceDirectory
from gateway.exchange.router import Router
from gateway.server.identity import Identities
from gateway.server.limits import InFlightBound
from gateway.tracing import current_trace_id
from gateway.wire.exchange import batch_to_pb, call_from_pb, interfaces_reply, result_to_pb


class ExchangeServicer(exchange_pb2_grpc.ExchangeServicer):
    def __init__(
        self,
        router: Router,
        identities: Identities,
        directory: InterfaceDirectory,
        app_limits: InFlightBound,
    ) -> None:
        self._limits = app_limits
        self._router = router
        self._identities = identities
        self._directory = directory

    async def Invoke(self, request, context):
        app = await self._identities.app(context)
        trace_id = current_trace_id()
        context.set_trailing_metadata((("yrd-trace-id", trace_id),))
        with self._limits.slot(app.id):
            result = await self._router.invoke(
                app.id,
                call_from_pb(request),
                time_remaining=context.time_remaining(),
                trace_id=trace_id,
            )
        return result_to_pb(result, trace_id)

    async def InvokeStream(self, request, context):
        app = await self._identities.app(context)
        trace_id = current_trace_id()
        with self._limits.slot(app.id):
            async for batch in self._router.invoke_stream(
                app.id,
                call_from_pb(request.call),
                resume_token=request.resume_token,
                batch_size=request.batch_size,
                time_remaining=context.time_remaining(),
                trace_id=trace_id,
            ):
                yield batch_to_pb(batch, trace_id)

    async def ListInterfaces(self, request, context):
        app = await self._identities.app(context)
        offers, unavailable = await self._directory.list(
            app.id, tuple(request.provinces), time_remaining=context.time_remaining()
        )
        return interfaces_reply(offers, unavailable)
