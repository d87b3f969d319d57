"""A real Prometheus (Debian's package) scrapes the four nodes' /metrics with the metrics token
and answers PromQL over what it scraped: the per-province call rate, the breaker states, the
processes. Its own config, loopback only, a temporary storage directory, a 1 s scrape interval.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
import yaml

from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc
from gateway.catalog.settings import SEARCH_CACHE_MIB
from gateway.ports import LOOPBACK, free_ports
from tests.support.federation import NODE_IDS, ROOT
from tests.support.ops import OpsCluster, start_cluster

in_module_loop = pytest.mark.asyncio(loop_scope="module")
PROMETHEUS = shutil.which("prometheus")
_BOUND = 120.0
"""Seconds any state below is waited for: a bound on a hang, not an expectation."""


def _nodes_with_metrics_token(tmp: Path, token_file: Path) -> Path:
    """Copies of the four node folders whose node.yaml sets ``metrics_token_file``."""
    nodes = tmp / "nodes"
    for node in NODE_IDS:
        target = nodes / node
        target.mkdir(parents=True)
        for f in (ROOT / "nodes" / node).iterdir():
            (target / f.name).write_bytes(f.read_bytes())
        doc = yaml.safe_load((target / "node.yaml").read_text(encoding="utf-8"))
        doc["metrics_token_file"] = str(token_file)
        (target / "node.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return nodes


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scraped(tmp_path_factory, certs_dir):
    if PROMETHEUS is None:
        pytest.fail("prometheus is not installed: run scripts/install-system-deps.sh as root")
    tmp = tmp_path_factory.mktemp("prometheus")
    token_file = tmp / "metrics.token"
    token_file.write_text(secrets.token_urlsafe(32) + "\n")
    token_file.chmod(0o600)
    cluster = await start_cluster(
        tmp, certs_dir, NODE_IDS, nodes_dir=_nodes_with_metrics_token(tmp, token_file)
    )
    (port,) = free_ports(1)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "yrd-gateway",
                "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                "static_configs": [
                    {"targets": [cluster.fed.node(n).ops], "labels": {"node": n}} for n in NODE_IDS
                ],
            }
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        yield cluster, f"http://{LOOPBACK}:{port}", tmp / "prometheus.log"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        await cluster.stop()


def _api(base: str, path: str, **params: str) -> dict:
    url = f"{base}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{url}: {exc.code} {exc.read()[:500]!r}") from None
    assert body["status"] == "success", body
    return body["data"]


async def _poll(what: str, check, log: Path):
    """``check()`` (run off the loop) until it returns something true, within the bound."""
    deadline = time.monotonic() + _BOUND
    last: object = None
    while time.monotonic() < deadline:
        try:
            got = await asyncio.to_thread(check)
        except OSError as exc:  # Prometheus still starting
            last = exc
        else:
            if got:
                return got
            last = got
        await asyncio.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"not within {_BOUND:.0f} s: {what} (last: {last!r})\n{tail}")


def _ready(base: str) -> bool:
    """Prometheus answers its API only once ready (it says 503 while its storage opens)."""
    try:
        with urllib.request.urlopen(f"{base}/-/ready", timeout=5) as r:
            return r.status == 200
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            return False
        raise


def _series(base: str, promql: str) -> dict[tuple[str, ...], float]:
    result = _api(base, "query", query=promql)["result"]
    return {tuple(v for _, v in sorted(r["metric"].items())): float(r["value"][1]) for r in result}


async def _search(cluster: OpsCluster) -> None:
    await cluster.stub("js", catalog_pb2_grpc.CatalogStub).Search(
        catalog_pb2.SearchRequest(query="户籍", live=True), timeout=10
    )


@in_module_loop
async def test_prometheus_scrapes_the_nodes_and_answers_promql(scraped):
    cluster, base, log = scraped
    await _poll("Prometheus ready", lambda: _ready(base), log)

    def every_target_up():
        targets = _api(base, "targets")["activeTargets"]
        up = {t["labels"]["node"] for t in targets if t["health"] == "up"}
        return up if up == set(NODE_IDS) else None

    await _poll("every node's /metrics scraped", every_target_up, log)
    rate = "sum by (node) (rate(yrd_rpc_server_handled_total[15s]))"

    async def busy_rates():
        await _search(cluster)  # fans out to all four: each node serves calls
        got = await asyncio.to_thread(_series, base, rate)
        return got if len(got) == 4 and all(v > 0 for v in got.values()) else None

    deadline = time.monotonic() + _BOUND
    rates = None
    while rates is None:
        rates = await busy_rates()
        assert time.monotonic() < deadline, f"no call rate for all four nodes: {rate}"
    assert {k[0] for k in rates} == set(NODE_IDS)

    searched = await _poll(
        "search latency per province",
        lambda: _series(base, 'sum by (province) (yrd_search_province_seconds_count{node="js"})'),
        log,
    )
    assert {k[0] for k in searched} == set(NODE_IDS)

    breakers = await _poll(
        "every node's view of every peer's breaker",
        lambda: b if len(b := _series(base, "yrd_peer_breaker_state")) == 12 else None,
        log,
    )
    assert set(breakers.values()) == {0.0}  # all closed while everyone answers

    # ah goes away: js's breaker for it opens after a few failed searches, and Prometheus sees it.
    await cluster.stop_node("ah")
    query = 'yrd_peer_breaker_state{node="js", peer="ah"}'

    async def js_sees_ah_open():
        await _search(cluster)
        got = await asyncio.to_thread(_series, base, query)
        return got if got and next(iter(got.values())) == 2.0 else None

    deadline = time.monotonic() + _BOUND
    while await js_sees_ah_open() is None:
        assert time.monotonic() < deadline, f"{query} never read 2 (open)"

    for expr in dashboard_queries():  # the shipped dashboard's PromQL is valid PromQL
        await asyncio.to_thread(_api, base, "query", query=expr)

    audit = await asyncio.to_thread(_series, base, "yrd_audit_queue_depth")
    assert len(audit) >= 3
    # js has searched: each of its four catalogs says what its search caches hold, within the
    # store's budget.
    caches = await asyncio.to_thread(_series, base, 'yrd_search_cache_bytes{node="js"}')
    assert len(caches) == 4 and any(v > 0 for v in caches.values()), caches
    assert all(0 <= v <= SEARCH_CACHE_MIB * 2**20 for v in caches.values())
    processes = await asyncio.to_thread(_series, base, "process_resident_memory_bytes")
    assert len(processes) >= 3 and all(v > 0 for v in processes.values())


DASHBOARD = ROOT / "config" / "grafana" / "yrd-gateway.json"


def dashboard_queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


def test_every_dashboard_query_names_metrics_the_nodes_export():
    from prometheus_client.parser import text_string_to_metric_families

    from gateway.telemetry.metrics import Metrics

    metrics = Metrics("js")  # one of every series observed, as a running node would have
    metrics.observe_rpc("/yrd.v1.Catalog/Search", grpc.StatusCode.OK, 0.01)
    metrics.observe_rpc("/yrd.v1.Catalog/Search", grpc.StatusCode.UNAVAILABLE, 0.01)
    metrics.observe_interface("sh/gaj/resident-basic/v1", "consumer", "OK", 0.01)
    metrics.observe_peer("sh", "/yrd.v1.Federation/Search", grpc.StatusCode.OK, 0.01)
    metrics.observe_search("sh", "answered", 0.01)
    metrics.observe_audit_append(0.001)
    metrics.watch(
        breakers=lambda: {"sh": "closed"}, audit_queue=lambda: 0, search_caches=lambda: {"js": 0}
    )
    exported = {
        sample.name
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }
    queries = dashboard_queries()
    assert len(queries) >= 10
    for expr in queries:
        names = set(re.findall(r"\b((?:yrd|process)_[a-z_]+)\b", expr))
        assert names, expr
        assert names <= exported, (expr, names - exported)
    used = {
        n for e in queries for n in re.findall(r"\b(yrd_[a-z_]+?)(?:_total|_bucket|_count)?\b", e)
    }
    for golden in ("yrd_rpc_server_errors", "yrd_peer_breaker_state", "yrd_audit_append_seconds"):
        assert golden in used
