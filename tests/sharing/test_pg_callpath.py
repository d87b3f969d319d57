"""A call's hot path on PostgreSQL (``SharingStore.calls``), across replicas: the quota counted
in the version-checked statement stays exact, a revoke counts on every replica's next call, and
an unrelated write costs a recount, never a refusal or a double count."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gateway.errors import ResourceExhausted, Unauthenticated
from gateway.sharing.model import Quota
from gateway.sharing.store import SharingStore
from gateway.sharing.usage import windows
from tests.support.applications import apply
from tests.support.names import APP, IFACE, T0


async def call(store: SharingStore, now=T0) -> str:
    """One call's decision as the owner makes it: find the grant, count it (again if the
    grants moved under it)."""
    for _ in range(3):
        grant = await store.calls.find(APP, IFACE, now)
        if grant is None:
            return "no grant"
        try:
            if await store.calls.count(grant, APP, now):
                return "ok"
        except ResourceExhausted as refused:
            return refused.reason
    return "kept changing"


async def test_quota_is_exact_across_replicas(replicas: list[SharingStore]) -> None:
    replicas[0].approve(apply(replicas[0], quota=Quota(100, 7)).id, now=T0)
    outcomes = await asyncio.gather(*(call(replicas[i % len(replicas)]) for i in range(20)))
    assert outcomes.count("ok") == 7
    assert outcomes.count("QUOTA_DAY_EXCEEDED") == 13


async def test_a_full_minute_counts_nothing_in_the_day(replicas: list[SharingStore]) -> None:
    grant = replicas[0].approve(apply(replicas[0], quota=Quota(2, 3)).id, now=T0)
    assert [await call(r) for r in replicas] == ["ok", "ok", "QUOTA_MINUTE_EXCEEDED"]
    later = T0 + timedelta(minutes=1)
    assert [await call(r, later) for r in replicas[:2]] == ["ok", "QUOTA_DAY_EXCEEDED"]
    minute, day = windows(T0)
    # Two counted in T0's minute, three in the day: the refused calls took nothing.
    assert replicas[0]._ledger.load_used((grant.id, APP, "minute", minute)) == 2
    assert replicas[0]._ledger.load_used((grant.id, APP, "day", day)) == 3


async def test_revoke_on_one_replica_refuses_the_next_call_on_every_replica(
    replicas: list[SharingStore],
) -> None:
    grant = replicas[0].approve(apply(replicas[0]).id, now=T0)
    assert [await call(r) for r in replicas] == ["ok"] * len(replicas)  # every view holds the grant
    found = [await r.calls.find(APP, IFACE, T0) for r in replicas]
    await asyncio.to_thread(replicas[1].revoke_grant, grant.id, "purpose ended", T0)
    # Found before the revoke, counted after it: nothing counted, the caller decides again.
    assert [await r.calls.count(g, APP, T0) for r, g in zip(replicas, found, strict=True)] == [
        False
    ] * len(replicas)
    assert [await call(r) for r in replicas] == ["no grant"] * len(replicas)


async def test_an_unrelated_write_costs_a_recount_not_a_refusal(
    replicas: list[SharingStore],
) -> None:
    grant = replicas[0].approve(apply(replicas[0], quota=Quota(100, 100)).id, now=T0)
    found = await replicas[2].calls.find(APP, IFACE, T0)
    await asyncio.to_thread(replicas[0].create_app, "js/rsj/other", "other", now=T0)
    assert await replicas[2].calls.count(found, APP, T0) is True
    assert replicas[2]._ledger.load_used((grant.id, APP, "day", windows(T0)[1])) == 1


async def test_a_grant_made_on_another_replica_counts_at_once(
    replicas: list[SharingStore],
) -> None:
    assert await call(replicas[2]) == "no grant"
    replicas[0].approve(apply(replicas[0]).id, now=T0)
    assert await call(replicas[2]) == "ok"


async def test_a_revoked_app_is_refused_on_every_replica_next_call(
    replicas: list[SharingStore],
) -> None:
    secret = replicas[0].create_app("js/rsj/revoked", "revoked", now=T0)
    assert [(await r.calls.authenticate("js/rsj/revoked", secret)).id for r in replicas] == [
        "js/rsj/revoked"
    ] * len(replicas)
    await asyncio.to_thread(replicas[1].revoke_app, "js/rsj/revoked", now=T0)
    for store in replicas:
        with pytest.raises(Unauthenticated):
            await store.calls.authenticate("js/rsj/revoked", secret)
