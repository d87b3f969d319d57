"""A bulk (回流) stream on the owner: authorized once, re-checked before every later batch.

The owner's real pipeline (``Provider``) over a real dataset, sharing store and audit log, with
an injected clock: the stream is an async generator, so a batch exists only once the reader asks
for it, and revoking or expiring the grant between two reads is exact, not a race.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.audit.log import AuditLog
from gateway.errors import GatewayError, PermissionDenied, ResourceExhausted
from gateway.exchange.backends import BackendPool
from gateway.exchange.calls import Call, call_fingerprint, encode_resume
from gateway.exchange.dataset import ensure_dataset, sample_values
from gateway.exchange.provider import Caller, Provider
from gateway.sharing.model import Quota
from gateway.sharing.store import SharingStore
from tests.support.federation import shipped_interfaces
from tests.support.names import APP, PURPOSE, ROSTER

START = datetime(2026, 3, 2, 1, 0, 30, tzinfo=UTC)  # mid-minute, far from 16:00 UTC


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sh-data") / "dataset.db"
    ensure_dataset(path, "sh", people=600, seed=11)
    return path


@pytest_asyncio.fixture
async def owner(tmp_path, dataset):
    standard, interfaces = shipped_interfaces("sh")
    clock = Clock()
    store = SharingStore(tmp_path / "sharing.db")
    audit = AuditLog(tmp_path / "audit.db", "sh")
    pool = BackendPool(dataset_path=dataset)
    provider = Provider(
        "sh",
        interfaces,
        store,
        pool.for_interfaces(interfaces.values()),
        standard,
        audit,
        clock=clock,
    )
    yield provider, store, audit, clock
    await pool.close()
    audit.close()
    store.close()


def approve(store: SharingStore, clock: Clock, *, days: int = 30, per_minute: int = 100):
    application = store.add_application(
        APP,
        ROSTER,
        ["record_id", "name", "district"],
        PURPOSE,
        clock.now,
        clock.now + timedelta(days=days),
        Quota(per_minute, 10_000),
        now=clock.now,
    )
    return store.approve(application.id, now=clock.now)


def stream(provider: Provider, district: str, *, size: int = 5, token: str = ""):
    call = Call(ROSTER, {"district": district}, PURPOSE)
    return provider.invoke_stream(
        Caller(APP, "js", trace_id="ab" * 16), call, resume_token=token, batch_size=size
    )


def district_of(dataset: Path) -> str:
    return sample_values(dataset)["district"]


async def test_revoking_mid_stream_stops_it_at_the_next_batch_and_audits_the_stop(owner, dataset):
    provider, store, audit, clock = owner
    grant = approve(store, clock)
    batches = stream(provider, district_of(dataset))
    first = await anext(batches)
    second = await anext(batches)
    assert len(first.records) == len(second.records) == 5 and not second.last

    store.revoke_grant(grant.id, "停止回流", clock.now)
    with pytest.raises(PermissionDenied) as stopped:
        await anext(batches)
    assert stopped.value.reason == "GRANT_REVOKED" and "停止回流" in stopped.value.message

    denied = audit.query(decision="deny", action="invoke_stream")
    assert len(denied) == 1
    entry = denied[0].record
    assert (entry.reason, entry.status, entry.app, entry.peer) == (
        "GRANT_REVOKED",
        "PERMISSION_DENIED",
        APP,
        "js",
    )
    assert entry.extra == {"stopped_after_records": 10}
    released = audit.query(decision="allow", action="invoke_stream")
    assert [e.record.record_count for e in released] == [5, 5]
    assert audit.verify().ok


async def test_a_grant_expiring_mid_stream_stops_it_at_the_next_batch(owner, dataset):
    provider, store, audit, clock = owner
    grant = approve(store, clock, days=1)
    batches = stream(provider, district_of(dataset))
    await anext(batches)
    clock.now = grant.valid_until  # valid_until is exclusive
    with pytest.raises(PermissionDenied) as stopped:
        await anext(batches)
    assert stopped.value.reason == "GRANT_EXPIRED"
    [entry] = audit.query(decision="deny")
    assert entry.record.reason == "GRANT_EXPIRED"
    assert entry.record.extra == {"stopped_after_records": 5}


async def test_a_newer_grant_does_not_stop_a_stream_its_own_grant_still_covers(owner, dataset):
    provider, store, audit, clock = owner
    approve(store, clock)
    batches = stream(provider, district_of(dataset), size=50)
    got = len((await anext(batches)).records)
    approve(store, clock)  # outranks the first grant in the view; the first still holds
    async for batch in batches:
        got += len(batch.records)
    assert got > 50
    assert audit.query(decision="deny") == []


async def test_a_stream_counts_as_one_call_against_the_quota_however_many_batches(owner, dataset):
    provider, store, audit, clock = owner
    approve(store, clock, per_minute=2)
    district = district_of(dataset)
    counts = []
    for _ in range(2):
        batches = [b async for b in stream(provider, district, size=3)]
        counts.append(len(batches))
    assert min(counts) > 2  # many batches, two calls

    with pytest.raises(ResourceExhausted) as refused:
        await anext(stream(provider, district, size=3))
    assert refused.value.reason == "QUOTA_MINUTE_EXCEEDED"

    # A resumed stream is a new stream: it counts again (in the next minute, here).
    clock.now += timedelta(minutes=1)
    first = await anext(stream(provider, district, size=3))
    resumed = [b async for b in stream(provider, district, size=3, token=first.resume_token)]
    assert resumed and resumed[-1].last
    with pytest.raises(ResourceExhausted):
        await anext(stream(provider, district, size=3, token=first.resume_token))


async def test_the_last_batch_token_resumes_to_one_empty_last_batch(owner, dataset):
    provider, store, _, clock = owner
    approve(store, clock)
    district = district_of(dataset)
    whole = [b async for b in stream(provider, district, size=7)]
    again = [b async for b in stream(provider, district, size=7, token=whole[-1].resume_token)]
    assert [(len(b.records), b.last) for b in again] == [(0, True)]


@pytest.mark.parametrize(
    ("app", "params", "purpose"),
    [
        ("js/ybj/medical-transfer", {}, PURPOSE),  # another app
        (APP, {"insurance_type": "城镇职工基本养老保险"}, PURPOSE),  # other parameters
        (APP, {}, "跨省通办"),  # another purpose
    ],
)
async def test_a_resume_token_is_refused_outside_the_call_it_was_minted_for(
    owner, dataset, app, params, purpose
):
    provider, store, _, clock = owner
    approve(store, clock)
    district = district_of(dataset)
    token = (await anext(stream(provider, district))).resume_token
    call = Call(ROSTER, {"district": district, **params}, purpose)
    with pytest.raises(GatewayError) as refused:
        await anext(
            provider.invoke_stream(Caller(app, "js"), call, resume_token=token, batch_size=5)
        )
    assert (refused.value.code.name, refused.value.reason, refused.value.field) == (
        "INVALID_ARGUMENT",
        "BAD_RESUME_TOKEN",
        "resume_token",
    )


async def test_the_token_of_an_empty_stream_resumes_it(owner):
    provider, store, _, clock = owner
    approve(store, clock)
    [empty] = [b async for b in stream(provider, "无此区")]
    assert (empty.records, empty.last) == ((), True)
    again = [b async for b in stream(provider, "无此区", token=empty.resume_token)]
    assert [(len(b.records), b.last) for b in again] == [(0, True)]


@pytest.mark.parametrize("cursor", ["abc", "-1", "1 OR 1=1", "9" * 40])
async def test_a_forged_cursor_under_a_valid_binding_is_refused_and_audited(owner, dataset, cursor):
    # The binding is no secret (a digest of the call), so a caller can mint a token around
    # any cursor; the backend still refuses what is not one of its cursors.
    provider, store, audit, clock = owner
    approve(store, clock)
    district = district_of(dataset)
    call = Call(ROSTER, {"district": district}, PURPOSE)
    token = encode_resume(cursor, call_fingerprint(APP, call))
    with pytest.raises(GatewayError) as refused:
        await anext(stream(provider, district, token=token))
    assert (refused.value.code.name, refused.value.reason, refused.value.field) == (
        "INVALID_ARGUMENT",
        "BAD_RESUME_TOKEN",
        "resume_token",
    )
    [entry] = audit.query(decision="deny")
    assert (entry.record.reason, entry.record.status) == ("BAD_RESUME_TOKEN", "INVALID_ARGUMENT")
    assert entry.record.extra == {"stopped_after_records": 0}
