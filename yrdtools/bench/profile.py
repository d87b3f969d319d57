"""Optional sampling profiles of the serving processes during the saturated runs (``--profile``).

py-spy (``pip install py-spy``) samples each serving node from outside while the measured window
runs and writes its stacks in collapsed form (``<case>-<process>.txt``, flamegraph.pl and
speedscope read it). It samples only the thread holding the GIL (``--gil``): a node is one
Python process whose throughput is bounded by the GIL, so that is where its Python CPU goes;
threads blocked in SQLite or epoll would otherwise dominate the picture without costing CPU.
The summary keeps what points at a fix: the frames with the most samples (self), and the
project's own functions by inclusive share. Profiled runs pay the sampler's pauses, so their
numbers are marked and not for comparison.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["Profiler", "find_py_spy", "summarize"]

_OWN = "gateway/"
"""py-spy names files relative to sys.path: the project's are ``gateway/...``."""


def find_py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, out_dir: Path, *, rate: int = 200, native: bool = False) -> None:
        binary = find_py_spy()
        if binary is None:
            raise SystemExit("error: --profile needs py-spy: .venv/bin/pip install py-spy")
        self.binary = binary
        self.out_dir = out_dir
        self.rate = rate
        self.native = native
        self.summaries: dict[str, dict] = {}

    def window(
        self, label: str, pids: Mapping[str, int], seconds: float
    ) -> Callable[[], Callable[[], None]]:
        """A hook for ``runner.measure``: starts the samplers when the window opens and returns
        the function that waits for them once it has closed."""

        def start() -> Callable[[], None]:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            procs = {}
            for name, pid in pids.items():
                out = self.out_dir / f"{label}-{name.replace('/', '-')}.txt"
                cmd = [
                    self.binary,
                    "record",
                    "--pid",
                    str(pid),
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                    "--duration",
                    str(max(1, round(seconds))),
                    "--rate",
                    str(self.rate),
                    "--gil",
                ]
                if self.native:
                    cmd.append("--native")
                procs[name] = (
                    subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
                    out,
                )

            def finish() -> None:
                for name, (proc, out) in procs.items():
                    _, err = proc.communicate(timeout=seconds + 60)
                    if proc.returncode == 0 and out.exists():
                        self.summaries[f"{label}/{name}"] = {"file": str(out), **summarize(out)}
                    else:
                        self.summaries[f"{label}/{name}"] = {
                            "error": err.decode(errors="replace").strip()[-300:]
                        }

            return finish

        return start


def summarize(path: Path, top: int = 15) -> dict:
    """Top frames by self samples, and the project's frames by inclusive samples."""
    self_counts: Counter = Counter()
    own_inclusive: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        self_counts[frames[-1]] += n
        for frame in set(frames):
            if f"({_OWN}" in frame:
                own_inclusive[_function_of(frame)] += n

    def pct(counter: Counter) -> list[list]:
        return [[frame, round(100 * n / total, 1)] for frame, n in counter.most_common(top)]

    return {
        "samples": total,
        "self": pct(self_counts) if total else [],
        "own_inclusive": pct(own_inclusive) if total else [],
    }


def _function_of(frame: str) -> str:
    """``fn (path/to/gateway/x.py:123)`` → ``fn (gateway/x.py)``: inclusive time is per function,
    whatever line inside it was running."""
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rpartition(":")[0] or where.rstrip(")")
    return f"{name} ({file})"
