"""``yrdgw up --store postgresql --replicas N``: a throwaway PostgreSQL cluster under the
federation's ``var/``, one database per province, and a derived federation in which every
province lists N replicas (replica *i* listens on its base ports + *i*) and keeps its stores in
its database. The processes are ``ReplicaProcesses``: one per (province, replica).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import yaml

from gateway.config import FederationConfig, load_federation, split_address
from gateway.pgcluster import PgCluster
from gateway.ports import free_ports
from gateway.supervisor import NodeProcesses

__all__ = ["MAX_REPLICAS", "ReplicaProcesses", "postgres_federation", "start_cluster"]

MAX_REPLICAS = 9
"""Replica *i* takes each base port + *i*: the shipped ports leave nine free above each."""


def start_cluster(fed: FederationConfig) -> PgCluster:
    """The cluster under ``<data_dir>/postgresql`` (created on first use), started, with a
    database ``yrd_<node>`` per province."""
    directory = fed.data_dir / "postgresql"
    port_file = directory.parent / "postgresql.port"
    port = int(port_file.read_text()) if port_file.exists() else free_ports(1)[0]
    cluster = PgCluster(directory, port)
    cluster.start()
    port_file.write_text(str(port))
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        have = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for node in fed.nodes:
            if f"yrd_{node}" not in have:
                conn.execute(f"CREATE DATABASE yrd_{node}")
    return cluster


def postgres_federation(fed: FederationConfig, cluster: PgCluster, replicas: int) -> Path:
    """Write the derived federation (and its node configs) under ``<data_dir>/pg-federation``."""
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"--replicas: 1 to {MAX_REPLICAS}")
    root = fed.data_dir / "pg-federation"
    nodes_dir = root / "nodes"
    nodes = {}
    for node in fed.nodes.values():
        target = nodes_dir / node.id
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(fed.nodes_dir / node.id, target)
        config = target / "node.yaml"
        doc = yaml.safe_load(config.read_text(encoding="utf-8"))
        doc["storage"] = cluster.dsn(dbname=f"yrd_{node.id}")
        doc.pop("workers", None)
        config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        base = node.replica(0)
        nodes[node.id] = {
            "name": node.name,
            "region_code": node.region_code,
            **{
                kind: [_shifted(getattr(base, kind), i) for i in range(replicas)]
                for kind in ("client", "peer", "ops")
            },
        }
    doc = {
        "federation": fed.federation,
        "standard": str(fed.standard_path),
        "certs_dir": str(fed.certs_dir),
        "data_dir": str(fed.data_dir),
        "nodes_dir": str(nodes_dir),
        "nodes": nodes,
    }
    path = root / "federation.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    load_federation(path)  # what it wrote must load
    return path


def _shifted(address: str, by: int) -> str:
    host, port = split_address(address)
    return f"{host}:{port + by}"


class ReplicaProcesses(NodeProcesses):
    """One process per replica, keyed ``<node>`` for replica 0 and ``<node>.<i>`` for the
    others; readiness is asked of each replica at its own client port."""

    def __init__(self, fed: FederationConfig, replicas: int, **kw) -> None:
        super().__init__(fed, **kw)
        self.replicas = replicas

    def keys(self, index: int | None = None) -> list[str]:
        indexes = range(self.replicas) if index is None else [index]
        return [f"{n}.{i}" if i else n for i in indexes for n in self.fed.nodes]

    @staticmethod
    def split(key: str) -> tuple[str, int]:
        node, _, index = key.partition(".")
        return node, int(index or 0)

    def log_path(self, node_id: str) -> Path:
        node, index = self.split(node_id)
        name = f"node-{index}.log" if index else "node.log"
        return self.fed.data_dir / node / name

    def command(self, node_id: str) -> list[str]:
        node, index = self.split(node_id)
        cmd = super().command(node)
        return [*cmd, "--replica", str(index)]

    def start_all(self, node_ids=None) -> None:
        for key in node_ids or self.keys():
            self.start(key)

    def is_serving(self, node_id: str, timeout: float = 0.5) -> bool:
        node, index = self.split(node_id)
        return self._serving(node, timeout, self.fed.node(node).replica(index).client)
