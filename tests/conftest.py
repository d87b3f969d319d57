"""Shared fixtures: real federations on loopback ports with real certificates and SQLite files.

Helpers (federation files, clocks, clusters, CLI runners, refusal asserters) live in
``tests/support``; this file holds only fixtures."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_timeout

from gateway.certs import create_federation_certs
from gateway.cli.eventloop import AsyncioLoop
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
        terminal.sep("~", title=f"Task {task.get_name()}: {task.get_coro()!r}")
        terminal.write(_task_stack(task))


def _task_stack(task: asyncio.Task) -> str:
    """The frames a task waits in, innermost last. ``Task.print_stack`` cannot be used: a
    coroutine compiled by Cython (grpcio's server) has frames without a line number, on which
    ``linecache`` raises."""
    lines = []
    for frame in task.get_stack(limit=30):
        code = frame.f_code
        lines.append(f"  File {code.co_filename!r}, line {frame.f_lineno}, in {code.co_name}\n")
    return "".join(lines) or "  (no frames: not started, or finished)\n"


_threads_only = pytest_timeout.dump_stacks
pytest_timeout.dump_stacks = _dump_stacks_and_tasks


def pytest_asyncio_loop_factories(config, item):
    """Every test's loop drops the callbacks grpc.aio hands it after it closed (see
    ``gateway.cli.eventloop``): the suite runs a new loop per test, and grpc serves all of them
    from one poller, so a call left behind by one test would otherwise stall a later test's
    node stop."""
    return {"asyncio": AsyncioLoop}


class _PollerDispatchErrors(logging.Handler):
    """Errors raised inside grpc.aio's dispatch of completions (``_handle_events``), as asyncio
    logs them: each one delays the completions queued behind it, possibly for ever."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "_handle_events" in message:
            self.seen.append(
                message.splitlines()[0] + f" ({record.exc_info and record.exc_info[1]!r})"
            )


_poller_errors = _PollerDispatchErrors()
logging.getLogger("asyncio").addHandler(_poller_errors)


@pytest.fixture(autouse=True)
def _no_poller_dispatch_errors() -> Iterator[None]:
    """Fails the test during which grpc.aio's poller raised: some loop in this process was not
    made by ``gateway.cli.eventloop`` (run ``eventloop.run``, not ``asyncio.run``)."""
    yield
    seen, _poller_errors.seen = _poller_errors.seen, []
    if seen:
        pytest.fail("grpc.aio's poller raised while dispatching: " + "; ".join(seen), pytrace=False)


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
