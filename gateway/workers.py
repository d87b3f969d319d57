"""One node as several worker processes: ``yrdgw node --node js --workers N``.

A node's event loop runs on one core. With ``workers: N`` in node.yaml (or ``--workers N``), the
process started for the node becomes its **primary**: it prepares the node once (seeds the
catalog and dataset, creates the schemas and the operator token), then starts N workers. Each
worker is a whole node (``gateway.node.Node``) listening on the same client, peer and ops ports
with ``SO_REUSEPORT``, so the kernel spreads incoming connections over them.

What one process used to hold in memory, the workers share:

- **SQLite files** (catalog, sharing, audit, spans): every write is a transaction that takes the
  file's write lock, and the audit chain's head is read inside that transaction, so the chain
  stays one chain. A grant or app changed through one worker is seen by the others on their
  very next call (``PRAGMA data_version``; see ``SharingStore``).
- **Bounds** (in-flight calls per app and per province) and **quota counters** live in tables
  every worker maps (``gateway.shm``), created fresh by the primary at each start.
- **Metrics**: each worker writes its series to files in one directory (Prometheus multiprocess
  mode), and whichever worker answers a scrape adds them all up.

The primary serves nothing itself. It restarts a worker that dies (after zeroing that worker's
in-flight counts), forwards SIGTERM/SIGINT to all of them and waits for their drain, then writes
any quota counts not yet written. Workers die with it: each asks the kernel for SIGKILL when its
parent goes (``PR_SET_PDEATHSIG``), so ``kill -9`` of the primary never leaves a worker serving.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.config import EXIT_MARGIN_S, MAX_WORKERS, FederationConfig
from gateway.lifelines import EXIT_CONFIG, STABLE_AFTER_S, describe_exit, restart_delay
from gateway.portcheck import check_ports_free
from gateway.shm import SharedCounters

log = logging.getLogger(__name__)

RUN_DIR = "run"
"""Under the node's data dir: the shared tables and the metrics directory of one start."""
INFLIGHT_APP = "inflight-app.shm"
INFLIGHT_PROVINCE = "inflight-province.shm"
QUOTA = "quota.shm"
AUDIT_LOCK = "audit.lock"
"""The workers' audit writers take turns on this file (see ``gateway.audit.writer``)."""
METRICS_DIR = "metrics"
PRIMARY_ENV = "YRD_PRIMARY_PID"

_QUOTA_ROWS = 1 << 16
"""Quota windows counted at once: two per active (grant, app) pair, plus the ones just before."""
_APP_ROWS = 1 << 12
"""Apps with calls in flight at once (rows whose counts fall to zero are reused)."""
_PROVINCE_ROWS = 64


@dataclass(frozen=True, slots=True)
class WorkerSlot:
    """Which worker of how many this process is, and where its node's shared state lives."""

    index: int
    count: int
    run_dir: Path

    def table(self, name: str) -> Path:
        return self.run_dir / name

    @property
    def metrics_dir(self) -> Path:
        return self.run_dir / METRICS_DIR


def parse_worker(value: str, run_dir: Path) -> WorkerSlot:
    """``i/n`` from the command line."""
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise ValueError(f"--worker: expected INDEX/COUNT, got {value!r}") from None
    if not 0 <= index < count <= MAX_WORKERS:
        raise ValueError(f"--worker: {value!r} is out of range")
    return WorkerSlot(index, count, run_dir)


def create_shared_state(run_dir: Path, workers: int) -> None:
    """A fresh run directory: the shared tables and an empty metrics directory."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    (run_dir / METRICS_DIR).mkdir(parents=True)
    for name, rows, columns, key_size in (
        (INFLIGHT_APP, _APP_ROWS, workers, 128),
        (INFLIGHT_PROVINCE, _PROVINCE_ROWS, workers, 16),
        (QUOTA, _QUOTA_ROWS, 2, 192),
    ):
        SharedCounters.create(
            run_dir / name, capacity=rows, columns=columns, key_size=key_size
        ).close()


class _Worker:
    __slots__ = ("index", "proc", "started", "failures", "due")

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.failures = 0
        self.due = 0.0  # when to start it again after a crash


class Primary:
    """Starts, watches and stops the workers of one node (the process ``yrdgw node`` runs)."""

    def __init__(
        self,
        fed: FederationConfig,
        node_id: str,
        workers: int,
        worker_args: Sequence[str],
        *,
        grace: float,
        run_dir: Path,
        prepare,
    ) -> None:
        if not 2 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers: {workers} is not in [2, {MAX_WORKERS}]")
        self.fed = fed
        self.node_id = node_id
        self.workers = [_Worker(i) for i in range(workers)]
        self._args = list(worker_args)
        self._grace = grace
        self.run_dir = run_dir
        self._prepare = prepare
        self._stopping = False

    def command(self, index: int) -> list[str]:
        return [*self._args, "--worker", f"{index}/{len(self.workers)}"]

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        address = self.fed.node(self.node_id).replica(0)
        check_ports_free((address.client, address.peer, address.ops))
        self._prepare()
        if self._stopping:  # told to stop while seeding: nothing runs yet
            return 0
        create_shared_state(self.run_dir, len(self.workers))
        log.info("node %s: starting %d workers", self.node_id, len(self.workers))
        for worker in self.workers:
            self._start(worker)
        code = 0
        while not self._stopping:
            code = self._watch()
            if code:
                break
            time.sleep(0.1)
        self._stop_all()
        self._flush_quota()
        log.info("node %s stopped", self.node_id)
        return code

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _start(self, worker: _Worker) -> None:
        env = {
            **os.environ,
            PRIMARY_ENV: str(os.getpid()),
            "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / METRICS_DIR),
        }
        worker.proc = subprocess.Popen(
            self.command(worker.index), env=env, stdin=subprocess.DEVNULL
        )
        worker.started = time.monotonic()

    def _watch(self) -> int:
        """Restart dead workers (with back-off); a non-zero return stops the node with it."""
        now = time.monotonic()
        for worker in self.workers:
            proc = worker.proc
            if proc is None:
                if now >= worker.due:
                    self._start(worker)
                continue
            code = proc.poll()
            if code is None:
                if worker.failures and now - worker.started > STABLE_AFTER_S:
                    worker.failures = 0  # it stayed up: the next crash starts again at once
                continue
            worker.proc = None
            if code == EXIT_CONFIG:
                log.error(
                    "node %s: worker %d cannot start (exit %d)", self.node_id, worker.index, code
                )
                return code
            self._forget(worker)
            delay = restart_delay(worker.failures)
            worker.failures += 1
            worker.due = now + delay
            log.warning(
                "node %s: worker %d (pid %d) exited with %s; restarting%s",
                self.node_id,
                worker.index,
                proc.pid,
                describe_exit(code),
                f" in {delay:.1f} s" if delay else "",
            )
        return 0

    def _forget(self, worker: _Worker) -> None:
        """A dead worker's calls are no longer in flight."""
        for name in (INFLIGHT_APP, INFLIGHT_PROVINCE):
            table = SharedCounters.attach(self.run_dir / name)
            try:
                with table.locked():
                    table.clear_column(worker.index)
            finally:
                table.close()

    def _stop_all(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace + EXIT_MARGIN_S
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "node %s: worker pid %d did not drain; killing it", self.node_id, proc.pid
                )
                proc.kill()
                proc.wait()

    def _flush_quota(self) -> None:
        """Counts a worker took but did not write before it went (killed, say)."""
        from gateway.sharing.quota import SharedQuota
        from gateway.sharing.store import SharingStore

        cfg_dir = self.fed.data_dir / self.node_id
        try:
            quota = SharedQuota(SharedCounters.attach(self.run_dir / QUOTA))
            SharingStore(cfg_dir / "sharing.db", quota=quota).close()  # close() flushes
        except Exception:
            log.exception("node %s: final quota flush failed", self.node_id)
