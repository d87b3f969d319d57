"""Runs nodes as separate OS processes: `yrdgw up`, the fault-injection tests, soak and bench.

Each node is a real process with its own SQLite files; the supervisor can stop, kill -9, pause
(SIGSTOP) and resume any of them, and waits for readiness through the gRPC health service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.client import open_channel
from gateway.config import EXIT_MARGIN_S, FederationConfig, Limits
from gateway.lifelines import (
    EXIT_CONFIG,
    STABLE_AFTER_S,
    SUPERVISOR_ENV,
    describe_exit,
    restart_delay,
)

#: Seconds a SIGTERMed node may take before it is killed: a node.yaml's default drain grace
#: plus the time to close its stores.
STOP_TIMEOUT = Limits().shutdown_grace_s + EXIT_MARGIN_S


class NodeProcesses:
    def __init__(
        self,
        fed: FederationConfig,
        *,
        insecure: bool = False,
        entries: int | None = None,
        extra_args: Iterable[str] = (),
        env: dict[str, str] | None = None,
        tied: bool = False,
    ) -> None:
        """``tied``: the nodes die with this process however it ends, even ``kill -9`` (they
        ask the kernel for it; only for a process whose main thread starts them all)."""
        self.fed = fed
        self.tied = tied
        self.insecure = insecure
        self.entries = entries
        self.extra_args = tuple(extra_args)
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, object] = {}

    def log_path(self, node_id: str) -> Path:
        return self.fed.data_dir / node_id / "node.log"

    def command(self, node_id: str) -> list[str]:
        cmd = [sys.executable, "-m", "gateway.cli.main", "--federation", str(self.fed.path)]
        if self.insecure:
            cmd.append("--insecure")
        cmd += ["node", "--node", node_id, *self.extra_args]
        if self.entries is not None:
            cmd += ["--entries", str(self.entries)]
        return cmd

    def start(self, node_id: str) -> subprocess.Popen:
        log_path = self.log_path(node_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - closed in _reap
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        env.pop(SUPERVISOR_ENV, None)
        if self.tied:
            env[SUPERVISOR_ENV] = str(os.getpid())
        proc = subprocess.Popen(
            self.command(node_id),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self.procs[node_id] = proc
        self._logs[node_id] = log
        return proc

    def start_all(self, node_ids: Iterable[str] | None = None) -> None:
        for node_id in node_ids or self.fed.nodes:
            self.start(node_id)

    def is_serving(self, node_id: str, timeout: float = 0.5) -> bool:
        return self._serving(node_id, timeout)

    def _serving(self, node_id: str, timeout: float, address: str = "") -> bool:
        channel = open_channel(self.fed, node_id, insecure=self.insecure, address=address)
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
            return reply.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False
        finally:
            channel.close()

    def wait_ready(self, node_ids: Iterable[str] | None = None, timeout: float = 120.0) -> None:
        waiting = list(node_ids or self.procs)
        deadline = time.monotonic() + timeout
        while waiting:
            for node_id in list(waiting):
                proc = self.procs.get(node_id)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        f"node {node_id} exited with {proc.returncode}; see "
                        f"{self.log_path(node_id)}:\n{self.tail(node_id)}"
                    )
                if self.is_serving(node_id):
                    waiting.remove(node_id)
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"nodes not ready after {timeout:.0f} s: {', '.join(waiting)}")
            if waiting:
                time.sleep(0.1)

    def tail(self, node_id: str, lines: int = 30) -> str:
        try:
            return "\n".join(
                self.log_path(node_id).read_text(errors="replace").splitlines()[-lines:]
            )
        except FileNotFoundError:
            return ""

    def pids(self, node_id: str) -> list[int]:
        """The node's process, then its workers' (when it runs several)."""
        proc = self.procs.get(node_id)
        if proc is None or proc.poll() is not None:
            return []
        return [proc.pid, *child_pids(proc.pid)]

    def signal(self, node_id: str, sig: int) -> None:
        proc = self.procs[node_id]
        if proc.poll() is None:
            proc.send_signal(sig)

    def _signal_group(self, node_id: str, sig: int) -> None:
        """The node's process and its workers (its own session: started that way)."""
        proc = self.procs[node_id]
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass

    def pause(self, node_id: str) -> None:
        self._signal_group(node_id, signal.SIGSTOP)

    def resume(self, node_id: str) -> None:
        self._signal_group(node_id, signal.SIGCONT)

    def kill(self, node_id: str) -> None:
        """kill -9 of the node's process: no chance to flush or close anything. Its workers,
        if any, die with it (they asked the kernel to); this returns once they have."""
        workers = self.pids(node_id)[1:]
        self.signal(node_id, signal.SIGKILL)
        self._reap(node_id, 10)
        deadline = time.monotonic() + 10
        while any(process_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self, node_id: str, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait for a clean exit; SIGKILL if it does not come."""
        proc = self.procs.get(node_id)
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(node_id, signal.SIGCONT)  # a paused one cannot handle SIGTERM
            proc.send_signal(signal.SIGTERM)
        return self._reap(node_id, timeout)

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        for node_id in list(self.procs):
            proc = self.procs[node_id]
            if proc.poll() is None:
                self._signal_group(node_id, signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for node_id in list(self.procs):
            self._reap(node_id, timeout)

    def forget(self, node_id: str) -> int | None:
        """Reap a node that has already exited."""
        return self._reap(node_id, 0)

    def _reap(self, node_id: str, timeout: float) -> int | None:
        proc = self.procs.pop(node_id)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log = self._logs.pop(node_id, None)
        if log is not None:
            log.close()  # type: ignore[attr-defined]
        return code


class Restarter:
    """Restarts the nodes of a ``NodeProcesses`` that exit on their own, with the back-off a
    node's primary uses for its workers; gives up on a node that exits with a configuration
    error (it would fail again). ``check()`` is called from the supervising loop."""

    def __init__(self, procs: NodeProcesses, report: Callable[[str], None]) -> None:
        self.procs = procs
        self._report = report
        self._failures: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self.given_up: set[str] = set()

    def check(self) -> None:
        now = time.monotonic()
        for node_id, due in list(self._due.items()):
            if now >= due:
                del self._due[node_id]
                self.procs.start(node_id)
                self._started[node_id] = now
                self._report(f"node {node_id}: restarted")
        for node_id, proc in list(self.procs.procs.items()):
            code = proc.poll()
            if code is None:
                if self._failures.get(node_id) and (
                    now - self._started.get(node_id, now) > STABLE_AFTER_S
                ):
                    self._failures[node_id] = 0
                continue
            self.procs.forget(node_id)
            where = f"see {self.procs.log_path(node_id)}"
            if code == EXIT_CONFIG:
                self.given_up.add(node_id)
                self._report(f"node {node_id} cannot start (exit {code}); not restarting; {where}")
                continue
            failures = self._failures.get(node_id, 0)
            delay = restart_delay(failures)
            self._failures[node_id] = failures + 1
            self._due[node_id] = now + delay
            self._report(
                f"node {node_id} exited with {describe_exit(code)}; restarting"
                + (f" in {delay:.1f} s" if delay else "")
                + f"; {where}"
            )


def child_pids(parent: int) -> list[int]:
    """The live child processes of ``parent``."""
    try:
        text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
        return [int(p) for p in text.split()]
    except (FileNotFoundError, ValueError):
        pass  # a kernel without CONFIG_PROC_CHILDREN: scan every process
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        if int(raw[raw.rindex(b")") + 2 :].split()[1]) == parent:
            found.append(int(entry))
    return found


def process_alive(pid: int) -> bool:
    """Still a process (a zombie counts as gone: it holds no port or lock)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return raw[raw.rindex(b")") + 2 : raw.rindex(b")") + 3] != b"Z"
