"""``yrdgw`` run as an operator would, the one way each: in this process (exit code, stdout and
stderr; the JSON a ``--json`` verb prints), beside in-process nodes on the test's event loop, or as
a child process; and two in-process nodes with the CLI pointed at them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.cli.main import main
from gateway.config import FederationConfig
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.node import Node
from tests.support.federation import ROOT


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    def __iter__(self) -> Iterator[object]:
        return iter((self.code, self.out, self.err))

    def json(self):
        assert self.code == 0, self.err
        return json.loads(self.out)


def yrdgw(*args: str) -> CliRun:
    """``yrdgw`` in this process; an argparse exit counts as the exit code it carries."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return CliRun(code, out.getvalue(), err.getvalue())


async def yrdgw_on(federation: Path | str, *args: str) -> CliRun:
    """``yrdgw --federation federation ...`` in a thread: the CLI is synchronous, and the nodes
    it talks to run on this event loop."""
    return await asyncio.to_thread(yrdgw, "--federation", str(federation), *args)


def yrdgw_process(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``yrdgw`` as a child process (``python -m gateway.cli.main``) from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args],
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@dataclass
class CliFederation:
    fed: FederationConfig
    nodes: dict[str, Node]

    async def yrdgw(self, *args: str) -> CliRun:
        return await yrdgw_on(self.fed.path, *args)

    def samples(self, node: str) -> dict[str, str]:
        return sample_values(dataset_path(self.nodes[node].config.data_dir))
