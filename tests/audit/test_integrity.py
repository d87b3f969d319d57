"""The node's own chain at start and as it grows: verified from a checkpoint, a break refuses
data calls until an operator acknowledges it (an audited act found again at the next start)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import grpc
import pytest

from gateway.audit import AuditLog
from gateway.audit.integrity import ACK_ACTION, CHECKPOINT_FILE, ChainIntegrity, ChainState
from gateway.errors import GatewayError
from tests.support.records import make_record


def fill(audit: AuditLog, n: int) -> None:
    for i in range(n):
        audit.append(make_record(i + 1))


def tamper(db: Path, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS entries_no_update")
    conn.execute("DROP TRIGGER IF EXISTS entries_no_delete")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def forged_log(tmp_path: Path, entries: int, seq: int) -> Path:
    """A log of ``entries`` entries whose entry ``seq`` was edited afterwards."""
    db = tmp_path / "audit.db"
    with AuditLog(db, "js") as log:
        fill(log, entries)
    tamper(db, "UPDATE entries SET app = 'js/x/forged' WHERE seq = ?", (seq,))
    return db


def test_checks_walk_only_what_is_new_since_the_checkpoint(log: AuditLog, tmp_path) -> None:
    integrity = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE)
    fill(log, 30)
    assert integrity.check() == ChainState("ok")
    saved = json.loads((tmp_path / CHECKPOINT_FILE).read_text())
    assert saved == {"seq": 30, "hash": log.get(30).hash}
    assert integrity.verified == (30, log.get(30).hash)
    fill(log, 5)
    assert log.verify(since=(30, saved["hash"])).checked == 5
    assert integrity.check().state == "ok"
    assert integrity.verified[0] == 35


def test_a_log_cut_below_the_checkpoint_is_a_break(tmp_path) -> None:
    db = tmp_path / "audit.db"
    with AuditLog(db, "js") as log:
        fill(log, 20)
        ChainIntegrity(log, tmp_path / CHECKPOINT_FILE).check()
    tamper(db, "DELETE FROM entries WHERE seq > 12")
    tamper(db, "UPDATE meta SET value = json_set(value, '$.seq', 12) WHERE key = 'head'")
    with AuditLog(db, "js") as log:
        state = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE).check()
    assert (state.state, state.first_bad_seq) == ("broken", 20)
    assert "cut short" in state.problem


def test_a_broken_chain_refuses_data_until_acknowledged_and_stays_acknowledged(
    tmp_path, caplog
) -> None:
    db = forged_log(tmp_path, 10, 4)
    seen: list[ChainState] = []
    with AuditLog(db, "js") as log:
        integrity = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE, on_change=seen.append)
        state = integrity.check()
        assert (state.state, state.first_bad_seq) == ("broken", 4)
        assert "AUDIT_CHAIN_BROKEN" in caplog.text and "yrdgw audit acknowledge" in caplog.text
        with pytest.raises(GatewayError) as refused:
            integrity.refuse_if_broken()
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert refused.value.reason == "AUDIT_CHAIN_BROKEN"
        assert "js" in str(refused.value) and "entry 4" in str(refused.value)

        state, entry = asyncio.run(integrity.acknowledge("operator:js", "row 4 restored from tape"))
        assert state.state == "acknowledged"
        integrity.refuse_if_broken()  # serves again
        # The acknowledgement is an audit entry naming the break and the operator.
        assert entry.record.action == ACK_ACTION and entry.record.actor == "operator:js"
        assert entry.record.extra["first_bad_seq"] == 4
        assert [s.state for s in seen] == ["broken", "acknowledged"]
        fill(log, 3)
        assert integrity.check().state == "acknowledged"  # checked on from the acknowledgement
    # A restart without the checkpoint walks from the start, meets the same break, and finds it
    # acknowledged in the log.
    (tmp_path / CHECKPOINT_FILE).unlink()
    with AuditLog(db, "js") as log:
        again = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE).check()
    assert (again.state, again.first_bad_seq) == ("acknowledged", 4)


def test_a_new_break_after_an_acknowledged_one_refuses_again(tmp_path) -> None:
    db = forged_log(tmp_path, 10, 4)
    with AuditLog(db, "js") as log:
        integrity = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE)
        integrity.check()
        asyncio.run(integrity.acknowledge("operator:js", "accepted"))
        fill(log, 5)
    tamper(db, "UPDATE entries SET app = 'js/x/forged' WHERE seq = 14")
    with AuditLog(db, "js") as log:
        state = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE).check()
    assert (state.state, state.first_bad_seq) == ("broken", 14)


def test_an_intact_chain_has_nothing_to_acknowledge(log: AuditLog, tmp_path) -> None:
    integrity = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE)
    fill(log, 3)
    integrity.check()
    with pytest.raises(GatewayError) as refused:
        asyncio.run(integrity.acknowledge("operator:js", "just in case"))
    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "AUDIT_CHAIN_NOT_BROKEN",
    )
    assert log.last().seq == 3  # nothing written


def test_an_acknowledgement_taken_by_another_worker_is_found(tmp_path) -> None:
    db = forged_log(tmp_path, 6, 2)
    with AuditLog(db, "js") as log:
        # Two workers of one node: one log file, one checkpoint file.
        first = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE)
        second = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE)
        assert first.check().state == second.check().state == "broken"
        asyncio.run(first.acknowledge("operator:js", "seen"))
        assert second.current.state == "broken"
        assert (second.check().state, second.check().first_bad_seq) == ("acknowledged", 2)
        second.refuse_if_broken()
