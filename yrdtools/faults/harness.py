"""A four-province federation of real node processes, built to be broken on purpose.

``Federation`` owns a temporary root (certificates, one federation file per node, a copy of the
node configs with small seeds, the data dirs), starts every node as its own OS process, can put a
``LinkProxy`` in front of chosen nodes' peer ports, and stops, kills (-9), pauses (SIGSTOP),
resumes and restarts nodes. The provinces, the standard and the node configs it copies come from
a template federation file (``yrdtools.loopback``). Its async client helpers (search, call,
apply, approve: ``clients.py``) answer with an ``Outcome`` instead of raising, and the audit,
sharing and catalog files can be read afterwards (``stored.py``).

The client helpers keep one channel per node and event loop; call ``aclose()`` on that loop when
done with them. Everything listens on loopback.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway.certs import create_federation_certs
from gateway.config import FederationConfig, load_federation
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.supervisor import NodeProcesses
from yrdtools.faults.clients import FederationClients
from yrdtools.faults.proxy import LinkProxy
from yrdtools.faults.stored import StoredState
from yrdtools.loopback import loopback_addresses, template, write_federation

__all__ = ["Federation"]


class _Processes(NodeProcesses):
    """NodeProcesses with one federation file per node (each node's own view of the others)."""

    def __init__(self, fed: FederationConfig, files: Mapping[str, Path], **kw: Any) -> None:
        super().__init__(fed, **kw)
        self.files = files

    def command(self, node_id: str) -> list[str]:
        cmd = super().command(node_id)
        cmd[cmd.index("--federation") + 1] = str(self.files[node_id])
        return cmd


class Federation(FederationClients, StoredState):
    """Four (or fewer) real node processes under ``root``.

    ``source``: the template federation whose provinces, standard and node configs are copied
    (default: ``$YRD_FEDERATION`` or ``config/federation.yaml`` under the current directory);
    ``node_ids``: which of its nodes run (default: all).
    ``links``: nodes whose peer port every other node reaches through a ``LinkProxy``
    (``proxies[node]``). ``limits``: overrides of the node configs' ``limits`` section.
    ``grace``: the SIGTERM drain period each node is started with. ``workers``: worker
    processes per node, for the nodes that run more than one; when not given,
    ``$YRD_FAULT_WORKERS`` (if set) gives every node that many, so a whole fault suite can be run
    against nodes with workers. ``storage``: node.yaml's ``storage`` for the nodes that do not
    keep SQLite files (a PostgreSQL DSN, or ``env:NAME``).
    """

    def __init__(
        self,
        root: Path,
        *,
        node_ids: Iterable[str] | None = None,
        entries: int = 500,
        people: int = 300,
        links: Iterable[str] = (),
        limits: Mapping[str, int] | None = None,
        certs_dir: Path | None = None,
        grace: float = 5.0,
        workers: Mapping[str, int] | None = None,
        source: FederationConfig | None = None,
        storage: Mapping[str, str] | None = None,
    ) -> None:
        self.source = source or template()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.node_ids = tuple(self.source.nodes if node_ids is None else node_ids)
        self.grace = grace
        self.certs_dir = Path(certs_dir) if certs_dir else self.root / "certs"
        create_federation_certs(self.certs_dir, self.source.nodes)
        self.addresses = loopback_addresses(self.node_ids)
        if workers is None and os.environ.get("YRD_FAULT_WORKERS"):
            workers = {n: int(os.environ["YRD_FAULT_WORKERS"]) for n in self.node_ids}
        self.nodes_dir = self._copy_node_configs(
            people, entries, limits or {}, workers or {}, storage or {}
        )
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
        self._init_clients()

    # -- files -----------------------------------------------------------------------------------

    def _copy_node_configs(
        self,
        people: int,
        entries: int,
        limits: Mapping[str, int],
        workers: Mapping[str, int],
        storage: Mapping[str, str],
    ) -> Path:
        nodes_dir = self.root / "nodes"
        for node in self.node_ids:
            target = nodes_dir / node
            if not target.exists():
                shutil.copytree(self.source.nodes_dir / node, target)
            path = target / "node.yaml"
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            doc.setdefault("seed", {}).update(people=people, entries=entries)
            doc.setdefault("limits", {}).update(limits)
            if node in workers:
                doc["workers"] = workers[node]
            if node in storage:
                doc["storage"] = storage[node]
            path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return nodes_dir

    def _write(self, path: Path, peers: Mapping[str, str]) -> Path:
        return write_federation(
            path,
            self.source,
            name="yrd-faults",
            addresses=self.addresses,
            certs_dir=self.certs_dir,
            data_dir=self.root / "var",
            nodes_dir=self.nodes_dir,
            peers=peers,
        )

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
