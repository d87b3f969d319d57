"""``config/federation.yaml``: the nodes, where each listens, and where the federation's files
are. Every path in it is relative to the file, so a federation is found through its
configuration, never through where the package is installed."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from gateway.config.reader import ConfigNode, load_yaml
from gateway.errors import ConfigError

__all__ = [
    "ADDRESS_RE",
    "DEFAULT_FEDERATION",
    "NODE_ID_RE",
    "FederationConfig",
    "NodeAddress",
    "Replica",
    "load_federation",
    "split_address",
]

NODE_ID_RE = re.compile(r"^[a-z]{2}$")
ADDRESS_RE = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
_REGION_RE = re.compile(r"^\d{6}$")
#: Where ``yrdgw`` looks when given neither ``--federation`` nor ``$YRD_FEDERATION``.
DEFAULT_FEDERATION = Path("config") / "federation.yaml"


@dataclass(frozen=True, slots=True)
class Replica:
    """Where one replica of a province's node listens (each a host:port)."""

    client: str
    peer: str
    ops: str


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """Where one province's node listens; every node knows every other by this entry.

    A province may run several replicas (``client``, ``peer`` and ``ops`` given as lists of
    equal length, IP addresses): ``client`` and ``peer`` are then one gRPC target naming them
    all (``ipv4:127.0.0.1:50331,127.0.0.1:50332``), which callers balance over with gRPC's own
    ``round_robin`` (``gateway.tls.channel_options_for``), and ``replicas`` says where each
    replica listens.
    """

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
    """host:port of the operator HTTP port (web page, metrics); the first replica's."""
    replicas: tuple[Replica, ...] = ()
    """Where each replica listens (one entry for a single node)."""

    def replica(self, index: int = 0) -> Replica:
        """Where replica ``index`` listens."""
        replicas = self.replicas or (Replica(self.client, self.peer, self.ops),)
        if not 0 <= index < len(replicas):
            raise ValueError(f"{self.id} has {len(replicas)} replica(s), not {index + 1}")
        return replicas[index]


@dataclass(frozen=True, slots=True)
class FederationConfig:
    """The whole federation as one node (or the CLI) sees it."""

    path: Path
    """The federation file itself; every path below was relative to its folder."""
    federation: str
    """The federation's name, shown in each node's start line and by ``yrdgw up``."""
    standard_path: Path
    """The shared classification & grading standard (``standard``)."""
    certs_dir: Path
    """The CA and one certificate and key per node (``certs_dir``)."""
    data_dir: Path
    """Per-node SQLite files live in ``<data_dir>/<node>/`` (``data_dir``)."""
    nodes_dir: Path
    """Per-node settings: ``<nodes_dir>/<node>/node.yaml`` (``nodes_dir``)."""
    nodes: dict[str, NodeAddress]
    """Every node of the federation by id, in file order."""

    def node(self, node_id: str) -> NodeAddress:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise ConfigError(
                self.path, f"nodes.{node_id}", f"one of {sorted(self.nodes)}"
            ) from None

    def peers_of(self, node_id: str) -> list[NodeAddress]:
        return [n for n in self.nodes.values() if n.id != node_id]


def load_federation(path: str | os.PathLike[str] | None = None) -> FederationConfig:
    """Read ``path``, else ``$YRD_FEDERATION``, else ``config/federation.yaml`` here."""
    given = path or os.environ.get("YRD_FEDERATION")
    path = Path(given or DEFAULT_FEDERATION).resolve()
    if not given and not path.exists():
        raise ConfigError(
            path, "<file>", "an existing file (not found: pass --federation or set $YRD_FEDERATION)"
        )
    root = load_yaml(path)
    root.only("federation", "standard", "certs_dir", "data_dir", "nodes_dir", "nodes")
    nodes: dict[str, NodeAddress] = {}
    for node_id, n in root["nodes"].entries():
        if not NODE_ID_RE.match(node_id):
            raise n.fail("a two-letter lowercase node id")
        n.only("name", "region_code", "client", "peer", "ops")
        lists = {key: _addresses(n[key]) for key in ("client", "peer", "ops")}
        if len({len(found) for found in lists.values()}) != 1:
            raise n["ops"].fail("as many addresses as client and peer (one per replica)")
        replicas = tuple(
            Replica(c, p, o)
            for c, p, o in zip(lists["client"], lists["peer"], lists["ops"], strict=True)
        )
        nodes[node_id] = NodeAddress(
            id=node_id,
            name=n["name"].text(),
            region_code=n["region_code"].text(_REGION_RE, 'a quoted six-digit code "320000"'),
            client=_target(n["client"], lists["client"]),
            peer=_target(n["peer"], lists["peer"]),
            ops=replicas[0].ops,
            replicas=replicas,
        )
    if not nodes:
        raise root["nodes"].fail("at least one node")
    return FederationConfig(
        path=path,
        federation=root["federation"].text(),
        standard_path=_path(root, "standard"),
        certs_dir=_path(root, "certs_dir"),
        data_dir=_path(root, "data_dir"),
        nodes_dir=root.path_or("nodes_dir", "../nodes"),
        nodes=nodes,
    )


def _path(root: ConfigNode, key: str) -> Path:
    return root.path_or(key, root[key].text())


def _address(node: ConfigNode) -> str:
    value = node.text(ADDRESS_RE, "a host:port address")
    if not 0 <= int(ADDRESS_RE.match(value)["port"]) <= 65535:  # type: ignore[index]
        raise node.fail("a port in [0, 65535]")
    return value


def _addresses(node: ConfigNode) -> list[str]:
    """One host:port, or a non-empty list of them (one per replica)."""
    if isinstance(node.value, list):
        found = [_address(item) for item in node.items()]
        if len(set(found)) != len(found):
            raise node.fail("distinct addresses, one per replica")
        return found
    return [_address(node)]


def _target(node: ConfigNode, addresses: list[str]) -> str:
    """The gRPC target naming every replica: the address itself for one, else an ``ipv4:`` or
    ``ipv6:`` list (a DNS name that resolves to every replica is given as one address)."""
    if len(addresses) == 1:
        return addresses[0]
    hosts = [split_address(a)[0] for a in addresses]
    if all(_IPV4_RE.match(h) for h in hosts):
        return "ipv4:" + ",".join(addresses)
    if all(":" in h for h in hosts):
        return "ipv6:" + ",".join(addresses)
    raise node.fail(
        "IP addresses of one family when listing several replicas "
        "(or one DNS name that resolves to every replica)"
    )


_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def split_address(address: str) -> tuple[str, int]:
    m = ADDRESS_RE.match(address)
    if not m:
        raise ValueError(f"not a host:port address: {address!r}")
    return m["host"].strip("[]"), int(m["port"])
