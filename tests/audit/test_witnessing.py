"""Both ends of witnessing without a network: the publisher signs verified heads and delivers
them to each witness on its own schedule (a witness that is down gets them later, in order, and
never holds up the data path); the witness keeps only heads the sender's certificate verifies."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.audit import AuditLog
from gateway.audit.heads import HeadSigner, SignedHead, check_head
from gateway.audit.integrity import CHECKPOINT_FILE, ChainIntegrity
from gateway.audit.witnessed import WitnessBook
from gateway.audit.witnessing import HeadPublisher, Witness
from gateway.certs import cert_file, key_file
from gateway.clock import utcnow
from gateway.errors import GatewayError
from tests.support.records import make_record


class Witnessing:
    """A witness reached through a switch: up, down (refuses at once) or hanging."""

    def __init__(self) -> None:
        self.got: list[SignedHead] = []
        self.mode = "up"
        self.release = asyncio.Event()

    async def send(self, head: SignedHead) -> int:
        if self.mode == "down":
            raise ConnectionError("witness down")
        if self.mode == "hang":
            await self.release.wait()
        self.got.append(head)
        return head.seq


@pytest_asyncio.fixture
async def log(tmp_path: Path) -> AsyncIterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.db", "sh")
    yield audit
    await audit.aclose()


def publisher(
    log: AuditLog, certs_dir, witnesses: dict[str, Witnessing], tmp_path: Path, **kw
) -> HeadPublisher:
    kw.setdefault("interval_s", 3600.0)
    kw.setdefault("retry_s", 0.05)
    return HeadPublisher(
        log,
        HeadSigner("sh", key_file(certs_dir, "sh").read_bytes()),
        {name: w.send for name, w in witnesses.items()},
        integrity=ChainIntegrity(log, tmp_path / CHECKPOINT_FILE),
        clock=utcnow,
        **kw,
    )


async def until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_heads_go_to_every_witness_signed_by_the_node(log, certs_dir, tmp_path) -> None:
    js, zj = Witnessing(), Witnessing()
    pub = publisher(log, certs_dir, {"js": js, "zj": zj}, tmp_path)
    pub.start()
    try:
        for i in range(3):
            await log.append_async(make_record(i + 1))
        head = await pub.publish()
        assert head is not None and (head.seq, head.hash) == (3, log.get(3).hash)
        await until(lambda: js.got and zj.got)
        check_head("sh", js.got[-1], cert_file(certs_dir, "sh").read_bytes())
        assert await pub.publish() is head  # nothing new: the same head, not queued again
        await asyncio.sleep(0.1)
        assert [h.seq for h in js.got].count(3) == 1 and not pub.pending["js"]
    finally:
        await pub.close()


async def test_every_n_entries_triggers_a_head_before_the_interval(
    log, certs_dir, tmp_path
) -> None:
    js = Witnessing()
    pub = publisher(log, certs_dir, {"js": js}, tmp_path, interval_s=3600.0, every=5)
    pub.start()
    try:
        for i in range(5):
            await log.append_async(make_record(i + 1))
        await until(lambda: bool(js.got) and js.got[-1].seq == 5, timeout=5)
    finally:
        await pub.close()


async def test_a_witness_that_is_down_gets_its_heads_later_in_order(
    log, certs_dir, tmp_path
) -> None:
    js, zj = Witnessing(), Witnessing()
    zj.mode = "down"
    pub = publisher(log, certs_dir, {"js": js, "zj": zj}, tmp_path)
    pub.start()
    try:
        for i in range(3):
            await log.append_async(make_record(i + 1))
            await pub.publish()
        await until(lambda: len(js.got) == 3)  # js is not held up by zj
        assert zj.got == [] and [h.seq for h in pub.pending["zj"]] == [1, 2, 3]
        zj.mode = "up"
        await until(lambda: len(zj.got) == 3)
        assert [h.seq for h in zj.got] == [1, 2, 3]
        assert not pub.pending["zj"] and pub.delivered == {"js": 3, "zj": 3}
    finally:
        await pub.close()


async def test_the_backlog_of_a_witness_is_bounded_keeping_the_newest(
    log, certs_dir, tmp_path
) -> None:
    zj = Witnessing()
    zj.mode = "down"
    pub = publisher(log, certs_dir, {"zj": zj}, tmp_path, backlog=4)
    pub.start()
    try:
        for i in range(10):
            await log.append_async(make_record(i + 1))
            await pub.publish()
        assert [h.seq for h in pub.pending["zj"]] == [7, 8, 9, 10]
    finally:
        await pub.close()


async def test_the_data_path_never_waits_on_a_hanging_witness(log, certs_dir, tmp_path) -> None:
    zj = Witnessing()
    zj.mode = "hang"
    pub = publisher(log, certs_dir, {"zj": zj}, tmp_path, every=1)
    pub.start()
    try:
        await log.append_async(make_record(1))
        await pub.publish()
        await asyncio.sleep(0.1)  # the sender is now stuck in the witness
        # The witness never answers: that 50 durable appends and heads complete at all (each
        # within a bound far below forever, generous for a loaded box) is the point.
        for i in range(50):
            await asyncio.wait_for(log.append_async(make_record(i + 2)), timeout=30)
            head = await asyncio.wait_for(pub.publish(), timeout=30)
            assert head is not None
        assert len(pub.pending["zj"]) == 51  # the one being sent, and 50 behind it
    finally:
        zj.release.set()
        await pub.close()


async def test_a_broken_chain_is_not_vouched_for(log, certs_dir, tmp_path) -> None:
    js = Witnessing()
    pub = publisher(log, certs_dir, {"js": js}, tmp_path)
    for i in range(4):
        await log.append_async(make_record(i + 1))
    conn = sqlite3.connect(tmp_path / "audit.db")
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute("UPDATE entries SET app = 'x/y/z' WHERE seq = 2")
    conn.commit()
    conn.close()
    assert await pub.publish() is None
    assert pub.last is None


async def test_the_witness_keeps_genuine_heads_and_refuses_forged_ones(certs_dir, tmp_path):
    AuditLog(tmp_path / "audit.db", "js").close()
    book = WitnessBook(tmp_path / "audit.db")
    witness = Witness("js", book, clock=utcnow)
    sh_cert = cert_file(certs_dir, "sh").read_bytes()
    digest = "ab" * 32
    genuine = HeadSigner("sh", key_file(certs_dir, "sh").read_bytes()).sign(8, digest, "t")
    forged = HeadSigner("sh", key_file(certs_dir, "zj").read_bytes()).sign(9, digest, "t")
    try:
        assert await witness.receive("sh", genuine, sh_cert) == 8
        with pytest.raises(GatewayError) as refused:
            await witness.receive("sh", forged, sh_cert)
        assert refused.value.reason == "HEAD_SIGNATURE_INVALID"
        with pytest.raises(GatewayError) as plaintext:
            await witness.receive("sh", genuine, None)
        assert plaintext.value.reason == "WITNESS_NEEDS_TLS"
        assert [(h.node, h.seq) for h in book.heads()[0]] == [("sh", 8)]
    finally:
        book.close()
