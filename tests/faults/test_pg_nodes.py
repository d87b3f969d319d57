"""Node processes on PostgreSQL (``storage: postgresql://...`` in node.yaml): js and sh each on
their own province database, an authorized cross-province call, and what it left there."""

from __future__ import annotations

import grpc
import psycopg

from gateway.cli import eventloop
from tests.support.names import PURPOSE, RESIDENT
from tests.support.postgres import new_schema
from yrdtools.faults import Federation

FIELDS = ["id_number", "name", "gender"]


def test_nodes_on_postgresql_serve_a_call_and_keep_its_trail_there(
    tmp_path, certs_dir, postgres
) -> None:
    dsns = {"js": new_schema(postgres), "sh": new_schema(postgres)}
    fed = Federation(
        tmp_path, node_ids=["js", "sh"], entries=100, certs_dir=certs_dir, storage=dsns
    )
    try:
        fed.start()

        async def run():
            try:
                app = await fed.setup_app_with_grant("js/rsj/pg-nodes", RESIDENT, FIELDS, PURPOSE)
                person = fed.samples("sh")
                called = await fed.call(
                    app, RESIDENT, {"id_number": person["id_number"]}, PURPOSE, timeout=10
                )
                verified = [await fed.verify_audit_rpc(n) for n in ("js", "sh")]
                searched = await fed.search("js", "信息", timeout=10)
                return called, verified, searched
            finally:
                await fed.aclose()

        called, verified, searched = eventloop.run(run())
    finally:
        fed.close()
    assert called.code == grpc.StatusCode.OK, called
    assert all(v.ok and v.reply.ok for v in verified), verified
    # A federated search answered from both databases' catalogs.
    assert searched.ok, searched
    answered = {p.province for p in searched.reply.provinces if p.total > 0}
    assert answered == {"js", "sh"}, searched.reply.provinces
    # Nothing went to SQLite files: the state is in each province's database.
    assert not list((tmp_path / "var").glob("*/sharing.db"))
    assert not list((tmp_path / "var").glob("*/audit.db"))
    assert not list((tmp_path / "var").glob("*/catalog.db"))
    with psycopg.connect(dsns["sh"]) as sh, psycopg.connect(dsns["js"]) as js:
        assert sh.execute("SELECT count(*) FROM grants").fetchone()[0] == 1
        assert sh.execute("SELECT sum(used) FROM quota_usage WHERE span = 'day'").fetchone()[0] == 1
        assert js.execute("SELECT count(*) FROM apps").fetchone()[0] == 1
        for conn in (sh, js):
            assert conn.execute("SELECT count(*) FROM catalog_entries").fetchone()[0] >= 100
        for conn in (sh, js):
            assert conn.execute("SELECT count(*) FROM audit_entries").fetchone()[0] >= 1
            assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] >= 1
