"""Shared fixtures: real federations on loopback ports with real certificates and SQLite files.

Helpers (federation files, clocks, clusters, CLI runners, refusal asserters) live in
``tests/support``; this file holds only fixtures."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_timeout

from gateway.certs import create_federation_certs
from gateway.pgcluster import PgCluster, PostgresMissing
from gateway.ports import free_ports
from tests.support.federation import NODE_IDS
from tests.support.postgres import new_schema


def _dump_stacks_and_tasks(terminal) -> None:
    """pytest-timeout's dump of the threads' stacks, plus every task of the event loop the
    timed-out test runs: a hang inside a loop (an await that never ends) shows only the idle
    ``select`` in the thread dump, and the task that waits is what a reader needs."""
    _threads_only(terminal)
    loop = asyncio._get_running_loop()
    if loop is None:
        return
    for task in asyncio.all_tasks(loop):
        out = io.StringIO()
        task.print_stack(limit=30, file=out)
        terminal.sep("~", title=f"Task {task.get_name()}")
        terminal.write(out.getvalue())


_threads_only = pytest_timeout.dump_stacks
pytest_timeout.dump_stacks = _dump_stacks_and_tasks


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("certs")
    create_federation_certs(path, NODE_IDS)
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster for the whole session, on a free loopback port, in a temp
    directory (outside pytest's 0700 tree: as root the server runs as the ``yrdpg`` user).

    Never skipped: without PostgreSQL the tests that need it fail and say what is missing."""
    try:
        cluster = PgCluster(Path(tempfile.mkdtemp(prefix="yrd-pg-")), free_ports(1)[0])
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def pg_dsn(postgres: PgCluster) -> str:
    """A DSN onto a fresh, empty schema of the session's cluster: one province's database for
    one test (every connection made with it sees only that schema)."""
    return new_schema(postgres)
