"""Configuration: YAML read once, validated, and turned into frozen dataclasses.

A bad file fails at start-up with the file, the key and what was expected (``ConfigError``).
The four provinces differ by these files only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError

NODE_ID_RE = re.compile(r"^[a-z]{2}$")
ADDRESS_RE = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
DEFAULT_FEDERATION = Path("config") / "federation.yaml"


class _Doc:
    """A YAML mapping plus where it came from, so every error names file and key."""

    def __init__(self, path: Path, data: Any, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ConfigError(path, prefix or "<root>", "a mapping")
        self.path, self.data, self.prefix = path, data, prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def _get(self, key: str, default: Any, required: bool) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise ConfigError(self.path, self._key(key), "a value (missing)")
            return default
        return self.data[key]

    def str(
        self, key: str, default: str | None = None, *, pattern: re.Pattern | None = None
    ) -> str:
        value = self._get(key, default, default is None)
        if not isinstance(value, str) or not value:
            raise ConfigError(self.path, self._key(key), "a non-empty string")
        if pattern is not None and not pattern.match(value):
            raise ConfigError(self.path, self._key(key), f"a string matching {pattern.pattern}")
        return value

    def int(self, key: str, default: int | None = None, *, lo: int = 0, hi: int = 2**31) -> int:
        value = self._get(key, default, default is None)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ConfigError(self.path, self._key(key), f"an integer in [{lo}, {hi}]")
        return value

    def sub(self, key: str, *, required: bool = True) -> _Doc:
        value = self._get(key, {}, required)
        return _Doc(self.path, value, self._key(key))

    def path_of(self, key: str, default: str | None = None) -> Path:
        return (self.path.parent / self.str(key, default)).resolve()


def read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(path, "<file>", "an existing file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "<file>"
        raise ConfigError(path, where, "valid YAML") from None


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """Where one province's node listens; every node knows every other by this entry."""

    id: str
    """Short node id, also the province id: ``js``, ``sh``, ``zj``, ``ah``."""
    name: str
    """Chinese province name, e.g. ``江苏``."""
    region_code: str
    """GB/T 2260 region code, e.g. ``320000``."""
    client: str
    """host:port of the client port (apps, operators, CLI)."""
    peer: str
    """host:port of the peer port (other nodes, mutual TLS)."""
    ops: str
    """host:port of the operator HTTP port (web page, metrics)."""


@dataclass(frozen=True, slots=True)
class FederationConfig:
    path: Path
    federation: str
    standard_path: Path
    certs_dir: Path
    data_dir: Path
    nodes_dir: Path
    nodes: dict[str, NodeAddress]

    def node(self, node_id: str) -> NodeAddress:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise ConfigError(
                self.path, f"nodes.{node_id}", f"one of {sorted(self.nodes)}"
            ) from None

    def peers_of(self, node_id: str) -> list[NodeAddress]:
        return [n for n in self.nodes.values() if n.id != node_id]


@dataclass(frozen=True, slots=True)
class SeedSettings:
    entries: int = 2000
    """Catalog entries seeded on a node's first start."""
    seed: int = 0
    """Random seed: the same seed gives the same catalog and dataset."""
    people: int = 5000
    """People in the node-local dataset behind the sqlite backends."""


@dataclass(frozen=True, slots=True)
class SearchSettings:
    default_page_size: int = 20
    max_page_size: int = 100
    max_query_chars: int = 64
    peer_timeout_ms: int = 2000
    """Fan-out budget used when the caller sets no deadline."""
    max_offset: int = 1000
    """Deepest result a page token may reach; deeper paging is refused."""


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


@dataclass(frozen=True, slots=True)
class NodeConfig:
    node: str
    dir: Path
    """The node's folder under nodes/."""
    data_dir: Path
    """Where the node's SQLite files live."""
    crosswalk_path: Path
    departments_path: Path
    seed: SeedSettings
    search: SearchSettings
    limits: Limits = Limits()
    otlp_endpoint: str = ""
    workers: int = 1
    """Worker processes serving the node (``gateway.workers``); 1 is one plain process."""

    @property
    def catalog_db(self) -> Path:
        return self.data_dir / "catalog.db"


def _address(doc: _Doc, key: str) -> str:
    value = doc.str(key, pattern=ADDRESS_RE)
    if not 0 <= int(ADDRESS_RE.match(value)["port"]) <= 65535:  # type: ignore[index]
        raise ConfigError(doc.path, doc._key(key), "a port in [0, 65535]")
    return value


def load_federation(path: str | os.PathLike[str] | None = None) -> FederationConfig:
    """Read config/federation.yaml (or ``path``, or ``$YRD_FEDERATION``)."""
    path = Path(path or os.environ.get("YRD_FEDERATION") or _default_federation()).resolve()
    doc = _Doc(path, read_yaml(path))
    nodes_doc = doc.sub("nodes")
    nodes: dict[str, NodeAddress] = {}
    for node_id in nodes_doc.data:
        if not isinstance(node_id, str) or not NODE_ID_RE.match(node_id):
            raise ConfigError(path, f"nodes.{node_id}", "a two-letter lowercase node id")
        n = nodes_doc.sub(node_id)
        nodes[node_id] = NodeAddress(
            id=node_id,
            name=n.str("name"),
            region_code=n.str("region_code", pattern=re.compile(r"^\d{6}$")),
            client=_address(n, "client"),
            peer=_address(n, "peer"),
            ops=_address(n, "ops"),
        )
    if not nodes:
        raise ConfigError(path, "nodes", "at least one node")
    return FederationConfig(
        path=path,
        federation=doc.str("federation"),
        standard_path=doc.path_of("standard"),
        certs_dir=doc.path_of("certs_dir"),
        data_dir=doc.path_of("data_dir"),
        nodes_dir=doc.path_of("nodes_dir", "../nodes"),
        nodes=nodes,
    )


def load_node(fed: FederationConfig, node_id: str) -> NodeConfig:
    """Read ``<nodes_dir>/<node>/node.yaml`` for a node the federation knows."""
    fed.node(node_id)
    path = fed.nodes_dir / node_id / "node.yaml"
    doc = _Doc(path, read_yaml(path))
    if doc.str("node") != node_id:
        raise ConfigError(path, "node", f"'{node_id}' (the folder's node)")
    seed = doc.sub("seed", required=False)
    search = doc.sub("search", required=False)
    defaults = SearchSettings()
    search_settings = SearchSettings(
        default_page_size=search.int(
            "default_page_size", defaults.default_page_size, lo=1, hi=1000
        ),
        max_page_size=search.int("max_page_size", defaults.max_page_size, lo=1, hi=1000),
        max_query_chars=search.int("max_query_chars", defaults.max_query_chars, lo=1, hi=4096),
        peer_timeout_ms=search.int("peer_timeout_ms", defaults.peer_timeout_ms, lo=10, hi=600_000),
        max_offset=search.int("max_offset", defaults.max_offset, lo=0, hi=1_000_000),
    )
    if search_settings.default_page_size > search_settings.max_page_size:
        raise ConfigError(path, "search.default_page_size", "at most search.max_page_size")
    lim = doc.sub("limits", required=False)
    limits = Limits(
        max_inflight_per_peer=lim.int("max_inflight_per_peer", 64, lo=1, hi=100_000),
        max_inflight_per_app=lim.int("max_inflight_per_app", 32, lo=1, hi=100_000),
        call_timeout_ms=lim.int("call_timeout_ms", 10_000, lo=10, hi=600_000),
        peer_connections=lim.int("peer_connections", 0, lo=0, hi=64),
    )
    return NodeConfig(
        node=node_id,
        dir=path.parent,
        data_dir=fed.data_dir / node_id,
        crosswalk_path=doc.path_of("crosswalk", "crosswalk.yaml"),
        departments_path=doc.path_of("departments", "departments.yaml"),
        seed=SeedSettings(
            entries=seed.int("entries", 2000, hi=10_000_000),
            seed=seed.int("seed", 0),
            people=seed.int("people", 5000, lo=10, hi=10_000_000),
        ),
        search=search_settings,
        limits=limits,
        otlp_endpoint=doc.str("otlp_endpoint", "") if doc.data.get("otlp_endpoint") else "",
        workers=doc.int("workers", 1, lo=1, hi=64),
    )


def _default_federation() -> Path:
    if DEFAULT_FEDERATION.exists():
        return DEFAULT_FEDERATION
    # Running from elsewhere: fall back to the checkout this package was installed from.
    return Path(__file__).resolve().parent.parent / DEFAULT_FEDERATION


def split_address(address: str) -> tuple[str, int]:
    m = ADDRESS_RE.match(address)
    if not m:
        raise ValueError(f"not a host:port address: {address!r}")
    return m["host"].strip("[]"), int(m["port"])
