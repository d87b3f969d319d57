"""The harness's own servers (backend, raw-forward proxy) as child processes on loopback.

Each is ``python -m yrdtools.bench.<module>`` in its own process and session, so its CPU is
its own in /proc and a Ctrl-C of the harness does not reach it before the harness stops it.
"""

from __future__ import annotations

import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from yrdtools.loopback import HOST

__all__ = ["ChildServer", "start_child"]


@dataclass
class ChildServer:
    name: str
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_child(
    name: str, module: str, args: list[str], log_dir: Path, timeout: float = 30.0
) -> ChildServer:
    """Start ``module`` and wait for its ``READY <port>`` line; its stderr goes to a log file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline().decode(errors="replace").strip()
            if line.startswith("READY "):
                return ChildServer(name, proc, int(line.split()[1]), log_path)
            if not line and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
    raise RuntimeError(f"{name} did not start ({module}); {log_path}:\n" + "\n".join(tail))
