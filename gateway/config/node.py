"""``nodes/<id>/node.yaml``: one node's settings, with every default stated once, on the
dataclass field it belongs to. Paths in it are relative to the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.catalog.settings import SearchSettings
from gateway.config.federation import FederationConfig
from gateway.config.reader import ConfigNode, load_yaml
from gateway.config.storage import Storage, read_storage
from gateway.exchange.dataset import DEFAULT_PEOPLE

__all__ = [
    "EXIT_MARGIN_S",
    "AuditSettings",
    "MAX_WORKERS",
    "Limits",
    "NodeConfig",
    "SearchSettings",
    "SeedSettings",
    "Storage",
    "load_node",
]

#: More worker processes than this per node is refused (``workers``, ``--workers``).
MAX_WORKERS = 64
#: A SIGTERMed node gets its drain grace plus this to flush, close its stores and exit before
#: whoever stopped it (its primary, the supervisor) kills it.
EXIT_MARGIN_S = 10.0


@dataclass(frozen=True, slots=True)
class SeedSettings:
    entries: int = 2000
    """Catalog entries seeded on a node's first start."""
    seed: int = 0
    """Random seed: the same seed gives the same catalog and dataset."""
    people: int = DEFAULT_PEOPLE
    """People in the node-local dataset behind the sqlite backends."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_inflight_per_peer: int = 64
    """Calls one consumer province may have in flight at this node."""
    max_inflight_per_app: int = 32
    """Calls one app may have in flight at its home node."""
    call_timeout_ms: int = 10_000
    """Deadline given to a forwarded call whose caller set none."""
    peer_connections: int = 0
    """Connections to each peer, used in turn, so calls spread over a peer's workers; 0 means
    as many as this node has workers (provinces tend to be sized alike)."""
    shutdown_grace_s: float = 5.0
    """Seconds a node drains in-flight calls after SIGTERM before it cancels them
    (``yrdgw node --grace`` overrides)."""


@dataclass(frozen=True, slots=True)
class AuditSettings:
    head_interval_s: float = 30.0
    """Sign the audit chain head and send it to every peer (its witnesses) this often ..."""
    head_every: int = 1000
    """... or once this many entries have been written since the last head, if sooner."""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    node: str
    """The node's id, also its folder's name."""
    dir: Path
    """The node's folder under nodes/."""
    data_dir: Path
    """Where the node's SQLite files live."""
    crosswalk_path: Path
    """Its local vocabulary mapped onto the standard (``crosswalk``)."""
    departments_path: Path
    """Its departments and cities (``departments``)."""
    interfaces_path: Path
    """The data interfaces it serves (``interfaces``)."""
    seed: SeedSettings = field(default_factory=SeedSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    limits: Limits = field(default_factory=Limits)
    audit: AuditSettings = field(default_factory=AuditSettings)
    otlp_endpoint: str = ""
    """Also export spans to this OpenTelemetry collector; empty: only the local span store."""
    workers: int = 1
    """Worker processes serving the node (``gateway.workers``); 1 is one plain process."""
    storage: Storage = field(default_factory=Storage)
    """Where its stores live (``gateway.config.storage``): SQLite files, or PostgreSQL."""
    metrics_token: str = field(default="", repr=False)
    """When set, ``/metrics`` on the ops port wants ``Authorization: Bearer <it>`` (what a
    Prometheus scrape config's ``authorization`` sends); read from ``metrics_token_file``."""

    @property
    def catalog_db(self) -> Path:
        return self.data_dir / "catalog.db"


_SEED, _SEARCH, _LIMITS, _AUDIT = SeedSettings(), SearchSettings(), Limits(), AuditSettings()


def load_node(fed: FederationConfig, node_id: str) -> NodeConfig:
    """Read ``<nodes_dir>/<node>/node.yaml`` for a node the federation knows."""
    fed.node(node_id)
    path = fed.nodes_dir / node_id / "node.yaml"
    root = load_yaml(path)
    root.only(
        "node",
        "crosswalk",
        "departments",
        "interfaces",
        "seed",
        "search",
        "limits",
        "audit",
        "otlp_endpoint",
        "workers",
        "storage",
        "metrics_token_file",
    )
    if root["node"].text() != node_id:
        raise root["node"].fail(f"'{node_id}' (the folder's node)")
    otlp = root.get("otlp_endpoint")
    workers = root.int_or("workers", 1, lo=1, hi=MAX_WORKERS)
    storage = read_storage(root.get("storage"))
    if storage.postgresql and workers > 1:
        # Replicas on PostgreSQL replace workers on one box's files (see the README).
        raise root["workers"].fail("1 with storage postgresql (run replicas instead)")
    return NodeConfig(
        node=node_id,
        dir=path.parent,
        data_dir=fed.data_dir / node_id,
        crosswalk_path=root.path_or("crosswalk", "crosswalk.yaml"),
        departments_path=root.path_or("departments", "departments.yaml"),
        interfaces_path=root.path_or("interfaces", "interfaces.yaml"),
        seed=_seed(root.section("seed")),
        search=_search(root.section("search")),
        limits=_limits(root.section("limits")),
        audit=_audit(root.section("audit")),
        otlp_endpoint=otlp.text() if otlp is not None and otlp.value else "",
        workers=workers,
        storage=storage,
        metrics_token=_metrics_token(root),
    )


def _metrics_token(root: ConfigNode) -> str:
    """The bearer token ``/metrics`` wants, from the file ``metrics_token_file`` names (relative
    to node.yaml); empty when the key is absent."""
    given = root.get("metrics_token_file")
    if given is None or not given.value:
        return ""
    path = root.path_or("metrics_token_file", "")
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise given.fail(f"a readable file holding the metrics token ({exc.strerror})") from None
    if not 16 <= len(token) <= 256 or any(c.isspace() for c in token):
        raise given.fail("a file holding one token of 16 to 256 non-space characters")
    return token


def _seed(node: ConfigNode) -> SeedSettings:
    node.only("entries", "seed", "people")
    return SeedSettings(
        entries=node.int_or("entries", _SEED.entries, lo=0, hi=10_000_000),
        seed=node.int_or("seed", _SEED.seed, lo=0, hi=2**31),
        people=node.int_or("people", _SEED.people, lo=10, hi=10_000_000),
    )


def _search(node: ConfigNode) -> SearchSettings:
    node.only(
        "default_page_size",
        "max_page_size",
        "max_query_chars",
        "peer_timeout_ms",
        "max_offset",
        "cache_mib",
    )
    settings = SearchSettings(
        default_page_size=node.int_or(
            "default_page_size", _SEARCH.default_page_size, lo=1, hi=1000
        ),
        max_page_size=node.int_or("max_page_size", _SEARCH.max_page_size, lo=1, hi=1000),
        max_query_chars=node.int_or("max_query_chars", _SEARCH.max_query_chars, lo=1, hi=4096),
        peer_timeout_ms=node.int_or("peer_timeout_ms", _SEARCH.peer_timeout_ms, lo=10, hi=600_000),
        max_offset=node.int_or("max_offset", _SEARCH.max_offset, lo=0, hi=1_000_000),
        cache_mib=node.int_or("cache_mib", _SEARCH.cache_mib, lo=0, hi=65_536),
    )
    if settings.default_page_size > settings.max_page_size:
        raise node["default_page_size"].fail("at most search.max_page_size")
    return settings


def _limits(node: ConfigNode) -> Limits:
    node.only(
        "max_inflight_per_peer",
        "max_inflight_per_app",
        "call_timeout_ms",
        "peer_connections",
        "shutdown_grace_s",
    )
    return Limits(
        max_inflight_per_peer=node.int_or(
            "max_inflight_per_peer", _LIMITS.max_inflight_per_peer, lo=1, hi=100_000
        ),
        max_inflight_per_app=node.int_or(
            "max_inflight_per_app", _LIMITS.max_inflight_per_app, lo=1, hi=100_000
        ),
        call_timeout_ms=node.int_or("call_timeout_ms", _LIMITS.call_timeout_ms, lo=10, hi=600_000),
        peer_connections=node.int_or(
            "peer_connections", _LIMITS.peer_connections, lo=0, hi=MAX_WORKERS
        ),
        shutdown_grace_s=node.seconds_or(
            "shutdown_grace_s", _LIMITS.shutdown_grace_s, lo=0.0, hi=3600.0
        ),
    )


def _audit(node: ConfigNode) -> AuditSettings:
    node.only("head_interval_s", "head_every")
    return AuditSettings(
        head_interval_s=node.seconds_or(
            "head_interval_s", _AUDIT.head_interval_s, lo=0.1, hi=86_400.0
        ),
        head_every=node.int_or("head_every", _AUDIT.head_every, lo=1, hi=10_000_000),
    )
