"""`yrdgw audit verify` passes on every node after real calls, and fails after a row is edited;
`yrdgw trace show` renders the cross-province trace from a third node; `yrdgw audit query` pages
past one call's 1,000 entries and says when more remain."""

from __future__ import annotations

import json
import sqlite3

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.audit.log import AuditRecord
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


async def test_audit_query_pages_past_a_thousand_and_never_stops_silently(cluster):
    audit = cluster.nodes["sh"]._audit
    assert audit is not None
    for i in range(1_205):
        await audit.append_async(
            AuditRecord(
                node="sh",
                side="local",
                action="probe",
                decision="allow",
                app=f"sh/test/pager-{i % 3}",
            )
        )
    app = "sh/test/pager-0"  # 402 entries of it
    path = cluster.fed.path

    code, out, err = await yrdgw_on(path, "audit", "query", "--node", "sh", "--all", "--json")
    assert code == 0, err
    every = json.loads(out)
    seqs = [e["seq"] for e in every]
    assert len(seqs) > 1_205 and seqs == sorted(set(seqs), reverse=True)
    assert "more entries" not in err

    # A limit past one call's 1,000 is served across calls, and says that more remain.
    code, out, err = await yrdgw_on(
        path, "audit", "query", "--node", "sh", "--limit", "1100", "--json"
    )
    assert code == 0, err
    first = [e["seq"] for e in json.loads(out)]
    # Newest first, no gap and no repeat where the two calls meet (the reads since are newer).
    assert len(first) == 1_100 and first == list(range(first[0], first[0] - 1_100, -1))
    stop = first[-1]
    assert f"more entries match, older than seq {stop}: rerun with --before-seq {stop}" in err

    # ... and the rest comes from where it stopped.
    code, out, err = await yrdgw_on(
        path, "audit", "query", "--node", "sh", "--all", "--before-seq", str(stop), "--json"
    )
    assert code == 0, err
    assert [e["seq"] for e in json.loads(out)] == [s for s in seqs if s < stop]

    # Filters page the same way; the text form says so too.
    code, out, err = await yrdgw_on(
        path, "audit", "query", "--node", "sh", "--app", app, "--limit", "400"
    )
    assert code == 0 and out.count(app) == 400, err
    assert "more entries match" in err
    code, out, err = await yrdgw_on(path, "audit", "query", "--node", "sh", "--app", app, "--all")
    assert code == 0 and out.count(app) == 402 and "more entries" not in err
