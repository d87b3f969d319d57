"""The benchmark's outputs: the environment block, the targets of issue 6, the table, the JSON.

Targets are judged from the same run's rows only, so every ratio compares numbers taken minutes
apart on the same noisy machine.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from yrdtools.bench.cases import CROSS_TRACED

__all__ = [
    "box_speed",
    "earlier_results",
    "environment",
    "format_report",
    "judge",
    "rows_of",
    "write_json",
]

PASS, MISS, NA = "PASS", "MISS", "n/a"


def environment(*, loadgen: str, nginx: str | None, repo: Path) -> dict[str, Any]:
    import google.protobuf
    import grpc

    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return ""

    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "grpcio": grpc.__version__,
        "protobuf": google.protobuf.__version__,
        "protobuf_backend": _protobuf_backend(),
        "sqlite": sqlite3.sqlite_version,
        "opentelemetry_sdk": dist("opentelemetry-sdk"),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "nginx": nginx or "",
        "loadgen": loadgen,
        "git": _git_describe(repo),
        "argv": sys.argv[1:],
    }


#: A run whose reference workload took this much longer than the earlier runs' median (or whose
#: end differs this much from its start) is flagged: its figures are the box's, not the code's.
SLOW_BOX = 0.15


def earlier_results(results_dir: Path, *, exclude: Path | None = None) -> list[dict[str, Any]]:
    """The result documents in ``results_dir`` other than ``exclude`` (unreadable ones skipped:
    the directory is the user's)."""
    found = []
    for path in sorted(results_dir.glob("*.json")):
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict):
            found.append(document)
    return found


def box_speed(result: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]]) -> list[str]:
    """Report lines on the box's speed during ``result``'s run: its reference workload
    (``reference.reference_ms``) at the start and the end, against the median of the
    ``earlier`` runs' starts on a machine of the same kind; a warning when the run was more
    than ``SLOW_BOX`` slower, or changed speed by as much while it ran."""
    env = result.get("environment", {})
    own = env.get("reference_ms") or {}
    start, end = own.get("start"), own.get("end")
    if not start or not end:
        return []
    line = (
        f"box speed: the reference workload took {start:.0f} ms at the start, {end:.0f} at the end"
    )
    kind = (env.get("machine"), env.get("cores"))
    starts = [
        float(ref["start"])
        for doc in earlier
        if isinstance(env_of := doc.get("environment"), dict)
        and (env_of.get("machine"), env_of.get("cores")) == kind
        and isinstance(ref := env_of.get("reference_ms"), dict)
        and isinstance(ref.get("start"), int | float)
        and ref["start"] > 0
    ]
    warnings = []
    if starts:
        usual = statistics.median(starts)
        slowest = max(start, end)
        line += f" (the median of {len(starts)} earlier runs here: {usual:.0f} ms)"
        if slowest > usual * (1 + SLOW_BOX):
            warnings.append(
                f"  warning: the box ran at {usual / slowest:.0%} of its usual speed: "
                "compare this run's figures with runs of like speed, not the targets"
            )
    if abs(end / start - 1) > SLOW_BOX:
        warnings.append(
            f"  warning: the box's speed changed by {end / start - 1:+.0%} during the run: "
            "cases run early and late do not compare"
        )
    return [line, *warnings]


def _protobuf_backend() -> str:
    try:
        from google.protobuf.internal import api_implementation

        return api_implementation.Type()
    except ImportError:
        return ""


def _git_describe(repo: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def rows_of(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every measured run, in case order then concurrency."""
    return [run for case in result["cases"].values() for run in case.get("runs", ())]


def _row(rows: Sequence[Mapping], case: str, concurrency: int | None) -> Mapping | None:
    """The row of ``case`` at ``concurrency`` (None = the highest measured)."""
    found = [r for r in rows if r["case"] == case]
    if not found:
        return None
    if concurrency is None:
        return max(found, key=lambda r: r["concurrency"])
    return next((r for r in found if r["concurrency"] == concurrency), None)


def _latency(row: Mapping | None, quantile: str) -> float | None:
    """A row's latency quantile in ms, or None when the case did not run."""
    return row["latency_ms"][quantile] if row else None


def _check(
    name: str, value: float | None, limit: float, *, at_most: bool, unit: str, detail: str = ""
) -> dict[str, Any]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {
            "target": name,
            "status": NA,
            "value": None,
            "limit": limit,
            "unit": unit,
            "detail": detail or "case not run",
        }
    ok = value <= limit if at_most else value >= limit
    return {
        "target": name,
        "status": PASS if ok else MISS,
        "value": value,
        "limit": limit,
        "unit": unit,
        "detail": detail,
        "at_most": at_most,
    }


#: Issue 18's targets for the cross-province call (they replace issue 6's 2 ms, 1,500/s and
#: 1.5×): p50 at c=1 (ms), calls/s saturated with zero errors, gateway CPU per hop against the
#: raw TLS forwarding hop (×), and the throughput tracing may cost (%). The p99 bound (ms) is
#: still issue 6's.
CROSS_P50_MS, CROSS_P99_MS, CROSS_RPS, CPU_PER_HOP_X, TRACING_PCT = 2.5, 4.0, 900, 2.0, 10


def judge(rows: Sequence[Mapping], saturating: int) -> list[dict[str, Any]]:
    """The targets of issues 6, 14, 15 and 18, each PASS / MISS / n/a with the measured
    value."""
    out = []
    cross1, cross_sat = _row(rows, "cross", 1), _row(rows, "cross", saturating)
    out.append(
        _check(
            "cross-province p50 at c=1",
            _latency(cross1, "p50"),
            CROSS_P50_MS,
            at_most=True,
            unit="ms",
        )
    )
    out.append(
        _check(
            "cross-province p99 at c=1",
            _latency(cross1, "p99"),
            CROSS_P99_MS,
            at_most=True,
            unit="ms",
        )
    )
    errors = sum(cross_sat["errors"].values()) if cross_sat else 0
    rps = cross_sat["rps"] if cross_sat else None
    out.append(
        _check(
            f"cross-province calls/s at c={saturating}, zero errors",
            0.0 if rps is not None and errors else rps,
            CROSS_RPS,
            at_most=False,
            unit="/s",
            detail=f"{errors} errors" if errors else "",
        )
    )
    out.append(_cpu_per_hop(rows, saturating))
    for case in ("search", "search-hot"):
        out.extend(_search_targets(rows, case, saturating))
    peaks: dict[str, float] = {}
    for r in rows:
        for n, v in r["rss_peak_mib"].items():
            if n in _NODES:
                peaks[n] = max(peaks.get(n, 0.0), v)
    worst = max(peaks.items(), key=lambda kv: kv[1]) if peaks else None
    out.append(
        _check(
            "node RSS under load (peak, MiB)",
            worst[1] if worst else None,
            300,
            at_most=True,
            unit="MiB",
            detail=f"largest: {worst[0]}" if worst else "",
        )
    )
    out.append(_tracing_cost(rows, saturating))
    out.extend(_postgres_vs_sqlite(rows, saturating))
    return out


#: Issue 15's search targets over 4 x 131,000 entries through one node: p50 and p99 at c=1 (ms),
#: searches/s saturated; judged for distinct (cold) and repeated (hot) queries alike.
SEARCH_TARGETS = (5.0, 15.0, 400)


def _search_targets(rows: Sequence[Mapping], case: str, saturating: int) -> list[dict[str, Any]]:
    which = "cold" if case == "search" else "hot"
    p50, p99, rps = SEARCH_TARGETS
    one, sat = _row(rows, case, 1), _row(rows, case, saturating)
    errors = sum(sat["errors"].values()) if sat else 0
    return [
        _check(
            f"federated search ({which}) p50 at c=1",
            _latency(one, "p50"),
            p50,
            at_most=True,
            unit="ms",
        ),
        _check(
            f"federated search ({which}) p99 at c=1",
            _latency(one, "p99"),
            p99,
            at_most=True,
            unit="ms",
        ),
        _check(
            f"federated searches/s ({which}) at c={saturating}",
            0.0 if sat and errors else (sat["rps"] if sat else None),
            rps,
            at_most=False,
            unit="/s",
            detail=f"{errors} errors" if errors else "",
        ),
    ]


def _postgres_vs_sqlite(rows: Sequence[Mapping], saturating: int) -> list[dict[str, Any]]:
    """Issue 14's targets: PostgreSQL's cross-province throughput and p50 against SQLite's,
    from the same run (one replica per province)."""
    pg_sat, sq_sat = _row(rows, "pg-cross", saturating), _row(rows, "cross", saturating)
    pg1, sq1 = _row(rows, "pg-cross", 1), _row(rows, "cross", 1)
    rps = p50 = None
    rps_detail = p50_detail = ""
    if pg_sat and sq_sat and sq_sat["rps"]:
        rps = pg_sat["rps"] / sq_sat["rps"]
        rps_detail = f"{pg_sat['rps']:,.0f} vs {sq_sat['rps']:,.0f}/s"
    if pg1 and sq1:
        pg_p50, sq_p50 = _latency(pg1, "p50"), _latency(sq1, "p50")
        if pg_p50 is not None and sq_p50:
            p50 = pg_p50 / sq_p50
            p50_detail = f"{pg_p50:.2f} vs {sq_p50:.2f} ms"
    return [
        _check(
            f"PostgreSQL/SQLite cross calls/s at c={saturating}",
            rps,
            0.8,
            at_most=False,
            unit="×",
            detail=rps_detail,
        ),
        _check(
            "PostgreSQL/SQLite cross p50 at c=1",
            p50,
            1.3,
            at_most=True,
            unit="×",
            detail=p50_detail,
        ),
    ]


def _tracing_cost(rows: Sequence[Mapping], saturating: int) -> dict[str, Any]:
    """Throughput lost to tracing: cross-province saturated, traced vs untraced.

    Judged on the paired rounds (``cross-traced`` against ``cross-untraced``, both on freshly
    restarted nodes), the median of each side; a result without the traced side of the pairs
    (older runs) falls back to the ``cross`` case, which ran on long-lived nodes.
    """
    name = "tracing on vs off throughput difference"
    off = _rps_at(rows, "cross-untraced", saturating)
    on = _rps_at(rows, CROSS_TRACED, saturating)
    paired = bool(on)
    if not paired:
        on = _rps_at(rows, "cross", saturating)
    if not on or not off or not statistics.median(off):
        return _check(
            name,
            None,
            TRACING_PCT,
            at_most=True,
            unit="%",
            detail="needs the cross and cross-untraced cases",
        )
    on_rps, off_rps = statistics.median(on), statistics.median(off)
    diff = (off_rps - on_rps) / off_rps * 100
    if paired:
        each = ", ".join(f"{a:,.0f}/{b:,.0f}" for a, b in zip(on, off, strict=False))
        detail = (
            f"median {on_rps:,.0f}/s traced vs {off_rps:,.0f}/s untraced over {len(off)} "
            f"paired round(s) on restarted js and sh (traced/untraced: {each})"
        )
        cpu_on = _gateway_cpu_at(rows, CROSS_TRACED, saturating)
        cpu_off = _gateway_cpu_at(rows, "cross-untraced", saturating)
        if cpu_on and cpu_off:
            # Steadier than the throughput on a shared box: a busy neighbour slows a round's
            # calls more than it changes what each costs.
            a, b = statistics.median(cpu_on), statistics.median(cpu_off)
            detail += (
                f"; js + sh CPU per call, medians: {a:,.0f} µs traced vs {b:,.0f} µs untraced"
                f" ({(a - b) / b * 100:+.1f}%)"
            )
    else:
        detail = f"{on_rps:,.0f}/s traced (cross) vs {off_rps:,.0f}/s untraced"
    return _check(name, diff, TRACING_PCT, at_most=True, unit="%", detail=detail)


def _gateway_cpu_at(rows: Sequence[Mapping], case: str, concurrency: int) -> list[float]:
    """js + sh CPU per call of every run of ``case`` at ``concurrency`` that measured both."""
    found = []
    for r in rows:
        cpu = r.get("cpu_us_per_call") or {}
        if r["case"] == case and r["concurrency"] == concurrency and "js" in cpu and "sh" in cpu:
            found.append(cpu["js"] + cpu["sh"])
    return found


def _rps_at(rows: Sequence[Mapping], case: str, concurrency: int) -> list[float]:
    """Throughput of every run of ``case`` at ``concurrency`` (one per round), in run order."""
    return [r["rps"] for r in rows if r["case"] == case and r["concurrency"] == concurrency]


_NODES = ("js", "sh", "zj", "ah")


def _workers_lines(rows: Sequence[Mapping], result: Mapping[str, Any]) -> list[str]:
    """The ``*-workers`` cases against the same calls on one process per node."""
    workers = result["options"].get("node_workers")
    pairs = [(f"{n}-workers", n) for n in ("local", "cross", "search")]
    found = []
    for many, one in pairs:
        for level in sorted({r["concurrency"] for r in rows if r["case"] == many}):
            a, b = _row(rows, many, level), _row(rows, one, level)
            if a is not None and b is not None and b["rps"]:
                cpu = a["cpu_us_per_call"]
                split = "; ".join(
                    f"{node} "
                    + " / ".join(f"{cpu[k]:.0f}" for k in sorted(cpu) if k.startswith(f"{node}/w"))
                    for node in a["served_by"]
                    if any(k.startswith(f"{node}/w") for k in cpu)
                )
                found.append(
                    f"  {one} c={level}: {a['rps']:,.0f}/s vs {b['rps']:,.0f}/s in one process "
                    f"({a['rps'] / b['rps']:.2f}×); p50 {a['latency_ms']['p50']:.2f} vs "
                    f"{b['latency_ms']['p50']:.2f} ms, p99 {a['latency_ms']['p99']:.2f} vs "
                    f"{b['latency_ms']['p99']:.2f} ms; CPU µs/call by worker: {split}"
                )
    if not found:
        return []
    return ["", f"several workers (js and sh restarted with {workers} each):", *found]


def _cpu_per_hop(rows: Sequence[Mapping], saturating: int) -> dict[str, Any]:
    """Gateway CPU per hop vs raw forward: like for like, two server processes per chain.

    Both chains forward once and serve once: js forwards to sh which serves from its dataset;
    the proxy forwards to the backend which serves from the same kind of dataset. Per hop =
    chain / 2 on both sides, so the ratio is the chain ratio. The TLS variant of raw forward is
    preferred because the gateway's hops are TLS too.
    """
    name = f"gateway CPU per hop ≤ {CPU_PER_HOP_X}× raw forward"
    cross = _row(rows, "cross", saturating)
    chains = (("raw-tls", "proxy-tls", "backend-tls"), ("raw", "proxy", "backend"))
    found = [(_row(rows, c[0], saturating), *c) for c in chains]
    raw, raw_case, proxy, backend = next((f for f in found if f[0] is not None), found[-1])
    if cross is None or raw is None:
        return _check(name, None, CPU_PER_HOP_X, at_most=True, unit="×")
    gw = cross["cpu_us_per_call"]
    rw = raw["cpu_us_per_call"]
    gateway_hop = (gw["js"] + gw["sh"]) / 2
    raw_hop = (rw[proxy] + rw[backend]) / 2
    detail = (
        f"(js {gw['js']:.0f} + sh {gw['sh']:.0f})/2 = {gateway_hop:.0f} µs vs {raw_case} "
        f"({proxy} {rw[proxy]:.0f} + {backend} {rw[backend]:.0f})/2 = {raw_hop:.0f} µs; "
        f"home hop alone js/{proxy} = {gw['js'] / rw[proxy]:.2f}×"
    )
    return _check(name, gateway_hop / raw_hop, CPU_PER_HOP_X, at_most=True, unit="×", detail=detail)


def _label(row: Mapping[str, Any]) -> str:
    """A row's case, with its round when the case ran in rounds (the paired tracing runs)."""
    return f"{row['case']} r{row['round']}" if row.get("round") else row["case"]


def _fmt(value: float, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _replication_lines(rep: Mapping[str, Any] | None) -> list[str]:
    """Replication's cost: every replica's first catch-up, then one follower's alone."""
    if not rep:
        return []
    firsts = rep["first_catch_up_s"]
    alone = rep["alone"]
    return [
        "",
        f"replication: every node held every other province's catalog "
        f"{rep['all_in_sync_after_up_s']:.1f} s after the federation was up "
        f"({len(firsts)} first catch-ups at once, each {min(firsts.values()):.1f}-"
        f"{max(firsts.values()):.1f} s)",
        f"  {alone['follower']} catching up alone with {alone['owner']}: "
        f"{alone['entries']:,} entries in {alone['catch_up_s']:.1f} s "
        f"({alone['apply_rate_per_s'] or 0:,} entries/s applied); searches through "
        f"{alone['follower']} meanwhile: {alone['searches_meanwhile']} asked, "
        f"{alone['search_failed_meanwhile']} failed, p50 {alone['search_p50_ms_meanwhile']} ms, "
        f"max {alone['search_max_ms_meanwhile']} ms",
        *_writing_lines(rep.get("writing")),
    ]


def _writing_lines(writing: Mapping[str, Any] | None) -> list[str]:
    """Searches while a province's catalog keeps changing (absent from earlier results)."""
    if not writing:
        return []
    quiet, busy = writing["quiet"], writing["writing"]
    return [
        f"  searches through {writing['via']} (the popular ten, one at a time) while "
        f"{writing['owner']} took a {writing['entries_per_write']}-entry write every "
        f"{writing['every_s']} s ({writing['writes']} writes in {writing['seconds']:.0f} s): "
        f"p50 {busy['p50_ms']} ms, p99 {busy['p99_ms']} ms, max {busy['max_ms']} ms, "
        f"{busy['failed']} failed of {busy['asked']}; with no writes: p50 {quiet['p50_ms']} ms, "
        f"p99 {quiet['p99_ms']} ms, max {quiet['max_ms']} ms"
    ]


def format_report(result: Mapping[str, Any]) -> str:
    rows = rows_of(result)
    lines = []
    env = result["environment"]
    lines.append(
        f"Python {env['python']}, grpcio {env['grpcio']}, protobuf {env['protobuf']} "
        f"({env['protobuf_backend']}), SQLite {env['sqlite']}, {env['cores']} cores; "
        f"nginx {env['nginx'] or '-'}; {result['options']['entries']:,} entries/province; "
        f"{result['options']['duration']} s per case; data on "
        f"{result['setup'].get('data_filesystem') or '?'}"
    )
    lines.append(f"load generator: {env['loadgen']}")
    lines.append("")
    header = (
        f"{'case':<8} {'c':>3} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6}  {'CPU µs/call: serving processes':<50} {'client':>6}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for r in rows:
        cpu = r["cpu_us_per_call"]
        serving = " + ".join(f"{n} {cpu.get(n, math.nan):.0f}" for n in r["served_by"])
        total = sum(cpu.get(n, 0.0) for n in r["served_by"])
        if len(r["served_by"]) > 1:
            serving += f" = {total:.0f}"
        errors = sum(r["errors"].values())
        lat = r["latency_ms"]
        lines.append(
            f"{_label(r):<8} {r['concurrency']:>3} {_fmt(r['rps'], 0):>8} {_fmt(lat['p50']):>7} "
            f"{_fmt(lat['p90']):>7} {_fmt(lat['p99']):>7} {errors:>6}  {serving:<50} "
            f"{_fmt(cpu.get('loadgen', math.nan), 0):>6}"
        )
        if errors:
            lines.append(f"{'':>12}errors by status: {r['errors']}")
    for name, case in result["cases"].items():
        if case.get("skipped"):
            lines.append(f"{name:<8} skipped: {case['skipped']}")
    dipped = [r for r in rows if r.get("dips", {}).get("count")]
    if dipped:
        lines.append("")
        lines.append(
            "throughput dips (100 ms intervals under a fifth of the run's median interval; "
            "seconds into the window):"
        )
        for r in dipped:
            d = r["dips"]
            at = ", ".join(f"{t:g}" for t in d["at_s"][:8]) + (" ..." if d["count"] > 8 else "")
            lines.append(
                f"  {_label(r)} c={r['concurrency']}: {d['count']} at {at}; "
                f"lowest {d['min_rps']:,.0f}/s"
            )
    peaks: dict[str, tuple[float, dict]] = {}
    for r in rows:
        for n, v in r["rss_peak_mib"].items():
            if v >= peaks.get(n, (0.0, {}))[0]:
                peaks[n] = (v, r.get("rss_peak_split_mib", {}).get(n, {}))
    if peaks:
        lines.append("")
        lines.append(
            "peak RSS MiB (anon heap / mapped files): "
            + ", ".join(
                f"{n} {v:.0f} ({s.get('anon', 0):.0f}/{s.get('file', 0):.0f})"
                for n, (v, s) in peaks.items()
            )
        )
    lines.extend(_workers_lines(rows, result))
    lines.extend(_replication_lines(result.get("replication")))
    for label, prof in result.get("profiles", {}).items():
        lines.append("")
        if "error" in prof:
            lines.append(f"profile {label}: failed: {prof['error']}")
            continue
        lines.append(f"profile {label} ({prof['samples']} samples, {prof['file']}):")
        lines.append("  self: " + "; ".join(f"{pct}% {frame}" for frame, pct in prof["self"][:8]))
        lines.append(
            "  gateway, inclusive: "
            + "; ".join(f"{pct}% {frame}" for frame, pct in prof["own_inclusive"][:10])
        )
    lines.append("")
    lines.append("targets (issue 6; search: issue 15; PostgreSQL against SQLite: issue 14):")
    for t in result["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:,.2f} {t['unit']}"
        at_most = t.get("at_most", t["unit"] in ("ms", "MiB", "×", "%"))
        limit = f"{'≤' if at_most else '≥'} {t['limit']:,} {t['unit']}"
        detail = f"  ({t['detail']})" if t["detail"] else ""
        lines.append(f"  {t['status']:<4}  {t['target']:<48} {value:>14}  target {limit}{detail}")
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    """NaN is not JSON: write null instead."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(result: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(_clean(result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return path
