"""``--json`` rendering of protobuf replies: proto field names, every field, counts as numbers."""

from __future__ import annotations

import json

import pytest

from gateway._pb.yrd.v1 import catalog_pb2, exchange_pb2, federation_pb2, ops_pb2, sharing_pb2
from gateway.cli.render import INT64_TYPES, message_dict, search_json


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


def _filled(descriptor, depth: int = 0):
    """A message of ``descriptor`` with every 64-bit integer set, at every depth (repeated
    fields and maps with one element)."""
    from google.protobuf import message_factory

    message = message_factory.GetMessageClass(descriptor)()
    for f in descriptor.fields:
        sub = f.message_type
        if sub is None:
            if f.type in INT64_TYPES:
                if f.is_repeated:
                    getattr(message, f.name).append(7)
                else:
                    setattr(message, f.name, 7)
            continue
        if sub.full_name.startswith("google.protobuf.") or depth > 3:
            continue
        if sub.GetOptions().map_entry:
            value = sub.fields_by_name["value"]
            if value.message_type is not None:
                getattr(message, f.name)["k"].CopyFrom(_filled(value.message_type, depth + 1))
            elif value.type in INT64_TYPES:
                getattr(message, f.name)["k"] = 7
        elif f.is_repeated:
            getattr(message, f.name).add().CopyFrom(_filled(sub, depth + 1))
        else:
            getattr(message, f.name).CopyFrom(_filled(sub, depth + 1))
    return message


def _strings_of_digits(doc) -> list:
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in _strings_of_digits(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings_of_digits(v)]
    return [doc] if doc == "7" else []


ALL_MESSAGES = [
    m
    for module in (catalog_pb2, exchange_pb2, federation_pb2, ops_pb2, sharing_pb2)
    for m in module.DESCRIPTOR.message_types_by_name.values()
]


@pytest.mark.parametrize("descriptor", ALL_MESSAGES, ids=lambda d: d.full_name)
def test_every_count_of_every_message_is_a_number(descriptor):
    # Whatever a --json verb prints through message_dict: no 64-bit integer stays a string.
    doc = message_dict(_filled(descriptor))
    assert _strings_of_digits(doc) == []
