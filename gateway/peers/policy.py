"""The one policy every call to a peer follows.

1. The breaker first: a peer whose breaker is open is not called (``circuit_open``).
2. The caller's remaining budget (``gateway.deadlines``), handed in as ``timeout``, bounds the
   handshake and the call together; nothing starts with no time left.
3. The standard handshake (``Peer.ensure_agreed``) once per peer, again after a transport failure.
4. Failures become ``GatewayError``s in one place (``translate``); only transport failures count
   against the breaker, a peer's own refusal proves it alive, and a call its caller cancelled
   says nothing about the peer.
5. Idempotent reads (search, lookup, span gathering, interface and application listings) are
   asked once more after the channel reconnects, within the budget: a restarted peer leaves our
   channel backing off. Interface calls and sharing writes never are: they consume quota or
   file state, and a lost reply does not mean nothing happened.
6. Background traffic judges no peer: its outcome neither trips nor closes the breaker, so a
   node's own housekeeping never turns callers away from a peer. Witnessed audit heads
   (``background``) are sent only while the breaker is closed. The catalog change feed
   (``stream(..., background=True)``) runs on its own connection whatever the breaker says: its
   follower backs off by itself, and a cut feed must not count as a caller's failed call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from gateway.errors import Fault, GatewayError
from gateway.peers.breaker import CLOSED
from gateway.peers.channels import Peer
from gateway.peers.translate import READ, Role, circuit_open, out_of_time, translate
from gateway.status import failure_of

RECONNECT_WAIT_S = 0.3
"""Longest a channel that keeps failing to connect is waited for before the one retry of a read
is given up (a peer that is down). A channel that is connecting is waited for up to half the
remaining budget instead: under ``stress-ng --cpu 2`` a cut connection's reconnect (back-off
plus a TLS handshake) took longer than 0.3 s often enough that 4-6% of reads through a link cut
twice a second missed their retry."""


def admit(peer: Peer, role: Role) -> None:
    """Raise ``Unavailable`` (breaker open) when the peer is to be skipped."""
    if not peer.breaker.allow():
        raise circuit_open(peer.id, peer.breaker.retry_in(), role=role)


async def call(
    peer: Peer,
    method: str,
    request: Any,
    *,
    timeout: float,
    idempotent: bool,
    role: Role = READ,
    hops: int = 1,
) -> Any:
    """One unary call of the peer's ``Federation`` service under the policy; the reply, or a
    ``GatewayError``."""
    admit(peer, role)
    since = peer.breaker.epoch  # a failure shared with calls already failed counts once
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for attempt in (0, 1) if idempotent else (0,):
        try:
            left = await _agreed(peer, deadline)
            rpc = getattr(peer.federation, method)
            reply = await rpc(request, timeout=left, metadata=peer.metadata(hops))
        except asyncio.CancelledError as exc:  # the caller gave up: no verdict on the peer
            peer.observe(exc)
            raise
        except _OutOfTime:
            peer.breaker.abandon()  # not asked: no verdict on the peer
            raise out_of_time(peer.id, role=role) from None
        except GatewayError:  # the handshake refused (a standard mismatch): alive
            peer.observe(None)
            raise
        except grpc.RpcError as exc:
            failure = failure_of(exc)
            transport = not failure.node and failure.code == grpc.StatusCode.UNAVAILABLE
            if idempotent and attempt == 0 and transport:
                wait = (deadline - loop.time()) * 0.5
                try:
                    ready = await peer.wait_ready(wait, failing_for=RECONNECT_WAIT_S)
                except asyncio.CancelledError as cancelled:
                    peer.observe(cancelled)
                    raise
                if ready:
                    continue
            peer.observe(exc, since)
            presented = await peer.presented_instead(exc, deadline - loop.time())
            raise translate(exc, peer.id, role=role, timeout=timeout, presented=presented) from None
        peer.observe(None)
        return reply
    raise AssertionError("unreachable")


async def stream(
    peer: Peer,
    method: str,
    request: Any,
    *,
    timeout: float,
    role: Role,
    hops: int = 1,
    stub: Any = None,
    handshake: bool = True,
    background: bool = False,
) -> AsyncIterator[Any]:
    """A server-streaming call under the policy; never retried (a stream is never a read of
    ours to repeat: it releases data and counts quota as it goes). ``stub``: another of the
    peer's stubs than its callers' (the change feed's own connection); ``handshake=False``
    leaves the standard to the peer's guard, which refuses a call on another standard (the
    handshake would use, and after a restart disturb, the callers' connection).
    ``background``: made for no caller (rule 6): the breaker is neither consulted nor fed."""
    if not background:
        admit(peer, role)
    since = peer.breaker.epoch

    def observe(exc: BaseException | None) -> None:
        if not background:
            peer.observe(exc, since)

    deadline = asyncio.get_running_loop().time() + timeout
    try:
        left = await _agreed(peer, deadline) if handshake else timeout
        rpc = getattr(stub if stub is not None else peer.federation, method)
        async for item in rpc(request, timeout=left, metadata=peer.metadata(hops)):
            yield item
    except asyncio.CancelledError as exc:
        observe(exc)
        raise
    except _OutOfTime:
        if not background:
            peer.breaker.abandon()
        raise out_of_time(peer.id, role=role) from None
    except GatewayError:
        observe(None)
        raise
    except grpc.RpcError as exc:
        observe(exc)
        presented = await peer.presented_instead(exc, deadline - asyncio.get_running_loop().time())
        raise translate(exc, peer.id, role=role, timeout=timeout, presented=presented) from None
    observe(None)


async def background(peer: Peer, method: str, request: Any, *, timeout: float) -> Any:
    """One unary call made for no caller (rule 6); the reply, or a ``GatewayError``."""
    if peer.breaker.state != CLOSED:
        raise circuit_open(peer.id, peer.breaker.retry_in(), role=READ)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        left = await _agreed(peer, deadline)
        rpc = getattr(peer.federation, method)
        return await rpc(request, timeout=left, metadata=peer.metadata(1))
    except _OutOfTime:
        raise out_of_time(peer.id, role=READ) from None
    except grpc.RpcError as exc:
        raise translate(exc, peer.id, role=READ, timeout=timeout) from None


class _OutOfTime(Fault):
    """No budget left before the call could start."""


async def _agreed(peer: Peer, deadline: float) -> float:
    """Agree on the standard within the budget; the time left for the call itself."""
    loop = asyncio.get_running_loop()
    left = deadline - loop.time()
    if left <= 0:
        raise _OutOfTime
    await peer.ensure_agreed(left)
    left = deadline - loop.time()  # the handshake spent part of the budget
    if left <= 0:
        raise _OutOfTime
    return left
