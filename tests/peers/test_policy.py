"""The one peer-call policy: breaker first, the budget, one retry after a reconnect for reads
only, and failures as GatewayErrors (a bug of ours is not a peer failure and propagates)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from gateway.errors import DeadlineExceeded, FailedPrecondition, Unavailable
from gateway.peers import policy
from gateway.peers.breaker import CLOSED, OPEN, Breaker, BreakerSettings
from gateway.peers.channels import Peer
from gateway.peers.translate import OWNER, READ
from tests.support.rpc import FakeRpcError

UNAVAILABLE = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused")


class FakePeer(Peer):
    """A Peer whose calls answer from a script; breaker and outcome accounting are the real ones."""

    def __init__(self, *, reconnects: bool = True, refuses_handshake: bool = False) -> None:
        self.id = self.name = "sh"
        self.breaker = Breaker(BreakerSettings(failure_threshold=1))
        self._agreed_at = None
        self._ca_pem = None  # no TLS: no probe of who answers at a wrong address
        self._self_id, self._standard = "js", type("Standard", (), {"fingerprint": "std"})()
        self.reconnects = reconnects
        self.refuses_handshake = refuses_handshake
        self.waited = 0

    async def ensure_agreed(self, timeout: float) -> None:
        if self.refuses_handshake:
            raise FailedPrecondition("other standard", reason="STANDARD_MISMATCH")

    async def wait_ready(self, timeout: float, *, failing_for: float) -> bool:
        self.waited += 1
        return self.reconnects

    @property
    def federation(self):
        return self.stub


class Stub:
    """A Federation stub whose ``Ask`` answers each call with the next outcome (raised when an
    exception) and whose ``Stream`` yields a batch, then fails."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple] = []

    async def Ask(self, request, *, timeout, metadata):  # noqa: N802 - a gRPC method name
        self.calls.append((request, timeout, metadata))
        outcome = self.outcomes[len(self.calls) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def Stream(self, request, *, timeout, metadata):  # noqa: N802
        yield "batch 1"
        raise UNAVAILABLE


def script(peer: FakePeer, *outcomes):
    peer.stub = Stub(*outcomes)
    return "Ask", peer.stub.calls


@pytest.mark.asyncio
async def test_a_read_is_asked_once_more_after_the_channel_reconnects() -> None:
    peer = FakePeer()
    method, calls = script(peer, UNAVAILABLE, "reply")
    assert await policy.call(peer, method, "request", timeout=1.0, idempotent=True) == "reply"
    assert len(calls) == 2 and peer.waited == 1 and peer.breaker.state == CLOSED


@pytest.mark.asyncio
async def test_a_read_is_not_asked_again_when_the_channel_does_not_reconnect() -> None:
    peer = FakePeer(reconnects=False)
    method, calls = script(peer, UNAVAILABLE, "reply")
    with pytest.raises(Unavailable) as failed:
        await policy.call(peer, method, "request", timeout=1.0, idempotent=True)
    assert failed.value.reason == "UNAVAILABLE" and len(calls) == 1
    assert peer.breaker.state == OPEN


@pytest.mark.asyncio
async def test_an_interface_call_is_never_retried() -> None:
    peer = FakePeer()
    method, calls = script(peer, UNAVAILABLE, "reply")
    with pytest.raises(Unavailable) as failed:
        await policy.call(peer, method, "request", timeout=1.0, idempotent=False, role=OWNER)
    assert failed.value.reason == "OWNER_UNAVAILABLE" and len(calls) == 1 and peer.waited == 0


@pytest.mark.asyncio
async def test_an_open_breaker_skips_the_peer_without_a_call() -> None:
    peer = FakePeer()
    peer.breaker.failure()
    method, calls = script(peer, "reply")
    with pytest.raises(Unavailable) as failed:
        await policy.call(peer, method, "request", timeout=1.0, idempotent=True)
    assert failed.value.reason == "CIRCUIT_OPEN" and failed.value.metadata["breaker"] == "open"
    assert calls == []
    with pytest.raises(Unavailable) as owner:
        await policy.call(peer, method, "request", timeout=1.0, idempotent=False, role=OWNER)
    assert owner.value.reason == "OWNER_UNAVAILABLE" and "circuit open" in owner.value.message


class Cut:
    """A Federation stub whose calls wait together until the connection is cut, then fail."""

    def __init__(self) -> None:
        self.cut = asyncio.Event()
        self.calls = 0

    async def Ask(self, request, *, timeout, metadata):  # noqa: N802 - a gRPC method name
        self.calls += 1
        await self.cut.wait()
        raise UNAVAILABLE


@pytest.mark.asyncio
async def test_calls_failed_by_one_cut_count_once_against_the_breaker() -> None:
    # Five interface calls in flight on one connection fail together when it is cut (a killed
    # replica of the peer): the peer may answer the next call, so that is one failure, not five.
    peer = FakePeer()
    peer.breaker = Breaker(BreakerSettings(failure_threshold=2))
    peer.stub = stub = Cut()

    def call():
        return policy.call(peer, "Ask", "request", timeout=5.0, idempotent=False, role=OWNER)

    calls = [asyncio.ensure_future(call()) for _ in range(5)]
    for _ in range(100):  # each call reaches the stub within a few turns of the loop
        if stub.calls == 5:
            break
        await asyncio.sleep(0)
    assert stub.calls == 5
    stub.cut.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(o, Unavailable) for o in outcomes)
    assert peer.breaker.state == CLOSED
    with pytest.raises(Unavailable):  # made after the cut, failing too: a second failure
        await call()
    assert peer.breaker.state == OPEN


@pytest.mark.asyncio
async def test_no_budget_no_call() -> None:
    peer = FakePeer()
    method, calls = script(peer, "reply")
    with pytest.raises(DeadlineExceeded) as failed:
        await policy.call(peer, method, "request", timeout=0.0, idempotent=False, role=OWNER)
    assert failed.value.reason == "OWNER_TIMEOUT" and calls == []
    assert peer.breaker.state == CLOSED


@pytest.mark.asyncio
async def test_the_call_gets_the_budget_left_and_the_hop_count() -> None:
    peer = FakePeer()
    method, calls = script(peer, "reply")
    await policy.call(peer, method, "request", timeout=0.5, idempotent=False, hops=1)
    ((request, left, md),) = calls
    assert request == "request" and 0 < left <= 0.5 and ("yrd-hops", "1") in md


@pytest.mark.asyncio
async def test_a_refused_handshake_is_a_refusal_and_the_peer_counts_as_alive() -> None:
    peer = FakePeer(refuses_handshake=True)
    method, calls = script(peer, "reply")
    with pytest.raises(FailedPrecondition):
        await policy.call(peer, method, "request", timeout=1.0, idempotent=True)
    assert calls == [] and peer.breaker.state == CLOSED


@pytest.mark.asyncio
async def test_a_bug_of_ours_is_not_a_peer_failure() -> None:
    peer = FakePeer()
    method, _ = script(peer, KeyError("bug"))
    with pytest.raises(KeyError):
        await policy.call(peer, method, "request", timeout=1.0, idempotent=True)


@pytest.mark.asyncio
async def test_a_stream_fails_as_a_gateway_error_naming_the_owner() -> None:
    peer = FakePeer()
    script(peer)
    got = []
    with pytest.raises(Unavailable) as failed:
        async for item in policy.stream(peer, "Stream", "request", timeout=1.0, role=OWNER):
            got.append(item)
    assert got == ["batch 1"] and failed.value.reason == "OWNER_UNAVAILABLE"
    assert peer.breaker.state == OPEN  # a caller's stream cut off counts against the peer


@pytest.mark.asyncio
async def test_a_background_stream_neither_consults_nor_feeds_the_breaker() -> None:
    """The catalog change feed: a cut feed is not a caller's failed call, and the follower backs
    off by itself, whatever callers found (its failure opened the breaker in a fault run, and
    with it, searches skipped a peer that answered them)."""
    peer = FakePeer()
    script(peer)

    async def follow() -> list:
        got = []
        with pytest.raises(Unavailable):
            async for item in policy.stream(
                peer, "Stream", "request", timeout=1.0, role=READ, background=True
            ):
                got.append(item)
        return got

    assert await follow() == ["batch 1"]
    assert peer.breaker.state == CLOSED  # the threshold is one failure
    peer.breaker.failure()
    assert await follow() == ["batch 1"]  # asked although callers skip the peer
    assert peer.breaker.state == OPEN and peer.breaker.retry_in() > 0  # not taken as a probe
