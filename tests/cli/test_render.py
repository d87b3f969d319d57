"""``--json`` rendering of protobuf replies: proto field names, every field, counts as numbers."""

from __future__ import annotations

import json

from gateway._pb.yrd.v1 import catalog_pb2, ops_pb2
from gateway.cli.render import message_dict, search_json


def test_int64_counts_render_as_numbers_at_every_depth():
    reply = catalog_pb2.SearchResponse(
        total=156,
        facets=[
            catalog_pb2.Facet(
                field="grade", values=[catalog_pb2.FacetValue(value="L1", label="一级", count=156)]
            )
        ],
        provinces=[catalog_pb2.ProvinceStatus(province="sh", total=2**40)],
    )
    doc = message_dict(reply)
    assert doc["total"] == 156
    assert doc["facets"][0]["values"][0]["count"] == 156
    assert doc["provinces"][0]["total"] == 2**40
    rendered = search_json(reply)
    assert rendered["facets"]["grade"][0]["count"] == 156
    assert rendered["provinces"][0]["total"] == 2**40
    assert '"156"' not in json.dumps(rendered)


def test_zero_and_unset_counts_are_numbers_too():
    doc = message_dict(ops_pb2.VerifyAuditResponse(node="js", ok=True))
    assert doc == {
        "node": "js",
        "ok": True,
        "checked": 0,
        "first_bad_seq": 0,
        "problem": "",
        "head_hash": "",
    }
