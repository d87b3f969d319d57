"""Witnessed audit heads seen from outside, for the fault tests' real node processes: heads
sent every half second, and what a node's Ops service says it holds."""

from __future__ import annotations

import yaml

from gateway._pb.yrd.v1 import ops_pb2, ops_pb2_grpc
from yrdtools.faults import Federation


def heads_every_half_second(fed: Federation) -> None:
    """Before start: each node signs and sends its head every 0.5 s or 5 entries."""
    for node in fed.node_ids:
        path = fed.nodes_dir / node / "node.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["audit"] = {"head_interval_s": 0.5, "head_every": 5}
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


async def witnessed(fed: Federation, witness: str, node: str) -> int:
    """The highest seq of ``node``'s heads that ``witness`` keeps."""
    ops = ops_pb2_grpc.OpsStub(fed.channel(witness))
    reply = await ops.AuditEvidence(
        ops_pb2.AuditEvidenceRequest(witnessed=True),
        metadata=fed.operator_metadata(witness),
        timeout=10,
    )
    return max((h.seq for h in reply.witnessed if h.node == node), default=0)


async def head(fed: Federation, node: str) -> int:
    """Where ``node``'s chain ends now."""
    ops = ops_pb2_grpc.OpsStub(fed.channel(node))
    reply = await ops.AuditEvidence(
        ops_pb2.AuditEvidenceRequest(), metadata=fed.operator_metadata(node), timeout=10
    )
    return reply.head_seq
