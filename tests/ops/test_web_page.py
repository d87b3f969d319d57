"""The operator web page on real nodes (js, sh, zj): HTTP behaviour, then headless Chromium."""

from __future__ import annotations

import os
import re
import secrets
import shutil

import aiohttp
import grpc
import pytest
import pytest_asyncio
from grpc import aio

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from tests.support.names import RESIDENT
from tests.support.ops import OpsCluster, start_cluster

in_module_loop = pytest.mark.asyncio(loop_scope="module")
"""Tests sharing the module's nodes run in the module's event loop."""

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = '<img src=x id=injected onerror="document.title=1">"\'&amp;'
"""A declared purpose is caller text; it travels as a span attribute onto the page."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory, certs_dir):
    running = await start_cluster(tmp_path_factory.mktemp("web"), certs_dir, ("js", "sh", "zj"))
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def op(cluster: OpsCluster, node: str) -> dict[str, str]:
    """The node's operator, as curl or a script sends it: its operator token as a bearer."""
    _, ((_, token),) = cluster.operator(node)
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cross_province_call(cluster: OpsCluster):
    """A js app calls sh's resident interface (two fields masked); returns the trace id."""
    creds = await cluster.new_app()
    await cluster.grant(creds, RESIDENT, ["id_number", "name", "gender", "household_type"])
    reply = await cluster.invoke(creds, {"id_number": cluster.samples("sh")["id_number"]})
    assert reply.served_by == "sh" and len(reply.masked_fields) == 2 and reply.trace_id
    # The same app sends its own traceparent and a hostile purpose; sh refuses the purpose.
    hostile_trace = secrets.token_hex(16)
    traceparent = (("traceparent", f"00-{hostile_trace}-{secrets.token_hex(8)}-01"),)
    with pytest.raises(aio.AioRpcError) as refused:
        await cluster.stub("js", exchange_pb2_grpc.ExchangeStub).Invoke(
            exchange_pb2.InvokeRequest(
                interface_id=RESIDENT,
                purpose=HOSTILE,
                params={"id_number": cluster.samples("sh")["id_number"]},
            ),
            metadata=creds + traceparent,
            timeout=10,
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    return reply.trace_id, hostile_trace


# -- HTTP behaviour --------------------------------------------------------------------------


@in_module_loop
async def test_health_metrics_and_security_headers(cluster: OpsCluster, http):
    async with http.get(cluster.ops_url("zj", "/healthz")) as r:
        assert r.status == 200 and (await r.text()).strip() == "ok zj"
    async with http.get(cluster.ops_url("zj", "/traces"), headers=op(cluster, "zj")) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        body = await r.text()
    assert "浙江" in body and "<script" not in body and "http://" not in body.split("<main>")[0]
    async with http.head(cluster.ops_url("zj", "/traces"), headers=op(cluster, "zj")) as r:
        assert r.status == 200 and await r.read() == b""


@in_module_loop
@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/traces"),
        ("PUT", "/metrics"),
        ("DELETE", "/traces/" + "a" * 32),
        ("PATCH", "/no-such-page"),
        ("OPTIONS", "/healthz"),
    ],
)
async def test_only_get_and_head(cluster: OpsCluster, http, method, path):
    async with http.request(method, cluster.ops_url("js", path)) as r:
        assert r.status == 405
        assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
        assert "read-only" in await r.text()


@in_module_loop
@pytest.mark.parametrize(
    "path, status, says",
    [
        ("/traces/not-a-trace", 400, "32 lowercase hex"),
        ("/traces/" + "0" * 32, 400, "32 lowercase hex"),
        ("/traces/" + "ab" * 17, 400, "32 lowercase hex"),
        ("/traces/" + "5" * 32, 404, "no node has spans"),
        ("/traces?status=MAYBE", 400, "status"),
        ("/traces?min_ms=-3", 400, "min_ms"),
        ("/traces?min_ms=nan", 400, "min_ms"),
        ("/trace?id=xyz", 400, "32 lowercase hex"),
        ("/nothing-here", 404, "no such page"),
    ],
)
async def test_bad_requests_get_an_error_page(cluster: OpsCluster, http, path, status, says):
    async with http.get(cluster.ops_url("zj", path), headers=op(cluster, "zj")) as r:
        assert r.status == status
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        text = await r.text()
    assert f'data-status="{status}"' in text and says in text


@in_module_loop
async def test_unknown_trace_page_still_says_who_was_asked(cluster: OpsCluster, http):
    async with http.get(
        cluster.ops_url("zj", "/traces/" + "5" * 32), headers=op(cluster, "zj")
    ) as r:
        text = await r.text()
    assert r.status == 404
    assert text.count('class="gather-row"') == 3 and 'id="complete"' in text


@in_module_loop
async def test_foreign_host_names_are_refused(cluster: OpsCluster, http):
    """A page on another site that rebinds its DNS name to 127.0.0.1 cannot read traces."""
    async with http.get(cluster.ops_url("js", "/traces"), headers={"Host": "evil.example:80"}) as r:
        assert r.status == 421


@in_module_loop
async def test_filters_are_escaped_and_applied(cluster: OpsCluster, http, cross_province_call):
    trace_id, _ = cross_province_call
    js = op(cluster, "js")
    async with http.get(
        cluster.ops_url("js", "/traces"),
        params={"app": '"><b id=x>', "interface": RESIDENT},
        headers=js,
    ) as r:
        text = await r.text()
    assert r.status == 200 and "<b id=x>" not in text and "&quot;&gt;&lt;b id=x&gt;" in text
    assert trace_id not in text  # no app has that name
    async with http.get(
        cluster.ops_url("js", "/traces"), params={"interface": RESIDENT}, headers=js
    ) as r:
        assert trace_id in await r.text()
    async with http.get(
        cluster.ops_url("js", "/traces"),
        params={"interface": RESIDENT, "status": "ERROR"},
        headers=js,
    ) as r:
        assert trace_id not in await r.text()
    # A successful call reads OK, and the OK filter finds it (what the page shows, it filters).
    async with http.get(
        cluster.ops_url("js", "/traces"), params={"interface": RESIDENT, "status": "OK"}, headers=js
    ) as r:
        text = await r.text()
    row = next(line for line in text.split("<tr") if trace_id in line)
    assert 'class="status-OK">OK<' in row and "UNSET" not in text
    async with http.get(
        cluster.ops_url("js", "/traces"), params={"min_ms": "600000"}, headers=js
    ) as r:
        assert trace_id not in await r.text()
    async with http.get(
        cluster.ops_url("js", "/trace"),
        params={"id": trace_id.upper()},
        allow_redirects=False,
        headers=js,
    ) as r:
        assert r.status == 303 and r.headers["Location"] == f"/traces/{trace_id}"


@in_module_loop
async def test_viewing_a_trace_adds_no_trace(cluster: OpsCluster, http, cross_province_call):
    trace_id, _ = cross_province_call
    for node in ("js", "sh", "zj"):
        async with http.get(
            cluster.ops_url(node, f"/traces/{trace_id}"), headers=op(cluster, node)
        ) as r:
            assert r.status == 200
    for node in ("js", "sh", "zj"):
        cluster.nodes[node].telemetry.flush()
        roots = cluster.nodes[node]._spans.recent(limit=50)
        assert not [t for t in roots if "GetSpans" in t.root], (node, roots)


# -- in a real browser -----------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            "chromium is not installed and could not be (run "
            "scripts/install-system-deps.sh as root)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


DURATION = re.compile(r"^\d[\d,]*\.\d\d ms$")


async def read_waterfall(page) -> list[dict]:
    """Each row as a person reads it: operation, province label, duration, status, chips."""
    rows = []
    for row in await page.locator("tr.span-row").all():
        cells = row.locator("td")
        rows.append(
            {
                "name": (await row.locator(".name").inner_text()).strip(),
                "kind": (await row.locator(".kind").inner_text()).strip(),
                "province": (await cells.nth(1).inner_text()).strip(),
                "duration": (await cells.nth(3).inner_text()).strip(),
                "status": (await cells.nth(4).inner_text()).strip().splitlines()[0],
                "attrs": (await cells.nth(6).inner_text()).strip(),
                "depth": int(await row.get_attribute("data-depth") or "0"),
            }
        )
    return rows


async def check_whole_trace(page, trace_id: str) -> None:
    assert await page.locator("#trace-id").inner_text() == trace_id
    rows = await read_waterfall(page)
    names = [r["name"] for r in rows]
    by_name = {(r["name"], r["province"]): r for r in rows}
    # The call as it crossed: app → js (server, its forward to sh a step) → sh (server) → sh
    # steps.
    entry = by_name[("/yrd.v1.Exchange/Invoke", "江苏 js")]
    hop = next(
        r
        for r in rows
        if r["name"] == "/yrd.v1.Federation/Invoke"
        and r["province"] == "江苏 js"
        and r["kind"] == "STEP"
    )
    owner = next(
        r
        for r in rows
        if r["name"] == "/yrd.v1.Federation/Invoke"
        and r["province"] == "上海 sh"
        and r["kind"] == "SERVER"
    )
    assert entry["depth"] == 0 and hop["depth"] == 1 and owner["depth"] == 1
    assert "peer sh" in hop["attrs"]
    assert names.index("/yrd.v1.Exchange/Invoke") < rows.index(hop) < rows.index(owner)
    for step in ("authorize", "backend.call", "masking"):
        assert by_name[(step, "上海 sh")]["depth"] == 2
        assert rows.index(owner) < names.index(step)
    assert "decision allow" in by_name[("authorize", "上海 sh")]["attrs"]
    assert "grade L3" in by_name[("authorize", "上海 sh")]["attrs"]
    assert "masked_fields 2" in by_name[("masking", "上海 sh")]["attrs"]
    assert "app js/rsj/pension-transfer" in entry["attrs"]
    assert f"interface {RESIDENT}" in entry["attrs"]
    assert all(DURATION.match(r["duration"]) for r in rows), [r["duration"] for r in rows]
    assert float(entry["duration"].split()[0].replace(",", "")) >= float(
        owner["duration"].split()[0].replace(",", "")
    )
    assert all(r["status"] == "OK" for r in rows)
    assert {r["province"] for r in rows} == {"江苏 js", "上海 sh"}
    # Everyone answered: no PARTIAL banner, and the gathering table says so.
    assert await page.locator("#partial").count() == 0
    assert "PARTIAL" not in await page.locator("main").inner_text()
    banner = await page.locator("#complete").inner_text()
    assert all(p in banner for p in ("江苏", "上海", "浙江"))
    states = await page.locator("tr.gather-row").evaluate_all(
        "rows => rows.map(r => [r.dataset.node, r.dataset.state])"
    )
    assert sorted(states) == [["js", "answered"], ["sh", "answered"], ["zj", "answered"]]


async def log_in(page, cluster: OpsCluster, node: str, path: str) -> None:
    """Open ``path`` on the node's page, meet the login form, enter the operator token."""
    await page.goto(cluster.ops_url(node, path))
    assert await page.locator("form#login").count() == 1
    _, ((_, token),) = cluster.operator(node)
    await page.fill("form#login input[name=token]", token)
    async with page.expect_navigation():
        await page.click("form#login button[type=submit]")
    assert page.url == cluster.ops_url(node, path)
    assert await page.locator("form#login").count() == 0


@in_module_loop
async def test_operator_follows_a_cross_province_call_in_chromium(
    cluster: OpsCluster, browser, cross_province_call, tmp_path_factory
):
    trace_id, hostile_trace = cross_province_call
    shots = tmp_path_factory.mktemp("screens")
    page = await browser.new_page(viewport={"width": 1500, "height": 900})
    try:
        # The list on the home node, where the call entered: first the operator logs in there.
        await log_in(page, cluster, "js", "/traces")
        assert "江苏" in await page.title()
        row = page.locator("tr.trace-row", has=page.locator(f'a[href="/traces/{trace_id}"]'))
        assert await row.count() == 1
        listed = await row.inner_text()
        assert "/yrd.v1.Exchange/Invoke" in listed and RESIDENT in listed
        assert "江苏 js" in listed and "ERROR" not in listed
        await page.screenshot(path=str(shots / "ops-traces-js.png"), full_page=True)
        rows = await page.locator("tr.trace-row a").evaluate_all("as => as.map(a => a.text)")
        assert rows.index(hostile_trace) < rows.index(trace_id)  # newest first
        await row.locator("a").click()
        await page.wait_for_url(f"**/traces/{trace_id}")
        await check_whole_trace(page, trace_id)

        # The same waterfall from a third province that took no part in the call (its own
        # operator token: js's session is no key to zj's page).
        await log_in(page, cluster, "zj", f"/traces/{trace_id}")
        assert "浙江" in await page.title()
        await check_whole_trace(page, trace_id)
        shot = shots / "ops-waterfall-zj.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        print(f"\nscreenshot: {shot}")

        # Caller text is shown as text: the hostile purpose renders literally, injects nothing.
        await page.goto(cluster.ops_url("zj", f"/traces/{hostile_trace}"))
        assert await page.locator("#injected").count() == 0
        assert HOSTILE in await page.locator("#waterfall").inner_text()
        assert "浙江" in await page.title()
        refused = await read_waterfall(page)
        assert "reason PURPOSE_NOT_GRANTED" in refused[-1]["attrs"]
        assert {r["status"] for r in refused} == {"PERMISSION_DENIED", "ERROR"}
        await page.screenshot(path=str(shot.with_name("ops-waterfall-refused.png")), full_page=True)

        # The owner goes down: the waterfall still shows js's spans, and says who is missing.
        await cluster.stop_node("sh")
        await page.goto(cluster.ops_url("zj", f"/traces/{trace_id}"))
        banner = await page.locator("#partial").inner_text()
        assert "PARTIAL" in banner and "上海 sh" in banner and "江苏" not in banner
        provinces = {r["province"] for r in await read_waterfall(page)}
        assert provinces == {"江苏 js"}
        states = dict(
            await page.locator("tr.gather-row").evaluate_all(
                "rows => rows.map(r => [r.dataset.node, r.dataset.state])"
            )
        )
        assert states == {"js": "answered", "sh": "failed", "zj": "answered"}
        await page.screenshot(path=str(shot.with_name("ops-waterfall-partial.png")), full_page=True)
    finally:
        await page.close()


def test_status_names_match_grpc() -> None:
    """The page spells the status codes out (it imports no grpc); they are grpc's."""
    import grpc

    from gateway.ops.pages import GRPC_CODES

    assert GRPC_CODES == {str(c.value[0]): c.name for c in grpc.StatusCode}
