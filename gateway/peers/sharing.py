"""Filing applications with, and reading their status from, the owner node (``SharingPeer`` of
``gateway.sharing.service``). Filing is a write, never retried: a lost reply could mean the
application was filed, and the caller lists to find out. Listing is a read, retried once."""

from __future__ import annotations

from gateway._pb.yrd.v1 import federation_pb2
from gateway.peers import policy
from gateway.peers.channels import Peer
from gateway.peers.translate import OWNER
from gateway.sharing.model import Application
from gateway.sharing.service import ApplyInput
from gateway.wire.sharing import application_from_pb, forwarded_application


class SharingClient:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer
        self.id = peer.id

    async def submit(self, app: str, req: ApplyInput, *, timeout: float) -> Application:
        request = forwarded_application(app, req)
        reply = await policy.call(
            self._peer, "SubmitApplication", request, timeout=timeout, idempotent=False, role=OWNER
        )
        return application_from_pb(reply)

    async def list_applications(
        self, apps: tuple[str, ...], state: str, *, timeout: float
    ) -> list[Application]:
        request = federation_pb2.ForwardedListApplications(apps=apps, state=state)
        reply = await policy.call(
            self._peer, "ListApplications", request, timeout=timeout, idempotent=True, role=OWNER
        )
        return [application_from_pb(a) for a in reply.applications]
