"""A forwarded call's caller and metadata are read once per call (``gateway.server.guards``): the
guard's verdict serves the servicer's later asks for that very call, and never another call's,
another task's or another guard's."""

from __future__ import annotations

import asyncio

import pytest

from gateway.config import load_standard
from gateway.errors import PermissionDenied
from gateway.peers import MD_NODE, MD_STANDARD
from gateway.server.guards import PeerGuard, metadata_of
from tests.support.federation import ROOT

STANDARD = load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")


class Context:
    """What the guard reads of a grpc.aio call context, counting the reads."""

    def __init__(self, node: str, claimed: str | None = None) -> None:
        self._node = node
        self._claimed = node if claimed is None else claimed
        self.reads = 0

    def invocation_metadata(self):
        self.reads += 1
        return ((MD_NODE, self._claimed), (MD_STANDARD, STANDARD.fingerprint), ("bin-bin", b"x"))

    def auth_context(self):
        self.reads += 1
        return {
            "transport_security_type": [b"ssl"],
            "x509_subject_alternative_name": [f"{self._node}.yrd".encode()],
        }


def guard() -> PeerGuard:
    return PeerGuard("sh", ("js", "sh", "zj", "ah"), STANDARD, insecure=False)


def test_the_guards_verdict_serves_the_rest_of_the_call() -> None:
    async def call(g: PeerGuard, context: Context) -> list[str]:
        await g("/yrd.v1.Federation/Invoke", context)  # the interceptor's check
        reads = context.reads
        seen = [g.caller(context), metadata_of(context)[MD_NODE]]  # the servicer's asks
        assert context.reads == reads  # nothing read again
        return seen

    async def main() -> None:
        g = guard()
        js, zj = Context("js"), Context("zj")
        # Two calls in flight at once, each in its own task: each sees its own caller.
        assert await asyncio.gather(call(g, js), call(g, zj)) == [["js", "js"], ["zj", "zj"]]

    asyncio.run(main())


def test_another_context_or_guard_is_verified_afresh() -> None:
    async def main() -> None:
        g, other = guard(), guard()
        first, second = Context("js"), Context("ah")
        assert g.caller(first) == "js"
        assert g.caller(second) == "ah"  # same task, another call's context: read afresh
        reads = second.reads
        assert other.caller(second) == "ah"
        assert second.reads > reads  # another guard checks for itself
        with pytest.raises(PermissionDenied):
            g.caller(Context("js", claimed="zj"))  # a mismatch is refused, never remembered

    asyncio.run(main())
