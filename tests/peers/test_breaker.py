"""The per-peer circuit breaker: unit behaviour, and a real peer skipped then rejoining."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from gateway._pb.yrd.v1 import catalog_pb2
from gateway.config import load_federation
from gateway.errors import ResourceExhausted
from gateway.node import Node, NodeOptions
from gateway.peers.breaker import CLOSED, HALF_OPEN, OPEN, Breaker, BreakerSettings
from gateway.server.limits import InFlight
from tests.support.federation import NODE_IDS, write_federation
from tests.support.nodes import PEOPLE, Running, start_nodes, stop_all


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> Breaker:
    return Breaker(
        BreakerSettings(failure_threshold=3, reset_after=1.0, max_reset_after=4.0, jitter=0.0),
        clock=clock,
        rng=random.Random(1),
    )


def test_opens_after_threshold_and_probes_after_backoff():
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        b.failure()
    assert b.state == CLOSED and b.allow()
    b.failure()
    assert b.state == OPEN and not b.allow()
    assert b.retry_in() == pytest.approx(1.0)
    clock.now += 1.0
    assert b.allow() and b.state == HALF_OPEN
    assert not b.allow()  # one probe at a time
    b.failure()  # the probe failed: back-off doubles
    assert b.state == OPEN and b.retry_in() == pytest.approx(2.0)
    clock.now += 2.0
    assert b.allow()
    b.success()
    assert b.state == CLOSED and b.allow()


def test_backoff_is_capped_and_success_resets_the_count():
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure()
    for _ in range(5):
        clock.now += b.retry_in()
        assert b.allow()
        b.failure()
    assert b.retry_in() == pytest.approx(4.0)
    clock.now += 4.0
    b.allow()
    b.success()
    b.failure()
    b.failure()
    assert b.state == CLOSED  # the count started again


def test_failures_of_calls_in_flight_together_count_once():
    # One cut fails every call on the connection at once: one cause, one failure.
    clock = Clock()
    b = breaker(clock)
    together = b.epoch
    for _ in range(10):
        b.failure(together)
    assert b.state == CLOSED and b.allow()
    b.failure(b.epoch)  # a call let through after that failure: a second cause
    b.failure(b.epoch)
    assert b.state == OPEN
    clock.now += b.retry_in()
    assert b.allow() and b.state == HALF_OPEN
    probe = b.epoch
    b.failure(together)  # a straggler from before the opening is not the probe's verdict
    assert b.state == HALF_OPEN
    b.failure(probe)
    assert b.state == OPEN and b.retry_in() == pytest.approx(2.0)


def test_in_flight_bound_refuses_past_the_limit_and_frees_slots():
    limits = InFlight(2, "province")
    with limits.slot("js"), limits.slot("js"):
        with pytest.raises(ResourceExhausted) as info, limits.slot("js"):
            pass
        assert info.value.reason == "TOO_MANY_IN_FLIGHT"
        with limits.slot("zj"):  # another province keeps its own share
            assert limits.current("zj") == 1
    assert limits.current("js") == 0


async def test_dead_peer_is_skipped_then_rejoins_by_itself(tmp_path, certs_dir):
    fed = load_federation(write_federation(tmp_path, certs_dir))
    running = Running(fed, await start_nodes(fed, NODE_IDS), [])
    try:
        stub = running.catalog("js")
        await running.nodes["ah"].stop(0)
        states = []
        for _ in range(5):
            reply = await stub.Search(catalog_pb2.SearchRequest(query="户籍", live=True), timeout=5)
            ah = next(p for p in reply.provinces if p.province == "ah")
            states.append((ah.state, ah.reason))
            assert reply.partial and reply.total > 0
        assert states[0][0] == catalog_pb2.PROVINCE_STATE_FAILED
        assert states[-1] == (catalog_pb2.PROVINCE_STATE_SKIPPED, "CIRCUIT_OPEN")
        # Skipped, not waited for: SKIPPED is decided before any call to ah (a call that waited
        # would have ended FAILED or TIMED_OUT), so no stopwatch is needed.

        running.nodes["ah"] = Node(fed, "ah", NodeOptions(entries=400, people=PEOPLE))
        await running.nodes["ah"].start()
        deadline = time.monotonic() + 20
        while True:
            reply = await stub.Search(catalog_pb2.SearchRequest(query="户籍", live=True), timeout=5)
            if not reply.partial:
                break
            assert time.monotonic() < deadline, "ah never rejoined"
            await asyncio.sleep(0.2)
        assert {
            p.province for p in reply.provinces if p.state == catalog_pb2.PROVINCE_STATE_ANSWERED
        } == set(NODE_IDS)
    finally:
        await stop_all(running)


def test_a_probe_whose_caller_gave_up_is_abandoned_not_stuck():
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure()
    clock.now += 1.0
    assert b.allow() and b.state == HALF_OPEN
    b.abandon()  # the probing call was cancelled: no verdict on the peer
    assert b.state == OPEN and b.probe_due() and b.allow()
