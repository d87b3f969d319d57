"""The load generator: a pool of worker processes, each calling with grpcio's sync stub.

Why processes: one Python process cannot drive a gRPC server at saturation without its own GIL
becoming the bottleneck, and the harness must not measure itself. Each worker holds one channel
per case (connected before the clock starts) and runs a closed loop per slot (one call in
flight per slot), sending pre-serialized request bytes and never decoding replies, which is the
cheapest a Python client gets. Its CPU is recorded like every other process's, so the table
shows what the client cost too.

All workers share one schedule in CLOCK_MONOTONIC (system-wide on Linux): start, end of warm-up
(window start), window end. A call counts when it *completes* inside the window.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field

__all__ = [
    "DESCRIPTION",
    "Job",
    "LoadGenerator",
    "Target",
    "WorkerReport",
    "first_request",
    "open_channel",
]

DESCRIPTION = "multi-process Python client (grpcio sync stub, one process per slot up to --workers)"


@dataclass(frozen=True, slots=True)
class Target:
    address: str
    """host:port on loopback."""
    ca_pem: bytes | None = None
    """Trust this CA and use TLS; None = plaintext."""
    server_name: str | None = None
    """TLS name to check on the server's certificate (grpc.ssl_target_name_override)."""


@dataclass(frozen=True, slots=True)
class Job:
    target: Target
    method: str
    """Full method path, e.g. /yrd.v1.Exchange/Invoke."""
    requests: tuple[bytes, ...]
    """Serialized requests, sent in turn (each slot starts at a different one)."""
    metadata: tuple[tuple[str, str], ...]
    slots: int
    """Calls this worker keeps in flight (one thread each)."""
    first: int
    """Index of the first slot across all workers, to stagger the requests they send."""
    start_ns: int
    window_start_ns: int
    window_end_ns: int
    timeout: float
    spread: int = 1
    """Slots across all workers: slot k starts k/spread of the way through ``requests``, so
    concurrent slots are far apart in the rotation (never asking one query right after another
    slot did, which an answer cache would serve)."""


#: Completions are also counted per interval of the window, to show dips and stalls that a
#: run's averages and percentiles hide.
BUCKET_NS = 100_000_000


def buckets_in(window_start_ns: int, window_end_ns: int) -> int:
    """Whole intervals in the window (a remainder counts into the last one)."""
    return max(1, (window_end_ns - window_start_ns) // BUCKET_NS)


@dataclass(slots=True)
class WorkerReport:
    pid: int
    latencies_ns: array = field(default_factory=lambda: array("q"))
    per_bucket: list[int] = field(default_factory=list)
    """Calls completed (successfully) in each ``BUCKET_NS`` of the window."""
    errors: Counter = field(default_factory=Counter)
    """Status name -> count, for calls completed in the window."""
    warmup_errors: Counter = field(default_factory=Counter)
    failure: str = ""
    """Why the worker could not run the job at all (e.g. the channel never connected)."""


class LoadGenerator:
    """A pool of ``workers`` processes, started once per benchmark run and reused by each case."""

    def __init__(self, workers: int) -> None:
        ctx = mp.get_context("spawn")  # grpc's core does not survive fork() in a used process
        self._conns = []
        self._procs = []
        for i in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child,), name=f"loadgen-{i}", daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        for conn in self._conns:
            conn.recv()  # "ready": grpc imported, so import time is not in any case

    @property
    def size(self) -> int:
        return len(self._procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def run(self, job_for, concurrency: int) -> list[WorkerReport]:
        """Spread ``concurrency`` slots over the workers; ``job_for(slots, first)`` makes each
        worker's job. Blocks until every worker has reported."""
        used = min(concurrency, self.size)
        base, extra = divmod(concurrency, used)
        first = 0
        for i in range(used):
            slots = base + (1 if i < extra else 0)
            self._conns[i].send(job_for(slots, first))
            first += slots
        return [self._conns[i].recv() for i in range(used)]

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _worker_main(conn) -> None:
    import os

    import grpc  # noqa: F401 - imported before "ready" so no case pays for it

    conn.send("ready")
    while True:
        job = conn.recv()
        if job is None:
            return
        report = WorkerReport(pid=os.getpid())
        try:
            _run_job(job, report)
        except Exception as exc:  # the parent must hear back whatever happened
            report.failure = f"{type(exc).__name__}: {exc}"
        conn.send(report)


def first_request(slot: int, requests: int, spread: int) -> int:
    """Where slot number ``slot`` (of ``spread`` slots in all) starts in a rotation of
    ``requests``: evenly apart when the rotation is at least that long, else one apart."""
    if spread > 1 and requests >= spread:
        return slot * requests // spread
    return slot


def open_channel(target: Target):
    import grpc

    if target.ca_pem is None:
        return grpc.insecure_channel(target.address)
    options = [("grpc.ssl_target_name_override", target.server_name)] if target.server_name else []
    creds = grpc.ssl_channel_credentials(root_certificates=target.ca_pem)
    return grpc.secure_channel(target.address, creds, options=options)


def _run_job(job: Job, report: WorkerReport) -> None:
    import grpc

    channel = open_channel(job.target)
    try:
        grpc.channel_ready_future(channel).result(timeout=15)
        call = channel.unary_unary(job.method)  # no serializers: bytes in, bytes out
        lock = threading.Lock()

        def slot(index: int) -> None:
            latencies = array("q")
            errors: Counter = Counter()
            warmup: Counter = Counter()
            requests, n = job.requests, len(job.requests)
            i = first_request(index, n, job.spread)
            md, timeout = job.metadata, job.timeout
            ws, we = job.window_start_ns, job.window_end_ns
            counts = [0] * buckets_in(ws, we)
            last = len(counts) - 1
            now = time.monotonic_ns
            while now() < job.start_ns:
                time.sleep(min(0.01, max(0.0, (job.start_ns - now()) / 1e9)))
            while True:
                t0 = now()
                if t0 >= we:
                    break
                status = ""
                try:
                    if not call(requests[i % n], timeout=timeout, metadata=md):
                        status = "EMPTY_REPLY"
                except grpc.RpcError as exc:
                    code = exc.code() if callable(getattr(exc, "code", None)) else None
                    status = code.name if code is not None else type(exc).__name__
                i += 1
                t1 = now()
                if ws <= t1 <= we:
                    if status:
                        errors[status] += 1
                    else:
                        latencies.append(t1 - t0)
                        counts[min(last, (t1 - ws) // BUCKET_NS)] += 1
                elif status:
                    warmup[status] += 1
            with lock:
                report.latencies_ns.extend(latencies)
                if not report.per_bucket:
                    report.per_bucket = [0] * len(counts)
                report.per_bucket = [a + b for a, b in zip(report.per_bucket, counts, strict=True)]
                report.errors.update(errors)
                report.warmup_errors.update(warmup)

        threads = [
            threading.Thread(target=slot, args=(job.first + k,), daemon=True)
            for k in range(job.slots)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        channel.close()
