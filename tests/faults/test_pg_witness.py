"""Witnessed heads between node processes on PostgreSQL: each keeps its peer's heads in its own
province database (``audit_witnessed``), and the federation check agrees with them."""

from __future__ import annotations

import asyncio
import time

import grpc
import psycopg

from gateway.cli import eventloop
from tests.support.cli import yrdgw_process
from tests.support.names import PURPOSE, RESIDENT
from tests.support.postgres import new_schema
from tests.support.witness import head, heads_every_half_second, witnessed
from yrdtools.faults import Federation

FIELDS = ["id_number", "name", "gender"]


def test_heads_are_witnessed_in_the_peer_database_and_the_federation_agrees(
    tmp_path, certs_dir, postgres
) -> None:
    dsns = {"js": new_schema(postgres), "sh": new_schema(postgres)}
    fed = Federation(
        tmp_path, node_ids=["js", "sh"], entries=100, certs_dir=certs_dir, storage=dsns
    )
    heads_every_half_second(fed)
    try:
        fed.start()

        async def run() -> tuple[int, int]:
            try:
                app = await fed.setup_app_with_grant("js/rsj/pg-witness", RESIDENT, FIELDS, PURPOSE)
                person = fed.samples("sh")
                for _ in range(3):
                    called = await fed.call(
                        app, RESIDENT, {"id_number": person["id_number"]}, PURPOSE, timeout=10
                    )
                    assert called.code == grpc.StatusCode.OK, called
                end = await head(fed, "sh")
                deadline = time.monotonic() + 30
                while await witnessed(fed, "js", "sh") < end and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                return end, await witnessed(fed, "js", "sh")
            finally:
                await fed.aclose()

        end, by_js = eventloop.run(run())
        checked = yrdgw_process(
            "--federation", str(fed.root / "federation.yaml"), "audit", "verify", "--federation"
        )
    finally:
        fed.close()
    assert by_js >= end
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "sh: chain OK" in checked.stdout and "3 receipts" in checked.stdout, checked.stdout
    with psycopg.connect(dsns["js"]) as js, psycopg.connect(dsns["sh"]) as sh:
        kept = js.execute("SELECT max(seq) FROM audit_witnessed WHERE node = 'sh'").fetchone()[0]
        assert kept >= end
        # Each head kept is one of sh's entries, hash for hash.
        for seq, digest in js.execute("SELECT seq, hash FROM audit_witnessed WHERE node = 'sh'"):
            row = sh.execute("SELECT hash FROM audit_entries WHERE seq = %s", (seq,)).fetchone()
            assert row == (digest,), seq
