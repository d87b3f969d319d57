"""Two real in-process nodes (js, sh) and ``yrdgw`` run against them as an operator would."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from dataclasses import dataclass

import pytest_asyncio

from gateway.cli.main import main
from gateway.config import FederationConfig, load_federation
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.node import Node, NodeOptions
from tests.conftest import write_federation

NODES = ("js", "sh")


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    def json(self):
        assert self.code == 0, self.err
        return json.loads(self.out)


@dataclass
class CliFederation:
    fed: FederationConfig
    nodes: dict[str, Node]

    async def yrdgw(self, *args: str) -> CliRun:
        out, err = io.StringIO(), io.StringIO()

        def run() -> int:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                return main(["--federation", str(self.fed.path), *args])

        code = await asyncio.to_thread(run)  # the CLI is synchronous; the nodes run on this loop
        return CliRun(code, out.getvalue(), err.getvalue())

    def samples(self, node: str) -> dict[str, str]:
        return sample_values(dataset_path(self.nodes[node].config.data_dir))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cli_federation(tmp_path_factory, certs_dir):
    tmp = tmp_path_factory.mktemp("cli")
    fed = load_federation(write_federation(tmp, certs_dir, node_ids=NODES))
    nodes: dict[str, Node] = {}
    try:
        for n in NODES:
            nodes[n] = Node(fed, n, NodeOptions(entries=200, people=300))
            await nodes[n].start()
        yield CliFederation(fed, nodes)
    finally:
        await asyncio.gather(*(node.stop(0) for node in nodes.values()))
