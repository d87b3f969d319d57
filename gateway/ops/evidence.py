"""What this node gives ``yrdgw audit verify --federation`` (the heads it witnessed from its
peers, its own hashes at asked sequences, which asked hashes its chain holds, its consumer-side
receipts), and the operator's acknowledgement of a broken chain. Both are operator acts and are
audited first, as every operator read is (``reads``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gateway.audit.chain import AuditEntry
from gateway.audit.integrity import ChainIntegrity, ChainState
from gateway.audit.log import AuditLog
from gateway.audit.witnessed import WitnessBook, WitnessedHead, parse_cursor
from gateway.errors import InvalidArgument
from gateway.ops.reads import OperatorReads

__all__ = [
    "HEADS_PAGE",
    "MAX_ASKED",
    "RECEIPTS_PAGE",
    "AuditEvidence",
    "Evidence",
    "EvidenceRequest",
]

#: Sequences or hashes one request may ask about; the CLI asks in pages of this size.
MAX_ASKED = 5000
#: Receipts answered per request.
RECEIPTS_PAGE = 5000
#: Witnessed heads answered per request (about 200 bytes each on the wire).
HEADS_PAGE = 2000


@dataclass(frozen=True, slots=True)
class EvidenceRequest:
    seqs: tuple[int, ...] = ()
    hashes: tuple[str, ...] = ()
    witnessed: bool = False
    witnessed_after: str = ""
    receipts: bool = False
    receipts_after: int = 0


@dataclass(frozen=True, slots=True)
class Evidence:
    node: str
    head_seq: int
    head_hash: str
    state: ChainState
    witnessed: list[WitnessedHead] = field(default_factory=list)
    at: dict[int, str] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)
    receipts: list[tuple[int, str, str]] = field(default_factory=list)
    receipts_next: int = 0
    witnessed_next: str = ""


class AuditEvidence:
    def __init__(
        self,
        reads: OperatorReads,
        audit: AuditLog,
        book: WitnessBook,
        integrity: ChainIntegrity,
    ) -> None:
        self.node = reads.node
        self._reads = reads
        self._audit = audit
        self._book = book
        self._integrity = integrity

    async def gather(self, actor: str, asked: EvidenceRequest) -> Evidence:
        if len(asked.seqs) > MAX_ASKED or len(asked.hashes) > MAX_ASKED:
            raise InvalidArgument(
                "seqs", f"at most {MAX_ASKED} sequences and hashes", reason="TOO_MANY_ASKED"
            )
        if asked.witnessed_after:
            try:
                parse_cursor(asked.witnessed_after)
            except ValueError:
                raise InvalidArgument(
                    "witnessed_after", "a witnessed_next of an earlier answer", reason="BAD_CURSOR"
                ) from None
        await self._reads.record(
            actor,
            "audit_evidence",
            seqs=len(asked.seqs),
            hashes=len(asked.hashes),
            witnessed=asked.witnessed,
            receipts_after=asked.receipts_after if asked.receipts else None,
        )
        return await asyncio.to_thread(self._gather, asked)

    def _gather(self, asked: EvidenceRequest) -> Evidence:
        last = self._audit.last()
        receipts: list[tuple[int, str, str]] = []
        following = 0
        heads: list[WitnessedHead] = []
        heads_next = ""
        if asked.witnessed:
            heads, heads_next = self._book.heads(after=asked.witnessed_after, limit=HEADS_PAGE)
        if asked.receipts:
            receipts = self._audit.receipts(asked.receipts_after, RECEIPTS_PAGE + 1)
            if len(receipts) > RECEIPTS_PAGE:
                receipts = receipts[:RECEIPTS_PAGE]
                following = receipts[-1][0]
        return Evidence(
            node=self.node,
            head_seq=last.seq if last else 0,
            head_hash=last.hash if last else "",
            state=self._integrity.current,
            witnessed=heads,
            at=self._audit.hashes_at(asked.seqs) if asked.seqs else {},
            present=self._audit.holding(asked.hashes) if asked.hashes else set(),
            receipts=receipts,
            receipts_next=following,
            witnessed_next=heads_next,
        )

    async def acknowledge(self, actor: str, note: str) -> tuple[ChainState, AuditEntry]:
        """Accept this node's chain as it is (itself the audit entry that says so)."""
        if not note.strip():
            raise InvalidArgument("note", "why the break is accepted", reason="NOTE_REQUIRED")
        return await self._integrity.acknowledge(actor, note)
