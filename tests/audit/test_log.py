"""The audit log on a real SQLite file: appends, group commit, queries, and tamper detection."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit import GENESIS_HASH, AuditLog, AuditReadError, AuditWriteError
from tests.support.records import APPS, make_record


@pytest.fixture
def sqlite_log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db", "js")
    yield audit
    audit.close()


def fill(audit: AuditLog, n: int) -> None:
    """Entries 1..n holding ``make_record(seq)``, in a few group commits rather than n fsyncs."""

    async def append_all() -> list[int]:
        entries = await asyncio.gather(
            *(audit.append_async(make_record(i)) for i in range(1, n + 1))
        )
        return [e.seq for e in entries]

    first = (audit.last().seq if audit.last() else 0) + 1  # type: ignore[union-attr]
    assert asyncio.run(append_all()) == list(range(first, first + n))


# The same edits in PostgreSQL's words: its table names, placeholders and JSON functions.
_PG_WORDS = (
    (" entries", " audit_entries"),
    (" meta ", " audit_meta "),
    ("?", "%s"),
    ("json_set(value, '$.seq', 19)", "jsonb_set(value::jsonb, '{seq}', '19')::text"),
)


def tamper(path: Path | str, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Edit the store as an intruder would: drop the guard triggers and write raw SQL."""
    if str(path).startswith("postgresql://"):
        with psycopg.connect(str(path)) as pg:
            pg.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
            for sql, params in statements:
                for sqlite_words, pg_words in _PG_WORDS:
                    sql = sql.replace(sqlite_words, pg_words)
                pg.execute(sql, params)
        return
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TRIGGER IF EXISTS entries_no_update")
        conn.execute("DROP TRIGGER IF EXISTS entries_no_delete")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


# -- appending ----------------------------------------------------------------------------------


def test_chain_verifies_over_many_entries(log: AuditLog) -> None:
    entries = [log.append(make_record(i)) for i in range(1, 301)]
    assert [e.seq for e in entries] == list(range(1, 301))
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash
    report = log.verify()
    assert report.ok and report.checked == 300
    assert report.first_bad_seq is None and report.problem is None
    for entry in entries[::37]:
        stored = log.get(entry.seq)
        assert stored == entry  # Chinese, empty tuples, extra dicts all round-trip
        assert stored is not None and stored.recompute_hash() == entry.hash


def test_empty_log(log: AuditLog) -> None:
    assert log.verify().ok and log.verify().checked == 0
    assert log.last() is None
    assert log.get(1) is None
    assert log.query() == []


def test_node_is_stamped_and_checked(log: AuditLog) -> None:
    assert log.append(make_record(1)).record.node == "js"
    assert log.append(make_record(2, node="js")).record.node == "js"
    with pytest.raises(ValueError, match="node"):
        log.append(make_record(3, node="sh"))
    with pytest.raises(TypeError):
        log.append({"side": "local"})  # type: ignore[arg-type]
    assert log.last().seq == 2  # type: ignore[union-attr]


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path, "zj") as audit:
        fill(audit, 10)
        tenth = audit.last()
    with AuditLog(path, "zj") as audit:
        assert audit.last() == tenth
        entry = audit.append(make_record(11))
        assert entry.seq == 11 and tenth is not None and entry.prev_hash == tenth.hash
        assert audit.verify().ok


def test_a_log_belongs_to_one_node(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.db", "zj").close()
    with pytest.raises(ValueError, match="belongs to node 'zj'"):
        AuditLog(tmp_path / "audit.db", "ah")


def test_file_settings(sqlite_log: AuditLog) -> None:
    log = sqlite_log
    log.append(make_record(1))
    conn = sqlite3.connect(log.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert log._writer._target.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_threads_appending_at_once_get_contiguous_seqs(log: AuditLog) -> None:
    seqs: list[int] = []
    lock = threading.Lock()

    def work(base: int) -> None:
        for i in range(40):
            entry = log.append(make_record(base + i))
            with lock:
                seqs.append(entry.seq)

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 321))
    assert log.verify().ok


async def test_group_commit_200_concurrent_callers(log: AuditLog) -> None:
    entries = await asyncio.gather(*(log.append_async(make_record(i)) for i in range(200)))
    assert sorted(e.seq for e in entries) == list(range(1, 201))
    by_seq = {e.seq: e for e in entries}
    for seq in (1, 57, 200):
        assert log.get(seq) == by_seq[seq]
    stats = log.stats()
    assert stats.entries_written == 200
    assert stats.commits < 200  # callers shared transactions
    report = log.verify()
    assert report.ok and report.checked == 200


async def test_close_flushes_pending_async_appends(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    audit = AuditLog(path, "ah")
    tasks = [asyncio.create_task(audit.append_async(make_record(i))) for i in range(100)]
    await asyncio.sleep(0)  # every task has queued its record
    await audit.aclose()
    entries = await asyncio.gather(*tasks)
    assert sorted(e.seq for e in entries) == list(range(1, 101))
    with AuditLog(path, "ah") as again:
        assert again.verify().checked == 100


async def test_closed_log_refuses(log: AuditLog) -> None:
    log.append(make_record(1))
    log.close()
    log.close()  # idempotent
    with pytest.raises(AuditWriteError, match="closed"):
        log.append(make_record(2))
    with pytest.raises(AuditWriteError, match="closed"):
        await log.append_async(make_record(2))
    with pytest.raises(AuditReadError, match="closed"):
        log.query()
    with pytest.raises(AuditReadError, match="closed"):
        log.verify()


def test_entries_cannot_be_updated_or_deleted_through_sql(sqlite_log: AuditLog) -> None:
    log = sqlite_log
    fill(log, 3)
    conn = sqlite3.connect(log.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE entries SET decision = 'allow' WHERE seq = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM entries WHERE seq = 3")
    finally:
        conn.close()
    assert log.verify().ok


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    items=st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=8), max_size=4),
)
def test_any_text_round_trips_and_verifies(text: str, items: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp, AuditLog(Path(tmp) / "a.db", "sh") as audit:
        record = make_record(
            1, purpose=text, reason=text, actor=text, fields_returned=items, extra={text: text}
        )
        entry = audit.append(record)
        assert audit.get(1) == entry
        assert audit.verify().ok


# -- queries ------------------------------------------------------------------------------------


def test_query_filters_and_order(log: AuditLog) -> None:
    fill(log, 60)
    everything = log.query(limit=1000)
    assert [e.seq for e in everything] == list(range(60, 0, -1))  # newest first
    assert [e.seq for e in log.query(limit=5)] == [60, 59, 58, 57, 56]

    assert [e.seq for e in log.query(trace_id=f"{17:032x}")] == [17]
    by_app = log.query(app=APPS[1], limit=1000)
    assert by_app and all(e.record.app == APPS[1] for e in by_app)
    denied = log.query(decision="deny", limit=1000)
    assert [e.seq for e in denied] == [56, 49, 42, 35, 28, 21, 14, 7]
    both = log.query(decision="deny", interface="sh/gaj/hukou-verify/v2", limit=1000)
    assert {e.seq for e in both} == {49, 35, 21, 7}
    assert {e.record.side for e in log.query(side="operator", limit=1000)} == {"operator"}
    assert all(e.record.action == "approve" for e in log.query(action="approve"))
    assert log.query(app="nobody") == []


def test_query_by_time_window(log: AuditLog) -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    for i in range(10):
        log.append(make_record(i, time=start + timedelta(minutes=i)))
    # Bounds in any zone; since inclusive, until exclusive.
    window = log.query(since=start + timedelta(minutes=3), until="2024-05-01T08:06:00+08:00")
    assert [e.record.time[11:16] for e in window] == ["00:05", "00:04", "00:03"]
    assert log.query(since="2024-05-01T00:03:00Z", until=start + timedelta(minutes=3)) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 10_001},
        {"limit": True},
        {"since": "yesterday"},
        {"until": datetime(2024, 1, 1)},
        {"since": "2024-01-01T00:00:00"},
    ],
)
def test_query_refuses_bad_arguments(log: AuditLog, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        log.query(**kwargs)  # type: ignore[arg-type]


# -- tamper detection ---------------------------------------------------------------------------

# One replacement value per column, of the column's own type, differing from every stored value.
EDITS = {
    "time": "2020-01-01T00:00:00.000Z",
    "node": "sh",
    "side": "operator",
    "trace_id": "f" * 32,
    "app": "js/gat/other",
    "interface": "sh/gaj/hukou-verify/v9",
    "purpose": "其他用途",
    "action": "invoke_stream",
    "decision": "fake",
    "reason": "edited",
    "fields_returned": '["银行卡号"]',
    "fields_masked": "[]x",
    "fields_dropped": '["手机号"]',
    "record_count": 4096,
    "grade": "L4",
    "status": "UNKNOWN",
    "latency_ms": 0.125,
    "peer": "ah",
    "peer_hash": "e" * 64,
    "actor": "op-intruder",
    "extra": '{"n":1}',
    "hash": "d" * 64,
}


@pytest.mark.parametrize("column", sorted(EDITS))
def test_editing_any_column_is_detected(log: AuditLog, column: str) -> None:
    fill(log, 40)
    tamper(log.path, (f"UPDATE entries SET {column} = ? WHERE seq = 17", (EDITS[column],)))
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == 17
    assert report.checked == 16
    assert report.problem is not None and report.problem.startswith("entry 17: ")
    assert "row modified" in report.problem
    # The damaged row can still be looked at.
    assert log.get(17) is not None and log.query(limit=40)


def test_a_column_respelled_with_the_same_value_still_verifies(log: AuditLog) -> None:
    """The check hashes a row from its stored text (issue 18); a JSON column stored in another
    spelling of the same value does not match that hash, and the row is then decoded and
    hashed again, as before: the verdict is the value's, not the spelling's."""
    fill(log, 20)
    extra = make_record(8).extra
    respelled = json.dumps(
        dict(reversed(extra.items())), ensure_ascii=True, separators=(", ", ": ")
    )
    assert extra and json.loads(respelled) == extra
    tamper(log.path, ("UPDATE entries SET extra = ? WHERE seq = 8", (respelled,)))
    assert log.verify().ok
    tamper(log.path, ("UPDATE entries SET extra = ? WHERE seq = 12", ('{"n": 1}',)))
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 12)


def test_editing_prev_hash_is_detected(log: AuditLog) -> None:
    fill(log, 10)
    tamper(log.path, ("UPDATE entries SET prev_hash = ? WHERE seq = 5", ("0" * 64,)))
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert report.problem == "entry 5: prev_hash does not match entry 4"


def test_editing_the_first_prev_hash_is_detected(log: AuditLog) -> None:
    fill(log, 3)
    tamper(log.path, ("UPDATE entries SET prev_hash = ? WHERE seq = 1", ("1" * 64,)))
    report = log.verify()
    assert report.first_bad_seq == 1 and "genesis" in (report.problem or "")


def test_deleting_a_middle_row_is_a_gap(log: AuditLog) -> None:
    fill(log, 40)
    tamper(log.path, ("DELETE FROM entries WHERE seq = 18", ()))
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 18, 17)
    assert report.problem == "entry 18 missing (gap after 17)"


def test_deleting_the_first_row_is_a_gap(log: AuditLog) -> None:
    fill(log, 5)
    tamper(log.path, ("DELETE FROM entries WHERE seq = 1", ()))
    report = log.verify()
    assert (report.first_bad_seq, report.problem) == (1, "entry 1 missing (gap after 0)")


@pytest.mark.parametrize("deleted", [1, 2, 40])
def test_deleting_the_newest_rows_is_caught_by_the_head(log: AuditLog, deleted: int) -> None:
    fill(log, 40)
    tamper(log.path, ("DELETE FROM entries WHERE seq > ?", (40 - deleted,)))
    report = log.verify()
    kept = 40 - deleted
    assert (report.ok, report.first_bad_seq, report.checked) == (False, kept + 1, kept)
    assert report.problem == f"head says 40 entries but the log ends at {kept} (rows deleted)"


@pytest.mark.parametrize(
    ("head", "first_bad", "problem"),
    [
        ('{"seq": 41, "hash": "HASH40"}', 41, "head says 41 entries but the log ends at 40"),
        ('{"seq": 39, "hash": "HASH40"}', 40, "head says 39 entries but the log goes on to 40"),
        ('{"seq": 40, "hash": "' + "c" * 64 + '"}', 40, "head hash does not match entry 40"),
        ("not json", None, "head row unreadable"),
        ('{"seq": "40", "hash": "HASH40"}', None, "head row unreadable"),
    ],
)
def test_editing_the_head_is_detected(
    log: AuditLog, head: str, first_bad: int | None, problem: str
) -> None:
    fill(log, 40)
    last = log.last()
    assert last is not None
    tamper(
        log.path,
        ("UPDATE meta SET value = ? WHERE key = 'head'", (head.replace("HASH40", last.hash),)),
    )
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, first_bad)
    assert report.problem is not None and report.problem.startswith(problem)


def test_deleting_the_head_is_detected(log: AuditLog) -> None:
    fill(log, 3)
    tamper(log.path, ("DELETE FROM meta WHERE key = 'head'", ()))
    report = log.verify()
    assert not report.ok and report.problem == "head row missing (meta modified)"
    # A damaged head does not stop auditing: the log carries on from its last row.
    assert log.append(make_record(4)).seq == 4


def test_swapping_two_rows_is_detected(log: AuditLog) -> None:
    fill(log, 20)
    tamper(
        log.path,
        ("UPDATE entries SET seq = -1 WHERE seq = 10", ()),
        ("UPDATE entries SET seq = 10 WHERE seq = 11", ()),
        ("UPDATE entries SET seq = 11 WHERE seq = -1", ()),
    )
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 10)
    assert report.problem == "entry 10: prev_hash does not match entry 9"


def test_renumbering_after_a_deletion_is_detected(log: AuditLog) -> None:
    fill(log, 20)
    # Remove entry 7 and close the gap by shifting every later entry down by one.
    tamper(
        log.path,
        ("DELETE FROM entries WHERE seq = 7", ()),
        ("UPDATE entries SET seq = -seq WHERE seq > 7", ()),
        ("UPDATE entries SET seq = -seq - 1 WHERE seq < 0", ()),
        ("UPDATE meta SET value = json_set(value, '$.seq', 19) WHERE key = 'head'", ()),
    )
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 7)
    assert report.problem == "entry 7: prev_hash does not match entry 6"


def test_a_forged_extra_row_is_detected(log: AuditLog) -> None:
    fill(log, 5)
    last = log.last()
    assert last is not None
    forged = make_record(6).to_dict()
    columns = ["seq", "prev_hash", "hash", *forged]
    values = [6, last.hash, "b" * 64] + [
        json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
        for v in forged.values()
    ]
    tamper(
        log.path,
        (
            f"INSERT INTO entries ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            tuple(values),
        ),
    )
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 6)
    assert report.problem == "entry 6: hash mismatch (row modified)"


def test_verify_sees_one_snapshot_while_appends_go_on(log: AuditLog) -> None:
    fill(log, 50)
    stop = threading.Event()

    def writer() -> None:
        i = 100
        while not stop.is_set():
            log.append(make_record(i))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = [log.verify() for _ in range(10)]
    finally:
        stop.set()
        thread.join()
    assert all(r.ok for r in reports), [r.problem for r in reports if not r.ok]
