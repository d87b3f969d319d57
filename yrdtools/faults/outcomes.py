"""What the fault harness's clients get back, and the records the checks after a run compare.

``Outcome`` is one RPC's answer (OK with a reply, or a status naming who refused) so that load
under faults can be logged instead of raising; ``Released`` is a call that returned data, which
both sides must have audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from gateway._pb.yrd.v1 import catalog_pb2
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET

__all__ = ["App", "Outcome", "Released", "released", "states"]


@dataclass(frozen=True)
class Outcome:
    """What a client got from one RPC: OK with a reply, or a status naming who refused."""

    code: grpc.StatusCode
    elapsed: float
    """Seconds from sending to the answer."""
    reply: Any = None
    reason: str = ""
    node: str = ""
    """The node named in ErrorInfo (the refusing node, or the unreachable owner)."""
    message: str = ""
    trace_id: str = ""

    @property
    def ok(self) -> bool:
        return self.code == grpc.StatusCode.OK

    @property
    def status(self) -> str:
        return self.code.name

    def __str__(self) -> str:
        if self.ok:
            return f"OK in {self.elapsed * 1000:.0f} ms"
        return (
            f"{self.status} {self.reason} node={self.node or '-'} in "
            f"{self.elapsed * 1000:.0f} ms: {self.message}"
        )


@dataclass(frozen=True)
class App:
    id: str
    secret: str
    grant_ids: tuple[str, ...] = ()
    application_ids: tuple[str, ...] = ()

    @property
    def home(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((MD_APP_ID, self.id), (MD_APP_SECRET, self.secret))


@dataclass(frozen=True)
class Released:
    """A call that returned data to its app: both sides must hold audit entries for it."""

    home: str
    owner: str
    trace_id: str
    provider_hash: str


def states(reply: catalog_pb2.SearchResponse) -> dict[str, tuple[str, str]]:
    """province -> (state without prefix, e.g. ``ANSWERED``, and reason) of a search reply."""
    return {
        p.province: (
            catalog_pb2.ProvinceState.Name(p.state).removeprefix("PROVINCE_STATE_"),
            p.reason,
        )
        for p in reply.provinces
    }


def released(outcome: Outcome, home: str, owner: str) -> Released | None:
    """The ``Released`` record of a call that returned data, else None."""
    if not outcome.ok:
        return None
    reply = outcome.reply
    return Released(home, owner, reply.trace_id, reply.provider_audit_hash)
