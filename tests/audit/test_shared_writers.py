"""Several processes writing one audit log (the workers of a node): still one chain.

Each writer reads the chain's head inside its own write transaction; with a ``write_lock`` the
writers also take turns on a lock file. Forked processes append concurrently, with and without
the lock, and the log must verify with every entry exactly once and no gap in the sequence.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from tests.support.records import make_record

PROCESSES = 3
THREADS = 3
EACH = 60


def _append_many(path: str, lock: str | None, worker: int) -> None:
    audit = AuditLog(path, "sh", busy_timeout_s=10.0, write_lock=lock)
    try:

        def run(thread: int) -> None:
            for i in range(EACH):
                audit.append(make_record(i, trace_id=f"{worker:02d}{thread:02d}{i:028d}"))

        threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        audit.close()


@pytest.mark.parametrize("locked", [True, False], ids=["write-lock", "busy-timeout-only"])
def test_processes_appending_at_once_make_one_chain(tmp_path: Path, locked: bool) -> None:
    path = tmp_path / "audit.db"
    lock = str(tmp_path / "audit.lock") if locked else None
    AuditLog(path, "sh").close()  # the primary creates the schema before workers start
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), lock, w)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with AuditLog(path, "sh") as audit:
        report = audit.verify()
        assert report.ok, report
        total = PROCESSES * THREADS * EACH
        assert report.checked == total
        entries = audit.query(limit=total)
        assert sorted(e.seq for e in entries) == list(range(1, total + 1))
        # Every append of every process is there, once.
        assert len({e.record.trace_id for e in entries}) == total
