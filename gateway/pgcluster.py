"""A throwaway PostgreSQL cluster on a loopback port: ``initdb`` and ``pg_ctl`` from Debian's
``postgresql`` package, for the tests and for ``yrdgw up --store postgresql``.

PostgreSQL refuses to run as root, and CI runs as root: as root the binaries run as the
unprivileged system user ``yrdpg`` (created by ``scripts/install-system-deps.sh``) through
``runuser``, and the cluster's directory is handed to that user. The cluster listens on
127.0.0.1 only with ``trust`` authentication (a throwaway on loopback; a real deployment uses its
own managed PostgreSQL and a DSN with a password from the environment, see the README).

The server runs in the foreground as a child of the process that started it (forked from one
long-lived thread), asking the kernel for SIGKILL when that process goes (``PR_SET_PDEATHSIG``
through ``setpriv --pdeathsig``, after the switch to ``yrdpg`` as root, which would clear it):
a test run or ``yrdgw up`` that is killed, even with ``kill -9``, leaves no server behind
(``pg_ctl start`` would have daemonized it). Its backends notice the postmaster's death and
exit too.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from gateway.errors import Fault
from gateway.ports import LOOPBACK

__all__ = ["PG_USER", "PgCluster", "PostgresMissing", "find_bindir"]

PG_USER = "yrdpg"
"""The system user the cluster runs as when this process is root."""


class PostgresMissing(Fault, RuntimeError):
    """The PostgreSQL server binaries (or, as root, the ``yrdpg`` user) are not installed."""


def find_bindir() -> Path:
    """The newest installed server's bin directory (``/usr/lib/postgresql/<major>/bin``), else
    the directory of an ``initdb`` on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    raise PostgresMissing(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql "
        "package (bash scripts/install-system-deps.sh)"
    )


class PgCluster:
    """One cluster in ``directory`` on ``port``: :meth:`start` creates it on first use,
    :meth:`stop` stops it (the files stay until the directory is removed)."""

    def __init__(self, directory: Path, port: int, *, superuser: str = "postgres") -> None:
        self.directory = Path(directory)
        self.port = port
        self.superuser = superuser
        self._bindir = find_bindir()
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(PG_USER)
            except KeyError:
                raise PostgresMissing(
                    f"running as root and the system user {PG_USER!r} does not exist: "
                    "run bash scripts/install-system-deps.sh"
                ) from None
            self._as = ["runuser", "-u", PG_USER, "--"]
        self._server: subprocess.Popen | None = None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def dsn(self, *, user: str | None = None, dbname: str = "postgres") -> str:
        return f"postgresql://{user or self.superuser}@{LOOPBACK}:{self.port}/{dbname}"

    def start(self) -> None:
        """Create the cluster if it is new, then start it and wait until it accepts connections."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._as:
            # The user must own the directory and be able to reach it.
            shutil.chown(self.directory, user=PG_USER)
            os.chmod(self.directory, 0o700)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D", str(self.data),
                "-U", self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            )  # fmt: skip
        self._reap()
        options = [
            f"listen_addresses={LOOPBACK}", f"port={self.port}",
            f"unix_socket_directories={self.directory}", "fsync=on",
            "synchronous_commit=on", "max_connections=200",
        ]  # fmt: skip
        command = [str(self._bindir / "postgres"), "-D", str(self.data)]
        for option in options:
            command += ["-c", option]
        with open(self.log, "ab") as log:
            # Started from one long-lived thread: the kernel sends the parent-death signal when
            # the *thread* that forked goes, and a caller's thread may be short-lived (an
            # executor's, in a test); that one lives until the process ends.
            spawned = _spawner().submit(
                subprocess.Popen,
                [*self._foreground(), *command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd="/",
            )
            self._server = spawned.result()
        self._wait_ready(timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, ``immediate``: as a crash)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data))
        self._reap()

    def _foreground(self) -> list[str]:
        """What the server is started through: ``setpriv``, which asks for the parent-death
        signal and execs the server (no process in between, and no Python code run in the
        forked child of a threaded process); as root it also switches to ``yrdpg``, and sets
        the signal after the switch, which would clear it."""
        if not self._as:
            return ["setpriv", "--pdeathsig=KILL", "--"]
        user = pwd.getpwnam(PG_USER)
        return [
            "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
            "--pdeathsig=KILL", "--",
        ]  # fmt: skip

    def _wait_ready(self, timeout: float) -> None:
        """Until the server accepts connections; its exit or the timeout is a RuntimeError
        with the log's tail."""
        deadline = time.monotonic() + timeout
        while True:
            server = self._server
            if server is not None and server.poll() is not None:
                raise RuntimeError(f"postgres exited with {server.returncode}:\n{self._tail()}")
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"postgres not ready in {timeout:.0f} s:\n{self._tail()}"
                    ) from None
                time.sleep(0.1)

    def _reap(self) -> None:
        """Wait for a server this object started and that has been told to stop."""
        server, self._server = self._server, None
        if server is not None:
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def postmaster_pid(self) -> int:
        """The server's main process (its first line of ``postmaster.pid``)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def running(self) -> bool:
        status = subprocess.run(
            [*self._as, str(self._bindir / "pg_ctl"), "status", "-D", str(self.data)],
            capture_output=True,
        )
        return status.returncode == 0

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self._bindir / program), *args],
            capture_output=True,
            text=True,
            cwd="/",
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args[:2])} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}\n{self._tail()}"
            )


_SPAWNER: list[ThreadPoolExecutor] = []


def _spawner() -> ThreadPoolExecutor:
    if not _SPAWNER:
        _SPAWNER.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-server"))
    return _SPAWNER[0]
