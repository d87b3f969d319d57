"""PostgreSQL stopped under a node's stores: calls are refused at once as UNAVAILABLE naming the
store (never INTERNAL, nothing written half), and served again once it is back, with the same
store objects (no restart)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.audit import AuditLog, AuditWriteError
from gateway.errors import Unavailable
from gateway.pgcluster import PgCluster
from gateway.ports import free_ports
from gateway.postgres import Postgres
from gateway.sharing.model import Grant, Quota
from gateway.sharing.store import SharingStore
from tests.support.records import make_record

APP = "js/rsj/outage"
IFACE = "sh/gaj/resident-basic/v1"


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A cluster of this test's own: it is stopped and started again."""
    cluster = PgCluster(Path(tempfile.mkdtemp(prefix="yrd-pg-outage-")), free_ports(1)[0])
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(cluster.directory, ignore_errors=True)


def back_within(check, seconds: float = 30.0) -> None:
    """Wait (bounded) until ``check()`` stops raising Unavailable: the pool reconnects in the
    background after the server is back."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def granted(store: SharingStore, now: datetime) -> tuple[str, Grant]:
    """The outage app, with its secret and an approved grant for the interface."""
    secret = store.create_app(APP, "outage", now=now)
    application = store.add_application(
        APP, IFACE, ("name",), "跨省通办", now, now.replace(year=now.year + 1), Quota(10, 100),
        now=now,
    )  # fmt: skip
    return secret, store.approve(application.id, now=now)


def test_a_stopped_database_is_unavailable_then_served_again(cluster: PgCluster) -> None:
    now = datetime.now(UTC)
    with Postgres(cluster.dsn()) as pg:
        store = SharingStore(pg)
        audit = AuditLog(pg, "sh")
        secret, grant = granted(store, now)
        audit.append(make_record(1))

        cluster.stop("fast")
        for attempt in (
            lambda: store.authenticate_app(APP, secret),
            lambda: store.find_grant(APP, IFACE, now),
            lambda: store.consume_quota(grant, APP, now),
        ):
            with pytest.raises(Unavailable) as info:
                attempt()
            assert info.value.reason == "STORE_UNAVAILABLE"
            assert f"PostgreSQL at 127.0.0.1:{cluster.port}/postgres" in info.value.message
        with pytest.raises(AuditWriteError):
            audit.append(make_record(2))

        cluster.start()
        back_within(lambda: store.authenticate_app(APP, secret))
        for _ in range(5):  # every call now, not just one
            assert store.find_grant(APP, IFACE, now) == grant
        store.consume_quota(grant, APP, now)
        assert audit.append(make_record(2)).seq == 2  # nothing half-written while it was down
        assert audit.verify().ok and audit.verify().checked == 2
        audit.close()
        store.close()


async def test_the_call_path_fails_fast_then_serves_again(cluster: PgCluster) -> None:
    """The statements sent from the event loop (``SharingStore.calls``): refused within a
    fraction of a second while the server is down, served again once it is back."""
    now = datetime.now(UTC)
    with Postgres(cluster.dsn()) as pg:
        store = SharingStore(pg)
        secret, grant = granted(store, now)
        assert await store.calls.count(grant, APP, now)

        cluster.stop("fast")
        for attempt in (
            lambda: store.calls.authenticate(APP, secret),
            lambda: store.calls.find(APP, IFACE, now, fresh=True),
            lambda: store.calls.count(grant, APP, now),
        ):
            started = time.monotonic()
            with pytest.raises(Unavailable) as info:
                await attempt()
            assert time.monotonic() - started < 1.0
            assert info.value.reason == "STORE_UNAVAILABLE"
            assert f"PostgreSQL at 127.0.0.1:{cluster.port}/postgres" in info.value.message

        cluster.start()
        assert (await store.calls.authenticate(APP, secret)).id == APP
        assert await store.calls.count(grant, APP, now)
        store.close()
