"""Sharing (apps, client port) and Admin (operators, client port) services."""

from __future__ import annotations

from gateway._pb.yrd.v1 import sharing_pb2, sharing_pb2_grpc
from gateway.server.identity import Identities
from gateway.sharing.service import SharingService
from gateway.wire.sharing import (
    application_to_pb,
    applications_reply,
    apply_input,
    grant_to_pb,
    narrowing_from_pb,
    quota_from_pb,
)


class SharingServicer(sharing_pb2_grpc.SharingServicer):
    def __init__(self, service: SharingService, identities: Identities) -> None:
        self._service = service
        self._identities = identities

    async def Apply(self, request, context):
        app = await self._identities.app(context)
        application = await self._service.apply(
            app.id, apply_input(request), time_remaining=context.time_remaining()
        )
        return application_to_pb(application)

    async def ListApplications(self, request, context):
        app = await self._identities.app(context)
        applications, unavailable = await self._service.list_for_apps(
            (app.id,), request.state, time_remaining=context.time_remaining()
        )
        return applications_reply(applications, unavailable)


class AdminServicer(sharing_pb2_grpc.AdminServicer):
    def __init__(
        self,
        service: SharingService,
        identities: Identities,
        provinces: tuple[str, ...],
        clock,
    ) -> None:
        self._service = service
        self._identities = identities
        self._provinces = provinces
        self._clock = clock

    async def CreateApp(self, request, context):
        operator = await self._identities.operator(context)
        secret = await self._service.create_app(operator, request.app, request.name)
        return sharing_pb2.CreateAppResponse(app=request.app, secret=secret)

    async def RevokeApp(self, request, context):
        operator = await self._identities.operator(context)
        await self._service.revoke_app(operator, request.app)
        return sharing_pb2.RevokeAppResponse(app=request.app)

    async def ListApplications(self, request, context):
        operator = await self._identities.operator(context)
        apps = (request.app,) if request.app else None
        applications = await self._service.list_received(
            apps, request.state, via=None, operator=operator
        )
        return applications_reply(applications)

    async def Approve(self, request, context):
        operator = await self._identities.operator(context)
        grant = await self._service.approve(
            operator,
            request.application_id,
            narrowing_from_pb(request),
        )
        return grant_to_pb(grant, grant.status(self._clock()))

    async def Reject(self, request, context):
        operator = await self._identities.operator(context)
        application = await self._service.reject(operator, request.application_id, request.reason)
        return application_to_pb(application)

    async def RevokeGrant(self, request, context):
        operator = await self._identities.operator(context)
        grant = await self._service.revoke_grant(operator, request.grant_id, request.reason)
        return grant_to_pb(grant, grant.status(self._clock()))

    async def GrantProvince(self, request, context):
        operator = await self._identities.operator(context)
        grant = await self._service.blanket_grant(
            operator,
            province=request.province,
            interface_id=request.interface_id,
            fields=tuple(request.fields),
            purposes=tuple(request.purposes),
            max_grade=request.max_grade,
            valid_until=request.valid_until,
            quota=quota_from_pb(request.quota),
            provinces=self._provinces,
        )
        return grant_to_pb(grant, grant.status(self._clock()))

    async def ListGrants(self, request, context):
        operator = await self._identities.operator(context)
        grants, now = await self._service.list_grants(
            operator,
            interface_id=request.interface_id,
            grantee=request.grantee,
            include_inactive=request.include_inactive,
        )
        return sharing_pb2.ListGrantsResponse(
            grants=[grant_to_pb(g, g.status(now)) for g in grants]
        )
