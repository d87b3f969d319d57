"""Metrics: the exposition parses, and counts move after real calls through real nodes."""

from __future__ import annotations

import asyncio

import aiohttp
import grpc
import pytest
import pytest_asyncio
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.errors import PermissionDenied
from gateway.server.interceptors import Edge
from gateway.telemetry.metrics import OTHER, Metrics
from tests.support.federation import eventually
from tests.support.names import PURPOSE, RESIDENT, ROSTER
from tests.support.ops import OpsCluster, start_cluster

in_module_loop = pytest.mark.asyncio(loop_scope="module")
"""Tests sharing the module's nodes run in the module's event loop."""


def samples(metrics: Metrics) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition, keyed by name and labels: parsing it is the check."""
    text = metrics.render().decode("utf-8")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, frozenset(labels.items())), 0.0)


# -- the Metrics object ------------------------------------------------------------------------


def test_exposition_parses_and_counts_by_label():
    m = Metrics("js", "江苏")
    m.observe_rpc("/yrd.v1.Exchange/Invoke", grpc.StatusCode.OK, 0.004)
    m.observe_rpc(
        "/yrd.v1.Exchange/Invoke", grpc.StatusCode.PERMISSION_DENIED, 0.002, reason="NO_GRANT"
    )
    m.observe_interface(RESIDENT, "consumer", "OK", 0.0042)
    m.observe_peer("sh", "/yrd.v1.Federation/Invoke", grpc.StatusCode.OK, 0.003)
    got = samples(m)
    assert got[("yrd_node_info", frozenset({"node": "js", "name": "江苏"}.items()))] == 1
    assert (
        value(
            m,
            "yrd_rpc_server_handled_total",
            port="client",
            method="/yrd.v1.Exchange/Invoke",
            code="OK",
        )
        == 1
    )
    assert value(m, "yrd_rpc_server_errors_total", code="PERMISSION_DENIED", reason="NO_GRANT") == 1
    assert (
        value(m, "yrd_interface_calls_total", interface=RESIDENT, side="consumer", status="OK") == 1
    )
    assert (
        value(m, "yrd_peer_calls_total", peer="sh", method="/yrd.v1.Federation/Invoke", code="OK")
        == 1
    )
    # 4.2 ms lands in the 5 ms bucket, not the 2.5 ms one; buckets reach from 0.5 ms to 10 s.
    assert (
        value(
            m, "yrd_interface_call_seconds_bucket", interface=RESIDENT, side="consumer", le="0.005"
        )
        == 1
    )
    assert (
        value(
            m, "yrd_interface_call_seconds_bucket", interface=RESIDENT, side="consumer", le="0.0025"
        )
        == 0
    )
    assert (
        "yrd_peer_call_seconds_bucket",
        frozenset({"peer": "sh", "method": "/yrd.v1.Federation/Invoke", "le": "0.0005"}.items()),
    ) in got
    assert (
        "yrd_peer_call_seconds_bucket",
        frozenset({"peer": "sh", "method": "/yrd.v1.Federation/Invoke", "le": "10.0"}.items()),
    ) in got


def test_nodes_in_one_process_keep_separate_registries():
    js, sh = Metrics("js"), Metrics("sh")
    js.observe_peer("sh", "/yrd.v1.Federation/Hello", grpc.StatusCode.OK, 0.001)
    assert (
        value(js, "yrd_peer_calls_total", peer="sh", method="/yrd.v1.Federation/Hello", code="OK")
        == 1
    )
    assert (
        value(sh, "yrd_peer_calls_total", peer="sh", method="/yrd.v1.Federation/Hello", code="OK")
        == 0
    )


def test_caller_chosen_interface_ids_cannot_grow_the_label_set():
    m = Metrics("js", max_interfaces=3)
    for i in range(10):
        m.observe_interface(f"sh/gaj/made-up-{i}/v1", "consumer", "NOT_FOUND", 0.001)
    m.observe_interface("<script>", "consumer", "INVALID_ARGUMENT", 0.001)
    interfaces = {
        dict(labels)["interface"]
        for name, labels in samples(m)
        if name == "yrd_interface_calls_total"
    }
    assert interfaces == {
        "sh/gaj/made-up-0/v1",
        "sh/gaj/made-up-1/v1",
        "sh/gaj/made-up-2/v1",
        OTHER,
        "invalid",
    }
    assert (
        value(m, "yrd_interface_calls_total", interface=OTHER, side="consumer", status="NOT_FOUND")
        == 7
    )
    with pytest.raises(ValueError):
        m.observe_interface(RESIDENT, "sideways", "OK", 0.001)


# -- the server interceptor on a real grpc.aio server ------------------------------------------


class Scripted(health_pb2_grpc.HealthServicer):
    """Health's Check (unary) and Watch (stream) doing what the service name says."""

    async def Check(self, request, context):
        if request.service == "refuse":
            raise PermissionDenied("not for you", reason="NO_GRANT")
        if request.service == "crash":
            raise RuntimeError("boom")
        if request.service == "slow":
            await asyncio.sleep(2)
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    async def Watch(self, request, context):
        for _ in range(3 if request.service == "three" else 1000):
            yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
            await asyncio.sleep(0.01)


@pytest_asyncio.fixture(loop_scope="module")
async def scripted():
    metrics = Metrics("sh")
    server = aio.server(interceptors=[Edge("sh", port="peer", metrics=metrics)])
    health_pb2_grpc.add_HealthServicer_to_server(Scripted(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    yield metrics, health_pb2_grpc.HealthStub(channel), channel
    await channel.close()
    await server.stop(0)


CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"


@in_module_loop
@pytest.mark.parametrize(
    "service, code, reason",
    [
        ("", grpc.StatusCode.OK, None),
        (
            "refuse",
            grpc.StatusCode.PERMISSION_DENIED,
            "NO_GRANT",
        ),  # a GatewayError translated by the interceptor
        ("crash", grpc.StatusCode.INTERNAL, "INTERNAL"),
        ("slow", grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
    ],
)
async def test_server_interceptor_records_the_status_the_client_sees(
    scripted, service, code, reason
):
    metrics, stub, _ = scripted
    before = value(
        metrics, "yrd_rpc_server_handled_total", port="peer", method=CHECK, code=code.name
    )
    try:
        await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=0.3)
        seen = grpc.StatusCode.OK
    except aio.AioRpcError as exc:
        seen = exc.code()
    assert seen == code

    def counted() -> bool:
        return (
            value(
                metrics, "yrd_rpc_server_handled_total", port="peer", method=CHECK, code=code.name
            )
            == before + 1
        )

    await eventually(counted)
    if reason is not None:
        assert value(metrics, "yrd_rpc_server_errors_total", code=code.name, reason=reason) >= 1


@in_module_loop
async def test_server_interceptor_times_streams_to_their_end(scripted):
    metrics, stub, _ = scripted
    got = [r async for r in stub.Watch(health_pb2.HealthCheckRequest(service="three"), timeout=5)]
    assert len(got) == 3
    assert value(metrics, "yrd_rpc_server_handled_total", port="peer", method=WATCH, code="OK") == 1
    # Three messages 10 ms apart: the whole stream, not just its first message, is timed.
    assert (
        value(
            metrics, "yrd_rpc_server_handling_seconds_bucket", port="peer", method=WATCH, le="0.01"
        )
        == 0
    )

    call = stub.Watch(health_pb2.HealthCheckRequest(service="endless"), timeout=5)
    async for _ in call:
        call.cancel()
        break
    await eventually(
        lambda: (
            value(
                metrics, "yrd_rpc_server_handled_total", port="peer", method=WATCH, code="CANCELLED"
            )
            == 1
        )
    )


@in_module_loop
async def test_unknown_methods_are_counted_without_their_caller_chosen_name(scripted):
    metrics, _, channel = scripted
    with pytest.raises(aio.AioRpcError) as info:
        await channel.unary_unary("/no.Such/Method<x>")(b"", timeout=2)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert (
        value(
            metrics,
            "yrd_rpc_server_handled_total",
            port="peer",
            method="unimplemented",
            code="UNIMPLEMENTED",
        )
        == 1
    )
    assert not [k for k in samples(metrics) if "<x>" in str(k)]


@in_module_loop
async def test_a_failing_recorder_does_not_fail_the_call(scripted, monkeypatch, caplog):
    metrics, stub, _ = scripted

    def broken(*args, **kwargs):
        raise RuntimeError("registry on fire")

    monkeypatch.setattr(metrics, "observe_rpc", broken)
    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert "recording metrics" in caplog.text


# -- real nodes: js app calls sh interfaces ----------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory, certs_dir):
    running = await start_cluster(tmp_path_factory.mktemp("metrics"), certs_dir, ("js", "sh"))
    yield running
    await running.stop()


@in_module_loop
async def test_counts_move_after_real_cross_province_calls(cluster: OpsCluster):
    js, sh = cluster.metrics["js"], cluster.metrics["sh"]
    creds = await cluster.new_app()
    await cluster.grant(creds, RESIDENT, ["id_number", "name", "gender"])
    await cluster.grant(creds, ROSTER, ["record_id", "district"])
    params = {"id_number": cluster.samples("sh")["id_number"]}

    reply = await cluster.invoke(creds, params)
    assert reply.served_by == "sh" and reply.record_count == 1
    with pytest.raises(aio.AioRpcError) as refused:
        await cluster.invoke(creds, params, purpose="商业营销")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    exchange = cluster.stub("js", exchange_pb2_grpc.ExchangeStub)
    stream = exchange.InvokeStream(
        exchange_pb2.InvokeStreamRequest(
            call=exchange_pb2.InvokeRequest(
                interface_id=ROSTER,
                purpose=PURPOSE,
                params={"district": cluster.samples("sh")["district"]},
            ),
            batch_size=50,
        ),
        metadata=creds,
        timeout=10,
    )
    assert [b async for b in stream]

    # The home node: one allowed and one refused consumer call, forwarded to sh.
    for status in ("OK", "PERMISSION_DENIED"):
        assert (
            value(
                js, "yrd_interface_calls_total", interface=RESIDENT, side="consumer", status=status
            )
            == 1
        )
        assert (
            value(
                sh, "yrd_interface_calls_total", interface=RESIDENT, side="provider", status=status
            )
            == 1
        )
    assert value(js, "yrd_interface_call_seconds_count", interface=RESIDENT, side="consumer") == 2
    assert (
        value(js, "yrd_interface_calls_total", interface=ROSTER, side="consumer", status="OK") == 1
    )
    assert (
        value(sh, "yrd_interface_calls_total", interface=ROSTER, side="provider", status="OK") == 1
    )
    assert (
        value(
            js,
            "yrd_rpc_server_handled_total",
            port="client",
            method="/yrd.v1.Exchange/Invoke",
            code="PERMISSION_DENIED",
        )
        == 1
    )
    assert (
        value(
            sh,
            "yrd_rpc_server_handled_total",
            port="peer",
            method="/yrd.v1.Federation/Invoke",
            code="OK",
        )
        == 1
    )
    # Errors by status, with the owner's stable reason on both sides of the hop.
    assert (
        value(
            sh,
            "yrd_rpc_server_errors_total",
            code="PERMISSION_DENIED",
            reason="PURPOSE_NOT_GRANTED",
        )
        == 1
    )
    assert (
        value(
            js,
            "yrd_rpc_server_errors_total",
            code="PERMISSION_DENIED",
            reason="PURPOSE_NOT_GRANTED",
        )
        == 1
    )

    # Per peer, from the client interceptors on js's channel to sh (unary and stream).
    def peer_calls() -> bool:
        return (
            value(
                js, "yrd_peer_calls_total", peer="sh", method="/yrd.v1.Federation/Invoke", code="OK"
            )
            == 1
            and value(
                js,
                "yrd_peer_calls_total",
                peer="sh",
                method="/yrd.v1.Federation/Invoke",
                code="PERMISSION_DENIED",
            )
            == 1
            and value(
                js,
                "yrd_peer_calls_total",
                peer="sh",
                method="/yrd.v1.Federation/InvokeStream",
                code="OK",
            )
            == 1
        )

    await eventually(peer_calls)
    assert (
        value(js, "yrd_peer_call_seconds_count", peer="sh", method="/yrd.v1.Federation/Invoke") == 2
    )
    assert (
        value(js, "yrd_peer_calls_total", peer="sh", method="/yrd.v1.Federation/Hello", code="OK")
        >= 1
    )
    assert (
        value(sh, "yrd_peer_calls_total", peer="js", method="/yrd.v1.Federation/Invoke", code="OK")
        == 0
    )


@in_module_loop
async def test_metrics_are_served_on_the_ops_port(cluster: OpsCluster):
    families = {
        "yrd_rpc_server_handled",
        "yrd_rpc_server_handling_seconds",
        "yrd_interface_calls",
        "yrd_interface_call_seconds",
        "yrd_peer_calls",
        "yrd_peer_call_seconds",
        "yrd_rpc_server_errors",
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(cluster.ops_url("js", "/metrics")) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            text = await response.text()
        assert families | {"yrd_node_info"} <= {
            f.name for f in text_string_to_metric_families(text)
        }
        # A scraper that asks for OpenMetrics gets it (with its # EOF terminator).
        accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with http.get(cluster.ops_url("js", "/metrics"), headers=accept) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            text = await response.text()
        assert families | {"yrd_node"} <= {f.name for f in openmetrics(text)}
