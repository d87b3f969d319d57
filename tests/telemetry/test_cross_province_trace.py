"""One user action is one trace across provinces, gathered from any node; audit on both sides."""

from __future__ import annotations

import socket
import sqlite3
import time

import grpc
import pytest
from grpc import aio

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    ops_pb2,
    ops_pb2_grpc,
)
from gateway.config import load_federation
from gateway.node import Node, NodeOptions
from tests.support.cluster import Cluster, grant_via_application, new_app
from tests.support.federation import write_federation
from tests.support.names import PURPOSE, RESIDENT
from tests.support.nodes import PEOPLE, stop_all
from tests.support.refusals import refused

EXPORT_TIMEOUT_S = 2.0
"""The OTLP exporter's timeout per export (``gateway.telemetry.provider``)."""


def ops(cluster: Cluster, node: str):
    stub = cluster.stub(node, ops_pb2_grpc.OpsStub)
    _, md = cluster.operator(node)
    return stub, md


async def granted_call(cluster: Cluster, metadata=()):
    creds = await new_app(cluster)
    await grant_via_application(cluster, creds, ["gender", "name"])
    exchange = cluster.stub("js", exchange_pb2_grpc.ExchangeStub)
    call = exchange.Invoke(
        exchange_pb2.InvokeRequest(
            interface_id=RESIDENT,
            params={"id_number": cluster.samples("sh")["id_number"]},
            purpose=PURPOSE,
        ),
        metadata=creds + tuple(metadata),
        timeout=10,
    )
    reply = await call
    trailers = dict(await call.trailing_metadata())
    return reply, trailers, creds


async def test_cross_province_call_is_one_trace_seen_from_a_third_node(cluster: Cluster):
    reply, trailers, _ = await granted_call(cluster)
    assert len(reply.trace_id) == 32 and trailers["yrd-trace-id"] == reply.trace_id
    stub, md = ops(cluster, "zj")  # zj took no part in the call
    trace = await stub.GetTrace(
        ops_pb2.GetTraceRequest(trace_id=reply.trace_id), metadata=md, timeout=10
    )
    assert not trace.partial
    assert {n.node: n.state for n in trace.nodes} == dict.fromkeys(("js", "sh", "zj"), "answered")
    spans = {s.span_id: s for s in trace.spans}
    assert {s.node for s in trace.spans} == {"js", "sh"}
    assert all(s.trace_id == reply.trace_id for s in trace.spans)

    def one(node, name):
        found = [s for s in trace.spans if s.node == node and s.name == name]
        assert len(found) == 1, (node, name, [(s.node, s.name) for s in trace.spans])
        return found[0]

    root = one("js", "/yrd.v1.Exchange/Invoke")
    assert root.parent_id == "" and root.attributes["yrd.app"] == "js/rsj/pension-transfer"
    owner = one("sh", "/yrd.v1.Federation/Invoke")
    # js's forward to sh is a step of js's span (issue 18), with its length and outcome; the
    # owner's server span hangs under js's span.
    assert owner.parent_id == root.span_id
    forward = one("js", "/yrd.v1.Federation/Invoke")
    assert forward.kind == "STEP" and forward.parent_id == root.span_id
    assert forward.attributes == {"yrd.peer": "sh", "rpc.grpc.status_code": "0"}
    assert forward.status == "OK" and forward.duration_ms >= owner.duration_ms
    assert forward.start_unix_nano <= owner.start_unix_nano
    for step in ("authorize", "backend.call", "masking"):
        # Steps are events on the owner's span (issue 18), shown as rows under it.
        assert one("sh", step).parent_id == owner.span_id
        assert one("sh", step).kind == "STEP"
    assert one("sh", "authorize").attributes["yrd.decision"] == "allow"
    assert one("sh", "masking").attributes["yrd.masked_fields"] == "1"
    # Children start after, and end within, their parents.
    for span in trace.spans:
        parent = spans.get(span.parent_id)
        if parent is not None:
            assert span.start_unix_nano >= parent.start_unix_nano


async def test_an_apps_own_traceparent_is_continued(cluster: Cluster):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    reply, _, _ = await granted_call(
        cluster, (("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),)
    )
    assert reply.trace_id == trace_id
    stub, md = ops(cluster, "js")
    listed = await stub.ListTraces(
        ops_pb2.ListTracesRequest(app="js/rsj/pension-transfer"), metadata=md, timeout=10
    )
    assert trace_id in [t.trace_id for t in listed.traces]


async def test_federated_search_has_a_span_per_peer(cluster: Cluster):
    catalog = cluster.stub("sh", catalog_pb2_grpc.CatalogStub)
    reply = await catalog.Search(catalog_pb2.SearchRequest(query="户籍", live=True), timeout=10)
    stub, md = ops(cluster, "js")
    trace = await stub.GetTrace(
        ops_pb2.GetTraceRequest(trace_id=reply.trace_id), metadata=md, timeout=10
    )
    fanout = {s.attributes["yrd.peer"]: s for s in trace.spans if s.name == "fanout.peer"}
    assert set(fanout) == {"js", "zj"}
    assert all(s.attributes["yrd.state"] == "answered" for s in fanout.values())
    assert [s.node for s in trace.spans if s.name == "catalog.local_search"] == ["sh"]
    served = {
        s.node
        for s in trace.spans
        if s.name == "/yrd.v1.Federation/SearchLocal" and s.kind == "SERVER"
    }
    assert served == {"js", "zj"}


async def test_gathering_with_a_dead_node_is_partial(cluster: Cluster):
    reply, _, _ = await granted_call(cluster)
    await cluster.nodes["sh"].stop(0)
    stub, md = ops(cluster, "zj")
    trace = await stub.GetTrace(
        ops_pb2.GetTraceRequest(trace_id=reply.trace_id), metadata=md, timeout=5
    )
    assert trace.partial
    states = {n.node: n for n in trace.nodes}
    assert states["sh"].state == "failed" and states["sh"].reason
    assert states["js"].state == "answered" and {s.node for s in trace.spans} == {"js"}


async def test_bad_trace_ids_are_invalid_arguments(cluster: Cluster):
    stub, md = ops(cluster, "js")
    for bad in ("", "xyz", "0" * 32, "A" * 33):
        failure = await refused(
            stub.GetTrace(ops_pb2.GetTraceRequest(trace_id=bad), metadata=md, timeout=5),
            grpc.StatusCode.INVALID_ARGUMENT,
            "BAD_TRACE_ID",
        )
        assert failure.metadata["field"] == "trace_id"


async def test_both_sides_audit_the_call_and_chains_verify(cluster: Cluster):
    reply, _, _ = await granted_call(cluster)
    js, js_md = ops(cluster, "js")
    sh, sh_md = ops(cluster, "sh")
    consumer = await js.QueryAudit(
        ops_pb2.QueryAuditRequest(trace_id=reply.trace_id), metadata=js_md, timeout=5
    )
    provider = await sh.QueryAudit(
        ops_pb2.QueryAuditRequest(trace_id=reply.trace_id), metadata=sh_md, timeout=5
    )
    assert len(consumer.entries) == len(provider.entries) == 1
    import json

    c, p = json.loads(consumer.entries[0].json), json.loads(provider.entries[0].json)
    assert (c["side"], p["side"]) == ("consumer", "provider")
    assert c["peer_hash"] == provider.entries[0].hash == reply.provider_audit_hash
    assert c["record_count"] == p["record_count"] == 1
    assert p["fields_masked"] == ["name"]
    for stub, md in ((js, js_md), (sh, sh_md)):
        report = await stub.VerifyAudit(ops_pb2.VerifyAuditRequest(), metadata=md, timeout=5)
        assert report.ok and report.checked >= 1


@pytest.mark.parametrize("locked", ["sh", "js"])
async def test_audit_write_failure_refuses_the_call(cluster: Cluster, locked):
    creds = await new_app(cluster)
    await grant_via_application(cluster, creds, ["gender"])
    # Another process holding the audit file's write lock: appends fail after the busy timeout.
    holder = sqlite3.connect(cluster.nodes[locked].config.data_dir / "audit.db", timeout=1)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        exchange = cluster.stub("js", exchange_pb2_grpc.ExchangeStub)
        with pytest.raises(aio.AioRpcError) as info:
            await exchange.Invoke(
                exchange_pb2.InvokeRequest(
                    interface_id=RESIDENT,
                    params={"id_number": cluster.samples("sh")["id_number"]},
                    purpose=PURPOSE,
                ),
                metadata=creds,
                timeout=15,
            )
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert "AUDIT_UNAVAILABLE" in str(info.value.trailing_metadata())
        assert f"[{locked}]" in info.value.details()
    finally:
        holder.rollback()
        holder.close()


async def test_a_dead_otlp_collector_costs_no_latency(tmp_path, certs_dir):
    hole = socket.socket()  # accepts connections, never answers: the worst kind of dead
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=("js", "sh")))
    otlp = f"http://127.0.0.1:{hole.getsockname()[1]}"
    nodes = {}
    try:
        for n in ("js", "sh"):
            nodes[n] = Node(fed, n, NodeOptions(entries=100, people=PEOPLE, otlp_endpoint=otlp))
            await nodes[n].start()
        cluster = Cluster(fed, nodes, [])
        try:
            catalog = cluster.stub("js", catalog_pb2_grpc.CatalogStub)
            # The promise, not a latency ratio: an export on a call's path would hold that call
            # (and sh's span end, hence sh's part of the answer) for the exporter's timeout of
            # 2 s (gateway.telemetry.provider). Under a deadline short of it, every search is
            # answered in full, however slow the box otherwise is.
            for _ in range(40):
                reply = await catalog.Search(
                    catalog_pb2.SearchRequest(query="社保"), timeout=EXPORT_TIMEOUT_S * 0.9
                )
                assert not reply.partial, reply.provinces
        finally:
            started = time.perf_counter()
            await stop_all(cluster)
            # Shutdown may wait for the exporter's own timeout, but must not hang.
            assert time.perf_counter() - started < 15
    finally:
        hole.close()
