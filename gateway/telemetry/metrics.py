"""One node's metrics (Prometheus text format): RPCs served, interface calls, peer calls, errors,
search latency per province, audit appends, each peer's breaker and the node's processes.

Each node owns a ``CollectorRegistry`` (several nodes share a process in tests, so never the
global one). The server interceptor (``gateway.server.interceptors.Edge``) feeds the served-RPC
and interface series; the peer stubs (``gateway.telemetry.outbound``) feed the peer-call series.
Recording never breaks a call: a failure is logged and swallowed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.ids import INTERFACE_ID_RE

__all__ = [
    "LATENCY_BUCKETS",
    "Metrics",
]

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds: a local SQLite lookup (sub-millisecond) up to a call at the edge of its deadline."""
SIDES = ("local", "consumer", "provider")
OTHER = "other"
"""Label value once a caller-influenced label (interface id, refusal reason) hits its cap."""


class _BoundedValues:
    """Caps how many distinct values a label takes: interface ids come from callers, and an
    unbounded label would let any client grow the node's memory and every scrape."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(value)
            return value


class Metrics:
    """The counters and histograms of one node, in its own registry."""

    def __init__(
        self,
        node: str,
        name: str = "",
        *,
        max_interfaces: int = 1000,
        max_reasons: int = 200,
        multiprocess_dir: Path | None = None,
    ) -> None:
        """``multiprocess_dir``: this process is one worker of a node, and the node's series
        are the sum over the files its workers keep there (Prometheus multiprocess mode, which
        the primary turned on for the worker through ``PROMETHEUS_MULTIPROC_DIR``)."""
        self.node = node
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        info = Info("yrd_node", "The gateway node (province) these metrics describe.", registry=r)
        info.info({"node": node, "name": name or node})
        # What a scrape sees: this registry, or every worker's series added up.
        self._scraped = r
        if multiprocess_dir is not None:
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR") != str(multiprocess_dir):
                raise ValueError(
                    "multiprocess_dir: PROMETHEUS_MULTIPROC_DIR must name it before "
                    "prometheus_client is imported"
                )
            self._scraped = CollectorRegistry()
            MultiProcessCollector(self._scraped, path=str(multiprocess_dir))
            self._scraped.register(info)  # the one series each worker has alike
        self._rpc_total = Counter(
            "yrd_rpc_server_handled",
            "RPCs served by this node, by port, method and final status.",
            ("port", "method", "code"),
            registry=r,
        )
        self._rpc_seconds = Histogram(
            "yrd_rpc_server_handling_seconds",
            "Time to serve an RPC, until its status is sent.",
            ("port", "method"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._errors = Counter(
            "yrd_rpc_server_errors",
            "RPCs this node answered with a non-OK status, by status "
            "and stable reason (google.rpc.ErrorInfo).",
            ("code", "reason"),
            registry=r,
        )
        self._iface_total = Counter(
            "yrd_interface_calls",
            "Interface calls by interface, side (local: app and "
            "interface in this province; consumer: this node forwarded its app's call; "
            "provider: this node served another province's call) and status.",
            ("interface", "side", "status"),
            registry=r,
        )
        self._iface_seconds = Histogram(
            "yrd_interface_call_seconds",
            "Interface call latency as seen by this node.",
            ("interface", "side"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._peer_total = Counter(
            "yrd_peer_calls",
            "Calls this node made to a peer node, by method and status.",
            ("peer", "method", "code"),
            registry=r,
        )
        self._peer_seconds = Histogram(
            "yrd_peer_call_seconds",
            "Latency of calls to a peer node, until their status.",
            ("peer", "method"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._search_seconds = Histogram(
            "yrd_search_province_seconds",
            "How long each asked province took to answer a federated search (this node's own "
            "included), by its answer: answered, failed, timed_out or skipped.",
            ("province", "state"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._audit_seconds = Histogram(
            "yrd_audit_append_seconds",
            "Time from handing an entry to the audit writer to its durable commit.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Read at scrape time from the answering process (gauges of live state).
        self._live = _LiveState(node)
        self._scraped.register(self._live)
        self._scraped.register(
            _WorkerProcesses(multiprocess_dir)
            if multiprocess_dir is not None
            else ProcessCollector(registry=None)
        )
        self._interface_label = _BoundedValues(max_interfaces)
        self._reason_label = _BoundedValues(max_reasons)
        # (family, label values) -> child: ``labels()`` validates and locks on every call, and
        # this runs several times per RPC. Bounded because every label value is.
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        # What one served RPC or interface call records, resolved once per key (issue 18): the
        # counter and histogram children, with the label checks (the interface id's pattern,
        # the bound on its values) behind them. Keys are registered methods and interface ids
        # that passed the bound, so these are bounded too.
        self._rpcs: dict[tuple[str, str, grpc.StatusCode], tuple[Any, Any]] = {}
        self._interfaces: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def _child(self, family: Any, *values: str) -> Any:
        key = (family, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*values)
        return child

    def observe_rpc(
        self,
        method: str,
        code: grpc.StatusCode,
        seconds: float,
        *,
        port: str = "client",
        reason: str = "",
    ) -> None:
        """One served RPC; a non-OK one also counts as an error (with its reason, if any)."""
        key = (port, method, code)
        children = self._rpcs.get(key)
        if children is None:
            children = self._rpcs[key] = (
                self._child(self._rpc_total, port, method, code.name),
                self._child(self._rpc_seconds, port, method),
            )
        children[0].inc()
        children[1].observe(seconds)
        if code != grpc.StatusCode.OK:
            self._child(self._errors, code.name, self._reason_label(reason or code.name)).inc()

    def observe_interface(self, interface: str, side: str, status: str, seconds: float) -> None:
        """One interface call; ``status`` is a gRPC status name (``OK``, ``NOT_FOUND``)."""
        key = (interface, side, status)
        children = self._interfaces.get(key)
        if children is None:
            if side not in SIDES:
                raise ValueError(f"side must be one of {SIDES}, not {side!r}")
            valid = INTERFACE_ID_RE.match(interface)
            label = self._interface_label(interface) if valid else "invalid"
            children = (
                self._child(self._iface_total, label, side, status),
                self._child(self._iface_seconds, label, side),
            )
            if label == interface:  # not "invalid" or "other": caller text is never a key
                self._interfaces[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_peer(self, peer: str, method: str, code: grpc.StatusCode, seconds: float) -> None:
        """One call to a peer node, as this node's client saw it."""
        self._child(self._peer_total, peer, method, code.name).inc()
        self._child(self._peer_seconds, peer, method).observe(seconds)

    def observe_search(self, province: str, state: str, seconds: float) -> None:
        """One province's part of a federated search, as this node saw it."""
        self._child(self._search_seconds, province, state).observe(seconds)

    def observe_audit_append(self, seconds: float) -> None:
        self._audit_seconds.observe(seconds)

    def watch(
        self,
        *,
        breakers: Callable[[], Mapping[str, str]],
        audit_queue: Callable[[], int],
        search_caches: Callable[[], Mapping[str, int | None]] = dict,
    ) -> None:
        """Where scrapes read live state: each peer's breaker state (``closed``, ``half_open``,
        ``open``), the audit writer's queue, and the bytes each catalog's search caches hold
        (by province; None: a catalog whose caches are bounded by count alone)."""
        self._live.breakers = breakers
        self._live.audit_queue = audit_queue
        self._live.search_caches = search_caches

    def render(self) -> bytes:
        """The whole registry in the Prometheus text format."""
        return generate_latest(self._scraped)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """Body and content type for a scrape: the Prometheus text format (0.0.4) unless the
        scraper's ``Accept`` header asks for OpenMetrics."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self._scraped), content_type


BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
"""``yrd_peer_breaker_state``'s values: 0 closed (calls flow), 1 half open (one probe let
through), 2 open (calls to the peer are skipped)."""


class _LiveState:
    """Gauges read when scraped: breakers, the audit queue and the search caches of the
    answering process."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.breakers: Callable[[], Mapping[str, str]] = dict
        self.audit_queue: Callable[[], int] = lambda: 0
        self.search_caches: Callable[[], Mapping[str, int | None]] = dict

    def collect(self) -> Iterator[Any]:
        breaker = GaugeMetricFamily(
            "yrd_peer_breaker_state",
            "Each peer's circuit breaker as this node sees it: 0 closed, 1 half open, 2 open.",
            labels=("peer",),
        )
        for peer, state in sorted(self.breakers().items()):
            breaker.add_metric((peer,), BREAKER_STATES.get(state, 2))
        yield breaker
        yield GaugeMetricFamily(
            "yrd_audit_queue_depth",
            "Audit entries waiting for the writer's next commit (in the answering process).",
            value=self.audit_queue(),
        )
        caches = GaugeMetricFamily(
            "yrd_search_cache_bytes",
            "Bytes each catalog's search caches of arrays hold (recent terms' postings and "
            "scores, filter masks), by the province whose catalog it is; bounded by the store's "
            "search_cache_mib (in the answering process).",
            labels=("catalog",),
        )
        for province, held in sorted(self.search_caches().items()):
            if held is not None:
                caches.add_metric((province,), held)
        yield caches


class _WorkerProcesses:
    """``process_*`` for every worker of a multi-process node (``ProcessCollector`` reads only
    the process it runs in): the workers are the processes whose files are in the metrics
    directory, read from ``/proc`` and labelled by pid; dashboards sum them."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._tick = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def collect(self) -> Iterator[Any]:
        cpu = CounterMetricFamily(
            "process_cpu_seconds", "Total user and system CPU time in seconds.", labels=("pid",)
        )
        rss = GaugeMetricFamily(
            "process_resident_memory_bytes", "Resident memory size in bytes.", labels=("pid",)
        )
        fds = GaugeMetricFamily(
            "process_open_fds", "Number of open file descriptors.", labels=("pid",)
        )
        for pid in sorted(self._pids()):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                open_fds = len(os.listdir(f"/proc/{pid}/fd"))
            except (OSError, ValueError):
                continue  # gone since its files were written
            label = (str(pid),)
            cpu.add_metric(label, (int(fields[11]) + int(fields[12])) / self._tick)
            rss.add_metric(label, int(fields[21]) * self._page)
            fds.add_metric(label, open_fds)
        yield from (cpu, rss, fds)

    def _pids(self) -> set[int]:
        pids: set[int] = set()
        try:
            names = os.listdir(self._dir)
        except OSError:
            return pids
        for name in names:
            stem = name.removesuffix(".db").rsplit("_", 1)[-1]
            if stem.isdigit():
                pids.add(int(stem))
        return pids
