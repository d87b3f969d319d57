"""Checks that run before every call on the peer port: who is calling, and on which standard."""

from __future__ import annotations

import contextvars
from collections.abc import Collection, Mapping

from grpc import aio

from gateway.audit.integrity import ChainIntegrity
from gateway.errors import FailedPrecondition, PermissionDenied
from gateway.peers import MD_NODE, MD_STANDARD
from gateway.standard import Standard
from gateway.tls import peer_identity

CALLER_KEY = "yrd.caller"


_SEEN: contextvars.ContextVar[tuple[object, Mapping[str, str], object | None, str] | None] = (
    contextvars.ContextVar("yrd_peer_call_seen", default=None)
)
"""This call's context, its text metadata and (once verified) its caller: a forwarded call reads
them in the guard and again in its servicer, and each read is a dict built from grpc's
metadata (the caller also from the certificate's auth context). Kept in the call's own task
context, for the very context object it was read from (held here, so never another call's),
with the guard that verified the caller."""


def metadata_of(context: aio.ServicerContext) -> Mapping[str, str]:
    """The call's text metadata (read once per call, and shared by its readers: read-only)."""
    seen = _SEEN.get()
    if seen is not None and seen[0] is context:
        return seen[1]
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    _SEEN.set((context, metadata, None, ""))
    return metadata


class PeerGuard:
    """The caller must be a known node (by its certificate) and speak our standard.

    In insecure mode there is no certificate, so the ``yrd-node`` metadata is believed: that is
    what makes insecure mode unfit for anything but local experiments.
    """

    def __init__(
        self, self_id: str, known: Collection[str], standard: Standard, *, insecure: bool
    ) -> None:
        self._self = self_id
        self._known = frozenset(known)
        self._standard = standard
        self._insecure = insecure

    def caller(self, context: aio.ServicerContext) -> str:
        seen = _SEEN.get()
        if seen is not None and seen[0] is context and seen[2] is self:
            return seen[3]  # verified by this guard for this very call already
        md = metadata_of(context)
        claimed = md.get(MD_NODE, "")
        if self._insecure:
            identity = claimed
        else:
            identity = peer_identity(context) or ""
            if claimed and claimed != identity:
                raise PermissionDenied(
                    f"peer certificate is for {identity or 'nobody'} but the call claims "
                    f"{claimed[:16]}",
                    reason="PEER_IDENTITY_MISMATCH",
                )
        if identity not in self._known or identity == self._self:
            raise PermissionDenied(
                "caller is not a peer node of this federation", reason="UNKNOWN_PEER"
            )
        _SEEN.set((context, md, self, identity))
        return identity

    async def __call__(self, method: str, context: aio.ServicerContext) -> None:
        if method.startswith("/grpc.health.v1.Health/"):
            return  # probes need no identity beyond the mutual TLS handshake itself
        caller = self.caller(context)
        if method.endswith("/Hello"):
            return  # Hello answers even across versions, so the caller can name both
        theirs = metadata_of(context).get(MD_STANDARD, "")
        if theirs != self._standard.fingerprint:
            raise FailedPrecondition(
                f"peer {caller} speaks standard {theirs[:64] or 'unknown'}, this node speaks "
                f"{self._standard.fingerprint}; refusing to federate",
                reason="STANDARD_MISMATCH",
                metadata={
                    "peer_standard": theirs[:64],
                    "local_standard": self._standard.fingerprint,
                },
            )


#: The calls that release data, on either port: refused while this node's audit chain is broken.
DATA_METHODS = frozenset(
    {
        "/yrd.v1.Exchange/Invoke",
        "/yrd.v1.Exchange/InvokeStream",
        "/yrd.v1.Federation/Invoke",
        "/yrd.v1.Federation/InvokeStream",
    }
)


class ChainGuard:
    """Data calls wait for an intact (or acknowledged) audit chain (``ChainIntegrity``)."""

    def __init__(self, integrity: ChainIntegrity) -> None:
        self._integrity = integrity

    def __call__(self, method: str, context: aio.ServicerContext) -> None:
        if method in DATA_METHODS:
            self._integrity.refuse_if_broken()
