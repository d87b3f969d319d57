"""Federated catalog search across four real in-process nodes."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from pathlib import Path

import grpc
import pytest
import yaml

from gateway._pb.yrd.v1 import catalog_pb2
from gateway.catalog.query import encode_token
from gateway.config import load_federation, load_standard
from tests.support.federation import NODE_IDS, ROOT, write_federation
from tests.support.nodes import Running, start_nodes, stop_all
from tests.support.refusals import refused

ANSWERED = catalog_pb2.PROVINCE_STATE_ANSWERED
pytestmark = pytest.mark.asyncio(loop_scope="module")


def indexed_text(entry: catalog_pb2.CatalogEntry) -> str:
    return " ".join(
        [entry.name, entry.abstract, entry.department, *(item.name for item in entry.items)]
    )


def states(reply) -> dict[str, int]:
    return {p.province: p.state for p in reply.provinces}


@pytest.mark.parametrize("live", [True, False], ids=["owners", "replicas"])
async def test_every_node_gives_the_same_merged_answer(federation: Running, live: bool):
    # Over what the provinces share (an entry of share type none is seen only in its province).
    # From the owners, each ranks with its own statistics; from the replicas (all in sync), each
    # node ranks with the federation's, summed over what every province publishes.
    shared = catalog_pb2.SearchFilters(share_types=["unconditional", "conditional"])
    replies = {}
    for node in NODE_IDS:
        replies[node] = await federation.catalog(node).Search(
            catalog_pb2.SearchRequest(query="户籍", page_size=50, filters=shared, live=live),
            timeout=10,
        )
    first = replies["js"]
    assert not first.partial
    assert states(first) == dict.fromkeys(NODE_IDS, ANSWERED)
    assert {r.entry.province for r in first.results} == set(NODE_IDS)
    ranking = [(r.entry.code, round(r.score, 6)) for r in first.results]
    for node, reply in replies.items():
        assert reply.answered_by == node
        from_replica = {p.province for p in reply.provinces if p.HasField("replica")}
        assert from_replica == (set() if live else set(NODE_IDS) - {node})
        assert [(r.entry.code, round(r.score, 6)) for r in reply.results] == ranking
        assert reply.total == first.total
    scores = [r.score for r in first.results]
    assert scores == sorted(scores, reverse=True)
    facets = {f.field: {v.value: v.count for v in f.values} for f in first.facets}
    assert sum(facets["province"].values()) == first.total
    assert sum(facets["grade"].values()) == first.total
    assert set(facets) >= {"category", "grade", "share_type", "department", "update_cycle"}


async def test_replicas_answer_what_the_owners_answer(federation: Running):
    """Once a node's replicas are in sync, its default answer covers the same entries as the
    owners' live one, each province reported as answered from a replica, not stale."""
    shared = catalog_pb2.SearchFilters(share_types=["unconditional", "conditional"])
    ask = federation.catalog("sh").Search
    deadline = time.monotonic() + 60
    while True:
        reply = await ask(catalog_pb2.SearchRequest(query="户籍", filters=shared), timeout=10)
        others = [p for p in reply.provinces if p.province != "sh"]
        if all(p.HasField("replica") and not p.replica.stale for p in others):
            break
        assert time.monotonic() < deadline, reply.provinces
        await asyncio.sleep(0.2)
    live = await ask(catalog_pb2.SearchRequest(query="户籍", filters=shared, live=True), timeout=10)
    assert not reply.partial and reply.total == live.total > 0
    assert {p.province: p.total for p in reply.provinces} == {
        p.province: p.total for p in live.provinces
    }
    for p in others:
        assert p.replica.from_replica and p.replica.last_change_at
    assert not any(p.HasField("replica") for p in live.provinces)


@pytest.mark.parametrize("live", [False, True])
async def test_what_a_province_keeps_to_itself_is_seen_only_there(federation: Running, live):
    for node in NODE_IDS:
        reply = await federation.catalog(node).Search(
            catalog_pb2.SearchRequest(
                query="信息",
                page_size=100,
                filters=catalog_pb2.SearchFilters(share_types=["none"]),
                live=live,
            ),
            timeout=10,
        )
        assert not reply.partial and reply.total > 0
        assert {r.entry.province for r in reply.results} == {node}
        kept = reply.results[0].entry.code
        for other in NODE_IDS:
            if other != node:
                with pytest.raises(grpc.aio.AioRpcError) as refusal:
                    await federation.catalog(other).Get(
                        catalog_pb2.GetRequest(code=kept), timeout=10
                    )
                assert refusal.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("term", ["户籍", "营业执照", "社保", "公积金"])
async def test_chinese_terms_match_as_a_user_expects(federation: Running, term):
    reply = await federation.catalog("sh").Search(
        catalog_pb2.SearchRequest(query=term, page_size=100), timeout=10
    )
    assert reply.total > 0, f"nothing found for {term}"
    # The term itself, or one of its synonyms in the standard (社保 finds 社会保险).
    alternatives = (
        term,
        *load_standard(federation.fed.standard_path).synonyms.equivalents().get(term, ()),
    )
    for result in reply.results:
        text = indexed_text(result.entry)
        assert any(t in text for t in alternatives), (term, result.entry.name)
    # Name matches weigh most, and an exact match above a synonym's: the best hit carries the
    # term itself in its name.
    assert term in reply.results[0].entry.name


async def test_filters_narrow_every_province(federation: Running):
    reply = await federation.catalog("js").Search(
        catalog_pb2.SearchRequest(
            query="信息",
            page_size=100,
            filters=catalog_pb2.SearchFilters(grades=["L1", "L2"], provinces=["sh", "ah"]),
        ),
        timeout=10,
    )
    assert reply.total > 0
    assert {r.entry.province for r in reply.results} <= {"sh", "ah"}
    assert all(r.entry.grade in ("L1", "L2") for r in reply.results)
    by_state = states(reply)
    assert by_state["js"] == by_state["zj"] == catalog_pb2.PROVINCE_STATE_NOT_ASKED
    assert not reply.partial


async def test_paging_returns_each_entry_once(federation: Running):
    stub = federation.catalog("zj")
    whole = await stub.Search(catalog_pb2.SearchRequest(query="信息", page_size=100), timeout=10)
    seen, token, pages = [], "", 0
    while len(seen) < 100:
        reply = await stub.Search(
            catalog_pb2.SearchRequest(query="信息", page_size=7, page_token=token), timeout=10
        )
        seen += [r.entry.code for r in reply.results]
        token = reply.next_page_token
        pages += 1
        assert token, "ran out of pages early"
    assert len(seen) == len(set(seen))
    assert seen[:100] == [r.entry.code for r in whole.results]
    assert pages == 15


async def test_get_finds_the_owner_from_any_node(federation: Running):
    reply = await federation.catalog("ah").Search(
        catalog_pb2.SearchRequest(
            query="户籍", filters=catalog_pb2.SearchFilters(provinces=["sh"]), page_size=1
        ),
        timeout=10,
    )
    code = reply.results[0].entry.code
    got = await federation.catalog("js").Get(catalog_pb2.GetRequest(code=code), timeout=10)
    assert got.entry.code == code and got.entry.province == "sh"
    assert got.entry.province_name == "上海"


@pytest.mark.parametrize(
    "request_kw, field, reason",
    [
        ({"query": ""}, "query", "EMPTY_QUERY"),
        ({"query": "   "}, "query", "EMPTY_QUERY"),
        ({"query": "*"}, "query", "NO_SEARCHABLE_TEXT"),
        ({"query": "\U0001f600"}, "query", "NO_SEARCHABLE_TEXT"),
        ({"query": "户" * 65}, "query", "QUERY_TOO_LONG"),
        ({"query": "户籍", "page_size": -1}, "page_size", "PAGE_SIZE_OUT_OF_RANGE"),
        ({"query": "户籍", "page_size": 101}, "page_size", "PAGE_SIZE_OUT_OF_RANGE"),
        ({"query": "户籍", "page_token": "%%%not-a-token"}, "page_token", "BAD_PAGE_TOKEN"),
        (
            {"query": "户籍", "page_token": encode_token(20, "0" * 16)},
            "page_token",
            "BAD_PAGE_TOKEN",
        ),
        (
            {"query": "户籍", "filters": catalog_pb2.SearchFilters(grades=["L9"])},
            "filters.grades[0]",
            "UNKNOWN_FILTER_VALUE",
        ),
        (
            {"query": "户籍", "filters": catalog_pb2.SearchFilters(categories=["101", "999"])},
            "filters.categories[1]",
            "UNKNOWN_FILTER_VALUE",
        ),
        (
            {"query": "户籍", "filters": catalog_pb2.SearchFilters(share_types=["maybe"])},
            "filters.share_types[0]",
            "UNKNOWN_FILTER_VALUE",
        ),
        (
            {"query": "户籍", "filters": catalog_pb2.SearchFilters(provinces=["bj"])},
            "filters.provinces[0]",
            "UNKNOWN_PROVINCE",
        ),
        (
            {"query": "户籍", "filters": catalog_pb2.SearchFilters(update_cycles=["hourly"])},
            "filters.update_cycles[0]",
            "UNKNOWN_FILTER_VALUE",
        ),
        (
            {"query": "户籍", "filters": catalog_pb2.SearchFilters(departments=["bj/gaj"])},
            "filters.departments[0]",
            "UNKNOWN_FILTER_VALUE",
        ),
        ({"query": "户籍", "scope": catalog_pb2.SCOPE_PROVINCES}, "provinces", "EMPTY_SCOPE"),
        (
            {"query": "户籍", "scope": catalog_pb2.SCOPE_PROVINCES, "provinces": ["xx"]},
            "provinces[0]",
            "UNKNOWN_PROVINCE",
        ),
        ({"query": "户籍", "scope": 42}, "scope", "UNKNOWN_SCOPE"),
    ],
)
async def test_bad_search_input_is_invalid_argument_naming_the_field(
    federation: Running, request_kw, field, reason
):
    failure = await refused(
        federation.catalog("js").Search(catalog_pb2.SearchRequest(**request_kw), timeout=5),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert failure.reason == reason
    assert failure.metadata.get("field") == field
    assert failure.node == "js"
    assert field in failure.message


async def test_page_token_of_another_query_is_refused(federation: Running):
    stub = federation.catalog("js")
    first = await stub.Search(catalog_pb2.SearchRequest(query="信息", page_size=5), timeout=10)
    assert first.next_page_token
    failure = await refused(
        stub.Search(
            catalog_pb2.SearchRequest(query="户籍", page_size=5, page_token=first.next_page_token),
            timeout=5,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert failure.reason == "BAD_PAGE_TOKEN"


@pytest.mark.parametrize(
    "code, status, reason",
    [
        ("101001/999999", grpc.StatusCode.NOT_FOUND, "RESOURCE_NOT_FOUND"),
        ("not-a-code", grpc.StatusCode.INVALID_ARGUMENT, "BAD_RESOURCE_CODE"),
        ("", grpc.StatusCode.INVALID_ARGUMENT, "BAD_RESOURCE_CODE"),
    ],
)
async def test_get_refusals(federation: Running, code, status, reason):
    failure = await refused(
        federation.catalog("sh").Get(catalog_pb2.GetRequest(code=code), timeout=5), status
    )
    assert failure.reason == reason


async def test_health_and_reflection_are_served(federation: Running):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    channel = federation.channel("js")
    health = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="yrd.v1.Catalog"), timeout=5
    )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = []
    async for response in call:
        names = [s.name for s in response.list_services_response.service]
        break
    assert "yrd.v1.Catalog" in names


def _blackhole() -> socket.socket:
    """A listener that never accepts: the kernel completes TCP handshakes and nothing answers,
    as with a paused (SIGSTOP) peer."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


async def test_stalled_peer_is_reported_and_the_deadline_holds(tmp_path, certs_dir):
    hole = _blackhole()
    port = hole.getsockname()[1]
    fed = load_federation(
        write_federation(tmp_path, certs_dir, peer_overrides={"ah": f"127.0.0.1:{port}"})
    )
    running = Running(fed, await start_nodes(fed, ["js", "sh", "zj"]), [])
    try:
        # The deadline holds when js answers at all: past the caller's deadline the call would
        # end in the caller's own DEADLINE_EXCEEDED instead of this reply naming ah.
        reply = await running.catalog("js").Search(
            catalog_pb2.SearchRequest(query="户籍"), timeout=2.0
        )
        assert reply.partial
        by = {p.province: p for p in reply.provinces}
        assert by["ah"].state == catalog_pb2.PROVINCE_STATE_TIMED_OUT
        assert by["ah"].reason == "DEADLINE_EXCEEDED"
        assert all(by[p].state == ANSWERED for p in ("js", "sh", "zj"))
        assert {r.entry.province for r in reply.results} <= {"js", "sh", "zj"}
        assert reply.total == sum(by[p].total for p in ("js", "sh", "zj"))
    finally:
        await stop_all(running)
        hole.close()


async def test_dead_peer_makes_the_answer_partial_fast(tmp_path, certs_dir):
    fed = load_federation(write_federation(tmp_path, certs_dir))
    running = Running(fed, await start_nodes(fed, ["js", "sh", "zj"]), [])  # ah never started
    try:
        reply = await running.catalog("sh").Search(
            catalog_pb2.SearchRequest(query="社保"), timeout=5
        )
        by = {p.province: p for p in reply.provinces}
        assert reply.partial
        # Fast means without waiting for the budget: a refused connection fails ah at once
        # (FAILED, UNAVAILABLE), where waiting would have timed it out (TIMED_OUT).
        assert by["ah"].state == catalog_pb2.PROVINCE_STATE_FAILED
        assert by["ah"].reason == "UNAVAILABLE"
        assert "127.0.0.1" not in by["ah"].message  # transport internals stay out
        assert reply.total > 0
    finally:
        await stop_all(running)


async def test_peer_on_another_standard_version_is_refused(tmp_path, certs_dir):
    fed_path = write_federation(tmp_path, certs_dir)
    doc = yaml.safe_load(fed_path.read_text(encoding="utf-8"))
    standard = yaml.safe_load(Path(doc["standard"]).read_text(encoding="utf-8"))
    standard["version"] = "1.1.0"
    other = tmp_path / "other-standard.yaml"
    other.write_text(yaml.safe_dump(standard, allow_unicode=True), encoding="utf-8")
    doc["standard"] = str(other)
    # Anhui moved to 1.1.0 with its crosswalk; the others stay on 1.0.0.
    nodes_dir = tmp_path / "nodes"
    shutil.copytree(ROOT / "nodes", nodes_dir)
    crosswalk = nodes_dir / "ah" / "crosswalk.yaml"
    crosswalk.write_text(
        crosswalk.read_text(encoding="utf-8").replace('version: "1.0.0"', 'version: "1.1.0"'),
        encoding="utf-8",
    )
    doc["nodes_dir"] = str(nodes_dir)
    other_fed = tmp_path / "federation-ah.yaml"
    other_fed.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    fed = load_federation(fed_path)
    nodes = await start_nodes(fed, NODE_IDS, feds={"ah": load_federation(other_fed)})
    running = Running(fed, nodes, [])
    try:
        for via, peer in (("js", "ah"), ("ah", "js")):
            reply = await running.catalog(via).Search(
                catalog_pb2.SearchRequest(query="户籍"), timeout=5
            )
            by = {p.province: p for p in reply.provinces}
            assert reply.partial
            assert by[peer].state == catalog_pb2.PROVINCE_STATE_FAILED
            assert by[peer].reason == "STANDARD_MISMATCH"
            assert "@1.0.0" in by[peer].message and "@1.1.0" in by[peer].message
    finally:
        await stop_all(running)


async def test_peer_with_a_certificate_from_another_ca_is_refused(tmp_path, certs_dir):
    from gateway.certs import create_federation_certs

    rogue_certs = tmp_path / "rogue-certs"
    create_federation_certs(rogue_certs, NODE_IDS)
    fed_path = write_federation(tmp_path, certs_dir)
    doc = yaml.safe_load(fed_path.read_text(encoding="utf-8"))
    doc["certs_dir"] = str(rogue_certs)
    rogue_path = tmp_path / "federation-rogue.yaml"
    rogue_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    fed = load_federation(fed_path)
    nodes = await start_nodes(fed, NODE_IDS, feds={"ah": load_federation(rogue_path)})
    running = Running(fed, nodes, [])
    try:
        reply = await running.catalog("js").Search(
            catalog_pb2.SearchRequest(query="户籍"), timeout=5
        )
        by = {p.province: p for p in reply.provinces}
        assert reply.partial
        assert by["ah"].state == catalog_pb2.PROVINCE_STATE_FAILED
        assert all(by[p].state == ANSWERED for p in ("js", "sh", "zj"))
    finally:
        await stop_all(running)
