"""Terminal rendering for the CLI: column alignment that respects wide Chinese characters."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from gateway._pb.yrd.v1 import catalog_pb2

STATE_NAMES = {
    catalog_pb2.PROVINCE_STATE_ANSWERED: "answered",
    catalog_pb2.PROVINCE_STATE_FAILED: "failed",
    catalog_pb2.PROVINCE_STATE_TIMED_OUT: "timed out",
    catalog_pb2.PROVINCE_STATE_SKIPPED: "skipped",
    catalog_pb2.PROVINCE_STATE_NOT_ASKED: "not asked",
}


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip(text: str, limit: int) -> str:
    if width(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], limits: Sequence[int] | None = None
) -> str:
    limits = limits or [60] * len(headers)
    cells = [[clip(str(c), lim) for c, lim in zip(row, limits, strict=False)] for row in rows]
    widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v + " " * (w - width(v)) for v, w in zip(values, widths, strict=False)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


INT64_TYPES = frozenset(
    (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    )
)


def message_dict(message) -> dict:
    """A message as ``--json`` prints it: proto field names, every field, counts as numbers.

    Proto3 JSON writes 64-bit integers as strings (``"count": "156"``) for JavaScript's sake;
    a CLI's JSON is read by scripts that compare and add counts, so they are numbers here.
    """
    doc = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _int64_as_numbers(message.DESCRIPTOR, doc)
    return doc


def _int64_as_numbers(descriptor, doc: dict) -> None:
    for f in descriptor.fields:
        if f.name not in doc:
            continue
        value = doc[f.name]
        sub = f.message_type
        if sub is None:
            if f.type in INT64_TYPES:
                doc[f.name] = [int(v) for v in value] if f.is_repeated else int(value)
            continue
        if sub.full_name.startswith("google.protobuf."):
            continue  # well-known types have JSON forms of their own
        if sub.GetOptions().map_entry:
            item = sub.fields_by_name["value"]
            if item.message_type is not None:
                for v in value.values():
                    _int64_as_numbers(item.message_type, v)
            elif item.type in INT64_TYPES:
                doc[f.name] = {k: int(v) for k, v in value.items()}
            continue
        for v in value if f.is_repeated else (value,):
            if isinstance(v, dict):
                _int64_as_numbers(sub, v)


def search_json(reply: catalog_pb2.SearchResponse) -> dict:
    provinces = []
    for p in reply.provinces:
        entry = message_dict(p)
        entry["state"] = STATE_NAMES.get(p.state, "unknown").replace(" ", "_")
        entry.setdefault("replica", None)  # answered by the province's node itself
        provinces.append(entry)
    return {
        "results": [{**message_dict(r.entry), "score": round(r.score, 4)} for r in reply.results],
        "facets": {f.field: [message_dict(v) for v in f.values] for f in reply.facets},
        "provinces": provinces,
        "partial": reply.partial,
        "total": reply.total,
        "next_page_token": reply.next_page_token,
        "answered_by": reply.answered_by,
        "trace_id": reply.trace_id,
    }


def replica_text(r: catalog_pb2.ReplicaStatus) -> str:
    """Where an answer from a replica stands: ``replica, STALE, last change ..., lag ...``."""
    parts = ["replica", "STALE" if r.stale else "current"]
    parts.append(f"last change {r.last_change_at or 'none'}")
    parts.append(f"lag {r.lag_ms / 1000:.1f} s")
    if r.behind:
        parts.append(f"{r.behind} changes behind")
    return ", ".join(parts)


def search_text(reply: catalog_pb2.SearchResponse) -> str:
    rows = [
        (
            r.entry.province,
            r.entry.code,
            r.entry.name,
            r.entry.department,
            r.entry.grade,
            r.entry.data_mark_name or r.entry.data_mark,
            f"{r.score:.2f}",
        )
        for r in reply.results
    ]
    out = [
        table(
            ("省", "code", "name", "department", "grade", "mark", "score"),
            rows,
            (4, 14, 40, 28, 5, 8, 7),
        )
        if rows
        else "(no results)"
    ]
    out.append("")
    status_rows = []
    for p in reply.provinces:
        state = STATE_NAMES.get(p.state, "unknown")
        detail = (
            f"{p.total} matches"
            if p.state == catalog_pb2.PROVINCE_STATE_ANSWERED
            else (f"{p.reason}: {p.message}" if p.reason else "")
        )
        if p.HasField("replica"):
            detail += f"; {replica_text(p.replica)}"
        status_rows.append((f"{p.province} {p.name}", state, f"{p.latency_ms:.1f} ms", detail))
    out.append(table(("province", "state", "latency", "detail"), status_rows, (10, 10, 10, 70)))
    summary = (
        f"{reply.total} matches across the answering provinces, answered by {reply.answered_by}"
    )
    marked = [
        f"{v.label or v.value} {v.count}"
        for f in reply.facets
        if f.field == "data_mark"
        for v in f.values
    ]
    if marked:
        summary += f"; marked: {', '.join(marked)}"
    if reply.partial:
        missing = [
            p.province
            for p in reply.provinces
            if p.state
            not in (catalog_pb2.PROVINCE_STATE_ANSWERED, catalog_pb2.PROVINCE_STATE_NOT_ASKED)
        ]
        summary += f"; PARTIAL: {', '.join(missing)} did not answer"
    stale = [p.province for p in reply.provinces if p.HasField("replica") and p.replica.stale]
    if stale:
        summary += f"; STALE: {', '.join(stale)} from a replica the owner did not update lately"
    if reply.next_page_token:
        summary += f"\nnext page: --page-token {reply.next_page_token}"
    out.append(summary)
    return "\n".join(out)
