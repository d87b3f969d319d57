"""The truncate-and-rewrite-head attack on an owner's audit log, against real node processes:
calls are made, the owner is stopped, the tail of its log deleted and its stored head (and
verified checkpoint) rewritten to match, and it is started again. Its chain alone verifies;
the federation check names the owner, the sequence and the witness."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import grpc

from gateway.cli import eventloop
from tests.support.cli import yrdgw_process
from tests.support.names import PURPOSE, RESIDENT
from tests.support.witness import head as head_of
from tests.support.witness import heads_every_half_second, witnessed
from yrdtools.faults import Federation

FIELDS = ["id_number", "name", "gender"]
NODES = ["js", "sh", "zj"]
CALLS = 12
CUT = 6  # entries cut off the owner's tail


def _truncate_and_rewrite(data_dir: Path, keep: int) -> None:
    """What an intruder with the owner's files does: drop the guards, cut the tail, and make the
    head and the verified checkpoint agree with what is left."""
    conn = sqlite3.connect(data_dir / "audit.db")
    try:
        conn.execute("DROP TRIGGER entries_no_delete")
        conn.execute("DELETE FROM entries WHERE seq > ?", (keep,))
        (digest,) = conn.execute("SELECT hash FROM entries WHERE seq = ?", (keep,)).fetchone()
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'head'",
            (json.dumps({"seq": keep, "hash": digest}),),
        )
        conn.commit()
    finally:
        conn.close()
    (data_dir / "audit.checkpoint").write_text(json.dumps({"seq": keep, "hash": digest}))


def test_truncated_owner_log_passes_alone_and_fails_against_its_witnesses(
    tmp_path, certs_dir
) -> None:
    fed = Federation(tmp_path, node_ids=NODES, entries=100, certs_dir=certs_dir)
    heads_every_half_second(fed)
    federation_file = str(fed.root / "federation.yaml")
    try:
        fed.start()

        async def calls_then_witnessed() -> tuple[int, dict[str, int]]:
            try:
                app = await fed.setup_app_with_grant("js/rsj/truncation", RESIDENT, FIELDS, PURPOSE)
                person = fed.samples("sh")
                for _ in range(CALLS):
                    called = await fed.call(
                        app, RESIDENT, {"id_number": person["id_number"]}, PURPOSE, timeout=10
                    )
                    assert called.code == grpc.StatusCode.OK, called
                head = await head_of(fed, "sh")
                # Both peers witness sh's head as it is now (heads go out every 0.5 s).
                deadline = time.monotonic() + 30
                seen: dict[str, int] = {}
                while time.monotonic() < deadline:
                    seen = {w: await witnessed(fed, w, "sh") for w in ("js", "zj")}
                    if all(s >= head for s in seen.values()):
                        break
                    await asyncio.sleep(0.2)
                return head, seen
            finally:
                await fed.aclose()

        head, seen = eventloop.run(calls_then_witnessed())
        assert all(s >= head for s in seen.values()), (head, seen)
        # Before the attack the federation agrees, though every node signs and sends heads
        # while the check runs.
        honest = yrdgw_process("--federation", federation_file, "audit", "verify", "--federation")
        assert honest.returncode == 0, honest.stdout + honest.stderr
        assert honest.stdout.rstrip().endswith("federation audit: OK"), honest.stdout

        fed.stop("sh")
        keep = head - CUT
        _truncate_and_rewrite(fed.data_dir("sh"), keep)
        fed.start_node("sh")
        # Cut short, with nothing new yet: the witnesses' heads lie beyond its end.
        early = yrdgw_process(
            "--federation", federation_file, "audit", "verify", "--federation", "--node", "sh"
        )

        alone = yrdgw_process("--federation", federation_file, "audit", "verify", "--node", "sh")
        print("$ yrdgw audit verify --node sh\n" + alone.stdout + alone.stderr)
        assert alone.returncode == 0, alone.stderr
        assert alone.stdout.startswith("sh: OK"), alone.stdout

        checked = yrdgw_process(
            "--federation", federation_file, "audit", "verify", "--federation", "--json"
        )
        text = yrdgw_process("--federation", federation_file, "audit", "verify", "--federation")
        print("$ yrdgw audit verify --federation\n" + text.stdout + text.stderr)
    finally:
        fed.close()
    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert report["ok"] is False
    # Each witness names the owner and the heads it holds beyond the cut: past the log's end
    # (truncated) or, once the owner's log has grown again with new entries, where the entry
    # there hashes otherwise (rewritten).
    cut = [f for f in report["findings"] if f["kind"] in ("truncated", "rewritten")]
    assert {f["witness"] for f in cut} == {"js", "zj"}, report["findings"]
    assert all(f["node"] == "sh" and f["seq"] > keep for f in cut), cut
    assert {(f["seq"], f["witness"]) for f in cut} >= {(head, "js"), (head, "zj")}, cut
    # js's receipts of the calls whose owner entries were cut point at missing entries.
    missing = [f for f in report["findings"] if f["kind"] == "missing_owner_entry"]
    assert missing and all(f["node"] == "sh" and f["witness"] == "js" for f in missing), missing
    # Nothing is blamed on the honest nodes.
    assert {f["node"] for f in report["findings"]} == {"sh"}, report["findings"]
    assert text.returncode == 1
    assert f"at entry {head} (witness js)" in text.stdout, text.stdout
    assert f"at entry {head} (witness zj)" in text.stdout, text.stdout
    assert "MISSING_OWNER_ENTRY" in text.stdout
    assert early.returncode == 1
    assert f"sh: TRUNCATED at entry {head} (witness js)" in early.stdout, early.stdout


def test_a_hanging_witness_holds_up_no_call_and_gets_the_heads_later(tmp_path, certs_dir) -> None:
    fed = Federation(tmp_path, node_ids=NODES, entries=100, certs_dir=certs_dir)
    heads_every_half_second(fed)
    try:
        fed.start()

        async def setup():
            try:
                return await fed.setup_app_with_grant("js/rsj/hanging", RESIDENT, FIELDS, PURPOSE)
            finally:
                await fed.aclose()

        app = eventloop.run(setup())
        person = fed.samples("sh")
        fed.pause("zj")  # SIGSTOP: connections open, nothing answers (heads wait 5 s each)

        async def calls() -> tuple[list[float], int, int]:
            try:
                elapsed = []
                for _ in range(CALLS):
                    called = await fed.call(
                        app, RESIDENT, {"id_number": person["id_number"]}, PURPOSE, timeout=10
                    )
                    assert called.code == grpc.StatusCode.OK, called
                    elapsed.append(called.elapsed)
                head = await head_of(fed, "sh")
                deadline = time.monotonic() + 30
                while await witnessed(fed, "js", "sh") < head and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                return elapsed, head, await witnessed(fed, "js", "sh")
            finally:
                await fed.aclose()

        elapsed, head, by_js = eventloop.run(calls())
        fed.resume("zj")

        async def later() -> int:
            try:
                deadline = time.monotonic() + 60
                seen = 0
                while time.monotonic() < deadline:
                    seen = await witnessed(fed, "zj", "sh")
                    if seen >= head:
                        break
                    await asyncio.sleep(0.3)
                return seen
            finally:
                await fed.aclose()

        by_zj = eventloop.run(later())
    finally:
        fed.close()
    # The calls never waited for the hanging witness (each head to it waits 5 s for nothing).
    elapsed.sort()
    assert elapsed[len(elapsed) // 2] < 2.0, elapsed
    assert sum(elapsed) < CALLS * 5.0 / 2, elapsed
    assert by_js >= head  # the other witness was not held up either
    assert by_zj >= head, (by_zj, head)  # and zj got sh's heads once it answered again
