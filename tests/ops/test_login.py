"""The ops page behind the operator's login, on real nodes (js, sh): who gets in, how the session
cookie is made, the metrics token, and every operator read audited."""

from __future__ import annotations

import json
import secrets

import aiohttp
import pytest
import pytest_asyncio

from gateway._pb.yrd.v1 import ops_pb2, ops_pb2_grpc, sharing_pb2
from gateway.ops.login import OpsLogin, load_session_key
from gateway.ops.web import OpsWeb
from gateway.telemetry.metrics import Metrics
from tests.support.ops import RESIDENT, OpsCluster, start_cluster

in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory, certs_dir):
    running = await start_cluster(tmp_path_factory.mktemp("login"), certs_dir, ("js", "sh"))
    yield running
    await running.stop()


def token_of(cluster: OpsCluster, node: str) -> str:
    _, ((_, token),) = cluster.operator(node)
    return token


def session() -> aiohttp.ClientSession:
    # A cookie jar that keeps cookies of an IP-address host, as a browser does.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@in_module_loop
@pytest.mark.parametrize("path", ["/traces", "/traces/" + "5" * 32, "/trace?id=x", "/"])
async def test_without_a_login_the_trace_pages_answer_401_with_the_form(cluster, path):
    async with session() as http, http.get(cluster.ops_url("js", path)) as r:
        assert r.status == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        text = await r.text()
    assert 'id="login"' in text and 'name="token"' in text
    assert "trace-row" not in text and "span-row" not in text


@in_module_loop
async def test_a_wrong_bearer_or_another_nodes_token_is_refused(cluster):
    async with session() as http:
        for token in ("x" * 43, token_of(cluster, "sh"), ""):
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(cluster.ops_url("js", "/traces"), headers=headers) as r:
                assert r.status == 401
        headers = {"Authorization": f"Bearer {token_of(cluster, 'js')}"}
        async with http.get(cluster.ops_url("js", "/traces"), headers=headers) as r:
            assert r.status == 200


@in_module_loop
async def test_the_login_form_sets_a_strict_httponly_session_per_node(cluster):
    async with session() as http:
        async with http.post(
            cluster.ops_url("js", "/login"),
            data={"token": "not-the-token", "next": "/traces"},
            allow_redirects=False,
        ) as r:
            assert r.status == 401 and "wrong operator token" in await r.text()
            assert "Set-Cookie" not in r.headers
        async with http.post(
            cluster.ops_url("js", "/login"),
            data={"token": token_of(cluster, "js"), "next": "//evil.example/x"},
            allow_redirects=False,
        ) as r:
            assert r.status == 303 and r.headers["Location"] == "/traces"  # never off-site
            cookie = r.headers["Set-Cookie"]
        assert cookie.startswith("yrd_ops_session_js=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        async with http.get(cluster.ops_url("js", "/traces")) as r:
            assert r.status == 200 and 'id="login"' not in await r.text()
        # The same browser at sh (same host, another port): js's session is not sh's.
        async with http.get(cluster.ops_url("sh", "/traces")) as r:
            assert r.status == 401
        async with http.post(cluster.ops_url("js", "/logout"), allow_redirects=False) as r:
            assert r.status == 303
        async with http.get(cluster.ops_url("js", "/traces")) as r:
            assert r.status == 401


@in_module_loop
async def test_a_forged_or_expired_session_is_refused(cluster, tmp_path):
    key = load_session_key(tmp_path / "k")
    assert load_session_key(tmp_path / "k") == key  # made once, then read

    async def anyone(token: str) -> bool:
        return True

    now = [1_000_000.0]
    login = OpsLogin("js", key, anyone, clock=lambda: now[0])
    cookie = login.issue()
    assert login.session(cookie)
    expires, mac = cookie.split(".")
    assert not login.session(f"{int(expires) + 1}.{mac}")  # extended by hand
    assert not login.session(f"{expires}.{secrets.token_hex(32)}")
    assert not OpsLogin("js", bytes(32), anyone).session(cookie)  # another node's key
    now[0] += 8 * 3600 + 1
    assert not login.session(cookie)


@in_module_loop
async def test_metrics_want_the_metrics_token_when_one_is_set(cluster):
    async def nobody(token: str) -> bool:
        return False

    metrics_token = secrets.token_urlsafe(24)
    login = OpsLogin("js", bytes(32), nobody, metrics_token=metrics_token)
    web = OpsWeb("js", {"js": "江苏"}, None, Metrics("js"), login)  # type: ignore[arg-type]
    await web.start("127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{web.port}/metrics"
        async with session() as http:
            async with http.get(url) as r:
                assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
            async with http.get(url, headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            headers = {"Authorization": f"Bearer {metrics_token}"}
            async with http.get(url, headers=headers) as r:
                assert r.status == 200 and "yrd_" in await r.text()
            async with http.get(f"http://127.0.0.1:{web.port}/healthz") as r:
                assert r.status == 200  # liveness stays open
    finally:
        await web.stop()
    # Without a metrics token (the default), /metrics is open as before.
    async with session() as http, http.get(cluster.ops_url("js", "/metrics")) as r:
        assert r.status == 200


@in_module_loop
async def test_every_operator_read_is_audited(cluster):
    admin, md = cluster.operator("js")
    ops = cluster.stub("js", ops_pb2_grpc.OpsStub)
    trace_id = secrets.token_hex(16)
    await ops.GetTrace(ops_pb2.GetTraceRequest(trace_id=trace_id), metadata=md, timeout=10)
    await ops.ListTraces(ops_pb2.ListTracesRequest(app="js/x/y"), metadata=md, timeout=10)
    await admin.ListGrants(
        sharing_pb2.ListGrantsRequest(interface_id=RESIDENT), metadata=md, timeout=10
    )
    await admin.ListApplications(sharing_pb2.ListApplicationsRequest(), metadata=md, timeout=10)
    await ops.VerifyAudit(ops_pb2.VerifyAuditRequest(), metadata=md, timeout=10)
    headers = {"Authorization": f"Bearer {token_of(cluster, 'js')}"}
    async with session() as http:
        async with http.get(cluster.ops_url("js", "/traces"), headers=headers) as r:
            assert r.status == 200
        async with http.get(cluster.ops_url("js", f"/traces/{trace_id}"), headers=headers) as r:
            assert r.status == 404  # no spans: still a read of that trace
        async with http.post(cluster.ops_url("js", "/login"), data={"token": "wrong"}) as r:
            assert r.status == 401
    reply = await ops.QueryAudit(ops_pb2.QueryAuditRequest(limit=50), metadata=md, timeout=10)
    records = [json.loads(line.json) for line in reply.entries]
    reads = [
        (r["action"], r["decision"], r["actor"], json.dumps(r.get("extra", {})))
        for r in records
        if r["side"] == "operator" and r["action"] != "create_app"
    ]
    actions = [a for a, *_ in reads]
    for action in (
        "get_trace",
        "list_traces",
        "list_grants",
        "list_applications",
        "verify_audit",
        "view_traces",
        "view_trace",
        "ops_page_login",
        "query_audit",
    ):
        assert action in actions, (action, actions)
    assert all(actor == "js/operator" for _, _, actor, _ in reads)
    assert ("ops_page_login", "deny") in [(a, d) for a, d, *_ in reads]
    assert any(a == "get_trace" and trace_id in extra for a, _, _, extra in reads)
    verify = await ops.VerifyAudit(ops_pb2.VerifyAuditRequest(), metadata=md, timeout=10)
    assert verify.ok  # the reads are part of one verified chain


def test_the_metrics_token_comes_from_a_file_node_yaml_names(tmp_path, certs_dir):
    from gateway.config import load_federation, load_node
    from gateway.errors import ConfigError
    from tests.support.federation import js_nodes_dir, write_federation

    token = secrets.token_urlsafe(24)
    nodes = js_nodes_dir(tmp_path, metrics_token_file="metrics.token")
    (nodes / "js" / "metrics.token").write_text(token + "\n")
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=["js"], nodes_dir=nodes))
    cfg = load_node(fed, "js")
    assert cfg.metrics_token == token and token not in repr(cfg)
    (nodes / "js" / "metrics.token").write_text("short")
    with pytest.raises(ConfigError, match="metrics_token_file"):
        load_node(fed, "js")
    (nodes / "js" / "metrics.token").unlink()
    with pytest.raises(ConfigError, match="metrics_token_file"):
        load_node(fed, "js")
