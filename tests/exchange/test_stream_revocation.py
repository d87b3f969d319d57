"""Revoking a grant while a 回流 transfer runs, between two real nodes (js app → sh owner).

sh's roster interface is served from an upstream HTTP API this test controls: the upstream
holds the second page until the grant is revoked, so the revocation falls between two batches
exactly (no sleeps, no race with gRPC flow control). The app sees the first batch, then
PERMISSION_DENIED from sh; both nodes audit the stop.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest_asyncio
from aiohttp import web
from grpc import aio

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc, sharing_pb2
from gateway.config import load_federation
from gateway.status import failure_of
from tests.support.cli import CliFederation
from tests.support.cluster import grant_via_application, new_app, operator
from tests.support.federation import ROOT, write_federation
from tests.support.names import APP, PURPOSE, ROSTER
from tests.support.nodes import Running, start_nodes, stop_all

DISTRICT = "浦东新区"
PEOPLE = [{"record_id": f"R{i:03d}", "name": f"张{i}", "district": DISTRICT} for i in range(1, 24)]


class Upstream:
    """The roster API behind sh: answers the first page at once, later pages once released."""

    def __init__(self) -> None:
        self.later_page_asked = asyncio.Event()
        self.release = asyncio.Event()

    async def roster(self, request: web.Request) -> web.Response:
        q = request.query
        after = q.get("_after")
        if after is not None:
            self.later_page_asked.set()
            await self.release.wait()
        numbered = [(f"{i:06d}", p) for i, p in enumerate(PEOPLE, 1)]
        page = [(c, p) for c, p in numbered if after is None or c > after][: int(q["_limit"])]
        body = {"records": [{"cursor": c, "fields": p} for c, p in page]}
        return web.Response(
            text=json.dumps(body, ensure_ascii=False), content_type="application/json"
        )


def nodes_with_http_roster(tmp: Path, base_url: str) -> Path:
    """A copy of nodes/ where sh's roster comes from ``base_url`` instead of its dataset."""
    nodes = tmp / "nodes"
    for node in ("js", "sh"):
        (nodes / node).mkdir(parents=True)
        for item in (ROOT / "nodes" / node).iterdir():
            (nodes / node / item.name).write_text(item.read_text(encoding="utf-8"), "utf-8")
    path = nodes / "sh" / "interfaces.yaml"
    head, sep, tail = path.read_text(encoding="utf-8").partition(f"id: {ROSTER}")
    sqlite = (
        "    backend:\n      type: sqlite\n      table: social_insurance\n"
        "      lookup: {district: district, insurance_type: insurance_type}\n"
    )
    http = (
        f"    backend:\n      type: http\n      base_url: {base_url}\n"
        "      path: roster\n      timeout_ms: 60000\n"
    )
    assert sqlite in tail
    path.write_text(head + sep + tail.replace(sqlite, http, 1), encoding="utf-8")
    return nodes


@pytest_asyncio.fixture
async def federation(tmp_path, certs_dir):
    upstream = Upstream()
    app = web.Application()
    app.router.add_get("/roster", upstream.roster)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    nodes_dir = nodes_with_http_roster(tmp_path, f"http://127.0.0.1:{port}")
    fed = load_federation(
        write_federation(tmp_path, certs_dir, node_ids=("js", "sh"), nodes_dir=nodes_dir)
    )
    running = Running(fed, await start_nodes(fed, ("js", "sh")), [])
    try:
        yield running, upstream
    finally:
        upstream.release.set()
        await stop_all(running)
        await runner.cleanup()


async def test_revoking_a_grant_stops_a_running_transfer_at_the_next_batch(federation):
    running, upstream = federation
    creds = await new_app(running, timeout=10)
    admin_sh, md_sh = operator(running, "sh")
    grant = await grant_via_application(
        running,
        creds,
        ["record_id", "name", "district"],
        interface=ROSTER,
        quota=None,
        valid_until=(datetime.now(UTC) + timedelta(days=30)).isoformat(),
        timeout=10,
    )

    stream = exchange_pb2_grpc.ExchangeStub(running.channel("js")).InvokeStream(
        exchange_pb2.InvokeStreamRequest(
            call=exchange_pb2.InvokeRequest(
                interface_id=ROSTER, params={"district": DISTRICT}, purpose=PURPOSE
            ),
            batch_size=5,
        ),
        metadata=creds,
        timeout=60,
    )
    first = await stream.read()
    assert [dict(r.fields)["record_id"] for r in first.records] == [
        p["record_id"] for p in PEOPLE[:5]
    ]
    assert not first.last

    await upstream.later_page_asked.wait()  # sh is fetching the second batch
    await admin_sh.RevokeGrant(
        sharing_pb2.RevokeGrantRequest(grant_id=grant.id, reason="停止回流"),
        metadata=md_sh,
        timeout=10,
    )
    upstream.release.set()
    try:
        extra = await stream.read()
    except aio.AioRpcError as exc:
        failure = failure_of(exc)
    else:
        raise AssertionError(f"a batch was released after the revocation: {extra}")
    assert (failure.code, failure.reason, failure.node) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "GRANT_REVOKED",
        "sh",
    )
    assert "停止回流" in failure.message

    cli = CliFederation(running.fed, running.nodes)
    owner = (
        await cli.yrdgw("audit", "query", "--node", "sh", "--decision", "deny", "--json")
    ).json()
    [stop] = [e for e in owner if e["action"] == "invoke_stream"]
    assert (stop["reason"], stop["status"], stop["app"], stop["peer"]) == (
        "GRANT_REVOKED",
        "PERMISSION_DENIED",
        APP,
        "js",
    )
    assert stop["extra"] == {"stopped_after_records": 5}
    home = (await cli.yrdgw("audit", "query", "--node", "js", "--app", APP, "--json")).json()
    consumer = [e for e in home if e["action"] == "invoke_stream"]
    assert [(e["decision"], e["reason"], e["record_count"]) for e in consumer] == [
        ("deny", "GRANT_REVOKED", 0),  # newest first
        ("allow", "GRANTED", 5),
    ]
    assert consumer[0]["extra"] == {"refused_by": "sh"}
