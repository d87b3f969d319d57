"""The throwaway PostgreSQL cluster the postgresql tests run on: started by the session fixture
from Debian's server binaries, as an unprivileged user, on a loopback port."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from gateway.pgcluster import PG_USER
from gateway.ports import LOOPBACK, free_ports
from tests.support.federation import ROOT


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


def test_a_killed_starter_leaves_no_server_behind(tmp_path) -> None:
    """kill -9 of the process that started a cluster (a test run, ``yrdgw up``) takes the
    server with it: it runs in the foreground with a parent-death signal, not daemonized."""
    directory = Path(tempfile.mkdtemp(prefix="yrd-pg-orphan-"))
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from gateway.pgcluster import PgCluster\n"
        "cluster = PgCluster(Path(sys.argv[1]), int(sys.argv[2]))\n"
        "cluster.start()\n"
        "print(cluster.postmaster_pid(), flush=True)\n"
        "time.sleep(120)\n"
    )
    starter = subprocess.Popen(
        [sys.executable, "-c", script, str(directory), str(free_ports(1)[0])],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,  # `python -c` imports the checkout's gateway
    )
    try:
        assert starter.stdout is not None
        postmaster = int(starter.stdout.readline())
        assert _alive(postmaster)
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 10
        while _alive(postmaster) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(postmaster)
    finally:
        starter.kill()
        starter.wait()
        if starter.stdout is not None:
            starter.stdout.close()
        shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
