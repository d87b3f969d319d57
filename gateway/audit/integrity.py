"""Whether this node may release data: its own audit chain verified at start and as it grows.

X-Road stops its message log the same way: a node whose chain fails verification refuses data
calls (``FAILED_PRECONDITION``, reason ``AUDIT_CHAIN_BROKEN``, naming the node), says so in its
log and health, and stays so until an operator acknowledges the break
(``yrdgw audit acknowledge``), an act that is itself an audit entry. An acknowledged break is
found again at the next start (the entry names the break), so it is not asked for twice.

Start-up stays fast on a big log: a checkpoint file (``audit.checkpoint``: the last verified
seq and hash) lets each check walk only the entries written since, and the check that runs
after every signed head moves it on. The first entries are walked in full only by
``yrdgw audit verify``. A checkpoint whose entry is gone or differs is itself a break.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.chain import AuditEntry, AuditRecord
from gateway.audit.log import AuditLog
from gateway.errors import FailedPrecondition

__all__ = ["ACK_ACTION", "CHECKPOINT_FILE", "ChainIntegrity", "ChainState"]

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "audit.checkpoint"
ACK_ACTION = "acknowledge_chain_break"


@dataclass(frozen=True, slots=True)
class ChainState:
    state: str
    """``ok``, ``broken`` (data calls refused) or ``acknowledged`` (an operator accepted it)."""
    first_bad_seq: int = 0
    problem: str = ""


class ChainIntegrity:
    """The verdict on ``audit``'s chain; ``checkpoint``: where the verified position is kept."""

    def __init__(
        self,
        audit: AuditLog,
        checkpoint: Path,
        *,
        on_change: Callable[[ChainState], None] | None = None,
    ) -> None:
        self._audit = audit
        self._path = Path(checkpoint)
        self._on_change = on_change
        self._lock = threading.Lock()  # one walk at a time
        self.current = ChainState("ok")
        self.verified: tuple[int, str] | None = None
        """The last (seq, hash) verified: the head this node may vouch for."""

    @property
    def node(self) -> str:
        return self._audit.node

    def check(self) -> ChainState:
        """Verify from the checkpoint (blocking: run it in a thread) and move it on."""
        with self._lock:
            since = self._load()
            report = self._audit.verify(since=since)
            if report.ok:
                seq = (since[0] if since else 0) + report.checked
                if seq:
                    digest = self._audit.hashes_at([seq]).get(seq)
                    if digest is not None:
                        self._save(seq, digest)
                        self.verified = (seq, digest)
                if self.current.state == "broken" and self._acknowledged(self.current):
                    # Another worker (or replica) took the operator's acknowledgement and moved
                    # the checkpoint past the break.
                    return self._set(ChainState("acknowledged", *self._break(self.current)))
                return self.current
            found = ChainState("broken", report.first_bad_seq or 0, report.problem or "")
            if self._acknowledged(found):
                found = ChainState("acknowledged", found.first_bad_seq, found.problem)
            return self._set(found)

    def refuse_if_broken(self) -> None:
        state = self.current
        if state.state == "broken":
            raise FailedPrecondition(
                f"node {self.node} refuses data calls: its audit chain failed verification at "
                f"entry {state.first_bad_seq} ({state.problem}); an operator must acknowledge "
                f"it (yrdgw audit acknowledge --node {self.node})",
                reason="AUDIT_CHAIN_BROKEN",
                metadata={"first_bad_seq": str(state.first_bad_seq)},
            )

    async def acknowledge(self, actor: str, note: str) -> tuple[ChainState, AuditEntry]:
        """Accept the chain as it is now (an audit entry saying so), and serve again."""
        state = self.current
        if state.state != "broken":
            raise FailedPrecondition(
                f"node {self.node}'s audit chain is {state.state}: nothing to acknowledge",
                reason="AUDIT_CHAIN_NOT_BROKEN",
            )
        entry = await self._audit.append_async(
            AuditRecord(
                node=self.node,
                side="operator",
                action=ACK_ACTION,
                decision="allow",
                actor=actor,
                status="OK",
                extra={
                    "state": state.state,
                    "first_bad_seq": state.first_bad_seq,
                    "problem": state.problem[:200],
                    "note": note[:200],
                },
            )
        )
        with self._lock:
            # From here on the chain is checked from this entry: what came before is accepted.
            self._save(entry.seq, entry.hash)
            self.verified = (entry.seq, entry.hash)
            if state.state == "broken":
                self._set(ChainState("acknowledged", state.first_bad_seq, state.problem))
        return self.current, entry

    # -- internals ------------------------------------------------------------------------------

    def _acknowledged(self, state: ChainState) -> bool:
        """Whether an operator's acknowledgement in the log names this very break."""
        for entry in self._audit.query(side="operator", action=ACK_ACTION, limit=100):
            extra = entry.record.extra
            if (extra.get("first_bad_seq"), extra.get("problem")) == self._break(state):
                return True
        return False

    @staticmethod
    def _break(state: ChainState) -> tuple[int, str]:
        return state.first_bad_seq, state.problem[:200]

    def _set(self, state: ChainState) -> ChainState:
        changed, self.current = state != self.current, state
        if changed:
            if state.state == "broken":
                log.error(
                    "AUDIT_CHAIN_BROKEN: node %s's audit chain failed verification at entry %s "
                    "(%s); data calls are refused until an operator runs "
                    "`yrdgw audit acknowledge --node %s`",
                    self.node,
                    state.first_bad_seq,
                    state.problem,
                    self.node,
                )
            elif state.state == "acknowledged":
                log.warning(
                    "node %s serves on an acknowledged audit chain break at entry %s (%s)",
                    self.node,
                    state.first_bad_seq,
                    state.problem,
                )
            if self._on_change is not None:
                self._on_change(state)
        return state

    def _load(self) -> tuple[int, str] | None:
        try:
            doc = json.loads(self._path.read_text(encoding="utf-8"))
            seq, digest = doc["seq"], doc["hash"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("audit checkpoint %s unreadable: verifying from the start", self._path)
            return None
        if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(digest, str):
            return None
        return (seq, digest) if seq > 0 else None

    def _save(self, seq: int, digest: str) -> None:
        tmp = self._path.with_suffix(f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps({"seq": seq, "hash": digest}), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError:
            log.warning("audit checkpoint %s not written", self._path, exc_info=True)
