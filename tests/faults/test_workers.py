"""Nodes running several worker processes (``workers: 2``), as real processes on loopback.

js (home) and sh (owner) each run a primary and two workers sharing their ports. Callers open
many connections, so the kernel spreads them over both workers, and each test checks a promise
that must hold across the workers: one quota, one in-flight bound, one audit chain, revocation
seen at once everywhere, metrics that add up, and the process lifecycle (a dead worker replaced,
kill -9 of the primary taking its workers with it, SIGTERM draining all of them).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from gateway._pb.yrd.v1 import (
    exchange_pb2,
    exchange_pb2_grpc,
    ops_pb2,
    ops_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
)
from gateway.cli import eventloop
from gateway.sharing.usage import windows
from gateway.status import failure_of
from gateway.supervisor import process_alive
from gateway.tls import channel_options_for, client_channel_credentials
from tests.support.names import PURPOSE, RESIDENT
from yrdtools.faults import App, Federation

FIELDS = ["id_number", "name", "gender"]
CONNECTIONS = 12
APP_BOUND = 4
"""js's in-flight bound per app: small, so one test can reach it across both workers (the
other tests keep to it: ``invoke_all`` sends this many calls at a time)."""

pytestmark = pytest.mark.timeout(120)


@dataclass
class Setup:
    fed: Federation
    app: App
    params: dict[str, str]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, certs_dir):
    fed = Federation(
        tmp_path_factory.mktemp("workers"),
        node_ids=("js", "sh"),
        workers={"js": 2, "sh": 2},
        # Eight connections from each js worker to sh: enough that they land on both sh workers
        # (an unlucky spread of all of them onto one has odds of 2 in 2^16).
        limits={"max_inflight_per_app": APP_BOUND, "peer_connections": 8},
        certs_dir=certs_dir,
    )
    try:
        fed.start()

        async def app() -> App:
            try:
                return await fed.setup_app_with_grant("js/rsj/workers", RESIDENT, FIELDS, PURPOSE)
            finally:
                await fed.aclose()

        person = fed.samples("sh")
        yield Setup(fed, eventloop.run(app()), {"id_number": person["id_number"]})
    finally:
        fed.close()


@pytest_asyncio.fixture
async def env(setup):
    # Both nodes with both workers up: a test before may have killed or restarted some.
    for node in ("js", "sh"):
        if not setup.fed.running(node):
            await asyncio.to_thread(setup.fed.start_node, node)
        # A worker's process exists before it serves (and handles SIGTERM): wait for both to
        # say they serve, not for their pids.
        await wait_for(
            lambda n=node: len(setup.fed.pids(n)) == 3 and workers_serving(setup.fed, n) == {0, 1},
            f"{node}'s two workers",
        )
    yield setup
    await setup.fed.aclose()


def workers_serving(fed: Federation, node: str) -> set[int]:
    """The workers of ``node`` that said they serve since they (or the node) last started."""
    serving: set[int] = set()
    for line in fed.log_tail(node, 400).splitlines():
        if f"node {node}: starting " in line:
            serving.clear()
        for i in (0, 1):
            if f"node {node}: worker {i} (pid " in line:  # exited; the primary restarts it
                serving.discard(i)
            elif f"[{node} worker {i}]" in line and " serving: " in line:
                serving.add(i)
    return serving


async def wait_for(check, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within} s for {what}")
        await asyncio.sleep(0.05)


def day_window_left(now: datetime) -> float:
    """Seconds until the quota day window ``now`` falls in turns, by the nodes' own rule."""
    day = windows(now)[1]
    lo, hi = 0.0, 86_400.0
    while hi - lo > 0.01:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if windows(now + timedelta(seconds=mid))[1] == day else (lo, mid)
    return hi


async def in_a_fresh_day_window(need: float) -> None:
    """Return when the quota day window has at least ``need`` seconds left: at once, or (once a
    day, when it turns within ``need``) just after it turned."""
    left = day_window_left(datetime.now(UTC))
    if left < need:
        await asyncio.sleep(left + 0.1)
    assert day_window_left(datetime.now(UTC)) >= need


def connections(fed: Federation, node: str, n: int = CONNECTIONS) -> list[aio.Channel]:
    """``n`` channels with a connection each (no shared subchannel pool)."""
    ca = (fed.certs_dir / "ca.pem").read_bytes()
    options = [*channel_options_for(node), ("grpc.use_local_subchannel_pool", 1)]
    return [
        aio.secure_channel(fed.address(node, "client"), client_channel_credentials(ca), options)
        for _ in range(n)
    ]


async def invoke(channel: aio.Channel, env: Setup, app: App | None = None, timeout: float = 5.0):
    """(status, reason, trace id) of one call."""
    app = app or env.app
    request = exchange_pb2.InvokeRequest(
        interface_id=RESIDENT, params=env.params, purpose=PURPOSE, fields=FIELDS
    )
    try:
        reply = await exchange_pb2_grpc.ExchangeStub(channel).Invoke(
            request, metadata=app.metadata, timeout=timeout
        )
    except aio.AioRpcError as exc:
        failure = failure_of(exc)
        return failure.code, failure.reason, ""
    return grpc.StatusCode.OK, "", reply.trace_id


async def invoke_all(channels: list[aio.Channel], env: Setup, app: App | None = None):
    """One call on each channel, ``APP_BOUND`` at a time."""
    results = []
    for i in range(0, len(channels), APP_BOUND):
        batch = channels[i : i + APP_BOUND]
        results += await asyncio.gather(*(invoke(c, env, app) for c in batch))
    return results


async def workers_of(env: Setup, trace_id: str) -> dict[str, set[str]]:
    """Which worker of each node served a call, from its trace's SERVER spans of Invoke (a
    first call to a peer also holds the standard handshake, on whichever connection is next)."""
    ops = ops_pb2_grpc.OpsStub(env.fed.channel("js"))
    trace = await ops.GetTrace(
        ops_pb2.GetTraceRequest(trace_id=trace_id),
        metadata=env.fed.operator_metadata("js"),
        timeout=10,
    )
    served: dict[str, set[str]] = {}
    for span in trace.spans:
        if span.kind == "SERVER" and span.name.endswith("/Invoke"):
            served.setdefault(span.node, set()).add(span.attributes["yrd.worker"])
    return served


async def close_all(channels: list[aio.Channel]) -> None:
    await asyncio.gather(*(c.close() for c in channels))


async def test_calls_spread_over_both_workers_and_every_hop_names_its_worker(env: Setup):
    channels = connections(env.fed, "js")
    try:
        results = await invoke_all(channels, env)
        assert all(code == grpc.StatusCode.OK for code, _, _ in results), results
        seen = Counter()
        for _, _, trace_id in results[:6]:
            for node, workers in (await workers_of(env, trace_id)).items():
                assert len(workers) == 1, (node, workers)
                seen[(node, *workers)] += 1
        # js served these six calls; its workers are "0" and "1" (sh's depend on js's links).
        assert {w for n, w in seen if n == "js"} <= {"0", "1"}
        assert {n for n, _ in seen} == {"js", "sh"}
    finally:
        await close_all(channels)
    # Over sixteen client connections both js workers took calls (the kernel spread them), and
    # over js's connections to sh, taken in turn call by call, both sh workers did.
    channels = connections(env.fed, "js", 16)
    try:
        results = await invoke_all(channels, env) + await invoke_all(channels, env)
        served: dict[str, set[str]] = {"js": set(), "sh": set()}
        for _, _, trace_id in results:
            for node, workers in (await workers_of(env, trace_id)).items():
                served[node] |= workers
        assert served == {"js": {"0", "1"}, "sh": {"0", "1"}}, served
    finally:
        await close_all(channels)


async def test_one_quota_across_workers(env: Setup):
    fed = env.fed
    # The day window (it turns at 16:00 UTC, not every minute), so the count is exact: with a
    # quota per worker, the 20 calls over both js workers would get up to 14 through. The calls
    # start in a day window with time to spare, so a turning day cannot reset the count.
    quota = sharing_pb2.Quota(per_minute=1000, per_day=7)
    app = await fed.setup_app_with_grant(
        "js/rsj/workers-quota", RESIDENT, FIELDS, PURPOSE, quota=quota
    )
    channels = connections(fed, "js", 16)
    try:
        await in_a_fresh_day_window(need=60)  # every one of the 20 calls counts in one day
        results = await invoke_all(channels, env, app)
        results += await invoke_all(channels[:4], env, app)
    finally:
        await close_all(channels)
    outcomes = Counter((code.name, reason) for code, reason, _ in results)
    assert outcomes == {("OK", ""): 7, ("RESOURCE_EXHAUSTED", "QUOTA_DAY_EXCEEDED"): 13}, outcomes


async def test_revocation_is_seen_by_every_worker_on_the_next_call(env: Setup):
    fed = env.fed
    app = await fed.setup_app_with_grant("js/rsj/workers-revoke", RESIDENT, FIELDS, PURPOSE)
    channels = connections(fed, "js", 16)
    try:
        before = await invoke_all(channels, env, app)
        assert all(code == grpc.StatusCode.OK for code, _, _ in before), before
        admin = sharing_pb2_grpc.AdminStub(fed.channel("sh"))
        await admin.RevokeGrant(
            sharing_pb2.RevokeGrantRequest(grant_id=app.grant_ids[0], reason="测试撤销"),
            metadata=fed.operator_metadata("sh"),
            timeout=5,
        )
        # The revocation was acknowledged by one sh worker: every call after it, through
        # either js worker to either sh worker, is refused.
        after = await invoke_all(channels, env, app)
    finally:
        await close_all(channels)
    assert {(code.name, reason) for code, reason, _ in after} == {
        ("PERMISSION_DENIED", "GRANT_REVOKED")
    }, after


async def test_the_in_flight_bound_per_app_holds_across_workers(env: Setup):
    fed = env.fed
    channels = connections(fed, "js", 16)
    await asyncio.to_thread(fed.pause, "sh")  # calls to the owner hang: they stay in flight
    # A deadline far beyond what the test waits: the held calls must still be in flight when
    # the refusals are counted and when sh resumes, however loaded the box (with 8 s, js gave
    # up on them after 6 s, which a loaded run can reach before the last refusal is in).
    tasks = [asyncio.ensure_future(invoke(c, env, timeout=60.0)) for c in channels]
    try:
        # Every call past the bound comes back refused while the bound's worth wait on sh (js
        # gives up on those only after 45 s of their 60 s deadline): wait for that state.
        refusals = len(channels) - APP_BOUND
        await wait_for(lambda: sum(t.done() for t in tasks) >= refusals, "the refusals", 30.0)
        refused = [t.result() for t in tasks if t.done()]
        assert len(refused) == refusals, refused
        assert {(code.name, reason) for code, reason, _ in refused} == {
            ("RESOURCE_EXHAUSTED", "TOO_MANY_IN_FLIGHT")
        }
    finally:
        await asyncio.to_thread(fed.resume, "sh")
        held = await asyncio.gather(*tasks, return_exceptions=True)
        await close_all(channels)
    # The calls that held the bound were served once sh went on.
    assert [code for code, _, _ in held].count(grpc.StatusCode.OK) == APP_BOUND, held
    # Released: calls go through again.
    channels = connections(fed, "js", 4)
    try:
        await wait_ok(channels[0], env)
    finally:
        await close_all(channels)


async def wait_ok(channel: aio.Channel, env: Setup, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        code, reason, _ = await invoke(channel, env, timeout=2.0)
        if code == grpc.StatusCode.OK:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"calls still fail: {code.name} {reason}")
        await asyncio.sleep(0.2)


async def test_both_workers_write_one_audit_chain(env: Setup):
    fed = env.fed
    before = {node: len(fed.audit_rows(node)) for node in ("js", "sh")}
    channels = connections(fed, "js", 16)
    try:
        for _ in range(3):
            results = await invoke_all(channels, env)
            assert all(code == grpc.StatusCode.OK for code, _, _ in results), results
    finally:
        await close_all(channels)
    for node in ("js", "sh"):
        report = fed.verify_audit(node)
        assert report.ok, (node, report)
        rows = fed.audit_rows(node)
        assert len(rows) >= before[node] + 48, (node, len(rows), before[node])


def scrape(fed: Federation, node: str) -> str:
    with urllib.request.urlopen(f"http://{fed.address(node, 'ops')}/metrics", timeout=5) as r:
        return r.read().decode()


def invoke_count(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("yrd_rpc_server_handled_total{")
        and 'method="/yrd.v1.Exchange/Invoke"' in line
        and 'code="OK"' in line
    )


async def test_metrics_add_up_over_workers(env: Setup):
    fed = env.fed
    before = await asyncio.to_thread(scrape, fed, "js")
    channels = connections(fed, "js", 16)
    try:
        results = await invoke_all(channels, env)
        assert all(code == grpc.StatusCode.OK for code, _, _ in results)
    finally:
        await close_all(channels)
    # Any worker answers the scrape, and each answers with the node's total.
    for _ in range(4):
        after = await asyncio.to_thread(scrape, fed, "js")
        assert invoke_count(after) - invoke_count(before) == 16
    assert 'yrd_node_info{name="江苏",node="js"} 1.0' in after


async def test_a_killed_worker_is_replaced_and_the_node_keeps_serving(env: Setup):
    fed = env.fed
    primary, *workers = fed.pids("js")
    os.kill(workers[0], signal.SIGKILL)
    channels = connections(fed, "js", 8)
    try:
        # The other worker answers meanwhile (a connection to the dead one fails over).
        await wait_ok(channels[0], env, within=10)
        await wait_for(
            lambda: len(fed.pids("js")) == 3 and workers[0] not in fed.pids("js"),
            "a new worker",
        )
        assert fed.pids("js")[0] == primary
        results = await invoke_all(channels, env)
        assert all(code == grpc.StatusCode.OK for code, _, _ in results), results
    finally:
        await close_all(channels)
    assert "exited with SIGKILL; restarting" in fed.log_tail("js", 200)


async def test_kill_9_of_the_primary_takes_its_workers_and_a_restart_serves(env: Setup):
    fed = env.fed
    pids = fed.pids("sh")
    await asyncio.to_thread(fed.kill, "sh")
    for pid in pids:
        assert not process_alive(pid), pid
    await asyncio.to_thread(fed.start_node, "sh")
    channels = connections(fed, "js", 2)
    try:
        await wait_ok(channels[0], env)
    finally:
        await close_all(channels)


async def test_sigterm_drains_every_worker(env: Setup):
    fed = env.fed
    pids = fed.pids("sh")
    assert len(pids) == 3
    code = await asyncio.to_thread(fed.stop, "sh")
    assert code == 0
    for pid in pids:
        assert not process_alive(pid), pid
    log = fed.log_tail("sh", 40)
    assert log.count("draining") == 2 and "node sh stopped" in log, log
