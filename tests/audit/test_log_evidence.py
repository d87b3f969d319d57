"""What a log answers for the federation's cross-check, on both backends: its hash at given
sequences, which given hashes it holds, its consumer-side receipts, and a walk from a
checkpoint."""

from __future__ import annotations

from gateway.audit import AuditLog
from tests.support.records import make_record


def test_hashes_at_sequences_and_which_hashes_it_holds(log: AuditLog) -> None:
    entries = [log.append(make_record(i)) for i in range(1, 13)]
    assert log.hashes_at([3, 7, 99]) == {3: entries[2].hash, 7: entries[6].hash}
    asked = [entries[0].hash, entries[11].hash, "ff" * 32]
    assert log.holding(asked) == {entries[0].hash, entries[11].hash}
    # More than one statement's worth of parameters.
    assert len(log.hashes_at(range(1, 1200))) == 12


def test_receipts_are_consumer_entries_holding_an_owner_hash(log: AuditLog) -> None:
    for i in range(1, 9):
        log.append(make_record(i, side="consumer", peer="sh", peer_hash=f"{i:064x}"))
        log.append(make_record(i, side="provider", peer="zj", peer_hash=f"{i:064x}"))
    log.append(make_record(20, side="consumer", peer="sh", peer_hash=""))  # a refusal: none
    receipts = log.receipts(0, 100)
    assert [(s, o) for s, o, _ in receipts] == [(s, "sh") for s in range(1, 17, 2)]
    assert receipts[0][2] == f"{1:064x}"
    assert log.receipts(9, 2) == receipts[5:7]


def test_a_walk_from_a_checkpoint_checks_the_checkpoint_and_what_follows(log: AuditLog) -> None:
    entries = [log.append(make_record(i)) for i in range(1, 11)]
    report = log.verify(since=(6, entries[5].hash))
    assert report.ok and report.checked == 4
    wrong = log.verify(since=(6, "00" * 32))
    assert (wrong.ok, wrong.first_bad_seq) == (False, 6)
    beyond = log.verify(since=(40, entries[9].hash))
    assert (beyond.ok, beyond.first_bad_seq) == (False, 40)
    assert "cut short" in (beyond.problem or "")
