"""PostgreSQL stopped under load, with js and sh as real node processes on it: calls fail fast
as UNAVAILABLE naming the store (never INTERNAL), nothing is released without its audit entry,
and once the server is back the same processes serve again, none restarted."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import grpc

from gateway.cli import eventloop
from gateway.pgcluster import PgCluster
from gateway.ports import free_ports
from tests.support.names import PURPOSE, RESIDENT
from tests.support.postgres import new_schema
from yrdtools.faults import Federation
from yrdtools.faults.load import Load

FIELDS = ["id_number", "name", "gender"]
OK, UNAVAILABLE = grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE
DOWN_S = 3.0
"""How long the server stays stopped under the load."""
FAST_S = 3.0
"""A refusal while it is down comes at least this fast: the pool's wait (2 s) and no more."""


def test_postgresql_stopped_under_load_then_back(tmp_path, certs_dir) -> None:
    # A server of this test's own: it is stopped and started again under the nodes.
    cluster = PgCluster(Path(tempfile.mkdtemp(prefix="yrd-pg-stop-")), free_ports(1)[0])
    cluster.start()
    fed = Federation(
        tmp_path,
        node_ids=["js", "sh"],
        entries=100,
        certs_dir=certs_dir,
        storage={n: new_schema(cluster) for n in ("js", "sh")},
    )
    try:
        fed.start()
        pids = {n: fed.pids(n) for n in ("js", "sh")}

        async def run():
            try:
                app = await fed.setup_app_with_grant("js/rsj/pg-stop", RESIDENT, FIELDS, PURPOSE)
                params = {"id_number": fed.samples("sh")["id_number"]}

                async def action(worker: int, n: int):
                    return await fed.call(app, RESIDENT, params, PURPOSE, timeout=10)

                before = [await action(0, 0) for _ in range(5)]
                load = Load(action, workers=6, pause=0.02).start()
                await asyncio.sleep(1.0)
                stopped = time.monotonic()
                await asyncio.to_thread(cluster.stop, "immediate")
                await asyncio.sleep(DOWN_S)
                await asyncio.to_thread(cluster.start)
                restarted = time.monotonic()
                # Served again by the same processes, without a restart: bounded wait.
                deadline = restarted + 30
                while time.monotonic() < deadline:
                    recent = load.since(time.monotonic() - 0.5)
                    if recent and all(o.ok for o in recent):
                        break
                    await asyncio.sleep(0.2)
                log = await load.stop()
                after = [await action(0, 0) for _ in range(10)]
                verified = {n: await fed.verify_audit_rpc(n) for n in ("js", "sh")}
                return before, log, stopped, restarted, after, verified
            finally:
                await fed.aclose()

        before, log, stopped, restarted, after, verified = eventloop.run(run())
        assert {n: fed.pids(n) for n in ("js", "sh")} == pids  # nobody was restarted
    finally:
        fed.close()
        cluster.stop("immediate")
        shutil.rmtree(cluster.directory, ignore_errors=True)

    outcomes = [o for _, o in log]
    assert all(o.ok for o in before) and all(o.ok for o in after), [
        o for o in before + after if not o.ok
    ][:3]
    assert {o.code for o in outcomes} <= {OK, UNAVAILABLE}, Counter(
        (o.code.name, o.reason) for o in outcomes
    )
    down = [o for started, o in log if stopped <= started < restarted]
    refused = [o for o in outcomes if not o.ok]
    assert refused, "no call met the stopped server"
    assert any(not o.ok for o in down)
    # Each refusal names the store and came fast, not after a client deadline.
    assert {o.reason for o in refused} == {"STORE_UNAVAILABLE"}, Counter(o.reason for o in refused)
    assert all("PostgreSQL" in o.message for o in refused), refused[0].message
    assert max(o.elapsed for o in refused) < FAST_S, max(o.elapsed for o in refused)
    # Nothing left either node without its entry: every answer OK'd has one on both sides.
    released = sum(o.ok for o in outcomes) + len(before) + len(after)
    for node, outcome in verified.items():
        assert outcome.ok and outcome.reply.ok, (node, outcome)
        assert outcome.reply.checked >= released, (node, outcome.reply.checked, released)
