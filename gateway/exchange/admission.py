"""Whether this node takes a call forwarded by a peer: the owner's gate before any of its own
checks (grants, quota, masking) run.

A forwarded call is taken only when it was forwarded once (home node to owner, never further),
when the forwarding node acts for an app of its own namespace (``js`` may assert ``js/...`` apps
only), and when this node owns the interface. ``via`` is the peer's node id as its certificate
proves it; the servicer reads it and the hop count, and passes them in as plain values.
"""

from __future__ import annotations

from gateway.errors import FailedPrecondition, PermissionDenied
from gateway.exchange.provider import Caller
from gateway.ids import owner_of, province_of_app

MAX_HOPS = 1
"""A call is forwarded once, home node to owner node; anything more is a loop."""
HOPS_HEADER = "yrd-hops"
"""The metadata key the hop count comes in (``gateway.peers.MD_HOPS``), named in a refusal."""


class Admission:
    def __init__(self, node: str) -> None:
        self.node = node

    def forwarded(
        self, *, via: str, hops: str | None, app: str, interface_id: str | None, trace_id: str = ""
    ) -> Caller:
        """The caller of a forwarded call or application, or a refusal. ``hops`` is the raw
        hop count the peer sent (absent means one); ``interface_id`` None when the verb names
        no interface."""
        raw = hops if hops is not None else "1"
        if not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 3) or int(raw) < 1:
            # A forwarded call has been forwarded at least once: anything else is garbled. Not
            # INVALID_ARGUMENT, which names a field of the request: the peer's metadata is wrong,
            # as with a standard it does not name (STANDARD_MISMATCH).
            shown = raw if len(raw) <= 16 else raw[:16] + "..."
            raise FailedPrecondition(
                f"{HOPS_HEADER}: a hop count is a positive integer, not {shown!r}",
                reason="BAD_HOP_COUNT",
                metadata={"header": HOPS_HEADER},
            )
        count = int(raw)
        if count > MAX_HOPS:
            raise FailedPrecondition(
                f"call forwarded {count} times; the federation is misconfigured",
                reason="HOP_LIMIT_EXCEEDED",
            )
        self.acting_for(via=via, app=app, verb="act")
        if interface_id is not None and owner_of(interface_id) != self.node:
            raise FailedPrecondition(
                f"{self.node} does not own {interface_id[:80]}; calls are never forwarded twice",
                reason="NOT_OWNER",
            )
        return Caller(app=app, via=via, trace_id=trace_id)

    def listing(self, *, via: str, app: str) -> None:
        """A peer asking which interfaces ``app`` may call here (no app: just which exist)."""
        if app:
            self.acting_for(via=via, app=app, verb="ask")

    @staticmethod
    def acting_for(*, via: str, app: str, verb: str) -> None:
        if province_of_app(app) != via:
            if verb == "act":
                message = (
                    f"node {via} may not act for app {app[:80]!r}: apps outside "
                    f"{via}/ are not its to assert"
                )
            else:
                message = f"node {via} may not {verb} for app {app[:80]!r}"
            raise PermissionDenied(message, reason="NAMESPACE_VIOLATION")
