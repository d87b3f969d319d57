"""The SQLite layout of the sharing store and the mapping between its rows and the records."""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

from gateway import timefmt
from gateway.errors import FailedPrecondition, NotFound
from gateway.postgres import SqlConn
from gateway.sharing.model import App, Application, Grant, Quota

__all__ = [
    "EPOCH",
    "Conn",
    "SCHEMA",
    "SCHEMA_VERSION",
    "app_from_row",
    "application_from_row",
    "application_to_row",
    "grant_from_row",
    "grant_to_row",
    "insert",
    "load_app",
    "load_application",
    "load_grant",
    "new_id",
    "parse",
    "pending",
    "stamp",
]

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
-- Operators live apart from apps: no row of one table can ever authenticate as the other.
CREATE TABLE IF NOT EXISTS operator_tokens (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token_digest TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    interface_id TEXT NOT NULL,
    fields TEXT NOT NULL,
    purpose TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    quota_per_minute INTEGER NOT NULL,
    quota_per_day INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    reason TEXT NOT NULL DEFAULT '',
    grant_id TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    decided_at TEXT,
    owner TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_by_state ON applications (state, created_at);
CREATE INDEX IF NOT EXISTS applications_by_app ON applications (app, created_at);
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    grantee TEXT NOT NULL,
    blanket INTEGER NOT NULL CHECK (blanket IN (0, 1)),
    interface_id TEXT NOT NULL,
    fields TEXT NOT NULL,
    purposes TEXT NOT NULL,
    max_grade TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    quota_per_minute INTEGER NOT NULL,
    quota_per_day INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
    application_id TEXT NOT NULL DEFAULT '',
    revoked_reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS grants_lookup ON grants (grantee, interface_id, blanket, state);
CREATE TABLE IF NOT EXISTS quota_usage (
    grant_id TEXT NOT NULL,
    app TEXT NOT NULL,
    span TEXT NOT NULL CHECK (span IN ('minute', 'day')),
    start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (grant_id, app, span, start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quota_usage_by_start ON quota_usage (span, start);
"""

Conn = sqlite3.Connection | SqlConn
"""A connection inside a sharing transaction, on either backend (same statements)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Fixed width, always UTC: text order is time order, so SQL compares validity windows as text.
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse(text: str | None) -> datetime | None:
    return timefmt.parse(text) if text else None


def new_id(prefix: str, now: datetime) -> str:
    """``prefix-`` + a ULID (48 bits of milliseconds, 80 random bits): ids sort by time."""
    millis = int((now - EPOCH).total_seconds() * 1000)
    value = (millis << 80) | secrets.randbits(80)
    return prefix + "-" + "".join(_CROCKFORD[(value >> s) & 31] for s in range(125, -1, -5))


def insert(conn: Conn, table: str, row: dict[str, Any]) -> None:
    # Table and column names come from this module, never from a caller.
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))


def _time(row: sqlite3.Row, column: str) -> datetime:
    return timefmt.parse(row[column])


def app_from_row(row: sqlite3.Row) -> App:
    return App(
        id=row["id"],
        name=row["name"],
        created_at=_time(row, "created_at"),
        revoked_at=parse(row["revoked_at"]),
    )


def application_to_row(a: Application) -> dict[str, Any]:
    return {
        "id": a.id,
        "app": a.app,
        "interface_id": a.interface_id,
        "fields": _json(a.fields),
        "purpose": a.purpose,
        "valid_from": stamp(a.valid_from),
        "valid_until": stamp(a.valid_until),
        "quota_per_minute": a.quota.per_minute,
        "quota_per_day": a.quota.per_day,
        "state": a.state,
        "reason": a.reason,
        "grant_id": a.grant_id,
        "created_at": stamp(a.created_at),
        "decided_at": stamp(a.decided_at) if a.decided_at else None,
        "owner": a.owner,
    }


def application_from_row(row: sqlite3.Row, granted: str | None = None) -> Application:
    """``granted``: the fields of its grant (JSON), when the row was read with it."""
    return Application(
        id=row["id"],
        app=row["app"],
        interface_id=row["interface_id"],
        fields=tuple(json.loads(row["fields"])),
        purpose=row["purpose"],
        valid_from=_time(row, "valid_from"),
        valid_until=_time(row, "valid_until"),
        quota=Quota(row["quota_per_minute"], row["quota_per_day"]),
        state=row["state"],
        reason=row["reason"],
        grant_id=row["grant_id"],
        created_at=_time(row, "created_at"),
        decided_at=parse(row["decided_at"]),
        owner=row["owner"],
        granted_fields=tuple(json.loads(granted)) if granted else (),
    )


def grant_to_row(g: Grant) -> dict[str, Any]:
    return {
        "id": g.id,
        "grantee": g.grantee,
        "blanket": int(g.blanket),
        "interface_id": g.interface_id,
        "fields": _json(g.fields),
        "purposes": _json(g.purposes),
        "max_grade": g.max_grade,
        "valid_from": stamp(g.valid_from),
        "valid_until": stamp(g.valid_until),
        "quota_per_minute": g.quota.per_minute,
        "quota_per_day": g.quota.per_day,
        "state": g.state,
        "application_id": g.application_id,
        "revoked_reason": g.revoked_reason,
        "created_at": stamp(g.created_at),
    }


def grant_from_row(row: sqlite3.Row) -> Grant:
    return Grant(
        id=row["id"],
        grantee=row["grantee"],
        blanket=bool(row["blanket"]),
        interface_id=row["interface_id"],
        fields=tuple(json.loads(row["fields"])),
        purposes=tuple(json.loads(row["purposes"])),
        max_grade=row["max_grade"],
        valid_from=_time(row, "valid_from"),
        valid_until=_time(row, "valid_until"),
        quota=Quota(row["quota_per_minute"], row["quota_per_day"]),
        state=row["state"],
        application_id=row["application_id"],
        revoked_reason=row["revoked_reason"],
        created_at=_time(row, "created_at"),
    )


def _json(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def load_app(conn: Conn, app_id: str) -> App:
    row = conn.execute("SELECT * FROM apps WHERE id = ?", (app_id,)).fetchone()
    if row is None:
        raise NotFound(f"no app {app_id}", reason="APP_NOT_FOUND")
    return app_from_row(row)


def load_application(conn: Conn, application_id: str) -> Application:
    row = conn.execute("SELECT * FROM applications WHERE id = ?", (application_id,)).fetchone()
    if row is None:
        raise NotFound(f"no application {application_id}", reason="APPLICATION_NOT_FOUND")
    return application_from_row(row)


def pending(conn: Conn, application_id: str) -> Application:
    """The application, if it is still pending (else FAILED_PRECONDITION)."""
    application = load_application(conn, application_id)
    if application.state != "pending":
        raise FailedPrecondition(
            f"application {application_id} is already {application.state}",
            reason="APPLICATION_DECIDED",
        )
    return application


def load_grant(conn: Conn, grant_id: str) -> Grant:
    row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
    if row is None:
        raise NotFound(f"no grant {grant_id}", reason="GRANT_NOT_FOUND")
    return grant_from_row(row)
