"""One benchmark run: bring everything up, probe, measure every case, tear everything down.

Everything a case needs is started before the first case runs and stays up until the last, so
the cases run back to back on the same processes and their ratios hold on a noisy machine.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.certs import tls_name
from gateway.exchange.dataset import SCHEMA
from gateway.pgcluster import PostgresMissing
from yrdtools.bench import cases as C
from yrdtools.bench import pgfederation as PG
from yrdtools.bench import procstat
from yrdtools.bench.federation import PURPOSE, BenchFederation, start_federation
from yrdtools.bench.loadgen import DESCRIPTION, LoadGenerator, Target
from yrdtools.bench.nginx import NginxProxy, NginxUnavailable, find_or_install
from yrdtools.bench.nginx import version as nginx_version
from yrdtools.bench.profile import Profiler
from yrdtools.bench.reference import reference_ms
from yrdtools.bench.replication import (
    CHURN_SECONDS,
    catch_up_alone,
    search_while_writing,
    wait_in_sync,
)
from yrdtools.bench.report import environment, judge
from yrdtools.bench.runner import Schedule, measure
from yrdtools.bench.servers import ChildServer, start_child
from yrdtools.loopback import free_ports, template

__all__ = ["Options", "run"]

_BACKEND_CASES = {"direct", "raw", "raw-tls", "nginx"}
_GATEWAY_CASES = {
    *PG.PG_CASES,
    "local",
    "cross",
    "search",
    "search-hot",
    "cross-untraced",
    C.CROSS_TRACED,
    *C.WORKER_CASES,
}
_NO_TRACING_FLAG = "--no-tracing"


@dataclass(frozen=True, slots=True)
class Options:
    entries: int = 131_000
    """Catalog entries seeded per province."""
    duration: float = 5.0
    """Seconds measured per case and concurrency."""
    warmup: float = 1.0
    """Seconds of unmeasured load before each measurement."""
    concurrency: int = 16
    """The saturating level; every case also runs at concurrency 1."""
    workers: int = 16
    """Most load-generator processes; slots above this share a process as threads."""
    cases: tuple[str, ...] = C.ALL_CASES
    install_nginx: bool = True
    keep: bool = False
    """Leave the federation running after the run (and its temp dir in place)."""
    profile_dir: Path | None = None
    """Sample the gateway nodes with py-spy during each saturated gateway run, into here."""
    profile_native: bool = False
    """Profiles include C frames (grpc core, SQLite, OpenSSL)."""
    tracing_rounds: int = 4
    """Rounds of the paired tracing comparison (``cross-untraced``): each restarts js and sh
    once with tracing off and once with it on and measures both."""
    node_workers: int = 2
    """Worker processes of js and sh in the ``*-workers`` cases."""
    tmp_dir: Path | None = None
    """Where the run's temp dir (certificates, SQLite files, logs) goes; None = the system's.
    On tmpfs (/dev/shm) fsync is free, which separates storage latency from CPU cost."""
    federation: Path | None = None
    """The template federation file: the provinces, the standard and the node configs the
    benchmark's federation copies; None = ``$YRD_FEDERATION`` or ``config/federation.yaml``."""


def run(opts: Options, say=print) -> dict[str, Any]:
    """Run the benchmark; returns the result document (see report.py for its use)."""
    started = datetime.now(UTC)
    reference = {"start": reference_ms()}  # the box's speed, before anything of ours runs
    result: dict[str, Any]
    root = Path(tempfile.mkdtemp(prefix="yrd-bench-", dir=opts.tmp_dir))
    children: list[ChildServer] = []
    nginx: NginxProxy | None = None
    bench: BenchFederation | None = None
    pgb: PG.PgBench | None = None
    skipped: dict[str, str] = {}
    nginx_ver = None
    try:
        source = template(opts.federation)
        bench = start_federation(root, source, entries=opts.entries, say=say)
        cross = bench.grants["cross"]
        # Replication first (its catch-up would share the CPU with the cases), then its cost.
        replication = wait_in_sync(bench.fed, bench.fed.nodes, say)
        replication["alone"] = catch_up_alone(bench, say=say)
        replication["writing"] = search_while_writing(
            bench, C.search_requests(), seconds=min(CHURN_SECONDS, 2 * opts.duration), say=say
        )
        wait_in_sync(bench.fed, bench.fed.nodes, lambda *_: None)  # every copy level again
        servers: dict[str, ChildServer] = {}
        if _BACKEND_CASES & set(opts.cases):
            servers = _start_servers(bench, opts, root / "servers")
            children.extend(servers.values())
        if "nginx" in opts.cases:
            try:
                binary = find_or_install(install=opts.install_nginx)
                nginx_ver = nginx_version(binary)
                nginx = NginxProxy(
                    binary, root / "nginx", servers["backend"].address, free_ports(1)[0]
                )
                nginx.start()
            except NginxUnavailable as exc:
                nginx = None
                skipped["nginx"] = str(exc)
                say(f"nginx case skipped: {exc}")
        if "cross-untraced" in opts.cases and not _node_has_flag(_NO_TRACING_FLAG):
            skipped["cross-untraced"] = (
                f"`yrdgw node` has no {_NO_TRACING_FLAG} flag yet "
                "(NodeOptions.tracing exists; the CLI must pass it)"
            )
        invoke_cross = C.invoke_requests(cross.interface_id, cross.ids, PURPOSE)
        cases = _build_cases(bench, opts, servers, nginx, invoke_cross, skipped)
        pg_names = [n for n in opts.cases if n in PG.PG_CASES]
        if pg_names:
            try:
                pgb = PG.start_pg_federation(
                    root / "pg", bench, entries=opts.entries, tmp_dir=opts.tmp_dir, say=say
                )
            except PostgresMissing as exc:
                skipped.update(dict.fromkeys(pg_names, str(exc)))
                say(f"PostgreSQL cases skipped: {exc}")
        if pgb is not None:
            search = next((c.requests for c in cases if c.name == "search"), None)
            if search is None and "pg-search" in pg_names:
                search = C.cold_search_requests(_entry_names(bench, "sh"))
            cases += PG.build_cases(pgb, pg_names, search)

        say("probing every case once (decoded replies, checked) ...")
        probes = {case.name: C.probe(case) for case in cases}
        schedule = Schedule(duration=opts.duration, warmup=opts.warmup)
        profiler = (
            Profiler(opts.profile_dir, native=opts.profile_native)
            if opts.profile_dir is not None
            else None
        )
        levels = sorted({1, opts.concurrency})
        with LoadGenerator(min(opts.workers, opts.concurrency)) as loadgen:
            groups = _groups(bench, servers, nginx, loadgen, pgb)
            rss_pids = _rss_pids(bench, servers, pgb)
            results: dict[str, Any] = {}
            with_workers = False

            def measure_levels(case: C.Case, label: str = "") -> list[dict[str, Any]]:
                runs = []
                for level in levels:
                    hook = None
                    if profiler is not None and level > 1 and case.name in _GATEWAY_CASES:
                        nodes = {**bench.node_pids(), **(pgb.rss_pids() if pgb else {})}
                        pids = {n: p for n, p in nodes.items() if n in case.served_by}
                        hook = profiler.window(label or case.name, pids, opts.duration)
                    row = measure(case, level, loadgen, schedule, groups, rss_pids, hook)
                    row["profiled"] = hook is not None
                    runs.append(row)
                    say(_progress(row))
                return runs

            for case in cases:
                if case.name in C.WORKER_CASES and not with_workers:
                    say(f"restarting js and sh with {opts.node_workers} workers each ...")
                    _restart(bench, ("js", "sh"), ("--workers", str(opts.node_workers)))
                    groups = _groups(bench, servers, nginx, loadgen, pgb)
                    rss_pids = _rss_pids(bench, servers, pgb)
                    with_workers = True
                if case.name == "pg-cross2" and pgb is not None:
                    pgb.use_two_sh(say)
                    groups = _groups(bench, servers, nginx, loadgen, pgb)
                    rss_pids = _rss_pids(bench, servers, pgb)
                if case.name != "cross-untraced":
                    runs = measure_levels(case)
                else:
                    # Paired: both sides on freshly restarted js and sh, the order alternating
                    # between rounds (untraced, traced, traced, untraced, ...), so what the
                    # earlier cases left in the nodes and drift on a shared machine fall on
                    # both sides alike.
                    traced = replace(case, name=C.CROSS_TRACED)
                    runs = []
                    for rnd in range(opts.tracing_rounds):
                        pair = ((case, True), (traced, False))
                        for side, off in pair if rnd % 2 == 0 else pair[::-1]:
                            flags = (_NO_TRACING_FLAG,) if off else ()
                            how = f"with {_NO_TRACING_FLAG}" if off else "with tracing on"
                            say(f"round {rnd + 1}: restarting js and sh {how} ...")
                            _restart(bench, ("js", "sh"), flags)
                            groups = _groups(bench, servers, nginx, loadgen, pgb)
                            rss_pids = _rss_pids(bench, servers, pgb)
                            for row in measure_levels(side, f"{side.name}-r{rnd + 1}"):
                                row["round"] = rnd + 1
                                runs.append(row)
                results[case.name] = {
                    "title": case.title,
                    "served_by": list(case.served_by),
                    "probe": probes[case.name],
                    "runs": runs,
                }
        for name in opts.cases:
            if name in skipped:
                results[name] = {"title": C.TITLES[name], "skipped": skipped[name]}
        ordered = {name: results[name] for name in opts.cases if name in results}
        rows = [r for c in ordered.values() for r in c.get("runs", ())]
        result = {
            "schema": 1,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "options": {
                **asdict(opts),
                "cases": list(opts.cases),
                "profile_dir": str(opts.profile_dir or ""),
                "tmp_dir": str(opts.tmp_dir or tempfile.gettempdir()),
                "federation": str(source.path),
            },
            # git describe of the checkout the template federation belongs to
            "environment": {
                **environment(loadgen=DESCRIPTION, nginx=nginx_ver, repo=source.path.parent),
                "reference_ms": reference,  # its end is timed once the processes stop
            },
            "setup": {
                "federation_startup_s": round(bench.startup_seconds, 2),
                "data_filesystem": _filesystem_of(root),
                "app": bench.app,
                "interfaces": {k: g.interface_id for k, g in bench.grants.items()},
                "sample_keys": {k: len(g.ids) for k, g in bench.grants.items()},
                "concurrency_levels": levels,
                "warmup_s": opts.warmup,
                **({"postgresql": pgb.setup()} if pgb is not None else {}),
            },
            "replication": replication,
            "cases": ordered,
            "targets": judge(rows, opts.concurrency),
            "profiles": profiler.summaries if profiler is not None else {},
        }
    finally:
        if nginx is not None:
            nginx.stop()
        for child in children:
            child.stop()
        if pgb is not None:
            pgb.stop()
        if bench is not None and opts.keep:
            _print_keep(bench, say)
        else:
            if bench is not None:
                bench.stop()
            shutil.rmtree(root, ignore_errors=True)
    # After the nodes and servers stopped (with --keep they still run, and share the cores).
    reference["end"] = reference_ms()
    return result


def _start_servers(bench: BenchFederation, opts: Options, log_dir: Path) -> dict[str, ChildServer]:
    cross = bench.grants["cross"]
    person = SCHEMA["person"].columns
    columns = ",".join(f for f in cross.fields if f in person)
    base = [
        "--dataset",
        str(bench.dataset(cross.owner)),
        "--table",
        "person",
        "--lookup",
        "id_number",
        "--columns",
        columns,
    ]
    tls = ["--tls-dir", str(bench.fed.certs_dir)]
    # The plaintext backend serves direct, raw and nginx alike.
    out = {"backend": start_child("backend", "yrdtools.bench.backend", base, log_dir)}
    if "raw" in opts.cases:
        out["proxy"] = start_child(
            "proxy", "yrdtools.bench.proxy", ["--upstream", out["backend"].address], log_dir
        )
    if "raw-tls" in opts.cases:
        out["backend-tls"] = start_child(
            "backend-tls",
            "yrdtools.bench.backend",
            [*base, *tls, "--tls-node", cross.owner],
            log_dir,
        )
        out["proxy-tls"] = start_child(
            "proxy-tls",
            "yrdtools.bench.proxy",
            [
                "--upstream",
                out["backend-tls"].address,
                *tls,
                "--tls-node",
                "js",
                "--upstream-node",
                cross.owner,
            ],
            log_dir,
        )
    return out


def _build_cases(
    bench: BenchFederation,
    opts: Options,
    servers: dict[str, ChildServer],
    nginx: NginxProxy | None,
    invoke_cross: tuple[bytes, ...],
    skipped: dict[str, str],
) -> list[C.Case]:
    local = bench.grants["local"]
    md = bench.app_metadata()
    js = bench.client_target("js")
    out = []
    for name in opts.cases:
        if name == "direct":
            out.append(
                C.Case(
                    name,
                    Target(servers["backend"].address),
                    C.INVOKE,
                    invoke_cross,
                    served_by=("backend",),
                )
            )
        elif name == "raw":
            out.append(
                C.Case(
                    name,
                    Target(servers["proxy"].address),
                    C.INVOKE,
                    invoke_cross,
                    served_by=("proxy", "backend"),
                )
            )
        elif name == "raw-tls":
            out.append(
                C.Case(
                    name,
                    Target(servers["proxy-tls"].address, bench.ca_pem, tls_name("js")),
                    C.INVOKE,
                    invoke_cross,
                    served_by=("proxy-tls", "backend-tls"),
                )
            )
        elif name == "nginx" and nginx is not None:
            out.append(
                C.Case(
                    name,
                    Target(nginx.address),
                    C.INVOKE,
                    invoke_cross,
                    served_by=("nginx", "backend"),
                )
            )
        elif name == "local":
            out.append(
                C.Case(
                    name,
                    js,
                    C.INVOKE,
                    C.invoke_requests(local.interface_id, local.ids, PURPOSE),
                    md,
                    served_by=("js",),
                )
            )
        elif name == "cross":
            out.append(C.Case(name, js, C.INVOKE, invoke_cross, md, served_by=("js", "sh")))
        elif name == "local-workers":
            requests = C.invoke_requests(local.interface_id, local.ids, PURPOSE)
            out.append(C.Case(name, js, C.INVOKE, requests, md, served_by=("js",)))
        elif name == "cross-workers":
            out.append(C.Case(name, js, C.INVOKE, invoke_cross, md, served_by=("js", "sh")))
        elif name == "cross-untraced" and name not in skipped:
            out.append(C.Case(name, js, C.INVOKE, invoke_cross, md, served_by=("js", "sh")))
        elif name in ("search", "search-workers"):
            cold = C.cold_search_requests(_entry_names(bench, "sh"))
            out.append(
                C.Case(name, js, C.SEARCH, cold, served_by=("js", "sh", "zj", "ah"), cold=True)
            )
        elif name == "search-hot":
            out.append(
                C.Case(name, js, C.SEARCH, C.search_requests(), served_by=("js", "sh", "zj", "ah"))
            )
    return out


def _entry_names(bench: BenchFederation, node: str, limit: int = 20_000) -> list[str]:
    """Names of ``node``'s seeded catalog entries (read-only, beside the running node): the
    vocabulary the cold search set is cut from."""
    path = bench.fed.data_dir / node / "catalog.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name FROM entries ORDER BY id LIMIT ?", (limit,)).fetchall()
    finally:
        conn.close()
    return [name for (name,) in rows]


def _filesystem_of(path: Path) -> str:
    """The type of the filesystem holding ``path`` (ext4, tmpfs, ...): fsync cost depends on it."""
    best, kind = "", ""
    with open("/proc/mounts") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


def _node_has_flag(flag: str) -> bool:
    """Whether this checkout's ``yrdgw node`` knows ``flag`` (asked, not assumed)."""
    cmd = [sys.executable, "-m", "gateway.cli.main", "node", "--help"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return flag in done.stdout


def _restart(bench: BenchFederation, nodes: tuple[str, ...], extra_args: tuple[str, ...]) -> None:
    procs = bench.procs
    saved, procs.extra_args = procs.extra_args, extra_args
    try:
        for node in nodes:
            procs.stop(node)
            procs.start(node)
        procs.wait_ready(list(nodes), timeout=600)
    finally:
        procs.extra_args = saved
    procstat.settle(bench.procs, nodes)


def _groups(
    bench: BenchFederation,
    servers: dict[str, ChildServer],
    nginx: NginxProxy | None,
    loadgen: LoadGenerator,
    pgb: PG.PgBench | None = None,
) -> dict[str, Iterable[int]]:
    # A node with workers is its primary and every worker: their CPU together (and each
    # worker's alone as ``js/w1``, ..., to see how evenly the kernel spread the connections).
    groups: dict[str, Iterable[int]] = {}
    for node in bench.procs.procs:
        pids = groups[node] = bench.procs.pids(node)
        for i, pid in enumerate(pids[1:], 1):
            groups[f"{node}/w{i}"] = [pid]
    groups.update({name: [s.pid] for name, s in servers.items()})
    if nginx is not None:
        groups["nginx"] = nginx.pids()
    groups["loadgen"] = loadgen.pids()
    if pgb is not None:
        groups.update(pgb.groups())
    return groups


def _rss_pids(
    bench: BenchFederation, servers: dict[str, ChildServer], pgb: PG.PgBench | None = None
) -> dict[str, Any]:
    """A plain node by its pid (its RSS); a node with workers by all its pids (their PSS),
    under its own name, since the memory target is about a node in one process."""
    out: dict[str, Any] = {}
    for node in bench.procs.procs:
        pids = bench.procs.pids(node)
        if len(pids) == 1:
            out[node] = pids[0]
        else:
            out[f"{node} ({len(pids) - 1} workers, PSS)"] = pids
    out.update({n: s.pid for n, s in servers.items()})
    if pgb is not None:
        out.update(pgb.rss_pids())
    return out


def _progress(row: dict[str, Any]) -> str:
    lat = row["latency_ms"]
    errors = sum(row["errors"].values())
    cpu = " + ".join(f"{n} {row['cpu_us_per_call'][n]:.0f}" for n in row["served_by"])
    return (
        f"  {row['case']:<8} c={row['concurrency']:<3} {row['rps']:>8,.0f} req/s  "
        f"p50 {lat['p50']:.2f}  p99 {lat['p99']:.2f} ms  errors {errors}  "
        f"CPU µs/call {cpu}"
    )


def _print_keep(bench: BenchFederation, say) -> None:
    fed = bench.fed.path
    pids = " ".join(str(p) for p in bench.node_pids().values())
    cross = bench.grants["cross"]
    say("")
    say(f"--keep: the federation is still running (data in {bench.root}).")
    say(f"  .venv/bin/yrdgw --federation {fed} search 户籍 --via js")
    say(
        f"  .venv/bin/yrdgw --federation {fed} call {cross.interface_id} --app {bench.app} "
        f"--param id_number={cross.ids[0]} --purpose {PURPOSE}"
    )
    say(f"stop it with: kill {pids}  (then rm -r {bench.root})")
