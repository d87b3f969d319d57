"""Channels to the other nodes of the federation: long-lived, one or a few per peer, each peer
with its circuit breaker and the result of the standard handshake.

A node talks to a peer only after both agree on the shared standard (``Hello``); every call
carries this node's id, the standard's fingerprint and the hop count in metadata.

A channel is one HTTP/2 connection, and a peer that runs several workers gets each connection
onto one of them (the kernel spreads connections, not calls). So a node may keep several
channels per peer (``connections``) and take them in turn, call by call: its calls then spread
over the peer's workers too.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import grpc
from grpc import aio
from opentelemetry.trace import Tracer

from gateway._pb.yrd.v1 import federation_pb2, federation_pb2_grpc
from gateway.config import FederationConfig, NodeAddress
from gateway.errors import FailedPrecondition
from gateway.peers.breaker import HALF_OPEN, Breaker, BreakerSettings
from gateway.standard import Standard
from gateway.status import failure_of
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.outbound import ObservedStub
from gateway.tls import NodeTLS, channel_options_for, presented_node
from gateway.wire.federation import describe_ref, same_standard, standard_ref

log = logging.getLogger(__name__)

_HOP_STEPS = frozenset({"Invoke"})
"""Federation methods a home node calls while serving an app's call, recorded as a step of
that call's span (``gateway.telemetry.outbound``): the forward of an interface call."""

MD_NODE = "yrd-node"
MD_STANDARD = "yrd-standard"
MD_HOPS = "yrd-hops"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: grpc's words when a peer's certificate does not name the node dialled (newer, older grpc).
NAME_CHECK_FAILED = ("Hostname Verification Check failed", "is not in peer certificate")
#: How long the node found behind a peer's address (or that it was the right one) is believed.
PRESENTED_RECHECK_S = 30.0

CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    # Reconnect quickly after a peer restarts; the breaker decides whether to try at all.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.enable_retries", 0),
]


class Peer:
    """One peer node: its channels, stubs, breaker and the result of the standard handshake."""

    def __init__(
        self,
        address: NodeAddress,
        channels: list[aio.Channel],
        self_id: str,
        standard: Standard,
        breaker: Breaker | None = None,
        *,
        metrics: Metrics | None = None,
        tracer: Tracer | None = None,
        ca_pem: bytes | None = None,
        feed_channel: aio.Channel | None = None,
    ) -> None:
        """``ca_pem``: the federation CA, to name the node behind a wrong address.
        ``feed_channel``: a connection of its own for following the peer's change feed, so a
        follower retrying a peer that is down never leaves the callers' channels backing off."""
        self.address = address
        self.id = address.id
        self.name = address.name
        self.channels = list(channels)
        self.feed_channel = feed_channel or self.channels[0]
        self.feed = ObservedStub(
            federation_pb2_grpc.FederationStub(self.feed_channel),
            federation_pb2.DESCRIPTOR.services_by_name["Federation"],
            address.id,
            metrics=metrics,
            tracer=tracer,
        )
        # Traced and counted calls (a stub wrapper: cheaper than channel interceptors); a
        # forwarded interface call is a step of the call it serves, not a span of its own.
        self._stubs: list[Any] = [
            ObservedStub(
                federation_pb2_grpc.FederationStub(channel),
                federation_pb2.DESCRIPTOR.services_by_name["Federation"],
                address.id,
                metrics=metrics,
                tracer=tracer,
                steps=_HOP_STEPS,
            )
            for channel in self.channels
        ]
        self._turn = itertools.cycle(self._stubs).__next__
        self._self_id = self_id
        self._standard = standard
        self._agreed_at: float | None = None
        self._lock = asyncio.Lock()
        self.breaker = breaker or Breaker()
        self._ca_pem = ca_pem
        self._presented: tuple[float, str | None] | None = None

    @property
    def federation(self) -> Any:
        """The Federation stub of the next channel in turn."""
        return self._turn()

    def observe(self, exc: BaseException | None, since: int | None = None) -> None:
        """Feed a call's outcome to the breaker: only transport failures count against it; a
        call cancelled by its caller says nothing about the peer. ``since``: the breaker's
        ``epoch`` when the call was let through: calls on a connection that was lost fail
        together and count once (``Breaker.failure``)."""
        if exc is None:
            self.breaker.success()
            return
        if isinstance(exc, asyncio.CancelledError):
            self.breaker.abandon()
            return
        if isinstance(exc, grpc.RpcError):
            failure = failure_of(exc)
            if failure.node:  # the peer itself answered (a refusal): it is alive
                self.breaker.success()
            elif failure.code == grpc.StatusCode.UNAVAILABLE:
                # A lost connection fails every call on it at once: one cause (``since``).
                self.forget_agreement()
                self.breaker.failure(since)
            elif failure.code == grpc.StatusCode.DEADLINE_EXCEEDED:
                # Each call that waited out its time is a verdict of its own on a hung peer.
                self.forget_agreement()
                self.breaker.failure()

    async def presented_instead(self, exc: grpc.RpcError, timeout: float) -> str | None:
        """When a connection failed grpc's certificate name check: the node whose certificate
        this peer's address presents instead (its address in federation.yaml points at the
        wrong node); else None. Asked at most once per ``PRESENTED_RECHECK_S``."""
        failure = failure_of(exc)
        if self._ca_pem is None or failure.node:
            return None
        if not any(words in failure.message for words in NAME_CHECK_FAILED):
            return None
        now = time.monotonic()
        if self._presented is not None and now - self._presented[0] < PRESENTED_RECHECK_S:
            return self._presented[1]
        found = None
        for replica in self.address.replicas or (self.address,):
            node = await asyncio.to_thread(
                presented_node, replica.peer, self._ca_pem, max(0.05, min(1.0, timeout))
            )
            if node is not None and node != self.id:
                found = node
                log.warning(
                    "peer %s: %s presents the certificate of node %s, not %s's: its peer "
                    "address in federation.yaml points at the wrong node",
                    self.id,
                    replica.peer,
                    node,
                    self.id,
                )
                break
        self._presented = (now, found)
        return found

    async def wait_ready(self, timeout: float, *, failing_for: float) -> bool:
        """Wait (at most ``timeout``) for every channel to reconnect: after a cut connection,
        or a peer that restarted while our channel backs off. A channel that keeps failing to
        connect (TRANSIENT_FAILURE) for ``failing_for`` is given up on sooner, so a peer that is
        down costs a read that much, not ``timeout``; one that is connecting gets the whole
        ``timeout``, which on a loaded box can be far more than a TLS handshake on an idle one."""
        if timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        results = await asyncio.gather(
            *(_reconnected(c, until, failing_for) for c in self.channels)
        )
        return all(results)

    async def feed_ready(self, timeout: float) -> bool:
        """Whether the feed's connection is (or gets) ready within ``timeout``."""
        until = asyncio.get_running_loop().time() + timeout
        return await _reconnected(self.feed_channel, until, timeout)

    async def probe(self, timeout: float = 1.0) -> bool:
        """One health probe while the breaker is open; closes it when the peer answers."""
        if not self.breaker.allow():
            return False
        try:
            self.forget_agreement()
            await self.ensure_agreed(timeout)
        except grpc.RpcError as exc:
            self.observe(exc)  # a transport failure reopens the breaker with a longer back-off
            if self.breaker.state == HALF_OPEN:  # any other failure: no verdict yet, probe again
                self.breaker.abandon()
            return False
        except Exception:  # noqa: BLE001 - a standard mismatch: alive, but not ours to use
            self.breaker.success()
            return True
        self.breaker.success()
        return True

    def metadata(
        self, hops: int = 1, extra: Mapping[str, str] | None = None
    ) -> tuple[tuple[str, str], ...]:
        md = [
            (MD_NODE, self._self_id),
            (MD_STANDARD, self._standard.fingerprint),
            (MD_HOPS, str(hops)),
        ]
        if extra:
            md.extend(extra.items())
        return tuple(md)

    async def ensure_agreed(self, timeout: float) -> None:
        """Exchange standards once per peer (again after a transport failure, when it may have
        restarted); refuse a peer on another version. Any connection will do: all of a peer's
        workers run one configuration."""
        if self._agreed_at is not None:
            return
        async with self._lock:
            if self._agreed_at is not None:
                return
            reply = await self.federation.Hello(
                federation_pb2.HelloRequest(
                    node=self._self_id, standard=standard_ref(self._standard)
                ),
                timeout=timeout,
                metadata=self.metadata(),
            )
            ours = standard_ref(self._standard)
            theirs = reply.standard
            if not same_standard(theirs, ours):
                raise FailedPrecondition(
                    f"peer {self.id} speaks standard {describe_ref(theirs)}, this node speaks "
                    f"{describe_ref(ours)}; refusing to federate",
                    reason="STANDARD_MISMATCH",
                    metadata={
                        "peer": self.id,
                        "peer_standard": describe_ref(theirs),
                        "local_standard": describe_ref(ours),
                    },
                )
            self._agreed_at = time.monotonic()

    def forget_agreement(self) -> None:
        """After a failure the peer may have restarted with another standard: ask again."""
        self._agreed_at = None


class Peers:
    """All peers of one node, created once at start-up and closed at shutdown."""

    def __init__(
        self,
        fed: FederationConfig,
        self_id: str,
        standard: Standard,
        tls: NodeTLS | None,
        *,
        metrics: Metrics | None = None,
        tracer: Tracer | None = None,
        breaker: BreakerSettings | None = None,
        connections: int = 1,
    ) -> None:
        """``connections``: channels (each its own connection) per peer, used in turn."""
        if connections < 1:
            raise ValueError("connections: at least 1")
        self._peers: dict[str, Peer] = {}
        self._probes: asyncio.Task | None = None
        # Each channel its own subchannel pool: otherwise channels with equal arguments share
        # one connection.
        options = CHANNEL_OPTIONS + (
            [("grpc.use_local_subchannel_pool", 1)] if connections > 1 else []
        )
        for address in fed.peers_of(self_id):
            channels = []
            for _ in range(connections):
                if tls is None:
                    balance = channel_options_for(address.id, address.peer)[1:]
                    channels.append(aio.insecure_channel(address.peer, options=options + balance))
                else:
                    channels.append(
                        aio.secure_channel(
                            address.peer,
                            tls.channel_credentials(),
                            options=options + channel_options_for(address.id, address.peer),
                        )
                    )
            own = [("grpc.use_local_subchannel_pool", 1)] if connections == 1 else []
            if tls is None:
                balance = channel_options_for(address.id, address.peer)[1:]
                feed = aio.insecure_channel(address.peer, options=options + own + balance)
            else:
                feed = aio.secure_channel(
                    address.peer,
                    tls.channel_credentials(),
                    options=options + own + channel_options_for(address.id, address.peer),
                )
            self._peers[address.id] = Peer(
                address,
                channels,
                self_id,
                standard,
                Breaker(breaker or BreakerSettings()),
                metrics=metrics,
                tracer=tracer,
                ca_pem=tls.ca_pem if tls is not None else None,
                feed_channel=feed,
            )

    def __iter__(self) -> Iterator[Peer]:
        return iter(self._peers.values())

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._peers

    def get(self, node_id: str) -> Peer:
        return self._peers[node_id]

    def start_probing(self, interval: float = 0.2) -> None:
        """Probe peers whose breaker is open, so they rejoin without waiting for traffic."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                due = [p for p in self._peers.values() if p.breaker.probe_due()]
                if due:
                    await asyncio.gather(*(p.probe() for p in due), return_exceptions=True)

        if self._probes is None:
            self._probes = asyncio.create_task(loop(), name="peer-probes")

    async def close(self) -> None:
        if self._probes is not None:
            self._probes.cancel()
            await asyncio.gather(self._probes, return_exceptions=True)
        await asyncio.gather(
            *(
                c.close(grace=None)
                for p in self._peers.values()
                for c in {*p.channels, p.feed_channel}
            )
        )


async def _reconnected(channel: aio.Channel, until: float, failing_for: float) -> bool:
    """Whether ``channel`` is READY before ``until``, following its states; False once it has
    been in TRANSIENT_FAILURE for ``failing_for`` without a successful connect."""
    loop = asyncio.get_running_loop()
    failing_since: float | None = None
    state = channel.get_state(try_to_connect=True)
    while state != grpc.ChannelConnectivity.READY:
        now = loop.time()
        if state == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            failing_since = now if failing_since is None else failing_since
            give_up = min(until, failing_since + failing_for)
        else:
            failing_since, give_up = None, until
        if now >= give_up:
            return False
        try:
            async with asyncio.timeout(give_up - now):
                await channel.wait_for_state_change(state)
        except TimeoutError:
            pass  # look again: the deadline or the failing time decides
        state = channel.get_state(try_to_connect=True)
    return True
