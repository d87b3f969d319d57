"""A fresh, empty schema of a PostgreSQL cluster per test: one province's database, isolated."""

from __future__ import annotations

import uuid

import psycopg

from gateway.pgcluster import PgCluster


def new_schema(postgres: PgCluster) -> str:
    """A DSN onto a new schema of ``postgres``: every connection made with it sees only that
    schema."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{postgres.dsn()}?options=-csearch_path%3D{name}"
