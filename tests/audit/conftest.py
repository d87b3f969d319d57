"""The audit tests' fixture: an audit log on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.postgres import Postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    """The log on each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        audit = AuditLog(tmp_path / "audit.db", "js")
        yield audit
        audit.close()
        return
    with Postgres(request.getfixturevalue("pg_dsn")) as pg:
        audit = AuditLog(pg, "js")
        yield audit
        audit.close()
