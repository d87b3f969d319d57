"""The audit chain on PostgreSQL: one chain per province whichever replica writes, committed
synchronously, and beyond the reach of the nodes' own database role."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from gateway.audit import AuditLog
from gateway.postgres import Postgres
from gateway.postgres.roles import grant_node_role
from tests.support.records import make_record

REPLICAS = 3


@pytest.fixture
def replicas(pg_dsn: str) -> Iterator[list[AuditLog]]:
    """Three replicas of sh, each with its own pool and writer, on one province database."""
    pools = [Postgres(pg_dsn) for _ in range(REPLICAS)]
    logs = [AuditLog(pg, "sh") for pg in pools]
    yield logs
    for log, pg in zip(logs, pools, strict=True):
        log.close()
        pg.close()


async def test_replicas_append_to_one_chain(replicas: list[AuditLog]) -> None:
    entries = await asyncio.gather(
        *(replicas[i % REPLICAS].append_async(make_record(i)) for i in range(1, 151))
    )
    assert sorted(e.seq for e in entries) == list(range(1, 151))
    # Each entry links to the one before it, whichever replica wrote either.
    by_seq = {e.seq: e for e in entries}
    assert all(by_seq[s].prev_hash == by_seq[s - 1].hash for s in range(2, 151))
    for log in replicas:
        report = log.verify()
        assert (report.ok, report.checked) == (True, 150)
        assert log.last() == by_seq[150]
    # Group commit per replica: the 150 entries took fewer transactions (one fsync each).
    stats = [log.stats() for log in replicas]
    assert sum(s.entries_written for s in stats) == 150
    assert sum(s.commits for s in stats) < 150
    assert sum(s.failed_commits for s in stats) == 0


def test_a_replica_chains_onto_the_head_another_moved(replicas: list[AuditLog]) -> None:
    """Each writer appends in one statement that checks the head it last left: after another
    replica's append that check misses, nothing is written, and the batch is chained again
    onto the new head, under its lock."""
    first, second = replicas[0], replicas[1]
    assert [first.append(make_record(i)).seq for i in (1, 2)] == [1, 2]
    entry = second.append(make_record(3))
    assert (entry.seq, entry.prev_hash) == (3, first.get(2).hash)
    again = first.append(make_record(4))  # its remembered head (2) is stale: a miss, then 4
    assert (again.seq, again.prev_hash) == (4, entry.hash)
    assert first._writer._target.misses == 1
    report = first.verify()
    assert (report.ok, report.checked) == (True, 4)
    assert first.stats().entries_written == 3 and first.stats().failed_commits == 0


def test_writer_commits_synchronously(replicas: list[AuditLog]) -> None:
    replicas[0].append(make_record(1))
    conn = replicas[0]._writer._target._conn
    assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"


def test_a_chain_belongs_to_one_province(replicas: list[AuditLog], pg_dsn: str) -> None:
    with Postgres(pg_dsn) as pg, pytest.raises(ValueError, match="belongs to node 'sh'"):
        AuditLog(pg, "zj")


@pytest.fixture
def roles(postgres) -> Iterator[tuple[str, str]]:
    """DSNs of an owner role and of the nodes' role, on a fresh schema the owner owns."""
    tag = uuid.uuid4().hex[:10]
    owner, node, schema = f"owner_{tag}", f"node_{tag}", f"audit_{tag}"
    with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
        for role in (owner, node):
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(schema), sql.Identifier(owner)
            )
        )
    option = f"?options=-csearch_path%3D{schema}"
    yield postgres.dsn(user=owner) + option, postgres.dsn(user=node) + option
    with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        for role in (owner, node):
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET decision = 'allow' WHERE seq = 2",
        "DELETE FROM audit_entries WHERE seq = 3",
        "TRUNCATE audit_entries",
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        "DROP TRIGGER audit_entries_no_update ON audit_entries",
    ],
)
def test_the_nodes_role_cannot_change_or_remove_entries(
    roles: tuple[str, str], statement: str
) -> None:
    owner_dsn, node_dsn = roles
    with Postgres(owner_dsn) as owner:
        AuditLog(owner, "sh").close()  # the owner migrates
        grant_node_role(owner, node_dsn.split("://")[1].split("@")[0])
    with Postgres(node_dsn) as pg:
        with AuditLog(pg, "sh") as log:  # the node appends as itself
            for i in range(1, 4):
                log.append(make_record(i))
        with psycopg.connect(node_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        with AuditLog(pg, "sh") as log:
            assert log.verify().ok and log.verify().checked == 3


def test_even_the_owner_meets_the_append_only_triggers(pg_dsn: str) -> None:
    with Postgres(pg_dsn) as pg, AuditLog(pg, "sh") as log:
        log.append(make_record(1))
        for statement in ("UPDATE audit_entries SET reason = 'x'", "DELETE FROM audit_entries"):
            with psycopg.connect(pg_dsn) as conn, pytest.raises(psycopg.errors.RaiseException):
                conn.execute(statement)
        assert log.verify().ok
