"""``yrdgw soak --duration SECONDS``: mixed load on a fresh four-node federation under random
faults, then a check that nothing acknowledged was lost and nothing left unaudited.

The federation lives in a temporary directory and runs as four real processes (each a primary
and its workers with ``--workers N``). While federated searches, cross-province calls,
applications and approvals run, one non-js node at a time is killed -9 and restarted, paused
(SIGSTOP) and resumed, or SIGTERMed and restarted; with workers, single workers of any node (js
too) are also killed -9 and left to their primary to replace. Afterwards:

- every call that returned data must have its provider entry (the hash the app was given) on the
  owner and its consumer entry (same trace, that hash as ``peer_hash``) on the home node;
- every app, application and grant acknowledged to a client must still be there (an approved
  application approved, its grant active), and every audit (seq, hash) a node acknowledged must
  still be in its chain;
- every node's audit chain must verify.

Summary lines go to stdout (``calls: N``, one ``STATUS: n`` line per outcome, ``released without
audit: N``, ``acknowledged state lost: N``, ``p50/p99 ms: A / B``); progress and problems go to
stderr. The exit status is 1 when a must-be-zero figure is not zero or a chain does not verify.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config import FederationConfig
from gateway.errors import ConfigError
from yrdtools.faults import App, Federation, Outcome, Released, released, states
from yrdtools.loopback import TEMPLATE_HELP, template

__all__ = ["SoakReport", "check", "main", "run_soak"]

FAULTY = ("sh", "zj", "ah")
"""Nodes that get faults; js stays up as the home of most apps."""
TEXTS = ("户籍", "社保", "公积金", "营业执照", "医保", "信用", "不动产", "养老")
PURPOSE = "养老保险关系转移接续"
RESIDENT = {
    "sh": "sh/gaj/resident-basic/v1",
    "zj": "zj/gat/resident-basic/v1",
    "ah": "ah/gat/resident-basic/v1",
}
VERIFY = {
    "sh": "sh/gaj/hukou-verify/v1",
    "zj": "zj/gat/hukou-verify/v1",
    "ah": "ah/gat/hukou-verify/v1",
}
CONSUMERS = (
    ("js/rsj/soak-sh", "sh"),
    ("js/rsj/soak-zj", "zj"),
    ("js/rsj/soak-ah", "ah"),
    ("zj/rlsbt/soak-sh", "sh"),
    ("ah/rst/soak-zj", "zj"),
)
FIELDS = ("id_number", "name", "gender")
TIMEOUT = 3.0
EXPECTED = ("OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED")
"""Statuses a fault explains; any other outcome is noted on stderr."""


@dataclass
class SoakReport:
    outcomes: list[tuple[str, str, float]] = field(default_factory=list)
    """(kind, status name, seconds) of every load RPC."""
    released: list[Released] = field(default_factory=list)
    apps: list[tuple[str, str]] = field(default_factory=list)
    """(home node, app id) acknowledged as created."""
    applications: list[tuple[str, str]] = field(default_factory=list)
    """(owner node, application id) acknowledged as filed."""
    grants: list[tuple[str, str, str]] = field(default_factory=list)
    """(owner node, grant id, application id) acknowledged as approved."""
    audit_heads: list[tuple[str, int, str]] = field(default_factory=list)
    """(node, seq, hash) of audit entries a node acknowledged."""
    faults: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    """Problems worth a line on stderr that do not by themselves fail the soak."""
    unaudited: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    broken_chains: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        statuses = Counter(status for _, status, _ in self.outcomes)
        lines = [f"calls: {len(self.outcomes)}"]
        lines += [
            f"{status}: {n}"
            for status, n in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        ms = sorted(seconds * 1000 for _, _, seconds in self.outcomes) or [0.0]
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        lines += [
            f"released without audit: {len(self.unaudited)}",
            f"acknowledged state lost: {len(self.lost)}",
            f"p50/p99 ms: {statistics.median(ms):.0f} / {p99:.0f}",
        ]
        return lines

    @property
    def ok(self) -> bool:
        return not self.unaudited and not self.lost and not self.broken_chains


def _say(text: str) -> None:
    print(f"soak: {text}", file=sys.stderr, flush=True)


class _Load:
    """The load and the fault injector, on one event loop."""

    def __init__(
        self,
        fed: Federation,
        report: SoakReport,
        rng: random.Random,
        duration: float,
        *,
        workers: int = 1,
    ) -> None:
        self.fed = fed
        self.workers = workers
        self.report = report
        self.rng = rng
        self.duration = duration
        self.apps: dict[str, App] = {}
        self.params: dict[str, dict[str, str]] = {}
        self.stop_at = 0.0
        self._appliers: list[App] = []

    def _record(self, kind: str, out: Outcome) -> Outcome:
        self.report.outcomes.append((kind, out.status, out.elapsed))
        if out.status not in EXPECTED:
            self.report.notes.append(f"{kind}: {out}")
        return out

    def _released(self, out: Outcome, home: str, owner: str) -> None:
        record = released(out, home, owner)
        if record is not None:
            self.report.released.append(record)

    async def setup(self) -> None:
        for owner in FAULTY:
            person = self.fed.samples(owner)
            self.params[owner] = {"id_number": person["id_number"]}
            self.params[f"verify-{owner}"] = {
                "id_number": person["id_number"],
                "name": person["name"],
            }
        for app_id, owner in CONSUMERS:
            self.apps[app_id] = await self.fed.setup_app_with_grant(
                app_id, RESIDENT[owner], FIELDS, PURPOSE
            )
        self._appliers.append(await self.fed.create_app("js/rsj/soak-apply-0"))

    async def run(self) -> None:
        self.stop_at = time.monotonic() + self.duration
        workers = [self._searcher() for _ in range(2)] + [self._caller() for _ in range(4)]
        workers += [self._sharing(), self._auditor(), self._faults()]
        await asyncio.gather(*workers)

    def _going(self) -> bool:
        return time.monotonic() < self.stop_at

    async def _searcher(self) -> None:
        while self._going():
            via = self.rng.choice(("js", *FAULTY))
            self._record("search", await self.fed.search(via, self.rng.choice(TEXTS), TIMEOUT))

    async def _caller(self) -> None:
        while self._going():
            app_id, owner = self.rng.choice(CONSUMERS)
            app = self.apps[app_id]
            out = self._record(
                "call",
                await self.fed.call(app, RESIDENT[owner], self.params[owner], PURPOSE, TIMEOUT),
            )
            self._released(out, app.home, owner)
            await asyncio.sleep(self.rng.uniform(0, 0.02))

    async def _sharing(self) -> None:
        n = 0
        while self._going():
            n += 1
            if n % 5 == 0:
                app_id = f"js/rsj/soak-apply-{n}"
                created = self._record(
                    "create_app", await self.fed.create_app_rpc(app_id, timeout=TIMEOUT)
                )
                if created.ok:
                    self.report.apps.append(("js", app_id))
                    self._appliers.append(App(app_id, created.reply.secret))
            app = self.rng.choice(self._appliers)
            owner = self.rng.choice(FAULTY)
            applied = self._record(
                "apply", await self.fed.apply(app, VERIFY[owner], (), PURPOSE, TIMEOUT)
            )
            if applied.ok:
                self.report.applications.append((owner, applied.reply.id))
                granted = self._record(
                    "approve", await self.fed.approve(owner, applied.reply.id, TIMEOUT)
                )
                if granted.ok:
                    self.report.grants.append((owner, granted.reply.id, applied.reply.id))
                    out = self._record(
                        "call",
                        await self.fed.call(
                            app, VERIFY[owner], self.params[f"verify-{owner}"], PURPOSE, TIMEOUT
                        ),
                    )
                    self._released(out, app.home, owner)
            await asyncio.sleep(self.rng.uniform(0.1, 0.4))

    async def _auditor(self) -> None:
        while self._going():
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))
            node = self.rng.choice(("js", *FAULTY))
            out = await self.fed.audit_head_rpc(node, timeout=TIMEOUT)
            if out.ok and out.reply.entries:
                head = out.reply.entries[0]
                self.report.audit_heads.append((node, head.seq, head.hash))

    async def _faults(self) -> None:
        await asyncio.sleep(min(2.0, self.duration / 10))
        quiet_tail = min(5.0, self.duration / 6)  # let the federation settle before the end
        kinds = ["kill", "pause", "term"] + (["kill-worker"] if self.workers > 1 else [])
        first = list(kinds)
        self.rng.shuffle(first)
        # Every kind at least once, however long the first ones take: on a loaded box a kill and
        # restart alone can outlast a short run, and a soak that skipped a kind proved nothing
        # about it (the worker kill went missing from a 40 s run with three faults).
        while first or time.monotonic() < self.stop_at - quiet_tail:
            kind = first.pop() if first else self.rng.choice(kinds)
            node = self.rng.choice(("js", *FAULTY) if kind == "kill-worker" else FAULTY)
            self.report.faults[kind] += 1
            _say(f"{kind} {node}")
            if kind == "kill-worker":
                self._kill_a_worker(node)
            elif kind == "kill":
                await asyncio.to_thread(self.fed.kill, node)
                await asyncio.sleep(self.rng.uniform(0.3, 1.5))
                await asyncio.to_thread(self.fed.start_node, node)
            elif kind == "pause":
                await asyncio.to_thread(self.fed.pause, node)
                await asyncio.sleep(self.rng.uniform(1.0, 5.0))
                await asyncio.to_thread(self.fed.resume, node)
            else:
                code = await asyncio.to_thread(self.fed.stop, node)
                if code != 0:
                    self.report.notes.append(f"{node} exited {code} on SIGTERM")
                await asyncio.sleep(self.rng.uniform(0.3, 1.5))
                await asyncio.to_thread(self.fed.start_node, node)
            await asyncio.sleep(self.rng.uniform(0.5, 2.5))

    def _kill_a_worker(self, node: str) -> None:
        """kill -9 of one worker; its primary starts another."""
        workers = self.fed.pids(node)[1:]
        if not workers:
            self.report.notes.append(f"{node} had no worker to kill (restarting?)")
            return
        try:
            os.kill(self.rng.choice(workers), signal.SIGKILL)
        except ProcessLookupError:
            pass  # it went on its own in between

    async def rejoined(self) -> None:
        """After the faults: does every node see every province again? (a note if not)"""
        deadline = time.monotonic() + 20
        waiting: dict[str, str] = {n: "not asked" for n in ("js", *FAULTY)}
        while waiting and time.monotonic() < deadline:
            for via in sorted(waiting):
                out = await self.fed.search(via, "户籍", TIMEOUT)
                if out.ok and not out.reply.partial:
                    del waiting[via]
                elif out.ok:
                    waiting[via] = ", ".join(
                        f"{p}: {state} {reason}"
                        for p, (state, reason) in sorted(states(out.reply).items())
                        if state != "ANSWERED"
                    )
                else:
                    waiting[via] = str(out)
            await asyncio.sleep(0.5)
        for via, why in sorted(waiting.items()):
            self.report.notes.append(f"{via} still answers partially 20 s after the faults ({why})")


async def _drive(
    fed: Federation, report: SoakReport, rng: random.Random, duration: float, workers: int
) -> None:
    load = _Load(fed, report, rng, duration, workers=workers)
    try:
        await load.setup()
        await load.run()
        await load.rejoined()
    finally:
        await fed.aclose()


def check(fed: Federation, report: SoakReport) -> None:
    """Fill in ``unaudited``, ``lost`` and ``broken_chains`` from the nodes' files."""
    report.unaudited = fed.unaudited(report.released)
    nodes = fed.node_ids
    apps = {n: fed.sharing_rows(n, "apps") for n in nodes}
    applications = {n: fed.sharing_rows(n, "applications") for n in nodes}
    grants = {n: fed.sharing_rows(n, "grants") for n in nodes}
    for home, app_id in report.apps:
        if app_id not in apps[home]:
            report.lost.append(f"app {app_id} on {home}")
    approved = {application: grant for _, grant, application in report.grants}
    for owner, application_id in report.applications:
        row = applications[owner].get(application_id)
        if row is None:
            report.lost.append(f"application {application_id} on {owner}")
        elif application_id in approved and (
            row["state"] != "approved" or row["grant_id"] != approved[application_id]
        ):
            report.lost.append(f"approval of {application_id} on {owner} ({row['state']})")
    for owner, grant_id, _ in report.grants:
        row = grants[owner].get(grant_id)
        if row is None or row["state"] != "active":
            report.lost.append(f"grant {grant_id} on {owner}")
    chains = {n: {row.seq: row.hash for row in fed.audit_rows(n)} for n in nodes}
    for node, seq, digest in set(report.audit_heads):
        if chains[node].get(seq) != digest:
            report.lost.append(f"audit entry {seq} of {node}")
    for node in nodes:
        verdict = fed.verify_audit(node)
        if not verdict.ok:
            report.broken_chains.append(f"{node}: {verdict.problem}")


def run_soak(
    duration: float,
    *,
    seed: int | None = None,
    root: Path | None = None,
    entries: int = 500,
    people: int = 300,
    workers: int = 1,
    source: FederationConfig | None = None,
) -> SoakReport:
    """Run the whole soak (start, load with faults, stop, check) and return its report.

    ``source``: the template federation (see ``Federation``)."""
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    report = SoakReport()
    with tempfile.TemporaryDirectory(prefix="yrd-soak-") as tmp:
        base = Path(root) if root else Path(tmp)
        _say(f"seed {seed}; federation in {base}")
        fed = Federation(
            base,
            entries=entries,
            people=people,
            workers={n: workers for n in ("js", *FAULTY)} if workers > 1 else None,
            source=source,
        )
        try:
            fed.start()
            each = f", {workers} workers each" if workers > 1 else ""
            _say(f"four nodes up{each}; {duration:.0f} s of load with faults")
            asyncio.run(_drive(fed, report, rng, duration, workers))
        finally:
            fed.close()
        check(fed, report)
    return report


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument(
        "--seed", type=int, help="random seed: the same choice of faults and load again"
    )
    parser.add_argument("--keep", metavar="DIR", help="build the federation in DIR and keep it")
    parser.add_argument("--entries", type=int, default=500, help="catalog entries per node")
    parser.add_argument("--people", type=int, default=300, help="people per node's dataset")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes per node (default 1); with more, single workers are killed too",
    )
    parser.add_argument("--federation", help=TEMPLATE_HELP)


def command(args) -> int:
    if args.duration <= 0:
        print("error: --duration must be positive", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= 64:
        print("error: --workers must be 1 to 64", file=sys.stderr)
        return 2
    try:
        source = template(args.federation)
    except ConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    report = run_soak(
        args.duration,
        seed=args.seed,
        root=Path(args.keep) if args.keep else None,
        entries=args.entries,
        people=args.people,
        workers=args.workers,
        source=source,
    )
    _say("faults: " + ", ".join(f"{k} {v}" for k, v in sorted(report.faults.items())))
    by_kind = Counter(kind for kind, _, _ in report.outcomes)
    _say("load: " + ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items())))
    for line in report.notes + report.unaudited + report.lost:
        _say(line)
    for line in report.broken_chains:
        _say(f"audit chain broken: {line}")
    print("\n".join(report.summary()), flush=True)
    return 0 if report.ok else 1


def main(
    argv: list[str] | None = None,
    *,
    prog: str = "python -m yrdtools.soak",
    federation: str | None = None,
) -> int:
    """Run the soak from the command line; ``prog`` and ``federation`` (the template's default)
    let ``yrdgw soak`` pass its own name and its ``--federation``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _arguments(parser)
    parser.set_defaults(federation=federation)
    return command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
