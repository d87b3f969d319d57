"""Fixtures of the sharing store's tests on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.postgres import Postgres
from gateway.sharing.store import SharingStore

REPLICAS = 3
"""Replicas of one province in the ``replicas`` fixture."""


@pytest.fixture
def replicas(pg_dsn: str) -> Iterator[list[SharingStore]]:
    """Three replicas' stores, each on its own pool, on one province database."""
    pools = [Postgres(pg_dsn) for _ in range(REPLICAS)]
    stores = [SharingStore(pg) for pg in pools]
    yield stores
    for store, pg in zip(stores, pools, strict=True):
        store.close()
        pg.close()
