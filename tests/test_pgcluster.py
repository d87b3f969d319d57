"""The throwaway PostgreSQL cluster the postgresql tests run on: started by the session fixture
from Debian's server binaries, as an unprivileged user, on a loopback port."""

from __future__ import annotations

import os
import pwd

import psycopg

from gateway.pgcluster import PG_USER
from gateway.ports import LOOPBACK


def test_cluster_accepts_connections_on_loopback(postgres):
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
        port = conn.execute("SHOW port").fetchone()[0]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
    assert int(version) >= 130000
    assert listen == LOOPBACK
    assert int(port) == postgres.port
    assert sync == "on"
    assert postgres.running()


def test_server_runs_unprivileged(postgres):
    pid = int((postgres.data / "postmaster.pid").read_text().split()[0])
    owner = os.stat(f"/proc/{pid}").st_uid
    assert owner != 0
    if os.geteuid() == 0:
        assert owner == pwd.getpwnam(PG_USER).pw_uid
