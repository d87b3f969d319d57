"""The audit log under crashes and storage faults: nothing acknowledged is lost, nothing hangs."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import gateway.audit.log as log_module
import gateway.audit.writer as writer_module
from gateway.audit import AuditLog, AuditRecord, AuditWriteError

# A node stand-in: appends forever, printing each acknowledged seq and hash the moment append
# returns. Whatever it printed before SIGKILL is exactly what the gateway could have released.
CHILD = r"""
import asyncio, sys
from gateway.audit import AuditLog, AuditRecord

path, mode = sys.argv[1], sys.argv[2]
log = AuditLog(path, "js")

def record(i):
    return AuditRecord(side="provider", action="invoke", decision="allow",
                       purpose=f"跨省通办 {i}", fields_returned=("姓名",), record_count=1)

def ack(entry):
    sys.stdout.write(f"{entry.seq} {entry.hash}\n")
    sys.stdout.flush()

if mode == "sync":
    i = 0
    while True:
        i += 1
        ack(log.append(record(i)))
else:
    async def worker(k):
        i = 0
        while True:
            i += 1
            ack(await log.append_async(record(k * 1_000_000 + i)))

    async def main():
        await asyncio.gather(*(worker(k) for k in range(50)))

    asyncio.run(main())
"""


def record(i: int = 0) -> AuditRecord:
    return AuditRecord(side="consumer", action="invoke", decision="allow", purpose=f"核验 {i}")


def run_and_kill(path: Path, mode: str, acks_before_kill: int) -> dict[int, str]:
    """Start a child appending to ``path``, SIGKILL it mid-stream; its acknowledged entries."""
    acked: dict[int, str] = {}
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdout is not None
        try:
            while len(acked) < acks_before_kill:
                line = proc.stdout.readline()
                assert line, "child stopped before it was killed"
                seq, digest = line.split()
                acked[int(seq)] = digest.decode()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        # Lines already in the pipe were acknowledged too; a torn last line was not.
        for line in proc.stdout.read().splitlines(keepends=True):
            if line.endswith(b"\n"):
                seq, digest = line.split()
                acked[int(seq)] = digest.decode()
    assert proc.returncode == -signal.SIGKILL
    return acked


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("mode", "acks"), [("sync", 300), ("grouped", 1500)])
def test_acknowledged_entries_survive_kill_9(tmp_path: Path, mode: str, acks: int) -> None:
    path = tmp_path / "audit.db"
    all_acked: dict[int, str] = {}
    for _round in range(2):  # the second run appends after crash recovery, then dies too
        acked = run_and_kill(path, mode, acks)
        assert acked
        all_acked.update(acked)
        with AuditLog(path, "js") as audit:
            report = audit.verify()
            assert report.ok, report.problem
            last = audit.last()
            assert last is not None and last.seq >= max(all_acked)
            missing = [
                s for s, h in all_acked.items() if (e := audit.get(s)) is None or e.hash != h
            ]
            assert missing == []
    with AuditLog(path, "js") as audit:
        entry = audit.append(record())
        assert entry.seq == report.checked + 1
        assert audit.verify().ok


# -- storage faults -----------------------------------------------------------------------------


class FlakyConnection(sqlite3.Connection):
    """A connection whose statements starting with ``failing`` raise, like a failing disk;
    ``beginning`` (when set) is set as the writer begins a transaction, its batch taken."""

    failing: str | None = None
    beginning: threading.Event | None = None

    def execute(self, sql, *args):  # type: ignore[no-untyped-def, override]
        if self.beginning is not None and sql.lstrip().upper().startswith("BEGIN"):
            self.beginning.set()
        self._maybe_fail(sql)
        return super().execute(sql, *args)

    def executemany(self, sql, *args):  # type: ignore[no-untyped-def, override]
        self._maybe_fail(sql)
        return super().executemany(sql, *args)

    def _maybe_fail(self, sql: str) -> None:
        if self.failing and sql.lstrip().upper().startswith(self.failing):
            raise sqlite3.OperationalError("disk I/O error")


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> list[FlakyConnection]:
    """Writer connections become ``FlakyConnection``s; the list collects them."""
    made: list[FlakyConnection] = []
    real = log_module._connect

    def connect(path: str, *, busy_timeout_s: float, read_only: bool = False) -> sqlite3.Connection:
        if read_only:
            return real(path, busy_timeout_s=busy_timeout_s, read_only=True)
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
            factory=FlakyConnection,
        )
        made.append(conn)
        return conn

    monkeypatch.setattr(log_module, "_connect", connect)
    return made


@pytest.mark.timeout(20)
@pytest.mark.parametrize("failing", ["BEGIN", "INSERT", "UPDATE META", "COMMIT"])
async def test_failing_disk_raises_promptly_then_recovers(
    tmp_path: Path, flaky: list[FlakyConnection], failing: str
) -> None:
    with AuditLog(tmp_path / "audit.db", "js") as audit:
        audit.append(record(1))
        (writer,) = flaky
        writer.failing = failing
        started = time.monotonic()
        with pytest.raises(AuditWriteError, match="disk I/O error"):
            audit.append(record(2))
        results = await asyncio.gather(
            *(audit.append_async(record(i)) for i in range(20)), return_exceptions=True
        )
        assert all(isinstance(r, AuditWriteError) for r in results)
        assert time.monotonic() - started < 2
        assert audit.stats().failed_commits >= 2

        writer.failing = None  # the disk comes back: no seq was used up by the failures
        entries = await asyncio.gather(*(audit.append_async(record(i)) for i in range(20)))
        assert sorted(e.seq for e in entries) == list(range(2, 22))
        report = audit.verify()
        assert report.ok and report.checked == 21


@pytest.mark.timeout(20)
async def test_locked_store_fails_within_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path, "js", busy_timeout_s=0.2) as audit:
        audit.append(record(1))
        other = sqlite3.connect(path, isolation_level=None)  # another process holding the lock
        try:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with pytest.raises(AuditWriteError, match="locked"):
                audit.append(record(2))
            results = await asyncio.gather(
                *(audit.append_async(record(i)) for i in range(20)), return_exceptions=True
            )
            assert all(isinstance(r, AuditWriteError) for r in results)
            assert time.monotonic() - started < 3
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert audit.append(record(3)).seq == 2
        assert audit.verify().ok


@pytest.mark.timeout(20)
async def test_a_crashed_writer_fails_callers_instead_of_stranding_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    audit = AuditLog(tmp_path / "audit.db", "js")
    try:
        audit.append(record(1))

        def broken(*args: object) -> tuple[str, list]:
            raise RuntimeError("bug in the writer")

        monkeypatch.setattr(writer_module, "encode_entry", broken)
        results = await asyncio.gather(
            *(audit.append_async(record(i)) for i in range(10)), return_exceptions=True
        )
        assert all(isinstance(r, AuditWriteError) for r in results)
        with pytest.raises(AuditWriteError, match="writer stopped"):
            audit.append(record(2))
        assert "audit writer audit-writer-js stopped" in caplog.text
    finally:
        audit.close()  # returns although the writer is gone
        monkeypatch.undo()
    with AuditLog(tmp_path / "audit.db", "js") as again:
        assert again.verify().checked == 1


def test_an_unopenable_store_raises_audit_write_error(tmp_path: Path) -> None:
    with pytest.raises(AuditWriteError, match="cannot open"):
        AuditLog(tmp_path / "no-such-dir" / "audit.db", "js")
    (tmp_path / "garbage.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(AuditWriteError, match="cannot open"):
        AuditLog(tmp_path / "garbage.db", "js")


def test_a_corrupt_file_fails_verification(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path, "js") as audit:
        for i in range(300):
            audit.append(
                record(i)
                if i != 150
                else AuditRecord(
                    side="local", action="invoke", decision="allow", purpose="唯一标记"
                )
            )
    data = bytearray(path.read_bytes())
    page_size = 4096
    page = data.index("唯一标记".encode()) // page_size
    data[page * page_size : page * page_size + 8] = b"\xff" * 8  # a b-tree page header
    path.write_bytes(bytes(data))
    with AuditLog(path, "js") as audit:
        report = audit.verify()
    assert not report.ok
    assert report.problem is not None and report.problem.startswith("log file damaged")


@pytest.mark.timeout(20)
async def test_cancel_before_pick_up_drops_the_record(
    tmp_path: Path, flaky: list[FlakyConnection]
) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path, "js", busy_timeout_s=5) as audit:
        (writer,) = flaky
        writer.beginning = threading.Event()
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the writer takes `first` and waits on this lock
            first = asyncio.create_task(audit.append_async(record(1)))
            # Wait for the state itself: the writer has taken `first` as its batch and is
            # beginning the transaction that waits on `other`'s lock.
            assert await asyncio.to_thread(writer.beginning.wait, 10)
            second = asyncio.create_task(audit.append_async(record(2)))
            dropped = asyncio.create_task(audit.append_async(record(3)))
            # One turn of the loop runs both new tasks up to their queued request (nothing in
            # append_async awaits before it queues); the writer cannot take them before `other`
            # lets go.
            await asyncio.sleep(0)
            assert not second.done() and not dropped.done()
            dropped.cancel()
            first.cancel()  # already picked up: written all the same
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert (await second).seq == 2
        for task in (first, dropped):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert [e.record.purpose for e in audit.query()] == ["核验 2", "核验 1"]
        assert audit.verify().ok
