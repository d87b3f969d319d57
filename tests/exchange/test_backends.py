"""Backends: the sqlite backend over a real dataset file, the http backend against a real
HTTP server on a loopback port."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from gateway.config import load_departments, load_interfaces, load_standard
from gateway.errors import DeadlineExceeded, InvalidArgument, Unavailable
from gateway.exchange.backends import (
    BackendPool,
    HttpBackend,
    SqliteBackend,
    make_backend,
)
from gateway.exchange.backends.sqlite import compile_query
from gateway.exchange.dataset import ensure_dataset, sample_values
from gateway.exchange.model import BackendSpec, Field, Interface, Param
from tests.support.federation import ROOT

HOSTILE = ["' OR 1=1 --", '"; DROP TABLE person; --', "1' UNION SELECT * FROM person --", "%"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sh") / "dataset.db"
    ensure_dataset(path, "sh", people=1500, seed=5)
    return path


@pytest.fixture(scope="module")
def interfaces() -> dict[str, Interface]:
    standard = load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")
    return load_interfaces(
        ROOT / "nodes" / "sh" / "interfaces.yaml",
        province="sh",
        standard=standard,
        departments=load_departments(ROOT / "nodes" / "sh" / "departments.yaml", standard),
    )


@pytest.fixture
async def backend(dataset):
    b = SqliteBackend(dataset)
    yield b
    await b.close()


# --------------------------------------------------------------------------- sqlite


async def test_fetch_returns_every_declared_field_of_a_known_person(backend, dataset, interfaces):
    s = sample_values(dataset)
    iface = interfaces["sh/gaj/resident-basic/v1"]
    records = await backend.fetch(iface, {"id_number": s["id_number"]}, limit=5)
    assert len(records) == 1
    cursor, record = records[0]
    assert cursor.isdigit()
    assert set(record) == {f.name for f in iface.fields}
    assert record["id_number"] == s["id_number"] and record["name"] == s["name"]
    assert all(isinstance(v, str) for v in record.values())
    assert s["id_number"] not in cursor  # cursors travel in resume tokens: no data in them


async def test_fetch_by_credit_code_spans_tables(backend, dataset, interfaces):
    s = sample_values(dataset)
    licence = await backend.fetch(
        interfaces["sh/scjgj/business-license/v1"], {"credit_code": s["credit_code"]}, limit=5
    )
    assert [r["name"] for _, r in licence] == [s["enterprise_name"]]
    assert licence[0][1]["legal_rep_id"] == s["id_number"]
    assert licence[0][1]["registered_capital"].isdigit()
    credit = await backend.fetch(
        interfaces["sh/fgw/credit-record/v1"], {"credit_code": s["credit_code"]}, limit=50
    )
    assert credit and all(r["credit_code"] == s["credit_code"] for _, r in credit)
    e_licences = await backend.fetch(
        interfaces["sh/dsjzx/e-licence/v1"], {"credit_code": s["credit_code"]}, limit=50
    )
    assert "营业执照" in {r["licence_type"] for _, r in e_licences}
    only = await backend.fetch(
        interfaces["sh/dsjzx/e-licence/v1"],
        {"credit_code": s["credit_code"], "licence_type": "营业执照"},
        limit=50,
    )
    assert [r["licence_no"] for _, r in only] == [s["credit_code"]]
    insured = await backend.fetch(
        interfaces["sh/rsj/social-insurance/v1"], {"id_number": s["id_number"]}, limit=50
    )
    assert insured and {r["district"] for _, r in insured} == {s["district"]}
    assert all(r["monthly_base"].isdigit() for _, r in insured)


async def test_no_match_is_an_empty_list(backend, interfaces):
    iface = interfaces["sh/gaj/resident-basic/v1"]
    assert await backend.fetch(iface, {"id_number": "11010519491231002X"}, limit=5) == []


async def test_verify_true_and_false(backend, dataset, interfaces):
    s = sample_values(dataset)
    iface = interfaces["sh/gaj/hukou-verify/v1"]
    assert await backend.verify(iface, {"id_number": s["id_number"], "name": s["name"]})
    assert await backend.verify(
        iface, {"id_number": s["id_number"], "name": s["name"], "hukou_address": s["hukou_address"]}
    )
    assert not await backend.verify(iface, {"id_number": s["id_number"], "name": "某某某"})
    assert not await backend.verify(
        iface,
        {
            "id_number": s["id_number"],
            "name": s["name"],
            "hukou_address": "上海市黄浦区不存在路1号",
        },
    )
    assert not await backend.verify(iface, {})  # nothing to match is never a match


async def test_paging_with_after_returns_every_record_exactly_once(backend, dataset, interfaces):
    iface = interfaces["sh/rsj/insured-roster/v1"]
    params = {"district": sample_values(dataset)["district"]}
    everything = await backend.fetch(iface, params, limit=10_000)
    assert len(everything) > 100
    pages, after = [], None
    while True:
        page = await backend.fetch(iface, params, limit=37, after=after)
        if not page:
            break
        assert len(page) <= 37
        pages.extend(page)
        after = page[-1][0]
    assert pages == everything
    cursors = [c for c, _ in pages]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert len({r["record_id"] for _, r in pages}) == len(pages)
    assert {r["district"] for _, r in pages} == {params["district"]}
    # an optional filter narrows the same roster
    pension = await backend.fetch(iface, {**params, "insurance_type": "失业保险"}, limit=10_000)
    assert 0 < len(pension) < len(everything)
    # resuming after the last cursor is the end of the stream, not the start
    assert await backend.fetch(iface, params, limit=10, after=cursors[-1]) == []


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_values_just_do_not_match(backend, dataset, interfaces, value):
    basic = interfaces["sh/gaj/resident-basic/v1"]
    verify = interfaces["sh/gaj/hukou-verify/v1"]
    s = sample_values(dataset)
    assert await backend.fetch(basic, {"id_number": value}, limit=10) == []
    assert not await backend.verify(verify, {"id_number": value, "name": value})
    assert not await backend.verify(verify, {"id_number": s["id_number"], "name": value})
    roster = interfaces["sh/rsj/insured-roster/v1"]
    assert await backend.fetch(roster, {"district": value}, limit=10) == []
    conn = sqlite3.connect(dataset)
    try:
        assert conn.execute("SELECT COUNT(*) FROM person").fetchone() == (1500,)
    finally:
        conn.close()


async def test_unknown_params_and_bad_cursors_are_refused(backend, interfaces):
    iface = interfaces["sh/gaj/resident-basic/v1"]
    with pytest.raises(InvalidArgument) as err:
        await backend.fetch(iface, {"id_number": "x", "name": "y"}, limit=1)
    assert err.value.reason == "UNKNOWN_PARAM"
    for after in ("1 OR 1=1", "-1", "", "9" * 40):
        with pytest.raises(InvalidArgument) as err:
            await backend.fetch(iface, {"id_number": "x"}, limit=1, after=after)
        assert err.value.reason == "BAD_RESUME_TOKEN"
    assert await backend.fetch(iface, {"id_number": "x"}, limit=0) == []


def test_sql_is_built_only_from_allow_listed_names(interfaces):
    iface = interfaces["sh/gaj/resident-basic/v1"]
    query = compile_query(iface)
    assert query.select.startswith('SELECT "seq", "id_number", "name"')
    for options in (
        {"table": "person; DROP TABLE person", "lookup": {}, "columns": {}},
        {"table": "person", "lookup": {"id_number": "id_number OR 1=1"}, "columns": {}},
        {"table": "person", "lookup": {}, "columns": {"name": "name FROM person --"}},
        {"table": "sqlite_master", "lookup": {}, "columns": {}},
    ):
        crafted = replace(iface, backend=BackendSpec("sqlite", options))
        with pytest.raises(ValueError):
            compile_query(crafted)


async def test_the_connection_is_read_only(dataset, interfaces):
    b = SqliteBackend(dataset)
    try:
        await b.fetch(interfaces["sh/gaj/resident-basic/v1"], {"id_number": "x"}, limit=1)
        with pytest.raises(Unavailable):
            b._run("DELETE FROM person", [])
    finally:
        await b.close()


async def test_closed_backend_is_unavailable(dataset, interfaces):
    b = SqliteBackend(dataset)
    await b.close()
    with pytest.raises(Unavailable) as err:
        await b.fetch(interfaces["sh/gaj/resident-basic/v1"], {"id_number": "x"}, limit=1)
    assert err.value.reason == "BACKEND_UNAVAILABLE"


async def test_close_leaves_a_running_statement_to_finish_then_closes_its_connection(dataset):
    """A bulk page runs in a worker thread that a finished call cannot cancel; closing its
    connection under the statement would crash the process (as the catalog's pool did)."""
    b = SqliteBackend(dataset)
    running, closed = threading.Event(), threading.Event()
    out: dict[str, object] = {}

    def hold(*_: object) -> int:  # SQLite's progress handler: runs inside the statement
        running.set()
        closed.wait(10)
        return 0

    def bulk_page() -> None:
        b._run("SELECT 1", [])  # this thread's connection, as a page's first read opens it
        conn = b._local.conn
        conn.set_progress_handler(hold, 1)
        out["rows"] = b._run("SELECT count(*) FROM person", [])
        out["conn"] = conn

    thread = threading.Thread(target=bulk_page)
    thread.start()
    assert running.wait(10)
    await b.close()
    closed.set()
    thread.join(10)
    assert out["rows"][0][0] > 0  # type: ignore[index]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        out["conn"].execute("SELECT 1")  # type: ignore[attr-defined]


def test_missing_dataset_fails_at_construction(tmp_path):
    with pytest.raises(FileNotFoundError):
        SqliteBackend(tmp_path / "absent.db")


async def test_pool_shares_one_backend_per_target(dataset, interfaces):
    pool = BackendPool(dataset_path=dataset)
    try:
        by_id = pool.for_interfaces(interfaces.values())
        assert set(by_id) == set(interfaces)
        assert len({id(b) for b in by_id.values()}) == 1
        assert isinstance(next(iter(by_id.values())), SqliteBackend)
        http = BackendSpec(
            "http", {"base_url": "http://127.0.0.1:9", "path": "p", "timeout_ms": 100}
        )
        assert pool.backend_for(http) is pool.backend_for(http)
        assert isinstance(pool.backend_for(http), HttpBackend)
    finally:
        await pool.close()


def test_make_backend_refuses_what_it_cannot_build(dataset):
    with pytest.raises(ValueError):
        make_backend(BackendSpec("oracle", {}), dataset_path=dataset)
    with pytest.raises(ValueError):
        make_backend(BackendSpec("sqlite", {}))
    with pytest.raises(ValueError):
        HttpBackend("file:///etc/passwd")


# --------------------------------------------------------------------------- http

ID = "11010519491231002X"
PEOPLE = [
    {"id_number": ID, "name": "张三", "city": "黄浦区", "secret": "L5"},
    {"id_number": "310101199001011234", "name": "李四", "city": "黄浦区", "secret": "L5"},
    {"id_number": "310104198502023456", "name": "王五", "city": "徐汇区", "secret": "L5"},
]


class Upstream(BaseHTTPRequestHandler):
    """A small JSON API following the contract in gateway/exchange/backends/http.py."""

    release = threading.Event()
    seen: list[dict[str, str]] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        q = dict(parse_qsl(url.query))
        Upstream.seen.append(q)
        route = url.path.strip("/").split("/")[-1]
        if route == "fail":
            return self._send(500, b'{"error": "boom"}')
        if route == "slow":
            Upstream.release.wait(5)
            return self._send(200, b'{"records": []}')
        if route == "garbage":
            return self._send(200, b"{not json")
        if route == "shape":
            return self._send(200, b'{"records": [{"fields": {}}]}')
        if route == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://192.0.2.1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        matches = [
            p for p in PEOPLE if all(p.get(k) == v for k, v in q.items() if not k.startswith("_"))
        ]
        if q.get("_mode") == "verify":
            return self._send(200, json.dumps({"match": bool(matches)}).encode())
        numbered = [(f"{i:04d}", p) for i, p in enumerate(matches)]
        after = q.get("_after", "")
        page = [(c, p) for c, p in numbered if c > after][: int(q["_limit"])]
        body = {
            "records": [{"cursor": c, "fields": {**p, "age": 30, "missing": None}} for c, p in page]
        }
        return self._send(200, json.dumps(body, ensure_ascii=False).encode())

    def _send(self, status, body):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout test): nothing to answer


@pytest.fixture
def upstream():
    Upstream.release.clear()
    Upstream.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        Upstream.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def http_iface(route: str, mode: str = "query") -> Interface:
    return Interface(
        id="sh/gaj/upstream-test/v1",
        province="sh",
        department="gaj",
        department_name="上海市公安局",
        name="上游接口测试",
        resource_code="101001/310099",
        mode=mode,
        params=(
            Param("id_number", "resident_id", required=False),
            Param("name", "name", required=False),
            Param("city", "string", required=False),
        ),
        fields=(
            Field("id_number", "公民身份号码", "id_number", "L3"),
            Field("name", "姓名", "name", "L3"),
            Field("age", "年龄", "plain", "L2"),
            Field("missing", "缺失", "plain", "L1"),
            Field("absent", "未提供", "plain", "L1"),
        ),
        backend=BackendSpec("http", {"path": f"people/{route}"}),
    )


@pytest.fixture
async def http_backend(upstream):
    b = HttpBackend(upstream, timeout=0.5)
    yield b
    await b.close()


async def test_http_records_carry_declared_fields_only(http_backend):
    records = await http_backend.fetch(http_iface("ok"), {"name": "张三"}, limit=10)
    assert records == [
        (
            "0000",
            {
                "id_number": "11010519491231002X",
                "name": "张三",
                "age": "30",
                "missing": "",
                "absent": "",
            },
        )
    ]
    assert Upstream.seen[-1] == {"name": "张三", "_limit": "10"}


async def test_http_paging_with_after(http_backend):
    iface = http_iface("ok")
    first = await http_backend.fetch(iface, {"city": "黄浦区"}, limit=1)
    second = await http_backend.fetch(iface, {"city": "黄浦区"}, limit=1, after=first[-1][0])
    rest = await http_backend.fetch(iface, {"city": "黄浦区"}, limit=1, after=second[-1][0])
    assert [r["name"] for _, r in first + second] == ["张三", "李四"] and rest == []
    assert Upstream.seen[-1]["_after"] == "0001"


async def test_http_verify(http_backend):
    iface = http_iface("ok", mode="verify")
    assert await http_backend.verify(iface, {"id_number": "11010519491231002X", "name": "张三"})
    assert not await http_backend.verify(iface, {"id_number": "11010519491231002X", "name": "李四"})
    assert Upstream.seen[-1]["_mode"] == "verify"
    assert not await http_backend.verify(iface, {})
    with pytest.raises(InvalidArgument):
        await http_backend.verify(iface, {"nope": "1"})


@pytest.mark.parametrize(
    ("route", "error", "reason"),
    [
        ("fail", Unavailable, "BACKEND_UNAVAILABLE"),
        ("garbage", Unavailable, "BACKEND_UNAVAILABLE"),
        ("shape", Unavailable, "BACKEND_UNAVAILABLE"),
        ("redirect", Unavailable, "BACKEND_UNAVAILABLE"),
        ("slow", DeadlineExceeded, "BACKEND_TIMEOUT"),
    ],
)
async def test_http_failures_map_to_gateway_errors_without_the_url(
    http_backend, upstream, route, error, reason
):
    calls = (
        lambda: http_backend.fetch(http_iface(route), {"id_number": ID}, limit=5),
        lambda: http_backend.verify(http_iface(route, "verify"), {"id_number": ID}),
    )
    for call in calls:
        with pytest.raises(error) as err:
            await call()
        assert err.value.reason == reason
        text = f"{err.value.message} {err.value!r} {err.value.__cause__!r}"
        for secret in (upstream, "127.0.0.1", upstream.rsplit(":", 1)[1], "people/", ID):
            assert secret not in text
        assert "sh/gaj/upstream-test/v1" in err.value.message
        Upstream.release.set()  # let the slow handler finish before the next call
        Upstream.release.clear()


async def test_http_refused_connection_is_unavailable(upstream):
    closed = HttpBackend("http://127.0.0.1:9/api", timeout=1)  # nothing listens on discard
    with pytest.raises(Unavailable) as err:
        await closed.fetch(http_iface("ok"), {}, limit=1)
    assert err.value.reason == "BACKEND_UNAVAILABLE" and "127.0.0.1" not in err.value.message
    await closed.close()


async def test_http_oversized_answer_is_unavailable(upstream):
    small = HttpBackend(upstream, timeout=1, max_bytes=50)
    try:
        with pytest.raises(Unavailable):
            await small.fetch(http_iface("ok"), {}, limit=10)
    finally:
        await small.close()


async def test_http_backend_from_a_declaration(upstream):
    spec = BackendSpec("http", {"base_url": upstream, "path": "people/ok", "timeout_ms": 800})
    b = make_backend(spec)
    try:
        iface = replace(http_iface("ok"), backend=spec)
        assert len(await b.fetch(iface, {"city": "黄浦区"}, limit=10)) == 2
    finally:
        await b.close()
    with pytest.raises(Unavailable):
        await b.fetch(iface, {}, limit=1)
