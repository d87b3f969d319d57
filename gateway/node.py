"""One node = one province: loads its config, opens its stores, serves two ports.

The client port serves apps, operators and the CLI; the peer port serves other nodes over mutual
TLS. Both carry the same error translation; the peer port also checks who calls and on which
standard. A node runs as one process, or as several workers of one primary (``gateway.workers``);
then each worker is a ``Node`` with a ``WorkerSlot``, sharing ports, files and bounds.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    federation_pb2_grpc,
    ops_pb2,
    ops_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
)
from gateway.audit.log import AuditLog
from gateway.catalog.changefeed import ChangeFeed
from gateway.catalog.federated import FederatedCatalog, Labels, LocalCatalog
from gateway.catalog.loader import release_free_memory
from gateway.catalog.query import QueryValidator
from gateway.catalog.replicas import Replication
from gateway.catalog.store import AnyCatalogStore, CatalogStore, PgCatalogStore
from gateway.clock import utcnow
from gateway.config import FederationConfig, NodeConfig, load_province, split_address
from gateway.credentials import OPERATOR_TOKEN_FILE, write_private
from gateway.exchange.admission import Admission
from gateway.exchange.backends import BackendPool
from gateway.exchange.catalogue import InterfaceDirectory
from gateway.exchange.dataset import dataset_path
from gateway.exchange.provider import Provider
from gateway.exchange.router import Router
from gateway.ops.evidence import AuditEvidence
from gateway.ops.login import OPS_SESSION_KEY_FILE, OpsLogin, load_session_key
from gateway.ops.reads import OperatorReads
from gateway.ops.traces import TraceGatherer
from gateway.ops.web import OpsWeb
from gateway.peers import CHANNEL_OPTIONS, Peers
from gateway.peers.catalog import CatalogClient
from gateway.peers.exchange import ExchangeClient
from gateway.peers.sharing import SharingClient
from gateway.peers.spans import SpansClient
from gateway.postgres import Postgres
from gateway.seeding import seed_catalog, seed_dataset
from gateway.server.drain import Drain
from gateway.server.guards import ChainGuard, PeerGuard
from gateway.server.identity import Identities
from gateway.server.interceptors import Edge
from gateway.server.limits import InFlight, InFlightBound, SharedInFlight
from gateway.servicers.catalog import CatalogServicer
from gateway.servicers.exchange import ExchangeServicer
from gateway.servicers.federation import FederationServicer
from gateway.servicers.ops import OpsServicer
from gateway.servicers.sharing import AdminServicer, SharingServicer
from gateway.sharing.quota import SharedQuota
from gateway.sharing.service import SharingService
from gateway.sharing.store import SharingStore
from gateway.shm import SharedCounters
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.provider import Telemetry
from gateway.telemetry.spanstore import SpanStore
from gateway.tls import NodeTLS
from gateway.watch import AuditWatch
from gateway.wire.catalog import EntryWire
from gateway.workers import AUDIT_LOCK, INFLIGHT_APP, INFLIGHT_PROVINCE, QUOTA, WorkerSlot

log = logging.getLogger(__name__)

SERVER_OPTIONS = [opt for opt in CHANNEL_OPTIONS if "message_length" in opt[0]] + [
    ("grpc.so_reuseport", 0),
]
# Workers of one node share its ports; the primary checked that nothing else holds them.
WORKER_SERVER_OPTIONS = [(k, 1 if k == "grpc.so_reuseport" else v) for k, v in SERVER_OPTIONS]


@dataclass(frozen=True, slots=True)
class NodeOptions:
    insecure: bool = False
    """Plaintext on both ports: local experiments only."""
    entries: int | None = None
    """Catalog size to seed; None means the node config's."""
    people: int | None = None
    """People in the node-local dataset behind the sqlite backends; None means the config's."""
    tracing: bool = True
    """Record spans (local span store, OTLP when configured); off only to measure its cost."""
    otlp_endpoint: str | None = None
    """Overrides the node config's ``otlp_endpoint``."""
    worker: WorkerSlot | None = None
    """Set when this process is one worker of a multi-process node."""
    replica: int = 0
    """Which of the province's replicas this is: where it listens (``Replica``)."""
    clock: Callable[[], datetime] = utcnow
    """What time it is for grants and quota windows; tests hold it to stay in one window."""


class Node:
    def __init__(
        self, fed: FederationConfig, node_id: str, options: NodeOptions = NodeOptions()
    ) -> None:
        self.fed = fed
        self.id = node_id
        self.address = fed.node(node_id)
        self.listen = self.address.replica(options.replica)
        self.province = load_province(fed, node_id)
        self.config: NodeConfig = self.province.config
        self.options = options
        self.standard = self.province.standard
        self.crosswalk = self.province.crosswalk
        self.departments = self.province.departments
        self.interfaces = self.province.interfaces
        self._servers: list[aio.Server] = []
        self._drain = Drain(node_id)
        self._store: AnyCatalogStore | None = None
        self._sharing_store: SharingStore | None = None
        self._audit: AuditLog | None = None
        self._watch: AuditWatch | None = None
        self._backends: BackendPool | None = None
        self._spans: SpanStore | None = None
        self.telemetry: Telemetry | None = None
        self.metrics: Metrics | None = None
        self._web: OpsWeb | None = None
        self._flusher: asyncio.Task | None = None
        self._keeper: asyncio.Task | None = None
        self._stopping = threading.Event()
        self._peers: Peers | None = None
        self._health: HealthServicer | None = None
        self._tables: list[SharedCounters] = []
        self._pg: Postgres | None = None
        self.replication: Replication | None = None
        self._feed: ChangeFeed | None = None
        self.seed_seconds: float | None = None

    def _catalog(self) -> AnyCatalogStore:
        where = self._at(self.config.catalog_db.name)
        cache_mib = self.config.search.cache_mib
        if isinstance(where, Postgres):
            return PgCatalogStore(where, search_cache_mib=cache_mib)
        return CatalogStore(where, search_cache_mib=cache_mib)

    def _at(self, file: str) -> Path | Postgres:
        """Where a store lives: its SQLite file, or the province's PostgreSQL pool (opened on
        first use, closed by ``stop``)."""
        storage = self.config.storage
        if not storage.postgresql:
            return self.config.data_dir / file
        if self._pg is None:
            self._pg = Postgres(storage.dsn)
        return self._pg

    def prepare(self) -> None:
        """The node's one-off set-up, without serving: seed the catalog and the dataset, create
        every file's schema and the operator token. Idempotent; a multi-worker node's primary
        runs it once before its workers start, so they never race to seed."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            store = self._catalog()
            try:
                self.seed_seconds = self._seed(store)
            finally:
                store.close()
            self._ensure_dataset()
            sharing = SharingStore(self._at("sharing.db"))
            try:
                self._hand_out_operator_token(sharing)
            finally:
                sharing.close()
            AuditLog(self._at("audit.db"), self.id).close()
            SpanStore(self._at("spans.db"), self.id).close()
        finally:
            if self._pg is not None:
                self._pg.close()
                self._pg = None

    def _seed(self, store: AnyCatalogStore) -> float | None:
        return seed_catalog(store, self.province, entries=self.options.entries)

    def _ensure_dataset(self) -> None:
        seed_dataset(self.province, people=self.options.people)

    def _hand_out_operator_token(self, sharing: SharingStore) -> None:
        token = sharing.ensure_operator_token()
        if token is not None:  # first start: hand the operator token to the local operator
            write_private(self.config.data_dir / OPERATOR_TOKEN_FILE, token)

    async def start(self) -> None:
        cfg = self.config
        worker = self.options.worker
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        tls = None if self.options.insecure else NodeTLS.load(self.fed.certs_dir, self.id)
        store = self._store = self._catalog()
        if worker is None:
            self.seed_seconds = await asyncio.to_thread(self._seed, store)
            await asyncio.to_thread(self._ensure_dataset)
        dataset = dataset_path(cfg.data_dir)
        sharing_store = self._sharing_store = SharingStore(
            self._at("sharing.db"),
            quota=(
                SharedQuota(SharedCounters.attach(worker.table(QUOTA), columns=2))
                if worker is not None
                else None
            ),
        )
        if worker is None:
            self._hand_out_operator_token(sharing_store)
        audit = self._audit = AuditLog(
            self._at("audit.db"),
            self.id,
            write_lock=worker.table(AUDIT_LOCK) if worker is not None else None,
        )
        health = self._health = HealthServicer()
        watch = self._watch = AuditWatch(
            self.id,
            audit,
            self._at("audit.db"),
            cfg.data_dir,
            clock=self.options.clock,
            health=health,
        )
        await watch.check_at_start()
        backends = self._backends = BackendPool(dataset_path=dataset)
        spans = self._spans = SpanStore(self._at("spans.db"), self.id)
        otlp = (
            self.options.otlp_endpoint
            if self.options.otlp_endpoint is not None
            else cfg.otlp_endpoint
        )
        telemetry = self.telemetry = Telemetry(
            self.id, spans, otlp_endpoint=otlp, enabled=self.options.tracing
        )
        tracer = telemetry.tracer("gateway")
        rpc_tracer = tracer if self.options.tracing else None
        names = {n.id: n.name for n in self.fed.nodes.values()}
        category_names = {c.code: c.full_name for c in self.standard.categories.values()}
        mark_names = {t.id: t.name for t in self.standard.data_marks.values()}
        by_field = {
            "category": category_names,
            "grade": {g.id: g.name for g in self.standard.grades.values()},
            "share_type": {t.id: t.name for t in self.standard.share_types.values()},
            "update_cycle": {t.id: t.name for t in self.standard.update_cycles.values()},
            "data_mark": mark_names,
        }
        labels = Labels(self.id, by_field, {d.code: d.name for d in self.departments.departments})
        local = LocalCatalog(
            self.id,
            store,
            labels,
            self.standard.synonyms.equivalents(),
            share_types=tuple(self.standard.share_types),
        )
        encoder = EntryWire(names, category_names, mark_names=mark_names)
        metrics = self.metrics = Metrics(
            self.id,
            self.address.name,
            multiprocess_dir=worker.metrics_dir if worker is not None else None,
        )
        peers = self._peers = Peers(
            self.fed,
            self.id,
            self.standard,
            tls,
            metrics=metrics,
            tracer=rpc_tracer,
            connections=cfg.limits.peer_connections or (worker.count if worker else 1),
        )
        catalog_peers = {p.id: CatalogClient(p) for p in peers}
        self._feed = ChangeFeed(store)
        replication = self.replication = Replication(
            cfg.data_dir / "replicas",
            catalog_peers,
            by_field,
            synonyms=self.standard.synonyms.equivalents(),
            search_cache_mib=cfg.search.cache_mib,
        )
        catalog = FederatedCatalog(
            self.id,
            names,
            local,
            catalog_peers,
            default_budget=cfg.search.peer_timeout_ms / 1000,
            tracer=tracer,
            observe_province=metrics.observe_search,
            replicas=replication.catalogs,
        )
        audit.observe_appends(metrics.observe_audit_append)
        metrics.watch(
            breakers=lambda: {p.id: p.breaker.state for p in peers},
            audit_queue=audit.queued,
            search_caches=lambda: {
                self.id: store.search_cache_bytes,
                **{p: r.store.search_cache_bytes for p, r in replication.catalogs.items()},
            },
        )
        validator = QueryValidator(
            provinces=tuple(self.fed.nodes),
            self_id=self.id,
            categories=category_names,
            grades=tuple(self.standard.grades),
            share_types=tuple(self.standard.share_types),
            update_cycles=tuple(self.standard.update_cycles),
            settings=cfg.search,
            data_marks=tuple(self.standard.data_marks),
        )
        provider = Provider(
            self.id,
            self.interfaces,
            sharing_store,
            backends.for_interfaces(self.interfaces.values()),
            self.standard,
            audit,
            clock=self.options.clock,
        )
        router = Router(
            self.id,
            provider,
            {p.id: ExchangeClient(p) for p in peers},
            audit,
            default_timeout=cfg.limits.call_timeout_ms / 1000,
        )
        sharing = SharingService(
            self.id,
            sharing_store,
            provider,
            {p.id: SharingClient(p) for p in peers},
            audit,
            standard_grades=tuple(self.standard.grades),
            home_grades=self.standard.home_grades,
            clock=self.options.clock,
        )
        directory = InterfaceDirectory(
            self.id, provider, sharing_store, {p.id: ExchangeClient(p) for p in peers}
        )
        identities = Identities(self.id, sharing_store)
        gatherer = TraceGatherer(
            self.id,
            spans,
            {p.id: SpansClient(p) for p in peers},
            flush=telemetry.flush,
            # Sibling workers write their spans on their own schedule: wait one of their
            # writer intervals before reading, so a trace shows every worker's part.
            settle=telemetry.write_interval if worker is not None else 0.0,
        )
        server_options = SERVER_OPTIONS if worker is None else WORKER_SERVER_OPTIONS
        app_limits, peer_limits = self._limits()
        # Which worker served a call shows in its trace (and leads to that worker's log lines).
        span_attributes = {"yrd.worker": worker.index} if worker is not None else None
        client = aio.server(
            interceptors=[
                Edge(
                    self.id,
                    port="client",
                    metrics=metrics,
                    tracer=rpc_tracer,
                    guards=[ChainGuard(watch.integrity)],
                    span_attributes=span_attributes,
                    drain=self._drain,
                )
            ],
            options=server_options,
        )
        catalog_pb2_grpc.add_CatalogServicer_to_server(
            CatalogServicer(catalog, validator, encoder), client
        )
        exchange_pb2_grpc.add_ExchangeServicer_to_server(
            ExchangeServicer(router, identities, directory, app_limits),
            client,
        )
        sharing_pb2_grpc.add_SharingServicer_to_server(SharingServicer(sharing, identities), client)
        sharing_pb2_grpc.add_AdminServicer_to_server(
            AdminServicer(sharing, identities, tuple(self.fed.nodes), self.options.clock), client
        )
        operator_reads = OperatorReads(self.id, gatherer, audit)
        evidence = AuditEvidence(operator_reads, audit, watch.book, watch.integrity)
        ops_pb2_grpc.add_OpsServicer_to_server(
            OpsServicer(operator_reads, identities, evidence), client
        )
        health_pb2_grpc.add_HealthServicer_to_server(health, client)
        reflection.enable_server_reflection(
            (
                ops_pb2.DESCRIPTOR.services_by_name["Ops"].full_name,
                catalog_pb2.DESCRIPTOR.services_by_name["Catalog"].full_name,
                exchange_pb2.DESCRIPTOR.services_by_name["Exchange"].full_name,
                sharing_pb2.DESCRIPTOR.services_by_name["Sharing"].full_name,
                sharing_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            client,
        )

        guard = PeerGuard(self.id, self.fed.nodes, self.standard, insecure=self.options.insecure)
        peer = aio.server(
            interceptors=[
                Edge(
                    self.id,
                    port="peer",
                    metrics=metrics,
                    tracer=rpc_tracer,
                    guards=[guard, ChainGuard(watch.integrity)],
                    span_attributes=span_attributes,
                    drain=self._drain,
                )
            ],
            options=server_options,
        )
        federation_pb2_grpc.add_FederationServicer_to_server(
            FederationServicer(
                self.id,
                self.address.name,
                self.standard,
                local,
                validator,
                encoder,
                guard=guard,
                admission=Admission(self.id),
                provider=provider,
                sharing=sharing,
                directory=directory,
                gatherer=gatherer,
                peer_limits=peer_limits,
                witness=watch.witness,
                feed=self._feed,
            ),
            peer,
        )
        health_pb2_grpc.add_HealthServicer_to_server(health, peer)

        if tls is None:
            client.add_insecure_port(self.listen.client)
            peer.add_insecure_port(self.listen.peer)
        else:
            client.add_secure_port(self.listen.client, tls.client_port_server_credentials())
            peer.add_secure_port(self.listen.peer, tls.peer_server_credentials())
        self._servers = [client, peer]
        for server in self._servers:
            await server.start()
        peers.start_probing()
        if tls is not None and (worker is None or worker.index == 0):
            watch.publish(tls.key_pem, peers, cfg.audit)  # one signer per node
        if worker is None or worker.index == 0:  # one follower per node; its workers read
            replication.follow(catalog_peers)
        self._flusher = asyncio.create_task(
            self._flush_quota_every(sharing_store, 1.0), name="quota-flush"
        )
        login = OpsLogin(
            self.id,
            load_session_key(cfg.data_dir / OPS_SESSION_KEY_FILE),
            _in_thread(sharing_store.authenticate_operator),
            metrics_token=cfg.metrics_token,
        )
        web = self._web = OpsWeb(self.id, names, operator_reads, metrics, login)
        host, port = split_address(self.listen.ops)
        await web.start(host, port, reuse_port=worker is not None)
        # Each catalog's first search would build its facet index and rank table (~0.3 s each
        # at 131,000 entries, and a search then waits for all four): built before serving.
        await asyncio.to_thread(_warm, [store, *replication.ready()])
        # Start-up objects (config, standard, interfaces) live as long as the node: keep the
        # cyclic collector from walking them on every collection of the request path.
        gc.collect()
        gc.freeze()
        await health.set("", health_pb2.HealthCheckResponse.SERVING)
        # Then, off the path of serving: each catalog reads its commonest terms' postings to
        # keep (~1.3 s of CPU each at 131,000 entries); searches meanwhile read them as needed.
        self._keeper = asyncio.create_task(
            asyncio.to_thread(_keep_common, [store, *replication.ready()], self._stopping),
            name="keep-common",
        )
        await health.set(
            catalog_pb2.DESCRIPTOR.services_by_name["Catalog"].full_name,
            health_pb2.HealthCheckResponse.SERVING,
        )
        log.info(
            "node %s (%s) of federation %s serving: client %s, peer %s%s%s",
            self.id,
            self.address.name,
            self.fed.federation,
            self.listen.client,
            self.listen.peer,
            " [INSECURE]" if tls is None else "",
            f" (worker {worker.index + 1} of {worker.count})" if worker is not None else "",
        )

    def _limits(self) -> tuple[InFlightBound, InFlightBound]:
        """In-flight bounds per app and per consumer province: held across all workers."""
        limits, worker = self.config.limits, self.options.worker
        if worker is None:
            return (
                InFlight(limits.max_inflight_per_app, "app"),
                InFlight(limits.max_inflight_per_peer, "province"),
            )
        tables = self._tables = [
            SharedCounters.attach(worker.table(name), columns=worker.count)
            for name in (INFLIGHT_APP, INFLIGHT_PROVINCE)
        ]
        return (
            SharedInFlight(limits.max_inflight_per_app, "app", tables[0], worker.index),
            SharedInFlight(limits.max_inflight_per_peer, "province", tables[1], worker.index),
        )

    async def _flush_quota_every(self, store: SharingStore, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(store.flush_quota, self.options.clock())
            except Exception:  # a busy disk: the counters stay dirty and go next time
                log.exception("quota flush failed on %s", self.id)

    async def wait(self) -> None:
        await asyncio.gather(*(s.wait_for_termination() for s in self._servers))

    async def stop(self, grace: float | None = None) -> None:
        """Drain in-flight calls for ``grace`` seconds (default: node.yaml's
        ``limits.shutdown_grace_s``), answer what is left UNAVAILABLE (``server.drain``), and
        close every store."""
        if grace is None:
            grace = self.config.limits.shutdown_grace_s
        if self._web is not None:
            await self._web.stop()
        if self._flusher is not None:
            self._flusher.cancel()
        self._stopping.set()
        if self._keeper is not None:
            await self._keeper  # stops at the next term it would read
        if self.replication is not None:
            await self.replication.stop()
        if self._feed is not None:
            self._feed.close()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        await self._drain.stop(self._servers, grace)
        if self._watch is not None:
            await self._watch.close()
        if self._peers is not None:
            await self._peers.close()
        if self._backends is not None:
            await self._backends.close()
        if self.telemetry is not None:
            await asyncio.to_thread(self.telemetry.shutdown)  # flushes queued spans
        if self._spans is not None:
            self._spans.close()
        if self._audit is not None:
            await self._audit.aclose()
        if self._sharing_store is not None:
            self._sharing_store.close()
        if self._store is not None:
            self._store.close()
        if self.replication is not None:
            self.replication.close()
        for table in self._tables:
            table.close()
        if self._pg is not None:
            await asyncio.to_thread(self._pg.close)
        log.info("node %s stopped", self.id)


def _warm(stores: Sequence[AnyCatalogStore]) -> None:
    """Warm each catalog store (``CatalogStore.warm``); one that fails is searched cold."""
    for store in stores:
        try:
            store.warm()
        except Exception:  # noqa: BLE001 - a search builds it then, and reports what fails
            log.exception("cannot warm a catalog store")


def _keep_common(stores: Sequence[AnyCatalogStore], stopping: threading.Event) -> None:
    """Keep each catalog store's commonest terms (``CatalogStore.keep_common``) until the node
    stops; one that fails reads them as searches ask, as before."""
    for store in stores:
        if stopping.is_set():
            break
        try:
            store.keep_common(stop=stopping.is_set)
        except Exception:  # noqa: BLE001 - searches read the terms then
            log.exception("cannot keep a catalog store's common terms")
    # The reading's page caches and arrays are freed, and glibc would keep the heap they took
    # (~40 MB at 131,000 entries): handed back.
    release_free_memory()


def _in_thread(check: Callable[[str], bool]) -> Callable[[str], Awaitable[bool]]:
    """A blocking check (a SQLite read) as a coroutine that runs it off the event loop."""

    async def run(value: str) -> bool:
        return await asyncio.to_thread(check, value)

    return run
