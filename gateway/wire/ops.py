"""Ops messages <-> spans, traces, trace summaries and audit entries (client port ``Ops`` and the
peer port's ``GetSpans``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from gateway._pb.yrd.v1 import federation_pb2, ops_pb2
from gateway.audit.chain import AuditEntry
from gateway.audit.integrity import ChainState
from gateway.ops.evidence import Evidence, EvidenceRequest
from gateway.ops.reads import AuditCheck, AuditFilter, TraceFilter
from gateway.ops.traces import Gathered
from gateway.partial import AnswerState
from gateway.telemetry.spanstore import StoredSpan, TraceSummary


def span_to_pb(s: StoredSpan) -> ops_pb2.Span:
    return ops_pb2.Span(
        node=s.node,
        trace_id=s.trace_id,
        span_id=s.span_id,
        parent_id=s.parent_id,
        name=s.name,
        kind=s.kind,
        start_unix_nano=s.start_ns,
        duration_ms=s.duration_ms,
        status=s.status,
        status_message=s.status_message,
        attributes=s.attributes,
    )


def span_from_pb(m: ops_pb2.Span) -> StoredSpan:
    return StoredSpan(
        trace_id=m.trace_id,
        span_id=m.span_id,
        parent_id=m.parent_id,
        node=m.node,
        name=m.name,
        kind=m.kind,
        start_ns=m.start_unix_nano,
        duration_ms=m.duration_ms,
        status=m.status,
        status_message=m.status_message,
        attributes=dict(m.attributes),
    )


def spans_reply(node: str, spans: Iterable[StoredSpan]) -> federation_pb2.GetSpansResponse:
    return federation_pb2.GetSpansResponse(node=node, spans=[span_to_pb(s) for s in spans])


def spans_from_pb(reply: federation_pb2.GetSpansResponse) -> list[StoredSpan]:
    return [span_from_pb(s) for s in reply.spans]


def trace_to_pb(trace_id: str, gathered: Sequence[Gathered]) -> ops_pb2.Trace:
    spans = sorted((s for g in gathered for s in g.spans), key=lambda s: (s.start_ns, s.span_id))
    return ops_pb2.Trace(
        trace_id=trace_id,
        spans=[span_to_pb(s) for s in spans],
        nodes=[
            ops_pb2.NodeGather(node=g.node, state=g.state, spans=len(g.spans), reason=g.reason)
            for g in gathered
        ],
        partial=any(g.state != AnswerState.ANSWERED for g in gathered),
    )


def trace_filter_from_pb(m: ops_pb2.ListTracesRequest) -> TraceFilter:
    return TraceFilter(
        app=m.app,
        interface=m.interface,
        status=m.status,
        min_duration_ms=m.min_duration_ms,
        since_unix=m.since_unix,
        until_unix=m.until_unix,
        limit=m.limit,
    )


def summaries_reply(summaries: Iterable[TraceSummary]) -> ops_pb2.ListTracesResponse:
    return ops_pb2.ListTracesResponse(
        traces=[
            ops_pb2.TraceSummary(
                trace_id=t.trace_id,
                node=t.node,
                root=t.root,
                start_unix_nano=t.start_ns,
                duration_ms=t.duration_ms,
                status=t.status,
                app=t.app,
                interface=t.interface,
                span_count=t.span_count,
            )
            for t in summaries
        ]
    )


def audit_check_reply(c: AuditCheck) -> ops_pb2.VerifyAuditResponse:
    return ops_pb2.VerifyAuditResponse(
        node=c.node,
        ok=c.ok,
        checked=c.checked,
        first_bad_seq=c.first_bad_seq,
        problem=c.problem,
        head_hash=c.head_hash,
    )


def audit_filter_from_pb(m: ops_pb2.QueryAuditRequest) -> AuditFilter:
    return AuditFilter(
        trace_id=m.trace_id,
        app=m.app,
        interface=m.interface,
        decision=m.decision,
        limit=m.limit,
        before_seq=m.before_seq,
    )


def audit_reply(
    node: str, entries: Iterable[AuditEntry], next_before_seq: int = 0
) -> ops_pb2.QueryAuditResponse:
    return ops_pb2.QueryAuditResponse(
        node=node,
        next_before_seq=next_before_seq,
        entries=[
            ops_pb2.AuditLine(
                seq=e.seq,
                hash=e.hash,
                prev_hash=e.prev_hash,
                json=json.dumps(e.record.to_dict(), ensure_ascii=False),
            )
            for e in entries
        ],
    )


def evidence_request_from_pb(m: ops_pb2.AuditEvidenceRequest) -> EvidenceRequest:
    return EvidenceRequest(
        seqs=tuple(m.seqs),
        hashes=tuple(m.hashes),
        witnessed=m.witnessed,
        witnessed_after=m.witnessed_after,
        receipts=m.receipts,
        receipts_after=m.receipts_after,
    )


def evidence_reply(e: Evidence, witness: str) -> ops_pb2.AuditEvidenceResponse:
    return ops_pb2.AuditEvidenceResponse(
        node=e.node,
        head_seq=e.head_seq,
        head_hash=e.head_hash,
        witnessed=[
            ops_pb2.WitnessedHead(
                node=h.node,
                witness=witness,
                seq=h.seq,
                hash=h.hash,
                time=h.time,
                signature=h.signature,
                received=h.received,
            )
            for h in e.witnessed
        ],
        at=[ops_pb2.SeqHash(seq=s, hash=h) for s, h in sorted(e.at.items())],
        present=sorted(e.present),
        receipts=[ops_pb2.AuditReceipt(seq=s, owner=o, owner_hash=h) for s, o, h in e.receipts],
        receipts_next=e.receipts_next,
        chain_state=e.state.state,
        chain_problem=e.state.problem,
        witnessed_next=e.witnessed_next,
    )


def acknowledge_reply(
    node: str, state: ChainState, entry: AuditEntry
) -> ops_pb2.AcknowledgeAuditResponse:
    return ops_pb2.AcknowledgeAuditResponse(
        node=node,
        chain_state=state.state,
        first_bad_seq=state.first_bad_seq,
        problem=state.problem,
        seq=entry.seq,
    )
