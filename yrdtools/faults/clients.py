"""The fault harness's async clients: searches, calls and the sharing workflow as ``Outcome``s.

``FederationClients`` is mixed into ``Federation``: it keeps one channel per node and event loop
(call ``aclose()`` on that loop when done) and answers every RPC with an ``Outcome`` instead of
raising, so load under faults can be logged and counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    ops_pb2,
    ops_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
)
from gateway.config import FederationConfig
from gateway.credentials import operator_token_path
from gateway.server.identity import MD_OPERATOR
from gateway.status import failure_of
from gateway.tls import channel_options_for, client_channel_credentials
from yrdtools.faults.outcomes import App, Outcome

__all__ = ["BIG_QUOTA", "FederationClients"]

TRACE_KEY = "yrd-trace-id"
BIG_QUOTA = sharing_pb2.Quota(per_minute=1_000_000, per_day=100_000_000)


def _until(days: int = 365) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")


class FederationClients:
    """Client helpers of a federation. The class they are mixed into sets ``fed`` and
    ``certs_dir``, defines ``address(node, kind)`` and calls ``_init_clients()``."""

    fed: FederationConfig
    certs_dir: Path

    def address(self, node: str, kind: str = "peer") -> str:
        raise NotImplementedError

    def _init_clients(self) -> None:
        # Channels per event loop; the loop is kept so its id cannot be reused by a new loop.
        self._clients: dict[int, tuple[asyncio.AbstractEventLoop, dict[str, aio.Channel]]] = {}
        self._tokens: dict[str, str] = {}

    def channel(self, node: str) -> aio.Channel:
        loop = asyncio.get_running_loop()
        _, channels = self._clients.setdefault(id(loop), (loop, {}))
        if node not in channels:
            ca = (self.certs_dir / "ca.pem").read_bytes()
            channels[node] = aio.secure_channel(
                self.address(node, "client"),
                client_channel_credentials(ca),
                options=channel_options_for(node, self.address(node, "client")),
            )
        return channels[node]

    async def aclose(self) -> None:
        """Close the client channels opened on the running loop."""
        _, channels = self._clients.pop(id(asyncio.get_running_loop()), (None, {}))
        await asyncio.gather(*(c.close() for c in channels.values()), return_exceptions=True)

    def operator_metadata(self, node: str) -> tuple[tuple[str, str], ...]:
        if node not in self._tokens:
            self._tokens[node] = operator_token_path(self.fed, node).read_text().strip()
        return ((MD_OPERATOR, self._tokens[node]),)

    async def _rpc(self, call: Any) -> Outcome:
        started = time.perf_counter()
        try:
            reply = await call
        except aio.AioRpcError as exc:
            elapsed = time.perf_counter() - started
            failure = failure_of(exc)
            trailers = dict(exc.trailing_metadata() or ())
            return Outcome(
                failure.code,
                elapsed,
                None,
                failure.reason,
                failure.node,
                failure.message,
                str(trailers.get(TRACE_KEY, "")),
            )
        elapsed = time.perf_counter() - started
        return Outcome(grpc.StatusCode.OK, elapsed, reply, trace_id=getattr(reply, "trace_id", ""))

    async def search(
        self,
        via: str,
        text: str,
        timeout: float = 5.0,
        *,
        page_size: int = 20,
        provinces: Iterable[str] = (),
        live: bool = True,
    ) -> Outcome:
        """A federated search through ``via``; ``live`` (the default here: the fault suite
        breaks the owners' fan-out) asks the owners, not ``via``'s replicas."""
        stub = catalog_pb2_grpc.CatalogStub(self.channel(via))
        request = catalog_pb2.SearchRequest(query=text, page_size=page_size, live=live)
        if provinces:
            request.scope = catalog_pb2.SCOPE_PROVINCES
            request.provinces.extend(provinces)
        return await self._rpc(stub.Search(request, timeout=timeout))

    async def call(
        self,
        app: App,
        interface: str,
        params: Mapping[str, str],
        purpose: str,
        timeout: float = 5.0,
        *,
        fields: Iterable[str] = (),
    ) -> Outcome:
        stub = exchange_pb2_grpc.ExchangeStub(self.channel(app.home))
        request = exchange_pb2.InvokeRequest(
            interface_id=interface, params=dict(params), purpose=purpose, fields=list(fields)
        )
        return await self._rpc(stub.Invoke(request, metadata=app.metadata, timeout=timeout))

    async def create_app_rpc(
        self, app_id: str, name: str = "故障演练应用", timeout: float = 10.0
    ) -> Outcome:
        """An operator of the app's home node creates it; reply carries the secret."""
        node = app_id.split("/", 1)[0]
        admin = sharing_pb2_grpc.AdminStub(self.channel(node))
        return await self._rpc(
            admin.CreateApp(
                sharing_pb2.CreateAppRequest(app=app_id, name=name),
                metadata=self.operator_metadata(node),
                timeout=timeout,
            )
        )

    async def create_app(
        self, app_id: str, name: str = "故障演练应用", timeout: float = 10.0
    ) -> App:
        out = await self.create_app_rpc(app_id, name, timeout)
        if not out.ok:
            raise RuntimeError(f"create app {app_id}: {out}")
        return App(app_id, out.reply.secret)

    async def apply(
        self,
        app: App,
        interface: str,
        fields: Iterable[str],
        purpose: str,
        timeout: float = 10.0,
        *,
        quota: sharing_pb2.Quota = BIG_QUOTA,
    ) -> Outcome:
        """File an application through the app's home node; reply is the Application."""
        stub = sharing_pb2_grpc.SharingStub(self.channel(app.home))
        request = sharing_pb2.ApplyRequest(
            interface_id=interface,
            fields=list(fields),
            purpose=purpose,
            valid_until=_until(),
            quota=quota,
        )
        return await self._rpc(stub.Apply(request, metadata=app.metadata, timeout=timeout))

    async def approve(self, owner: str, application_id: str, timeout: float = 10.0) -> Outcome:
        """An operator of ``owner`` approves; reply is the Grant."""
        admin = sharing_pb2_grpc.AdminStub(self.channel(owner))
        return await self._rpc(
            admin.Approve(
                sharing_pb2.DecideRequest(application_id=application_id, reason="故障演练"),
                metadata=self.operator_metadata(owner),
                timeout=timeout,
            )
        )

    async def setup_app_with_grant(
        self,
        app_id: str,
        interface: str,
        fields: Iterable[str],
        purpose: str,
        *,
        quota: sharing_pb2.Quota = BIG_QUOTA,
        timeout: float = 10.0,
    ) -> App:
        """Create ``app_id`` at home, apply for ``interface`` and have the owner approve."""
        app = await self.create_app(app_id, timeout=timeout)
        applied = await self.apply(app, interface, fields, purpose, timeout, quota=quota)
        if not applied.ok:
            raise RuntimeError(f"apply {app_id} -> {interface}: {applied}")
        granted = await self.approve(applied.reply.owner, applied.reply.id, timeout)
        if not granted.ok:
            raise RuntimeError(f"approve {applied.reply.id}: {granted}")
        return App(app.id, app.secret, (granted.reply.id,), (applied.reply.id,))

    async def verify_audit_rpc(self, node: str, timeout: float = 5.0) -> Outcome:
        """Ops.VerifyAudit on a running node; reply has ``checked`` and ``head_hash``."""
        ops = ops_pb2_grpc.OpsStub(self.channel(node))
        return await self._rpc(
            ops.VerifyAudit(
                ops_pb2.VerifyAuditRequest(), metadata=self.operator_metadata(node), timeout=timeout
            )
        )

    async def audit_head_rpc(self, node: str, timeout: float = 5.0) -> Outcome:
        """Ops.QueryAudit for the newest entry: an acknowledged (seq, hash) of ``node``'s chain."""
        ops = ops_pb2_grpc.OpsStub(self.channel(node))
        return await self._rpc(
            ops.QueryAudit(
                ops_pb2.QueryAuditRequest(limit=1),
                metadata=self.operator_metadata(node),
                timeout=timeout,
            )
        )
