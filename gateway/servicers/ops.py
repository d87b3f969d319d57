"""Ops service (client port, operator credential): traces and the audit trail."""

from __future__ import annotations

from gateway._pb.yrd.v1 import ops_pb2_grpc
from gateway.errors import FailedPrecondition
from gateway.ops.evidence import AuditEvidence
from gateway.ops.reads import OperatorReads
from gateway.server.identity import Identities
from gateway.wire.ops import (
    acknowledge_reply,
    audit_check_reply,
    audit_filter_from_pb,
    audit_reply,
    evidence_reply,
    evidence_request_from_pb,
    summaries_reply,
    trace_filter_from_pb,
    trace_to_pb,
)


class OpsServicer(ops_pb2_grpc.OpsServicer):
    def __init__(
        self,
        reads: OperatorReads,
        identities: Identities,
        evidence: AuditEvidence | None = None,
    ) -> None:
        self._reads = reads
        self._identities = identities
        self._evidence = evidence

    def _audit_evidence(self) -> AuditEvidence:
        if self._evidence is None:
            raise FailedPrecondition("this node keeps no audit evidence", reason="NO_EVIDENCE")
        return self._evidence

    async def GetTrace(self, request, context):
        actor = await self._identities.operator(context)
        trace_id, gathered = await self._reads.trace(
            request.trace_id, context.time_remaining(), actor
        )
        return trace_to_pb(trace_id, gathered)

    async def ListTraces(self, request, context):
        actor = await self._identities.operator(context)
        return summaries_reply(
            await self._reads.recent_traces(trace_filter_from_pb(request), actor)
        )

    async def VerifyAudit(self, request, context):
        actor = await self._identities.operator(context)
        return audit_check_reply(await self._reads.verify_audit(actor))

    async def QueryAudit(self, request, context):
        actor = await self._identities.operator(context)
        entries, next_before = await self._reads.audit_entries(audit_filter_from_pb(request), actor)
        return audit_reply(self._reads.node, entries, next_before)

    async def AuditEvidence(self, request, context):
        actor = await self._identities.operator(context)
        evidence = self._audit_evidence()
        gathered = await evidence.gather(actor, evidence_request_from_pb(request))
        return evidence_reply(gathered, self._reads.node)

    async def AcknowledgeAudit(self, request, context):
        actor = await self._identities.operator(context)
        state, entry = await self._audit_evidence().acknowledge(actor, request.note)
        return acknowledge_reply(self._reads.node, state, entry)
