"""The heads a node keeps for its peers, on both backends, and the SQLite log's forward-only
migration from the version before them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.audit.heads import SignedHead
from gateway.audit.sqlschema import SCHEMA_VERSION
from gateway.audit.witnessed import WitnessBook
from gateway.errors import SchemaTooNew
from gateway.postgres import Postgres
from tests.support.records import make_record

T = "2026-12-06T08:00:00.000Z"


@pytest.fixture(params=["sqlite", "postgresql"])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WitnessBook]:
    if request.param == "sqlite":
        with AuditLog(tmp_path / "audit.db", "js"):
            pass
        witnessed = WitnessBook(tmp_path / "audit.db")
        yield witnessed
        witnessed.close()
        return
    with Postgres(request.getfixturevalue("pg_dsn")) as pg:
        AuditLog(pg, "js").close()  # migrates the audit schema
        witnessed = WitnessBook(pg)
        yield witnessed
        witnessed.close()


def head(seq: int, digest: str = "ab" * 32) -> SignedHead:
    return SignedHead(seq, digest, T, b"\x30\x45" + bytes(range(60)))


def test_heads_are_kept_once_each_newest_first(book: WitnessBook) -> None:
    book.keep("sh", head(5), T)
    book.keep("sh", head(9), T)
    book.keep("sh", head(9), T)  # resent: kept once
    book.keep("zj", head(3), T)
    kept, following = book.heads()
    assert [(h.node, h.seq) for h in kept] == [("sh", 5), ("sh", 9), ("zj", 3)]
    assert kept[1].signature == head(9).signature and kept[1].received == T
    assert following == ""


def test_heads_page_on_by_value_as_new_ones_arrive(book: WitnessBook) -> None:
    for seq in (1, 2, 3, 4, 5):
        book.keep("sh", head(seq), T)
    first, cursor = book.heads(limit=2)
    assert [h.seq for h in first] == [1, 2] and cursor
    book.keep("ah", head(7), T)  # sorts before everything read so far: shifts no page
    book.keep("sh", head(6), T)
    rest: list[int] = []
    while cursor:
        page, cursor = book.heads(after=cursor, limit=2)
        rest += [h.seq for h in page]
    assert rest == [3, 4, 5, 6]


def test_two_hashes_for_one_seq_are_both_kept_as_evidence(book: WitnessBook) -> None:
    book.keep("sh", head(9, "ab" * 32), T)
    book.keep("sh", head(9, "cd" * 32), T)
    assert [h.hash for h in book.heads()[0]] == ["ab" * 32, "cd" * 32]


def test_a_version_1_log_migrates_forward_keeping_its_chain(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with AuditLog(db, "js") as log:
        for i in range(1, 6):
            log.append(make_record(i))
    # Back to the layout before witnessed heads, as a node of the previous release left it.
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE witnessed_heads")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with AuditLog(db, "js") as log:
        assert log.verify().ok and log.verify().checked == 5
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
        SCHEMA_VERSION,
    )
    conn.close()
    witnessed = WitnessBook(db)
    witnessed.keep("sh", head(1), T)
    assert len(witnessed.heads()[0]) == 1
    witnessed.close()


def test_a_log_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    AuditLog(db, "js").close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    # The same refusal as the PostgreSQL side's and the other stores': a newer node wrote it.
    with pytest.raises(SchemaTooNew) as info:
        AuditLog(db, "js")
    assert (info.value.component, info.value.found) == ("audit", 99)
    assert "upgrade this node" in str(info.value)
