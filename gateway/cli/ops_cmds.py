"""``yrdgw trace show|list`` and ``yrdgw audit verify|query``: what operators inspect."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import grpc

from gateway._pb.yrd.v1 import ops_pb2, ops_pb2_grpc
from gateway.cli.audit_federation import audit_acknowledge, verify_federation
from gateway.cli.render import table, width
from gateway.client import open_channel
from gateway.config import load_federation
from gateway.credentials import operator_token
from gateway.server.identity import MD_OPERATOR
from gateway.telemetry.spanstore import STEP_KIND

KEY_ATTRIBUTES = (
    "yrd.app",
    "yrd.interface",
    "yrd.peer",
    "yrd.decision",
    "yrd.reason",
    "yrd.grade",
    "yrd.masked_fields",
    "yrd.state",
    "yrd.records",
    "rpc.grpc.status_code",
)


def register(sub) -> None:
    t = sub.add_parser("trace", help="one trace gathered from every node, or recent traces")
    tsub = t.add_subparsers(dest="trace_command", required=True)
    show = tsub.add_parser("show", help="render a cross-province trace as a waterfall")
    show.add_argument("trace_id")
    show.add_argument("--via", default="js", help="node to ask (any node gathers from all)")
    show.add_argument("--operator-token")
    show.add_argument("--timeout", type=float, default=10.0)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=trace_show)
    lst = tsub.add_parser("list", help="recent and slow traces that entered at a node")
    lst.add_argument("--via", default="js")
    lst.add_argument("--operator-token")
    lst.add_argument("--app", default="")
    lst.add_argument("--interface", default="")
    lst.add_argument("--status", default="", choices=["", "OK", "ERROR"])
    lst.add_argument("--min-ms", type=float, default=0.0, help="only traces at least this slow")
    lst.add_argument("--limit", type=int, default=20)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=trace_list)

    a = sub.add_parser("audit", help="verify or query the hash-chained audit logs")
    asub = a.add_subparsers(dest="audit_command", required=True)
    verify = asub.add_parser("verify", help="check each node's chain; non-zero exit if broken")
    verify.add_argument("--node", action="append", default=[], help="default: every node")
    verify.add_argument("--operator-token")
    verify.add_argument("--json", action="store_true")
    verify.add_argument(
        "--federation",
        dest="federation_check",
        action="store_true",
        help="also check each chain against the heads its peers witnessed and the receipts "
        "its consumers hold (truncation, rewriting, missing entries)",
    )
    verify.set_defaults(func=audit_verify)
    ack = asub.add_parser(
        "acknowledge",
        help="accept a node's broken audit chain so it serves data calls again (audited)",
    )
    ack.add_argument("--node", required=True)
    ack.add_argument("--note", required=True, help="why (kept in the audit entry)")
    ack.add_argument("--operator-token")
    ack.add_argument("--json", action="store_true")
    ack.set_defaults(func=audit_acknowledge)
    query = asub.add_parser("query", help="audit entries of one node; each line shows its trace")
    query.add_argument("--node", required=True)
    query.add_argument("--operator-token")
    query.add_argument("--trace", default="")
    query.add_argument("--app", default="")
    query.add_argument("--interface", default="")
    query.add_argument("--decision", default="", choices=["", "allow", "deny"])
    query.add_argument(
        "--limit", type=int, default=50, help="entries to show, newest first (paged 1,000 a call)"
    )
    query.add_argument("--all", action="store_true", help="every matching entry")
    query.add_argument(
        "--before-seq", type=int, default=0, help="start below this seq (where a listing stopped)"
    )
    query.add_argument("--json", action="store_true")
    query.set_defaults(func=audit_query)


#: Entries a QueryAudit call returns at most.
AUDIT_PAGE = 1000


def _ops(args, node: str):
    fed = load_federation(args.federation)
    md = ((MD_OPERATOR, operator_token(fed, node, args.operator_token)),)
    channel = open_channel(fed, node, insecure=args.insecure)
    return channel, ops_pb2_grpc.OpsStub(channel), md


def trace_json(trace: ops_pb2.Trace) -> dict:
    return {
        "trace_id": trace.trace_id,
        "spans": [
            {
                "node": s.node,
                "name": s.name,
                "span_id": s.span_id,
                "parent_id": s.parent_id,
                "start": _iso(s.start_unix_nano),
                "duration_ms": s.duration_ms,
                "status": s.status,
                "kind": s.kind,
                "attributes": dict(s.attributes),
            }
            for s in trace.spans
        ],
        "nodes": [
            {"node": n.node, "state": n.state, "spans": n.spans, "reason": n.reason}
            for n in trace.nodes
        ],
        "partial": trace.partial,
    }


def _iso(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns / 1e9, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


GRPC_CODES = {str(c.value[0]): c.name for c in grpc.StatusCode}


def shown_status(span) -> str:
    """A call's gRPC status where it has one (PERMISSION_DENIED says more than ERROR)."""
    code = GRPC_CODES.get(span.attributes.get("rpc.grpc.status_code", ""), "")
    if code and code != "OK":
        return code
    return "ERROR" if span.status == "ERROR" else "OK"


def waterfall(trace: ops_pb2.Trace, bar_width: int = 30) -> str:
    spans = list(trace.spans)
    if not spans:
        return f"trace {trace.trace_id}: no spans found"
    ids = {s.span_id for s in spans}
    children: dict[str, list] = {}
    for s in spans:
        children.setdefault(s.parent_id if s.parent_id in ids else "", []).append(s)
    start = min(s.start_unix_nano for s in spans)
    end = max(s.start_unix_nano + int(s.duration_ms * 1e6) for s in spans)
    total = max(end - start, 1)
    rows: list[tuple[str, ...]] = []

    def walk(span, depth: int) -> None:
        offset = int((span.start_unix_nano - start) / total * bar_width)
        length = max(1, int(span.duration_ms * 1e6 / total * bar_width))
        bar = " " * offset + "█" * min(length, bar_width - offset)
        attrs = " ".join(
            f"{k.removeprefix('yrd.')}={v}"
            for k, v in span.attributes.items()
            if k in KEY_ATTRIBUTES
        )
        rows.append(
            (
                "  " * depth + ("· " if span.kind == STEP_KIND else "") + span.name,
                span.node,
                f"{span.duration_ms:8.2f} ms",
                shown_status(span),
                bar.ljust(bar_width),
                attrs,
            )
        )
        for child in sorted(children.get(span.span_id, []), key=lambda c: c.start_unix_nano):
            walk(child, depth + 1)

    for root in sorted(children.get("", []), key=lambda c: c.start_unix_nano):
        walk(root, 0)
    name_width = max(width(r[0]) for r in rows)
    steps = sum(1 for s in spans if s.kind == STEP_KIND)
    counted = f"{len(spans) - steps} spans" + (f", {steps} steps" if steps else "")
    lines = [f"trace {trace.trace_id}  ({counted}, {total / 1e6:.2f} ms)"]
    for name, node, dur, status, bar, attrs in rows:
        lines.append(
            f"{name}{' ' * (name_width - width(name))}  {node:2}  {dur}  "
            f"{status:17}  |{bar}|  {attrs}"
        )
    gathered = ", ".join(
        f"{n.node}: {n.state} ({n.spans})" + (f" {n.reason}" if n.reason else "")
        for n in trace.nodes
    )
    lines.append(f"gathered: {gathered}" + ("  PARTIAL" if trace.partial else ""))
    return "\n".join(lines)


def trace_show(args) -> int:
    channel, ops, md = _ops(args, args.via)
    with channel:
        trace = ops.GetTrace(
            ops_pb2.GetTraceRequest(trace_id=args.trace_id), timeout=args.timeout, metadata=md
        )
    if args.json:
        print(json.dumps(trace_json(trace), ensure_ascii=False, indent=2))
    else:
        print(waterfall(trace))
    return 0


def trace_list(args) -> int:
    channel, ops, md = _ops(args, args.via)
    with channel:
        reply = ops.ListTraces(
            ops_pb2.ListTracesRequest(
                app=args.app,
                interface=args.interface,
                status=args.status,
                min_duration_ms=args.min_ms,
                limit=args.limit,
            ),
            timeout=10,
            metadata=md,
        )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "trace_id": t.trace_id,
                        "node": t.node,
                        "root": t.root,
                        "start": _iso(t.start_unix_nano),
                        "duration_ms": t.duration_ms,
                        "status": t.status,
                        "app": t.app,
                        "interface": t.interface,
                        "spans": t.span_count,
                    }
                    for t in reply.traces
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    rows = [
        (
            t.trace_id,
            _iso(t.start_unix_nano)[11:23],
            t.root,
            f"{t.duration_ms:.2f}",
            t.status,
            t.app,
            t.interface,
        )
        for t in reply.traces
    ]
    print(
        table(
            ("trace_id", "time", "operation", "ms", "status", "app", "interface"),
            rows,
            (32, 12, 34, 9, 6, 30, 30),
        )
        if rows
        else "(no traces)"
    )
    return 0


def audit_verify(args) -> int:
    if args.federation_check:
        return verify_federation(args)
    fed = load_federation(args.federation)
    nodes = args.node or list(fed.nodes)
    results, broken = [], False
    for node in nodes:
        channel, ops, md = _ops(args, node)
        with channel:
            reply = ops.VerifyAudit(ops_pb2.VerifyAuditRequest(), timeout=30, metadata=md)
        results.append(reply)
        broken |= not reply.ok
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "node": r.node,
                        "ok": r.ok,
                        "checked": r.checked,
                        "first_bad_seq": r.first_bad_seq or None,
                        "problem": r.problem or None,
                        "head_hash": r.head_hash,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            if r.ok:
                print(f"{r.node}: OK, {r.checked} entries, head {r.head_hash[:16]}")
            else:
                print(f"{r.node}: BROKEN at entry {r.first_bad_seq}: {r.problem}")
    return 1 if broken else 0


def audit_query(args) -> int:
    if args.limit < 1:
        raise SystemExit("error: --limit: at least 1")
    lines: list = []
    before = args.before_seq
    channel, ops, md = _ops(args, args.node)
    with channel:
        # Page by seq, 1,000 at most a call, until the limit or the last matching entry.
        while args.all or len(lines) < args.limit:
            reply = ops.QueryAudit(
                ops_pb2.QueryAuditRequest(
                    trace_id=args.trace,
                    app=args.app,
                    interface=args.interface,
                    decision=args.decision,
                    limit=AUDIT_PAGE if args.all else min(AUDIT_PAGE, args.limit - len(lines)),
                    before_seq=before,
                ),
                timeout=10,
                metadata=md,
            )
            lines.extend(reply.entries)
            before = reply.next_before_seq
            if not before:
                break
    if before:  # never stop silently with more behind
        print(
            f"more entries match, older than seq {before}: rerun with --before-seq {before},"
            " a larger --limit, or --all",
            file=sys.stderr,
        )
    records = [(line.seq, json.loads(line.json), line.hash) for line in lines]
    if args.json:
        print(
            json.dumps(
                [{"seq": seq, "hash": h, **rec} for seq, rec, h in records],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    rows = [
        (
            str(seq),
            rec["time"][11:23],
            rec["side"],
            rec["action"],
            rec["decision"],
            rec.get("reason", ""),
            rec.get("app", ""),
            rec.get("interface", ""),
            str(rec.get("record_count", 0)),
            rec.get("trace_id", "") or "-",
        )
        for seq, rec, _ in records
    ]
    print(
        table(
            (
                "seq",
                "time",
                "side",
                "action",
                "decision",
                "reason",
                "app",
                "interface",
                "records",
                "trace_id",
            ),
            rows,
            (6, 12, 8, 13, 8, 22, 28, 30, 7, 32),
        )
        if rows
        else "(no entries)"
    )
    return 0
