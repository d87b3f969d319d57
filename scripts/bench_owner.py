"""Measure the owner's pipeline in one process: CPU per call of ``Provider.invoke`` under a server
span, with the node's span store and audit log, at a fixed concurrency.

Usage: ``.venv/bin/python scripts/bench_owner.py [--calls 2000] [--untraced] [--uvloop]``

No gRPC and no other process: the figure is the owner's own work (authorize, plan, parameters,
quota, backend lookup, masking, audit, spans) and the threads it feeds (audit writer, span
store), so a before/after of that work shows through a crowded machine, where the end-to-end
benchmark's spread is wider than the change (issue 18). Each round runs ``--calls`` calls from
eight concurrent callers; the median of five rounds is printed. Run it with ``PYTHONPATH`` on
each checkout to compare them. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

from gateway.audit.log import AuditLog  # noqa: E402
from gateway.exchange.backends import BackendPool  # noqa: E402
from gateway.exchange.calls import Call  # noqa: E402
from gateway.exchange.dataset import ensure_dataset, sample_values  # noqa: E402
from gateway.exchange.provider import Caller, Provider  # noqa: E402
from gateway.sharing.model import Quota  # noqa: E402
from gateway.sharing.store import SharingStore  # noqa: E402
from gateway.telemetry.light import start_light  # noqa: E402
from gateway.telemetry.spanstore import SpanStore, SpanStoreProcessor  # noqa: E402
from tests.support.federation import shipped_interfaces  # noqa: E402

IFACE = "sh/gaj/resident-basic/v1"
APP = "js/rst/yrd-bench"
PURPOSE = "社会保险待遇资格认证"
CALLERS = 8


async def measure(calls: int, traced: bool) -> list[float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-owner-"))
    now = datetime.now(UTC)
    ensure_dataset(tmp / "dataset.db", "sh", people=500, seed=5)
    standard, interfaces = shipped_interfaces("sh")
    store = SharingStore(tmp / "sharing.db")
    audit = AuditLog(tmp / "audit.db", "sh")
    pool = BackendPool(dataset_path=tmp / "dataset.db")
    provider = TracerProvider()
    provider.add_span_processor(SpanStoreProcessor(SpanStore(tmp / "spans.db", "sh")))
    tracer = provider.get_tracer("gateway")
    options: dict = {"clock": lambda: datetime.now(UTC)}
    if "tracer" in inspect.signature(Provider).parameters:  # before issue 18 the steps were spans
        options["tracer"] = tracer
    backends = pool.for_interfaces(interfaces.values())
    owner = Provider("sh", interfaces, store, backends, standard, audit, **options)
    fields = [f.name for f in interfaces[IFACE].fields]
    start, until = now - timedelta(days=1), now + timedelta(days=30)
    quota = Quota(1_000_000, 100_000_000)
    application = store.add_application(APP, IFACE, fields, PURPOSE, start, until, quota, now=start)
    store.approve(application.id, now=start)
    call = Call(IFACE, {"id_number": sample_values(tmp / "dataset.db")["id_number"]}, PURPOSE)
    caller = Caller(APP, "js", trace_id="ab" * 16)

    async def one() -> None:
        if traced:
            span = start_light(tracer, "/yrd.v1.Federation/Invoke", kind=SpanKind.SERVER)
            with trace.use_span(span, end_on_exit=True):
                result = await owner.invoke(caller, call)
        else:
            result = await owner.invoke(caller, call)
        assert result.records

    async def caller_loop(n: int) -> None:
        for _ in range(n):
            await one()

    await caller_loop(300)  # warm: caches, views, the SQLite page cache
    rounds = []
    for _ in range(5):
        cpu = time.process_time()
        await asyncio.gather(*(caller_loop(calls // CALLERS) for _ in range(CALLERS)))
        rounds.append((time.process_time() - cpu) / calls * 1e6)
    await pool.close()
    audit.close()
    store.close()
    return rounds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--untraced", action="store_true", help="no server span, no steps recorded")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = p.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.install()
    rounds = asyncio.run(measure(args.calls, not args.untraced))
    shown = ", ".join(f"{r:.0f}" for r in rounds)
    print(f"owner CPU per call: median {statistics.median(rounds):.0f} µs (rounds: {shown})")


if __name__ == "__main__":
    main()
