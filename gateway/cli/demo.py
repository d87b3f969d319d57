"""The main job's showcase: what a newcomer sees after `make demo` brings the federation up.

Each step runs a real ``yrdgw`` command against the running nodes and prints it first, so the
output doubles as a tutorial.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import time
from collections.abc import Callable

from gateway.config import FederationConfig
from gateway.credentials import app_secret_path
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.supervisor import NodeProcesses

APP = "js/rsj/demo-pension-transfer"
"""The demo's own app: its grants are the demo's to revoke; an operator's apps are never touched."""
INTERFACE = "sh/gaj/resident-basic/v1"
PURPOSE = "养老保险关系转移接续"


def _province(answer: dict, province: str) -> dict:
    return next(p for p in answer["provinces"] if p["province"] == province)


def _fresh(province: dict) -> bool:
    return bool(province["replica"]) and not province["replica"]["stale"]


def _summary(answer: dict) -> dict:
    keys = ("province", "state", "reason", "replica")
    return {
        "partial": answer["partial"],
        "total": answer["total"],
        "provinces": [{k: p[k] for k in keys} for p in answer["provinces"]],
    }


def _until(sh: Shell, done: Callable[[dict], bool], seconds: float = 30.0) -> dict:
    """Ask sh's federated search for 户籍 until ``done`` holds of its answer (or time is up)."""
    deadline = time.monotonic() + seconds
    while True:
        _, out = sh.run("search", "户籍", "--via", "sh", "--json", capture=True)
        answer = json.loads(out)
        if done(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def _banner(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 72 - len(text)), flush=True)


class Shell:
    """Runs ``yrdgw`` verbs in-process through ``yrdgw`` (the CLI's entry point, passed in)."""

    def __init__(
        self, fed: FederationConfig, insecure: bool, yrdgw: Callable[[list[str]], int]
    ) -> None:
        self._prefix = ["--federation", str(fed.path)] + (["--insecure"] if insecure else [])
        self._yrdgw = yrdgw

    def run(self, *args: str, capture: bool = False) -> tuple[int, str]:
        print(f"$ yrdgw {shlex.join(args)}", flush=True)
        out = io.StringIO()
        with contextlib.redirect_stdout(out) if capture else contextlib.nullcontext():
            code = self._yrdgw([*self._prefix, *args])
        return code, out.getvalue()


def run_demo(
    fed: FederationConfig,
    procs: NodeProcesses,
    *,
    insecure: bool,
    yrdgw: Callable[[list[str]], int],
) -> None:
    sh = Shell(fed, insecure, yrdgw)
    _banner("federated search for 户籍 (household registration), asked of Shanghai")
    sh.run("search", "户籍", "--via", "sh", "--page-size", "8")

    _banner("two-character terms work: 社保 (social insurance), Zhejiang only")
    sh.run("search", "社保", "--via", "js", "--province", "zj", "--page-size", "3")

    victim = "zj"
    # Each node answers from its replicas of the others' catalogs once they are in sync.
    _until(sh, lambda answer: all(_fresh(p) for p in answer["provinces"] if p["province"] != "sh"))
    _banner(f"stopping node {victim}: its part comes from sh's replica, marked stale, not dropped")
    procs.stop(victim)
    answer = _until(sh, lambda answer: _province(answer, victim)["replica"]["stale"])
    print(json.dumps(_summary(answer), ensure_ascii=False))
    print(f"stale: {str(_province(answer, victim)['replica']['stale']).lower()}")
    _banner(f"a live search asks the owners themselves: partial while {victim} is down")
    _, out = sh.run("search", "户籍", "--via", "sh", "--live", "--json", capture=True)
    print(json.dumps(_summary(json.loads(out)), ensure_ascii=False))
    _banner(f"restarting {victim}")
    procs.start(victim)
    procs.wait_ready([victim])
    # sh reconnects to zj on its own (reconnect back-off is at most a second); ask until it has.
    deadline = time.monotonic() + 10
    while True:
        _, out = sh.run("search", "户籍", "--via", "sh", "--live", "--json", capture=True)
        partial = json.loads(out)["partial"]
        if not partial or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"partial: {str(partial).lower()}")

    _banner("a Jiangsu app calls a Shanghai interface: refused without a grant")
    if not app_secret_path(fed, APP).exists():
        sh.run("app", "create", APP, "--name", "养老保险关系转移（演示）")
    _revoke_earlier_grants(sh)
    sh.run("interfaces", "--app", APP, "--province", "sh", "--examples")
    person = sample_values(dataset_path(fed.data_dir / "sh"))
    call = (
        "call",
        INTERFACE,
        "--app",
        APP,
        "--param",
        f"id_number={person['id_number']}",
        "--purpose",
        PURPOSE,
    )
    code, _ = sh.run(*call)
    print(f"(exit status {code})")

    _banner("申请-审核-授权: the app applies through js, Shanghai's operator approves")
    _, out = sh.run(
        "apply",
        INTERFACE,
        "--app",
        APP,
        "--purpose",
        PURPOSE,
        "--field",
        "id_number",
        "--field",
        "name",
        "--field",
        "gender",
        "--field",
        "birth_date",
        "--field",
        "household_type",
        "--field",
        "ethnicity",
        "--json",
        capture=True,
    )
    application = json.loads(out)
    print(
        f"application {application['id']} filed with {application['owner']}: {application['state']}"
    )
    sh.run("approve", application["id"], "--node", "sh", "--reason", "符合跨省通办用途")

    _banner("the same call now returns masked data; L4 items never leave Shanghai")
    sh.run(*call)
    _, out = sh.run(*call, "--json", capture=True)
    print(out)
    trace_id = json.loads(out)["trace_id"]

    _banner("one trace across both provinces, gathered from a third (Zhejiang)")
    sh.run("trace", "show", trace_id, "--via", "zj")

    _banner("every node's hash-chained audit log verifies")
    sh.run("audit", "verify")
    sh.run("audit", "query", "--node", "sh", "--trace", trace_id)
    print(f"\noperator pages: http://{fed.node('zj').ops}/traces/{trace_id} (any node's ops port)")


def _revoke_earlier_grants(sh: Shell) -> None:
    """An earlier run's grant would make the refusal below a lie: revoke the demo app's grants
    on the interface (and say so); a blanket grant to its province is the operator's, left be."""
    owner = INTERFACE.split("/", 1)[0]
    _, out = sh.run("grants", "--node", owner, "--json", capture=True)
    for grant in json.loads(out or "{}").get("grants", []):
        if grant.get("interface_id") != INTERFACE:
            continue
        if grant.get("grantee") == APP:
            sh.run("revoke", grant["id"], "--node", owner, "--reason", "演示重新开始")
        elif grant.get("blanket") and grant.get("grantee") == APP.split("/", 1)[0]:
            print(
                f"note: blanket grant {grant['id']} lets every {grant['grantee']} app call "
                f"{INTERFACE}: the call below will not be refused"
            )
