"""Which interfaces exist across the delta, and which of them an app may call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime

from gateway._pb.yrd.v1 import exchange_pb2, federation_pb2
from gateway.convert import interface_to_pb
from gateway.deadlines import budget
from gateway.errors import InvalidArgument
from gateway.exchange.provider import Provider, utcnow
from gateway.peers import Peer
from gateway.sharing.store import SharingStore


class InterfaceDirectory:
    def __init__(
        self,
        node: str,
        provider: Provider,
        store: SharingStore,
        peers: Mapping[str, Peer],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.node = node
        self._provider = provider
        self._store = store
        self._peers = dict(peers)
        self._clock = clock

    async def local(self, app: str) -> list[exchange_pb2.InterfaceInfo]:
        """This node's interfaces, marked with what ``app`` may call (owner's view)."""
        now = self._clock()
        out = []
        for iface in self._provider.interfaces.values():
            grant = None
            if app:
                grant = self._store.find_grant(app, iface.id, now)
            out.append(interface_to_pb(iface, grant))
        return out

    async def list(
        self, app: str, provinces: tuple[str, ...], *, time_remaining: float | None
    ) -> tuple[list[exchange_pb2.InterfaceInfo], list[str]]:
        known = {self.node, *self._peers}
        for i, p in enumerate(provinces):
            if p not in known:
                raise InvalidArgument(
                    f"provinces[{i}]", f"unknown province {p[:8]!r}", reason="UNKNOWN_PROVINCE"
                )
        wanted = set(provinces) or known
        allowed = budget(time_remaining)
        names = [p for p in self._peers if p in wanted]

        async def ask(peer: Peer):
            await peer.ensure_agreed(allowed)
            reply = await peer.federation.ListInterfaces(
                federation_pb2.ForwardedListInterfaces(app=app),
                timeout=allowed,
                metadata=peer.metadata(),
            )
            return list(reply.interfaces)

        answers = await asyncio.gather(
            *(ask(self._peers[n]) for n in names), return_exceptions=True
        )
        out = await self.local(app) if self.node in wanted else []
        unavailable = []
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, BaseException):
                unavailable.append(name)
            else:
                out.extend(answer)
        return out, unavailable
