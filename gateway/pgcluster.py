"""A throwaway PostgreSQL cluster on a loopback port: ``initdb`` and ``pg_ctl`` from Debian's
``postgresql`` package, for the tests and for ``yrdgw up --store postgresql``.

PostgreSQL refuses to run as root, and CI runs as root: as root the binaries run as the
unprivileged system user ``yrdpg`` (created by ``scripts/install-system-deps.sh``) through
``runuser``, and the cluster's directory is handed to that user. The cluster listens on
127.0.0.1 only with ``trust`` authentication (a throwaway on loopback; a real deployment uses its
own managed PostgreSQL and a DSN with a password from the environment, see the README).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

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
        options = (
            f"-c listen_addresses={LOOPBACK} -c port={self.port} "
            f"-c unix_socket_directories='{self.directory}' -c fsync=on "
            "-c synchronous_commit=on -c max_connections=200"
        )
        self._run(
            "pg_ctl", "start", "-w", "-t", "60",
            "-D", str(self.data), "-l", str(self.log), "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, ``immediate``: as a crash)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data))

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
            tail = ""
            if self.log.exists():
                tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"{program} {' '.join(args[:2])} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}\n{tail}"
            )
