"""The privileges of the role the nodes connect as, granted by the database's owner.

The owner (a separate role that runs the migrations: the first start with the owner's DSN, or
``yrdgw up --store postgresql``) keeps DDL to itself. The nodes' role may change the sharing
state and the spans, but may only add to the audit chain: SELECT and INSERT on its entries, and
moving the head. It can neither UPDATE nor DELETE an entry, nor drop the append-only triggers
(only a table's owner may).
"""

from __future__ import annotations

from psycopg import sql

from gateway.postgres.database import Postgres

__all__ = ["NODE_PRIVILEGES", "grant_node_role"]

NODE_PRIVILEGES: dict[str, str] = {
    "schema_migrations": "SELECT",
    "apps": "SELECT, INSERT, UPDATE, DELETE",
    "operator_tokens": "SELECT, INSERT, UPDATE, DELETE",
    "applications": "SELECT, INSERT, UPDATE, DELETE",
    "grants": "SELECT, INSERT, UPDATE, DELETE",
    "quota_usage": "SELECT, INSERT, UPDATE, DELETE",
    "sharing_version": "SELECT, UPDATE",
    "audit_entries": "SELECT, INSERT",
    "audit_meta": "SELECT, UPDATE",
    "audit_witnessed": "SELECT, INSERT",
    "spans": "SELECT, INSERT, DELETE",
}
"""Table -> what the nodes' role may do with it (tables not created yet are skipped)."""


def grant_node_role(owner: Postgres, role: str) -> list[str]:
    """Grant ``role`` exactly :data:`NODE_PRIVILEGES` on the tables that exist in the owner's
    current schema; returns the tables granted on."""
    granted = []
    with owner.transaction() as conn:
        schema = conn.value("SELECT current_schema()")
        conn.raw.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
        for table, privileges in NODE_PRIVILEGES.items():
            if conn.value("SELECT to_regclass(?) IS NULL", (table,)):
                continue
            conn.raw.execute(
                sql.SQL("GRANT " + privileges + " ON {} TO {}").format(
                    sql.Identifier(table), sql.Identifier(role)
                )
            )
            granted.append(table)
    return granted
