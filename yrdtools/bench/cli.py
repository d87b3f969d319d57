"""Command line of the benchmark: options → one run → the table on stdout and the JSON file."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.errors import ConfigError
from yrdtools.bench.cases import ALL_CASES, PG_CASES, TITLES
from yrdtools.bench.harness import Options, run
from yrdtools.bench.report import box_speed, earlier_results, format_report, write_json
from yrdtools.loopback import TEMPLATE_HELP

__all__ = ["main", "options_from_args", "parser"]

QUICK_ENTRIES = 2_000
QUICK_DURATION = 2.0
QUICK_CONCURRENCY = 8
DEFAULTS = Options()


def parser(prog: str = "python -m yrdtools.bench") -> argparse.ArgumentParser:
    cases = "\n".join(f"  {name:<8} {TITLES[name]}" for name in ALL_CASES)
    p = argparse.ArgumentParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmark the four-province federation against its baselines (issue 6).",
        epilog=f"cases:\n{cases}",
    )
    p.add_argument(
        "--entries",
        type=int,
        help=f"catalog entries per province (default 131000; --quick: {QUICK_ENTRIES})",
    )
    p.add_argument(
        "--duration",
        type=float,
        help=f"seconds measured per case and concurrency (default 5; --quick: {QUICK_DURATION:g})",
    )
    p.add_argument(
        "--warmup",
        type=float,
        help="unmeasured seconds before each measurement "
        "(default: a quarter of --duration, 0.2 to 2)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        help="saturating concurrency (default 16; "
        f"--quick: {QUICK_CONCURRENCY}); every case also runs at 1",
    )
    p.add_argument(
        "--workers", type=int, default=16, help="most load-generator processes (default 16)"
    )
    p.add_argument("--cases", help=f"comma-separated subset of: {','.join(ALL_CASES)}")
    p.add_argument(
        "--tracing-rounds",
        type=int,
        default=None,
        help=f"rounds of the paired tracing on/off comparison (default {DEFAULTS.tracing_rounds}; "
        "--quick: 1)",
    )
    p.add_argument(
        "--node-workers",
        type=int,
        default=DEFAULTS.node_workers,
        help=f"worker processes of js and sh in the *-workers cases (default "
        f"{DEFAULTS.node_workers})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small and short, for CI (without the PostgreSQL cases unless --cases names them)",
    )
    p.add_argument(
        "--keep", action="store_true", help="leave the federation running and print how to reach it"
    )
    p.add_argument(
        "--no-install",
        action="store_true",
        help="do not apt-get install nginx when missing (skip that case instead)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample the nodes with py-spy during the saturated gateway runs "
        "(numbers of those runs are then not for comparison)",
    )
    p.add_argument(
        "--profile-native",
        action="store_true",
        help="with --profile: include C frames (grpc core, SQLite); slower sampling",
    )
    p.add_argument(
        "--tmp-dir",
        type=Path,
        help="where the run's files go (default: the system temp dir; /dev/shm "
        "takes fsync latency out of the numbers)",
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=Path("bench") / "results",
        help="where the JSON goes (default bench/results under the current directory)",
    )
    p.add_argument("--federation", type=Path, help=TEMPLATE_HELP)
    return p


def options_from_args(args: argparse.Namespace, stamp: str = "") -> Options:
    # --quick (CI's smoke run) leaves the PostgreSQL federation out unless a case of it is named.
    cases = tuple(c for c in ALL_CASES if c not in PG_CASES) if args.quick else ALL_CASES
    if args.cases:
        asked = {c.strip() for c in args.cases.split(",") if c.strip()}
        unknown = sorted(asked - set(ALL_CASES))
        if unknown or not asked:
            raise SystemExit(
                f"error: unknown case(s) {', '.join(unknown) or '(none)'}; "
                f"choose from {', '.join(ALL_CASES)}"
            )
        cases = tuple(c for c in ALL_CASES if c in asked)  # always in the canonical order
    entries = (
        args.entries
        if args.entries is not None
        else (QUICK_ENTRIES if args.quick else DEFAULTS.entries)
    )
    duration = (
        args.duration
        if args.duration is not None
        else (QUICK_DURATION if args.quick else DEFAULTS.duration)
    )
    concurrency = (
        args.concurrency
        if args.concurrency is not None
        else (QUICK_CONCURRENCY if args.quick else DEFAULTS.concurrency)
    )
    warmup = args.warmup if args.warmup is not None else min(2.0, max(0.2, duration / 4))
    rounds = (
        args.tracing_rounds
        if args.tracing_rounds is not None
        else (1 if args.quick else DEFAULTS.tracing_rounds)
    )
    if (
        entries < 1
        or duration <= 0
        or warmup < 0
        or concurrency < 1
        or args.workers < 1
        or rounds < 1
        or not 2 <= args.node_workers <= 64
    ):
        raise SystemExit(
            "error: --entries, --duration, --concurrency, --workers and --tracing-rounds must "
            "be positive (and --warmup not negative); --node-workers from 2 to 64"
        )
    return Options(
        entries=entries,
        duration=duration,
        warmup=warmup,
        concurrency=concurrency,
        workers=args.workers,
        cases=cases,
        install_nginx=not args.no_install,
        keep=args.keep,
        tmp_dir=args.tmp_dir,
        profile_dir=args.results_dir / f"{stamp}-profile" if args.profile else None,
        profile_native=args.profile_native,
        tracing_rounds=rounds,
        node_workers=args.node_workers,
        federation=args.federation,
    )


def main(
    argv: list[str] | None = None,
    *,
    prog: str = "python -m yrdtools.bench",
    federation: str | None = None,
) -> int:
    """Run the benchmark; ``prog`` and ``federation`` (the template's default) let ``yrdgw bench``
    pass its own name and its ``--federation``."""
    p = parser(prog)
    if federation:
        p.set_defaults(federation=Path(federation))
    args = p.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    opts = options_from_args(args, stamp)
    try:
        result = run(opts, say=lambda text: print(text, flush=True))
    except ConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    path = write_json(result, args.results_dir / f"{stamp}.json")
    print()
    print(format_report(result))
    speed = box_speed(result, earlier_results(args.results_dir, exclude=path))
    if speed:
        print()
        print("\n".join(speed))
    print(f"\nwrote {path}", file=sys.stdout)
    return 0
