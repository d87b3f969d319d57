"""A four-province federation of real node processes, built to be broken on purpose.

``Federation`` owns a temporary root (certificates, one federation file per node, a copy of the
node configs with small seeds, the data dirs), starts every node as its own OS process, can put a
``LinkProxy`` in front of chosen nodes' peer ports, and stops, kills (-9), pauses (SIGSTOP),
resumes and restarts nodes. Async client helpers (search, call, apply, approve) answer with an
``Outcome`` instead of raising, and the audit, sharing and catalog files can be read afterwards.

The client helpers keep one channel per node and event loop; call ``aclose()`` on that loop when
done with them. Everything listens on loopback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc import aio

import gateway
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
from gateway.audit.log import AuditLog, VerifyReport
from gateway.certs import create_federation_certs
from gateway.cli.credentials import operator_token_path
from gateway.config import FederationConfig, load_federation
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.ports import free_ports
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET, MD_OPERATOR
from gateway.status import failure_of
from gateway.supervisor import NodeProcesses
from gateway.tls import channel_options_for, client_channel_credentials
from yrdtools.faults.proxy import LOOPBACK, LinkProxy

__all__ = [
    "NODE_IDS",
    "App",
    "AuditRow",
    "Federation",
    "Load",
    "Outcome",
    "Released",
    "released",
    "states",
]

ROOT = Path(gateway.__file__).resolve().parent.parent
NODE_IDS = ("js", "sh", "zj", "ah")
NAMES = {
    "js": ("江苏", "320000"),
    "sh": ("上海", "310000"),
    "zj": ("浙江", "330000"),
    "ah": ("安徽", "340000"),
}
TRACE_KEY = "yrd-trace-id"
BIG_QUOTA = sharing_pb2.Quota(per_minute=1_000_000, per_day=100_000_000)


@dataclass(frozen=True)
class Outcome:
    """What a client got from one RPC: OK with a reply, or a status naming who refused."""

    code: grpc.StatusCode
    elapsed: float
    """Seconds from sending to the answer."""
    reply: Any = None
    reason: str = ""
    node: str = ""
    """The node named in ErrorInfo (the refusing node, or the unreachable owner)."""
    message: str = ""
    trace_id: str = ""

    @property
    def ok(self) -> bool:
        return self.code == grpc.StatusCode.OK

    @property
    def status(self) -> str:
        return self.code.name

    def __str__(self) -> str:
        if self.ok:
            return f"OK in {self.elapsed * 1000:.0f} ms"
        return (
            f"{self.status} {self.reason} node={self.node or '-'} in "
            f"{self.elapsed * 1000:.0f} ms: {self.message}"
        )


@dataclass(frozen=True)
class App:
    id: str
    secret: str
    grant_ids: tuple[str, ...] = ()
    application_ids: tuple[str, ...] = ()

    @property
    def home(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((MD_APP_ID, self.id), (MD_APP_SECRET, self.secret))


@dataclass(frozen=True)
class Released:
    """A call that returned data to its app: both sides must hold audit entries for it."""

    home: str
    owner: str
    trace_id: str
    provider_hash: str


@dataclass(frozen=True)
class AuditRow:
    node: str
    seq: int
    hash: str
    side: str
    trace_id: str
    app: str
    interface: str
    action: str
    decision: str
    status: str
    peer: str
    peer_hash: str
    record_count: int


_AUDIT_COLUMNS = (
    "seq",
    "hash",
    "side",
    "trace_id",
    "app",
    "interface",
    "action",
    "decision",
    "status",
    "peer",
    "peer_hash",
    "record_count",
)


class _Processes(NodeProcesses):
    """NodeProcesses with one federation file per node (each node's own view of the others)."""

    def __init__(self, fed: FederationConfig, files: Mapping[str, Path], **kw: Any) -> None:
        super().__init__(fed, **kw)
        self.files = files

    def command(self, node_id: str) -> list[str]:
        cmd = super().command(node_id)
        cmd[cmd.index("--federation") + 1] = str(self.files[node_id])
        return cmd


def _until(days: int = 365) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")


def _readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


class Federation:
    """Four (or fewer) real node processes under ``root``.

    ``links``: nodes whose peer port every other node reaches through a ``LinkProxy``
    (``proxies[node]``). ``limits``: overrides of the node configs' ``limits`` section.
    ``grace``: the SIGTERM drain period each node is started with. ``workers``: worker
    processes per node, for the nodes that run more than one; when not given,
    ``$YRD_FAULT_WORKERS`` (if set) gives every node that many, so a whole fault suite can be run
    against nodes with workers.
    """

    def __init__(
        self,
        root: Path,
        *,
        node_ids: Iterable[str] = NODE_IDS,
        entries: int = 500,
        people: int = 300,
        links: Iterable[str] = (),
        limits: Mapping[str, int] | None = None,
        certs_dir: Path | None = None,
        grace: float = 5.0,
        workers: Mapping[str, int] | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.node_ids = tuple(node_ids)
        self.grace = grace
        self.certs_dir = Path(certs_dir) if certs_dir else self.root / "certs"
        create_federation_certs(self.certs_dir, NODE_IDS)
        ports = iter(free_ports(3 * len(self.node_ids)))
        self.addresses = {
            n: {kind: f"{LOOPBACK}:{next(ports)}" for kind in ("client", "peer", "ops")}
            for n in self.node_ids
        }
        if workers is None and os.environ.get("YRD_FAULT_WORKERS"):
            workers = {n: int(os.environ["YRD_FAULT_WORKERS"]) for n in self.node_ids}
        self.nodes_dir = self._copy_node_configs(people, entries, limits or {}, workers or {})
        self.proxies: dict[str, LinkProxy] = {}
        for node in links:
            self.proxies[node] = LinkProxy(
                self.addresses[node]["peer"], name=f"{node}-peer"
            ).start_background()
        self.views: dict[str, dict[str, str]] = {n: {} for n in self.node_ids}
        self.files = {n: self.root / f"federation-{n}.yaml" for n in self.node_ids}
        for node in self.node_ids:
            self._write_view(node)
        self.fed = load_federation(self._write(self.root / "federation.yaml", {}))
        self.procs = _Processes(
            self.fed, self.files, entries=entries, extra_args=("--grace", str(grace))
        )
        self.paused: set[str] = set()
        # Channels per event loop; the loop is kept so its id cannot be reused by a new loop.
        self._clients: dict[int, tuple[asyncio.AbstractEventLoop, dict[str, aio.Channel]]] = {}
        self._tokens: dict[str, str] = {}

    # -- files -----------------------------------------------------------------------------------

    def _copy_node_configs(
        self,
        people: int,
        entries: int,
        limits: Mapping[str, int],
        workers: Mapping[str, int],
    ) -> Path:
        nodes_dir = self.root / "nodes"
        for node in self.node_ids:
            target = nodes_dir / node
            if not target.exists():
                shutil.copytree(ROOT / "nodes" / node, target)
            path = target / "node.yaml"
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            doc.setdefault("seed", {}).update(people=people, entries=entries)
            doc.setdefault("limits", {}).update(limits)
            if node in workers:
                doc["workers"] = workers[node]
            path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return nodes_dir

    def _write(self, path: Path, peers: Mapping[str, str]) -> Path:
        nodes = {}
        for node in self.node_ids:
            name, region = NAMES[node]
            nodes[node] = {"name": name, "region_code": region, **self.addresses[node]}
            if node in peers:
                nodes[node]["peer"] = peers[node]
        doc = {
            "federation": "yrd-faults",
            "standard": str(ROOT / "config" / "standard" / "yrd-standard.yaml"),
            "certs_dir": str(self.certs_dir),
            "data_dir": str(self.root / "var"),
            "nodes_dir": str(self.nodes_dir),
            "nodes": nodes,
        }
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return path

    def _write_view(self, node: str) -> None:
        """``node``'s own file: its real ports, the others' through proxies and overrides."""
        peers = {n: p.address for n, p in self.proxies.items() if n != node}
        peers.update(self.views[node])
        self._write(self.files[node], peers)

    def misconfigure(self, node: str, peer_addresses: Mapping[str, str]) -> None:
        """From its next start, ``node`` reaches each named peer at the given address instead."""
        self.views[node] = dict(peer_addresses)
        self._write_view(node)

    def address(self, node: str, kind: str = "peer") -> str:
        """The real address (never a proxy) of a node's ``client``, ``peer`` or ``ops`` port."""
        return self.addresses[node][kind]

    def data_dir(self, node: str) -> Path:
        return self.fed.data_dir / node

    def samples(self, node: str) -> dict[str, str]:
        """Parameter values that exist in ``node``'s dataset (see ``sample_values``)."""
        return sample_values(dataset_path(self.data_dir(node)))

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> Federation:
        self.procs.start_all(self.node_ids)
        self.procs.wait_ready(self.node_ids, timeout=timeout)
        return self

    def __enter__(self) -> Federation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for node in list(self.paused):
            self.resume(node)
        self.procs.stop_all(timeout=self.grace + 10)
        for proxy in self.proxies.values():
            proxy.stop_background()
        self._clients.clear()

    def pids(self, node: str) -> list[int]:
        """The node's process, then its workers' (when it runs several)."""
        return self.procs.pids(node)

    def running(self, node: str) -> bool:
        proc = self.procs.procs.get(node)
        return proc is not None and proc.poll() is None

    def start_node(self, node: str, timeout: float = 60.0) -> None:
        self.procs.start(node)
        self.procs.wait_ready([node], timeout=timeout)

    def stop(self, node: str, timeout: float | None = None) -> int | None:
        """SIGTERM; returns the exit code (SIGKILL after ``timeout``, default grace + 10 s)."""
        self.paused.discard(node)
        return self.procs.stop(node, timeout=self.grace + 10 if timeout is None else timeout)

    def kill(self, node: str) -> None:
        """kill -9."""
        self.paused.discard(node)
        self.procs.kill(node)

    def pause(self, node: str) -> None:
        self.procs.pause(node)
        self.paused.add(node)

    def resume(self, node: str) -> None:
        self.procs.resume(node)
        self.paused.discard(node)

    def restart(self, node: str, *, how: str = "term", timeout: float = 60.0) -> int | None:
        """Stop (``term``) or kill -9 (``kill``) ``node`` and start it again; returns the exit code
        of a ``term`` stop."""
        code = None
        if how == "kill":
            self.kill(node)
        elif how == "term":
            code = self.stop(node)
        else:
            raise ValueError(f"how: 'term' or 'kill', not {how!r}")
        self.start_node(node, timeout=timeout)
        return code

    def log_tail(self, node: str, lines: int = 40) -> str:
        return self.procs.tail(node, lines)

    # -- clients (async, one channel per node and event loop) ------------------------------------

    def channel(self, node: str) -> aio.Channel:
        loop = asyncio.get_running_loop()
        _, channels = self._clients.setdefault(id(loop), (loop, {}))
        if node not in channels:
            ca = (self.certs_dir / "ca.pem").read_bytes()
            channels[node] = aio.secure_channel(
                self.address(node, "client"),
                client_channel_credentials(ca),
                options=channel_options_for(node),
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
    ) -> Outcome:
        stub = catalog_pb2_grpc.CatalogStub(self.channel(via))
        request = catalog_pb2.SearchRequest(query=text, page_size=page_size)
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

    # -- reading the files afterwards ------------------------------------------------------------

    def audit_rows(self, node: str) -> list[AuditRow]:
        """Every audit entry of ``node``, oldest first (read-only; the node may be running)."""
        path = self.data_dir(node) / "audit.db"
        if not path.exists():
            return []
        conn = _readonly(path)
        try:
            rows = conn.execute(f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM entries ORDER BY seq")
            return [AuditRow(node, *row) for row in rows]
        finally:
            conn.close()

    def verify_audit(self, node: str) -> VerifyReport:
        """Walk ``node``'s whole audit chain (the node may be running, not paused)."""
        log = AuditLog(self.data_dir(node) / "audit.db", node)
        try:
            return log.verify()
        finally:
            log.close()

    def count_rows(self, node: str) -> dict[str, int]:
        """Rows of the durable state: apps, applications, grants, audit entries, catalog."""
        out: dict[str, int] = {}
        for db, tables in (
            ("sharing.db", ("apps", "applications", "grants")),
            ("audit.db", ("entries",)),
            ("catalog.db", ("entries",)),
        ):
            conn = _readonly(self.data_dir(node) / db)
            try:
                for table in tables:
                    key = {"audit.db": "audit", "catalog.db": "catalog"}.get(db, table)
                    out[key] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                conn.close()
        return out

    def sharing_rows(self, node: str, table: str) -> dict[str, dict[str, Any]]:
        """``apps``, ``applications`` or ``grants`` of ``node`` by id."""
        if table not in ("apps", "applications", "grants"):
            raise ValueError(f"table: apps, applications or grants, not {table!r}")
        conn = _readonly(self.data_dir(node) / "sharing.db")
        conn.row_factory = sqlite3.Row
        try:
            return {row["id"]: dict(row) for row in conn.execute(f"SELECT * FROM {table}")}
        finally:
            conn.close()

    def unaudited(self, released: Iterable[Released]) -> list[str]:
        """One line per released call that lacks its provider entry (the acknowledged hash) on
        the owner, or its consumer entry (same trace, ``peer_hash`` = that hash) at home."""
        released = list(released)
        by_trace: dict[str, dict[str, list[AuditRow]]] = {}
        for node in {r.home for r in released} | {r.owner for r in released}:
            index: dict[str, list[AuditRow]] = {}
            for row in self.audit_rows(node):
                index.setdefault(row.trace_id, []).append(row)
            by_trace[node] = index
        problems = []
        for r in released:
            if not r.trace_id or not r.provider_hash:
                problems.append(f"{r.home}->{r.owner}: released without trace id or audit hash")
                continue
            missing = []
            side = "local" if r.home == r.owner else "provider"
            if not any(
                row.side == side and row.decision == "allow" and row.hash == r.provider_hash
                for row in by_trace[r.owner].get(r.trace_id, ())
            ):
                missing.append(f"no {side} entry {r.provider_hash[:12]} on {r.owner}")
            if r.home != r.owner and not any(
                row.side == "consumer"
                and row.decision == "allow"
                and row.peer_hash == r.provider_hash
                for row in by_trace[r.home].get(r.trace_id, ())
            ):
                missing.append(f"no consumer entry on {r.home} naming that hash")
            if missing:
                problems.append(f"trace {r.trace_id}: {'; '.join(missing)}")
        return problems


def states(reply: catalog_pb2.SearchResponse) -> dict[str, tuple[str, str]]:
    """province -> (state without prefix, e.g. ``ANSWERED``, and reason) of a search reply."""
    return {
        p.province: (
            catalog_pb2.ProvinceState.Name(p.state).removeprefix("PROVINCE_STATE_"),
            p.reason,
        )
        for p in reply.provinces
    }


def released(outcome: Outcome, home: str, owner: str) -> Released | None:
    """The ``Released`` record of a call that returned data, else None."""
    if not outcome.ok:
        return None
    reply = outcome.reply
    return Released(home, owner, reply.trace_id, reply.provider_audit_hash)


class Load:
    """``workers`` tasks each running ``action(worker, n)`` in a loop until ``stop()``.

    Every result is logged with the monotonic time its action started; an action is expected to
    be bounded (a deadline on every RPC), so stopping waits at most ``stop_timeout``.
    """

    def __init__(
        self, action: Callable[[int, int], Awaitable[Any]], workers: int, *, pause: float = 0.0
    ) -> None:
        self._action = action
        self._workers = workers
        self._pause = pause
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.log: list[tuple[float, Any]] = []

    async def _run(self, worker: int) -> None:
        n = 0
        while not self._stop.is_set():
            started = time.monotonic()
            result = await self._action(worker, n)
            self.log.append((started, result))
            n += 1
            if self._pause:
                await asyncio.sleep(self._pause)

    def start(self) -> Load:
        self._tasks = [asyncio.create_task(self._run(i)) for i in range(self._workers)]
        return self

    async def stop(self, stop_timeout: float = 15.0) -> list[tuple[float, Any]]:
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), stop_timeout)
        return self.log

    def since(self, moment: float) -> list[Any]:
        return [result for started, result in self.log if started >= moment]
