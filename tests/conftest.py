"""Shared fixtures: real federations on loopback ports with real certificates and SQLite files.

Helpers (federation files, clocks, clusters, CLI runners, refusal asserters) live in
``tests/support``; this file holds only fixtures."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.certs import create_federation_certs
from gateway.pgcluster import PgCluster, PostgresMissing
from gateway.ports import free_ports
from tests.support.federation import NODE_IDS
from tests.support.postgres import new_schema


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
