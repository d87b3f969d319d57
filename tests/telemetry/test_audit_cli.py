"""`yrdgw audit verify` passes on every node after real calls, and fails after a row is edited;
`yrdgw trace show` renders the cross-province trace from a third node."""

from __future__ import annotations

import json
import sqlite3

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from tests.support.cli import yrdgw_on
from tests.support.cluster import grant_via_application, new_app
from tests.support.names import PURPOSE, RESIDENT


async def test_verify_passes_then_fails_after_an_edit_and_trace_show_renders(cluster):
    creds = await new_app(cluster)
    await grant_via_application(cluster, creds, ["gender", "name"])
    reply = await cluster.stub("js", exchange_pb2_grpc.ExchangeStub).Invoke(
        exchange_pb2.InvokeRequest(
            interface_id=RESIDENT,
            purpose=PURPOSE,
            params={"id_number": cluster.samples("sh")["id_number"]},
        ),
        metadata=creds,
        timeout=10,
    )

    code, out, _ = await yrdgw_on(cluster.fed.path, "trace", "show", reply.trace_id, "--via", "zj")
    assert code == 0
    assert "/yrd.v1.Exchange/Invoke" in out and "/yrd.v1.Federation/Invoke" in out
    assert " js " in out and " sh " in out and "masking" in out
    code, out, err = await yrdgw_on(
        cluster.fed.path, "trace", "show", reply.trace_id, "--via", "zj", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["trace_id"] == reply.trace_id and {s["node"] for s in doc["spans"]} == {"js", "sh"}
    assert set(doc["spans"][0]) >= {
        "node",
        "name",
        "span_id",
        "parent_id",
        "start",
        "duration_ms",
        "status",
        "attributes",
    }

    code, out, _ = await yrdgw_on(cluster.fed.path, "audit", "verify")
    assert code == 0, out
    assert all(f"{n}: OK" in out for n in ("js", "sh", "zj"))
    code, out, _ = await yrdgw_on(
        cluster.fed.path, "audit", "query", "--node", "sh", "--trace", reply.trace_id
    )
    assert code == 0 and reply.trace_id in out and "provider" in out

    # An intruder edits one provider entry (dropping the append-only triggers first).
    db = sqlite3.connect(cluster.nodes["sh"].config.data_dir / "audit.db")
    try:
        db.execute("DROP TRIGGER entries_no_update")
        db.execute("UPDATE entries SET record_count = 0 WHERE trace_id = ?", (reply.trace_id,))
        db.commit()
    finally:
        db.close()
    code, out, _ = await yrdgw_on(cluster.fed.path, "audit", "verify")
    assert code == 1
    assert "sh: BROKEN at entry" in out and "js: OK" in out
