"""The benchmark's PostgreSQL federation (issue 14): the same four provinces, each keeping its
stores in its own database of one throwaway cluster, beside the SQLite federation of the same
run, so the two backends compare on the same machine minutes apart.

The PostgreSQL cases run on one replica per province; ``pg-cross2`` restarts the federation
with two replicas of sh (js balances over them with gRPC's ``round_robin``). The server's CPU
is counted per call like a node's: the postmaster and every backend it has forked, listed
afresh at each snapshot (``procstat.ProcessTree``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from gateway.certs import CA_CERT_FILE
from gateway.config import FederationConfig, load_federation
from gateway.pgcluster import PgCluster
from gateway.pgdeploy import ReplicaProcesses
from yrdtools.bench import cases as C
from yrdtools.bench import procstat
from yrdtools.bench.federation import PURPOSE, BenchFederation, create_app, grant
from yrdtools.bench.procstat import ProcessTree
from yrdtools.bench.replication import wait_in_sync
from yrdtools.loopback import free_ports, loopback_addresses

__all__ = ["PG_CASES", "SERVER", "PgBench", "build_cases", "start_pg_federation"]

PG_CASES = C.PG_CASES

SERVER = "postgres"
"""The process group of the PostgreSQL server (postmaster and backends)."""


@dataclass
class PgBench:
    bench: BenchFederation
    """The one-replica federation: its ``procs`` are ``ReplicaProcesses``."""
    cluster: PgCluster
    two_sh: FederationConfig
    """The same federation with two replicas of sh."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def procs(self) -> ReplicaProcesses:
        procs = self.bench.procs
        assert isinstance(procs, ReplicaProcesses)
        return procs

    def groups(self) -> dict[str, Iterable[int]]:
        """``pg/<replica>`` per node process and the server's tree."""
        out: dict[str, Iterable[int]] = {
            f"pg/{key}": [proc.pid] for key, proc in self.procs.procs.items()
        }
        out[SERVER] = ProcessTree(self.cluster.postmaster_pid())
        return out

    def rss_pids(self) -> dict[str, int]:
        return {f"pg/{key}": proc.pid for key, proc in self.procs.procs.items()}

    def setup(self) -> dict[str, Any]:
        """What the result's ``setup.postgresql`` records: how long the federation took to
        serve, then to be level and idle (after its start, and after ``use_two_sh``)."""
        return {"federation_startup_s": round(self.bench.startup_seconds, 2), **self.extra}

    def use_two_sh(self, say=print) -> None:
        """Restart every node on the federation that lists two replicas of sh, and start both."""
        say("restarting the PostgreSQL federation with two replicas of sh ...")
        self.procs.stop_all()
        procs = ReplicaProcesses(self.two_sh, 2, entries=self.procs.entries)
        self.bench.procs = procs
        self.bench.fed = self.two_sh
        keys = [*procs.keys(0), "sh.1"]
        procs.start_all(keys)
        procs.wait_ready(keys, timeout=600)
        level = _level(self.bench.fed, self.cluster, procs, keys)
        self.extra["two_sh_in_sync_and_idle_after_up_s"] = round(level, 2)

    def stop(self) -> None:
        self.bench.procs.stop_all()
        self.cluster.stop("immediate")
        shutil.rmtree(self.cluster.directory, ignore_errors=True)


def owner_head(cluster: PgCluster, province: str) -> int:
    """The head of ``province``'s change feed (``catalog_meta.change_seq`` in ``yrd_<node>``)."""
    with psycopg.connect(cluster.dsn(dbname=f"yrd_{province}"), autocommit=True) as conn:
        row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'change_seq'").fetchone()
    return int(row[0]) if row else 0


def _level(
    fed: FederationConfig, cluster: PgCluster, procs: ReplicaProcesses, keys: Iterable[str]
) -> float:
    """Wait for nodes that just came up to hold every other province's catalog at its owner's
    head (a follower resumes, or catches up from nothing on a first start), and then to go
    idle (keeping common terms): the next case would count either as its own. Returns the
    seconds that took."""
    started = time.perf_counter()
    wait_in_sync(fed, fed.nodes, lambda *_: None, head=lambda p: owner_head(cluster, p))
    procstat.settle(procs, keys)
    return time.perf_counter() - started


def start_pg_federation(
    root: Path,
    sqlite_bench: BenchFederation,
    *,
    entries: int,
    tmp_dir: Path | None = None,
    say=print,
) -> PgBench:
    """The cluster (in a temp dir of its own under ``tmp_dir``: as root, the unprivileged user
    it runs as must reach it), a database per province, the nodes (one replica each, files
    under ``root``) with the SQLite federation's certificates, and the bench app with its
    grants."""
    template = sqlite_bench.fed
    directory = Path(tempfile.mkdtemp(prefix="yrd-bench-pg-", dir=tmp_dir))
    cluster = PgCluster(directory, free_ports(1)[0])
    say(f"starting PostgreSQL on 127.0.0.1:{cluster.port} (data: {cluster.directory})")
    cluster.start()
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            for node in template.nodes:
                conn.execute(f"CREATE DATABASE yrd_{node}")
        addresses = loopback_addresses(template.nodes)
        one = _write(root, template, cluster, addresses, {}, "federation.yaml")
        kinds = ("client", "peer", "ops")
        more = {k: f"127.0.0.1:{p}" for k, p in zip(kinds, free_ports(3), strict=True)}
        two = _write(root, template, cluster, addresses, {"sh": more}, "federation-2sh.yaml")
        procs = ReplicaProcesses(one, 1, entries=entries)
        started = time.perf_counter()
        say(f"starting {len(one.nodes)} nodes on PostgreSQL with {entries:,} entries each")
        procs.start_all()
        try:
            procs.wait_ready(timeout=1800)
            bench = BenchFederation(root, one, procs, (one.certs_dir / CA_CERT_FILE).read_bytes())
            bench.startup_seconds = time.perf_counter() - started
            say(f"PostgreSQL federation up in {bench.startup_seconds:.1f} s")
            level = _level(one, cluster, procs, procs.keys())
            say(f"its replicas in sync and its nodes idle {level:.1f} s later")
            create_app(bench)
            bench.grants["local"] = grant(bench, "js/gat/resident-basic/v1")
            bench.grants["cross"] = grant(bench, "sh/gaj/resident-basic/v1")
            return PgBench(bench, cluster, two, {"in_sync_and_idle_after_up_s": round(level, 2)})
        except BaseException:
            procs.stop_all()
            raise
    except BaseException:
        cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _write(
    root: Path,
    template: FederationConfig,
    cluster: PgCluster,
    addresses: dict[str, dict[str, str]],
    second: dict[str, dict[str, str]],
    name: str,
) -> FederationConfig:
    """A federation file under ``root`` whose nodes keep their stores in ``yrd_<node>``;
    ``second``: the addresses of a second replica, per node that has one."""
    nodes_dir = root / "nodes"
    for node in template.nodes:
        target = nodes_dir / node
        if not target.exists():
            shutil.copytree(template.nodes_dir / node, target)
            config = target / "node.yaml"
            doc = yaml.safe_load(config.read_text(encoding="utf-8"))
            doc["storage"] = cluster.dsn(dbname=f"yrd_{node}")
            doc.pop("workers", None)
            config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    nodes = {}
    for node, ports in addresses.items():
        province = template.node(node)
        extra = second.get(node)
        nodes[node] = {
            "name": province.name,
            "region_code": province.region_code,
            **{k: [v, extra[k]] if extra else v for k, v in ports.items()},
        }
    doc = {
        "federation": "yrd-bench-pg",
        "standard": str(template.standard_path),
        "certs_dir": str(template.certs_dir),
        "data_dir": str(root / "var"),
        "nodes_dir": str(nodes_dir),
        "nodes": nodes,
    }
    path = root / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_federation(path)


def build_cases(
    pg: PgBench, names: Iterable[str], search: tuple[bytes, ...] | None
) -> list[C.Case]:
    """The PostgreSQL cases among ``names``; ``search``: the cold queries of the SQLite case."""
    bench = pg.bench
    md = bench.app_metadata()
    js = bench.client_target("js")
    local, cross = bench.grants["local"], bench.grants["cross"]
    invoke_cross = C.invoke_requests(cross.interface_id, cross.ids, PURPOSE)
    out = []
    for name in names:
        if name == "pg-local":
            requests = C.invoke_requests(local.interface_id, local.ids, PURPOSE)
            out.append(C.Case(name, js, C.INVOKE, requests, md, served_by=("pg/js", SERVER)))
        elif name == "pg-cross":
            served: tuple[str, ...] = ("pg/js", "pg/sh", SERVER)
            out.append(C.Case(name, js, C.INVOKE, invoke_cross, md, served_by=served))
        elif name == "pg-cross2":
            served = ("pg/js", "pg/sh", "pg/sh.1", SERVER)
            out.append(C.Case(name, js, C.INVOKE, invoke_cross, md, served_by=served))
        elif name == "pg-search" and search is not None:
            served = ("pg/js", "pg/sh", "pg/zj", "pg/ah", SERVER)
            out.append(C.Case(name, js, C.SEARCH, search, served_by=served, cold=True))
    return out
