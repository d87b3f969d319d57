"""A page token is bound to its query: the same text with other filters, another province set
or another scope is INVALID_ARGUMENT on ``page_token``; the same query, from any node and with
its filters in any order, pages on."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio

from gateway._pb.yrd.v1 import catalog_pb2
from gateway.status import failure_of
from tests.support.nodes import Running
from tests.support.refusals import refused

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXT = "信息"
F = catalog_pb2.SearchFilters
ALL = catalog_pb2.SCOPE_ALL
PROVINCES = catalog_pb2.SCOPE_PROVINCES
LOCAL = catalog_pb2.SCOPE_LOCAL


def search(**kw) -> catalog_pb2.SearchRequest:
    return catalog_pb2.SearchRequest(query=TEXT, page_size=5, **kw)


async def first_token(federation: Running, via: str, **kw) -> str:
    reply = await federation.catalog(via).Search(search(**kw), timeout=30)
    assert reply.next_page_token and not reply.partial
    return reply.next_page_token


@pytest.mark.parametrize(
    ("minted", "reused"),
    [
        ({}, {"filters": F(grades=["L1"])}),
        ({"filters": F(grades=["L1"])}, {"filters": F(grades=["L1", "L2"])}),
        ({"filters": F(grades=["L1"])}, {}),
        ({}, {"filters": F(provinces=["sh"])}),
        ({"filters": F(provinces=["sh"])}, {"filters": F(provinces=["zj"])}),
        ({}, {"filters": F(departments=["gaj"])}),
        ({}, {"filters": F(categories=["1"])}),
        ({}, {"filters": F(share_types=["unconditional"])}),
        ({}, {"scope": PROVINCES, "provinces": ["js", "sh"]}),
        (
            {"scope": PROVINCES, "provinces": ["js", "sh"]},
            {"scope": PROVINCES, "provinces": ["js"]},
        ),
        ({}, {"scope": LOCAL}),
    ],
    ids=lambda kw: ",".join(sorted(kw)) or "plain",
)
async def test_the_same_text_with_another_filter_or_province_set_is_refused(
    federation: Running, minted: dict, reused: dict
):
    token = await first_token(federation, "js", **minted)
    failure = await refused(
        federation.catalog("js").Search(search(page_token=token, **reused), timeout=30),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_PAGE_TOKEN",
        node="js",
    )
    assert failure.metadata.get("field") == "page_token"


async def test_a_local_token_does_not_page_another_nodes_local_search(federation: Running):
    token = await first_token(federation, "js", scope=LOCAL)
    with pytest.raises(aio.AioRpcError) as info:
        await federation.catalog("sh").Search(search(page_token=token, scope=LOCAL), timeout=30)
    assert failure_of(info.value).reason == "BAD_PAGE_TOKEN"


async def test_the_same_query_pages_on_from_any_node_with_filters_in_any_order(
    federation: Running,
):
    filters = {"grades": ["L1", "L2"], "provinces": ["js", "sh", "zj"]}
    token = await first_token(federation, "js", filters=F(**filters))
    pages = []
    for via, order in (("js", 1), ("sh", -1), ("ah", -1)):
        shuffled = F(**{k: v[::order] for k, v in filters.items()})
        reply = await federation.catalog(via).Search(
            search(page_token=token, filters=shuffled, scope=ALL), timeout=30
        )
        pages.append([r.entry.code for r in reply.results])
    assert pages[0] and pages[0] == pages[1] == pages[2]
