"""Which interfaces exist across the delta, and which of them an app may call.

Peers are asked through ``InterfacePeer`` (``gateway.peers.exchange`` implements it); a peer that
fails makes the listing name it as unavailable. Only a peer's failure does: an error of our own
is a bug and propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.clock import utcnow
from gateway.deadlines import budget
from gateway.errors import GatewayError, InvalidArgument
from gateway.exchange.model import Field, Interface, Param
from gateway.exchange.provider import Provider
from gateway.sharing.model import Grant
from gateway.sharing.store import SharingStore


@dataclass(frozen=True, slots=True)
class InterfaceOffer:
    """An interface as listed to an app: what it is, and what the app may call of it."""

    id: str
    province: str
    department: str
    department_name: str
    name: str
    resource_code: str
    mode: str
    params: tuple[Param, ...]
    fields: tuple[Field, ...]
    streamable: bool
    callable: bool = False
    granted_fields: tuple[str, ...] = ()
    granted_purposes: tuple[str, ...] = ()


def offer_of(iface: Interface, grant: Grant | None) -> InterfaceOffer:
    return InterfaceOffer(
        id=iface.id,
        province=iface.province,
        department=iface.department,
        department_name=iface.department_name,
        name=iface.name,
        resource_code=iface.resource_code,
        mode=iface.mode,
        params=iface.params,
        fields=iface.fields,
        streamable=iface.streamable,
        callable=grant is not None,
        granted_fields=grant.fields if grant is not None else (),
        granted_purposes=grant.purposes if grant is not None else (),
    )


class InterfacePeer(Protocol):
    """A peer's own listing, with what ``app`` may call there (the owner's view)."""

    async def list_interfaces(self, app: str, *, timeout: float) -> list[InterfaceOffer]: ...


class InterfaceDirectory:
    def __init__(
        self,
        node: str,
        provider: Provider,
        store: SharingStore,
        peers: Mapping[str, InterfacePeer],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.node = node
        self._provider = provider
        self._store = store
        self._peers = dict(peers)
        self._clock = clock

    async def local(self, app: str) -> list[InterfaceOffer]:
        """This node's interfaces, marked with what ``app`` may call (owner's view)."""
        now = self._clock()
        out = []
        for iface in self._provider.interfaces.values():
            grant = None
            if app:
                grant = await self._store.calls.find(app, iface.id, now, fresh=True)
            out.append(offer_of(iface, grant))
        return out

    async def list(
        self, app: str, provinces: tuple[str, ...], *, time_remaining: float | None
    ) -> tuple[list[InterfaceOffer], list[str]]:
        known = {self.node, *self._peers}
        for i, p in enumerate(provinces):
            if p not in known:
                raise InvalidArgument(
                    f"provinces[{i}]", f"unknown province {p[:8]!r}", reason="UNKNOWN_PROVINCE"
                )
        wanted = set(provinces) or known
        allowed = budget(time_remaining)
        names = [p for p in self._peers if p in wanted]
        answers = await asyncio.gather(
            *(self._peers[n].list_interfaces(app, timeout=allowed) for n in names),
            return_exceptions=True,
        )
        out = await self.local(app) if self.node in wanted else []
        unavailable = []
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, GatewayError):
                unavailable.append(name)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                out.extend(answer)
        return out, unavailable
