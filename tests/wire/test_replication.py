"""The change feed's pages on the wire: a page comes back as it went, withdrawals included."""

from __future__ import annotations

from dataclasses import replace

from gateway._pb.yrd.v1 import federation_pb2
from gateway.catalog.store.feed import Change, ChangePage
from gateway.wire.replication import page_from_pb, page_to_pb
from tests.support.entries import GJJ_NAME, HUJI_ITEM, SHEBAO_NAME


def test_a_page_comes_back_as_it_went() -> None:
    marked = replace(SHEBAO_NAME, data_mark="重要数据", local_grade="L2")
    page = ChangePage(
        feed_id="feed-1",
        changes=(
            Change(7, HUJI_ITEM.code, HUJI_ITEM, 1.5),
            Change(8, GJJ_NAME.code, None, 2.25),  # withdrawn: no entry travels
            Change(9, marked.code, marked, 3.0),
        ),
        head=12,
        head_changed_at=4.5,
    )
    message = page_to_pb(page)
    assert not message.changes[1].HasField("entry")
    wire = federation_pb2.ChangePage.FromString(message.SerializeToString())
    assert page_from_pb(wire) == page
    assert page_from_pb(page_to_pb(replace(page, changes=()))) == replace(page, changes=())
