"""Delivering applications to, and reading their status from, the owner node."""

from __future__ import annotations

import grpc

from gateway._pb.yrd.v1 import federation_pb2, sharing_pb2
from gateway.convert import application_from_pb, quota_to_pb
from gateway.errors import DeadlineExceeded
from gateway.exchange.remote import error_from_rpc
from gateway.peers import Peer
from gateway.sharing.model import Application


class RemoteSharing:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id

    async def submit(self, app: str, req, *, timeout: float) -> Application:
        if timeout <= 0:
            raise DeadlineExceeded(
                f"no time left to reach owner node {self.id}", reason="OWNER_TIMEOUT", node=self.id
            )
        request = federation_pb2.ForwardedApplication(
            app=app,
            application=sharing_pb2.ApplyRequest(
                interface_id=req.interface_id,
                fields=req.fields,
                purpose=req.purpose,
                valid_from=req.valid_from,
                valid_until=req.valid_until,
                quota=quota_to_pb(req.quota),
            ),
        )
        try:
            await self._peer.ensure_agreed(timeout)
            # Not retried: a lost reply could mean the application was filed; the caller lists.
            reply = await self._peer.federation.SubmitApplication(
                request, timeout=timeout, metadata=self._peer.metadata()
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.id) from None
        return application_from_pb(reply)

    async def list_applications(
        self, apps: tuple[str, ...], state: str, *, timeout: float
    ) -> list[Application]:
        try:
            await self._peer.ensure_agreed(timeout)
            reply = await self._peer.federation.ListApplications(
                federation_pb2.ForwardedListApplications(apps=apps, state=state),
                timeout=timeout,
                metadata=self._peer.metadata(),
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.id) from None
        return [application_from_pb(a) for a in reply.applications]
