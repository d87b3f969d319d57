"""Temporary federations on loopback: the one place that writes their federation files.

The tests, the fault harness (and the soak on it) and the benchmark each start federations of real
nodes on fresh loopback ports. What the provinces are (ids, names, region codes) and where the
shared standard and the node configs live come from a *template*: a federation file, by default
the repository's ``config/federation.yaml`` (``load_federation``: the path given, else
``$YRD_FEDERATION``, else ``config/federation.yaml`` under the current directory). Only the
ports, certificates and data directories are new; nothing is found through where a package is
installed. Every address is on loopback, and ``require_loopback`` turns a mistyped host into an
error instead of traffic to another machine.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from gateway.config import FederationConfig, load_federation
from gateway.pgdeploy import MAX_REPLICAS
from gateway.ports import LOOPBACK, free_ports

__all__ = [
    "HOST",
    "TEMPLATE_HELP",
    "KINDS",
    "Addresses",
    "free_ports",
    "loopback_addresses",
    "require_loopback",
    "template",
    "write_federation",
]

HOST = LOOPBACK
KINDS = ("client", "peer", "ops")
"""A node's three ports, in the order their free ports are handed out."""

Addresses = dict[str, dict[str, str]]
"""node id -> {"client" | "peer" | "ops": "host:port"}."""
TEMPLATE_HELP = (
    "the federation file whose provinces, standard and node configs the temporary federation "
    "copies (default: $YRD_FEDERATION or config/federation.yaml under the current directory)"
)
"""``--help`` text of the tools' ``--federation`` option."""


def template(path: str | os.PathLike[str] | None = None) -> FederationConfig:
    """The federation a temporary one copies its provinces, standard and node configs from."""
    return load_federation(path)


def loopback_addresses(node_ids: Iterable[str]) -> Addresses:
    """Fresh loopback client, peer and ops addresses for each node, each with the ports above
    it free for the replicas ``yrdgw up --replicas`` derives (replica *i* at the port + *i*)."""
    node_ids = list(node_ids)
    ports = iter(free_ports(3 * len(node_ids), block=MAX_REPLICAS))
    return {node: {kind: f"{HOST}:{next(ports)}" for kind in KINDS} for node in node_ids}


def write_federation(
    path: Path,
    source: FederationConfig,
    *,
    name: str,
    addresses: Addresses,
    certs_dir: Path,
    data_dir: Path,
    nodes_dir: Path | None = None,
    standard: Path | None = None,
    peers: Mapping[str, str] | None = None,
) -> Path:
    """Write a federation file at ``path`` for the nodes of ``addresses`` (keys sorted) and
    return ``path``.

    Names and region codes come from ``source``, and so do the standard and the node configs
    unless ``standard`` / ``nodes_dir`` are given. ``peers`` overrides the peer address at which
    this file's reader reaches the named nodes (a proxy, or a deliberate misconfiguration).
    """
    nodes = {}
    for node, ports in addresses.items():
        province = source.node(node)
        nodes[node] = {"name": province.name, "region_code": province.region_code, **ports}
        if peers and node in peers:
            nodes[node]["peer"] = peers[node]
    doc = {
        "federation": name,
        "standard": str(standard or source.standard_path),
        "certs_dir": str(certs_dir),
        "data_dir": str(data_dir),
        "nodes_dir": str(nodes_dir or source.nodes_dir),
        "nodes": nodes,
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def require_loopback(host: str) -> str:
    """``host`` if it is a loopback address (or ``localhost``); SystemExit otherwise."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return host
    except ValueError:
        pass
    raise SystemExit(f"error: the benchmark only talks to loopback addresses, not {host!r}")
