"""The federation's cross-check of its audit chains (``yrdgw audit verify --federation``), as
pure functions over what the nodes answered.

A chain alone cannot see its tail cut off and its head rewritten to match. Its peers can: each
keeps the heads the node signed (``witnessing``), and each consumer keeps the owner's entry
hash of every call it made (its receipt). So, for every node:

- every head a witness kept at seq *s* with hash *h*: the log must reach *s* (else
  ``truncated``) and its entry *s* must hash to *h* (else ``rewritten``); with the chain itself
  intact (checked as well), a matching entry *s* vouches for every entry before it;
- every receipt a consumer holds for it: its log must hold an entry with that hash (else
  ``missing_owner_entry``);
- a head whose signature the node's certificate does not verify is ``forged`` (checked when
  the certificates are at hand; the witness checked it when it took the head).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Finding", "Head", "NodeLog", "Receipt", "cross_check"]


@dataclass(frozen=True, slots=True)
class Head:
    node: str
    """Whose head."""
    witness: str
    seq: int
    hash: str
    time: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    consumer: str
    seq: int
    """The consumer's own entry."""
    owner: str
    owner_hash: str


@dataclass(frozen=True, slots=True)
class NodeLog:
    """What a node's log answered about itself."""

    node: str
    head_seq: int
    at: Mapping[int, str] = field(default_factory=dict)
    """Its hash at each witnessed seq it holds."""
    holding: frozenset[str] = frozenset()
    """The receipts' hashes its chain holds."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    """``truncated``, ``rewritten``, ``missing_owner_entry``, ``forged``, ``chain_broken``
    or ``unreachable``."""
    node: str
    """The node whose log is at fault."""
    seq: int
    """Where: the witnessed seq, the consumer's receipt entry, or the first bad entry."""
    witness: str
    """Who holds the evidence: the witness, or the consumer holding the receipt."""
    detail: str

    def line(self) -> str:
        return (
            f"{self.node}: {self.kind.upper()} at entry {self.seq} (witness {self.witness}): "
            + (self.detail)
        )


def cross_check(
    logs: Mapping[str, NodeLog],
    heads: Iterable[Head],
    receipts: Iterable[Receipt],
    forged: Iterable[Head] = (),
) -> list[Finding]:
    """Every disagreement between the logs and what their peers hold, in a stable order."""
    findings: list[Finding] = []
    for head in forged:
        findings.append(
            Finding(
                "forged",
                head.node,
                head.seq,
                head.witness,
                f"the head {head.witness} keeps is not signed by {head.node}'s key",
            )
        )
    for head in heads:
        log = logs.get(head.node)
        if log is None:
            continue  # unreachable: reported by the caller
        if log.head_seq < head.seq:
            findings.append(
                Finding(
                    "truncated",
                    head.node,
                    head.seq,
                    head.witness,
                    f"{head.witness} witnessed head {head.seq} (hash {head.hash[:16]}, signed "
                    f"{head.time}) but the log ends at {log.head_seq}",
                )
            )
        elif log.at.get(head.seq) != head.hash:
            findings.append(
                Finding(
                    "rewritten",
                    head.node,
                    head.seq,
                    head.witness,
                    f"entry {head.seq} hashes to {(log.at.get(head.seq) or 'nothing')[:16]}, "
                    f"{head.witness} witnessed {head.hash[:16]} (signed {head.time})",
                )
            )
    for receipt in receipts:
        log = logs.get(receipt.owner)
        if log is None or receipt.owner_hash in log.holding:
            continue
        findings.append(
            Finding(
                "missing_owner_entry",
                receipt.owner,
                receipt.seq,
                receipt.consumer,
                f"{receipt.consumer}'s entry {receipt.seq} holds {receipt.owner}'s entry hash "
                f"{receipt.owner_hash[:16]}, which {receipt.owner}'s log does not have",
            )
        )
    findings.sort(key=lambda f: (f.node, f.seq, f.kind, f.witness))
    return _distinct(findings)


def _distinct(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, int, str]] = set()
    kept = []
    for f in findings:
        key = (f.kind, f.node, f.seq, f.witness)
        if key not in seen:
            seen.add(key)
            kept.append(f)
    return kept
