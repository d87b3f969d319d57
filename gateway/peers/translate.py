"""The one translation of a failed peer call (``grpc.RpcError``) into the gateway's error tree.

A peer that answered with a status of its own (``ErrorInfo`` naming a node) is relayed as it
is: same status, reason and refusing node. Anything else is a transport failure of ours to name:
timed out, unreachable, or failed with the status grpc gave. ``Role`` words it for the caller: an
interface call names the *owner node* (``OWNER_TIMEOUT`` / ``OWNER_UNAVAILABLE``), a read names
the province and keeps the status's own name as the reason. grpc's own text (addresses,
internals) never reaches a caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from gateway.certs import tls_name
from gateway.errors import DeadlineExceeded, GatewayError, Unavailable
from gateway.status import RpcFailure, failure_of


@dataclass(frozen=True, slots=True)
class Role:
    """How failures of one kind of peer call name the peer and which reasons they carry."""

    who: str
    """The peer in a message; ``{peer}`` is replaced by its id."""
    timeout_reason: str
    unavailable_reason: str | None
    """None: the status code's name (``UNAVAILABLE``, ``INTERNAL`` ...)."""
    circuit_reason: str
    owner: bool

    def name(self, peer: str) -> str:
        return self.who.format(peer=peer)


OWNER = Role(
    "owner node {peer}",
    timeout_reason="OWNER_TIMEOUT",
    unavailable_reason="OWNER_UNAVAILABLE",
    circuit_reason="OWNER_UNAVAILABLE",
    owner=True,
)
"""Calls that the owner of an interface serves: interface calls, applications."""
READ = Role(
    "{peer}",
    timeout_reason="DEADLINE_EXCEEDED",
    unavailable_reason=None,
    circuit_reason="CIRCUIT_OPEN",
    owner=False,
)
"""Reads the federation asks of every peer: search, lookup, spans, interface listings."""


def translate(
    exc: grpc.RpcError,
    peer: str,
    *,
    role: Role = READ,
    timeout: float = 0.0,
    presented: str | None = None,
) -> GatewayError:
    """``exc`` as a ``GatewayError``; never anything else, whatever the status. ``presented``:
    the node whose certificate the peer's address presented instead (``Peer.presented_instead``)."""
    return translate_failure(failure_of(exc), peer, role=role, timeout=timeout, presented=presented)


def translate_failure(
    failure: RpcFailure,
    peer: str,
    *,
    role: Role = READ,
    timeout: float = 0.0,
    presented: str | None = None,
) -> GatewayError:
    if failure.node:  # the peer answered with a status of its own: relay it unchanged
        message = failure.message.removeprefix(f"[{failure.node}] ")
        extra = {k: v for k, v in failure.metadata.items() if k not in ("node", "field")}
        return GatewayError.relayed(
            failure.code,
            message,
            reason=failure.reason,
            node=failure.node,
            field=failure.metadata.get("field"),
            metadata=extra,
        )
    who = role.name(peer)
    if failure.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return timed_out(peer, role=role, timeout=timeout)
    metadata = {"transport": failure.code.name}
    if presented:
        expected, shown = tls_name(peer), tls_name(presented)
        what = (
            f"is unreachable: its address presents the certificate of node {presented} "
            f"({shown}), not {expected}; the peer address in federation.yaml points at the "
            "wrong node"
        )
        metadata.update(expected_identity=expected, presented_identity=shown)
    elif failure.code == grpc.StatusCode.UNAVAILABLE or role.owner:
        what = "is unreachable"
    else:
        what = f"failed ({failure.code.name})"
    return Unavailable(
        f"{who} {what}",
        reason=role.unavailable_reason or failure.code.name,
        node=peer,
        metadata=metadata,
    )


def timed_out(peer: str, *, role: Role = READ, timeout: float = 0.0) -> DeadlineExceeded:
    """The peer did not answer within the time this node gave it."""
    if role.owner or not timeout:
        message = f"{role.name(peer)} did not answer in time"
    else:
        message = f"{role.name(peer)} did not answer within {timeout * 1000:.0f} ms"
    return DeadlineExceeded(message, reason=role.timeout_reason, node=peer)


def out_of_time(peer: str, *, role: Role = READ) -> DeadlineExceeded:
    """No time was left to ask the peer at all."""
    verb = "reach" if role.owner else "ask"
    return DeadlineExceeded(
        f"no time left to {verb} {role.name(peer)}", reason=role.timeout_reason, node=peer
    )


def circuit_open(peer: str, retry_in: float, *, role: Role = READ) -> Unavailable:
    """The peer's breaker is open: it was not called."""
    if role.owner:
        message = (
            f"{role.name(peer)} is failing; not called (circuit open, "
            f"next probe in {retry_in:.1f} s)"
        )
    else:
        message = f"{role.name(peer)} is failing; circuit open, next probe in {retry_in:.1f} s"
    return Unavailable(message, reason=role.circuit_reason, node=peer, metadata={"breaker": "open"})
