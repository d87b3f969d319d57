"""The owner node's durable sharing state: apps, operator tokens, applications, grants, quota use.

One SQLite file (``database``), or the province's PostgreSQL database shared by its replicas
(``pgdatabase``, quota counted exactly in ``pgquota``): every method that changes state returns
only after its transaction is on disk, so an answer sent after it survives kill -9 and power
loss. Methods are
synchronous and thread-safe. Times are aware UTC datetimes; ``now`` is passed in by the caller,
which keeps expiry and quota windows testable without sleeping. The layout and row mapping are
in ``tables``, the in-memory quota counters in ``quota``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from gateway.errors import FailedPrecondition, InvalidArgument
from gateway.ids import province_of_app
from gateway.postgres import Postgres
from gateway.sharing import credentials
from gateway.sharing import tables as t
from gateway.sharing import validation as check
from gateway.sharing.callpath import DUMMY_DIGEST, CallPath, LocalCalls, PgCalls, check_app_secret
from gateway.sharing.credentials import SecretKind
from gateway.sharing.database import Database
from gateway.sharing.model import APPLICATION_STATES, App, Application, Grant, Quota
from gateway.sharing.pgdatabase import PgDatabase
from gateway.sharing.pgquota import PgQuotaLedger
from gateway.sharing.quota import LocalQuota, SharedQuota
from gateway.sharing.usage import QuotaLedger
from gateway.sharing.views import Views, pick
from gateway.timefmt import utc

__all__ = ["SharingStore"]

_ACTIVE = "state = 'active' AND valid_from <= ? AND valid_until > ?"


class SharingStore:
    """Sharing state of one node in one SQLite file."""

    def __init__(
        self,
        path: str | Path | Postgres,
        *,
        default_max_grade: str = "L3",
        quota: SharedQuota | None = None,
    ) -> None:
        """``path`` is the SQLite file, or the province's PostgreSQL pool (every replica's
        state in one database). ``default_max_grade`` is the grade an approval grants when the
        operator names none: the highest grade that may leave a province under the shared
        standard. ``quota`` is the node's shared quota table when it runs several workers on
        SQLite (one process, or PostgreSQL: None)."""
        self._default_max_grade = check.grade(default_max_grade)
        self._db: Database | PgDatabase
        self._ledger: QuotaLedger | PgQuotaLedger
        self.calls: CallPath
        """What a call needs on its hot path, as coroutines (``callpath``)."""
        if isinstance(path, Postgres):
            self._db = db = PgDatabase(path)
            self._ledger = ledger = PgQuotaLedger(path)
            self._views = Views(db)
            self.calls = PgCalls(db, self._views, ledger, self.latest_grant, self.get_grant)
        else:
            self._db = Database(Path(path))
            self._ledger = local = QuotaLedger(
                self._db, quota if quota is not None else LocalQuota()
            )
            self._views = Views(self._db)
            self.calls = LocalCalls(self._views, local, self.latest_grant, self.get_grant)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self._ledger.close()
        finally:
            self._db.close()

    def __enter__(self) -> SharingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- apps ----------------------------------------------------------------------------------

    def create_app(self, app_id: str, name: str, *, now: datetime | None = None) -> str:
        """Register an app and return its secret: shown once, only its digest is kept.

        App ids are never reused, not even after revocation, so a new app can never inherit
        an old one's grants.
        """
        check.app_id(app_id)
        row = {
            "id": app_id,
            "name": check.text("name", name, required=False),
            "created_at": t.stamp(utc(now)),
        }
        secret = credentials.issue()
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM apps WHERE id = ?", (app_id,)).fetchone():
                raise FailedPrecondition(f"app {app_id} already exists", reason="APP_EXISTS")
            digest = credentials.digest(SecretKind.APP, secret, app_id)
            t.insert(conn, "apps", {**row, "secret_digest": digest})
        return secret

    def revoke_app(self, app_id: str, *, now: datetime | None = None) -> App:
        """Stop an app's credential from working; revoking twice keeps the first time."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE apps SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (t.stamp(utc(now)), app_id),
            )
            return t.load_app(conn, app_id)

    def get_app(self, app_id: str) -> App:
        with self._db.read() as conn:
            return t.load_app(conn, app_id)

    def list_apps(self) -> list[App]:
        with self._db.read() as conn:
            return [t.app_from_row(r) for r in conn.execute("SELECT * FROM apps ORDER BY id")]

    def authenticate_app(self, app_id: str, secret: str) -> App:
        """The app, if ``secret`` is its secret and it is not revoked (``check_app_secret``;
        a call's hot path uses ``calls.authenticate``)."""
        return check_app_secret(app_id, secret, *self._views.app(app_id))

    # -- operators -----------------------------------------------------------------------------

    def ensure_operator_token(self, *, now: datetime | None = None) -> str | None:
        """Create the operator token on first start and return it, once; ``None`` when one
        exists already (it cannot be shown again: only its digest is kept)."""
        token = credentials.issue()
        with self._db.write() as conn:
            cur = conn.execute(
                "INSERT INTO operator_tokens (id, token_digest, created_at)"
                " VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
                (credentials.digest(SecretKind.OPERATOR, token), t.stamp(utc(now))),
            )
            created = cur.rowcount == 1
        return token if created else None

    def set_operator_token(self, token: str, *, now: datetime | None = None) -> None:
        """Replace the operator token (rotation, or provisioning from outside)."""
        if not credentials.MIN_SECRET_LENGTH <= len(token) <= 256:
            # The plain-sha256 digest is safe only for high-entropy tokens.
            raise InvalidArgument(
                "token",
                f"must be {credentials.MIN_SECRET_LENGTH} to 256 characters of random text",
                reason="WEAK_TOKEN",
            )
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO operator_tokens (id, token_digest, created_at) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET token_digest = excluded.token_digest,"
                " created_at = excluded.created_at",
                (credentials.digest(SecretKind.OPERATOR, token), t.stamp(utc(now))),
            )

    def authenticate_operator(self, token: str) -> bool:
        with self._db.read() as conn:
            row = conn.execute("SELECT token_digest FROM operator_tokens WHERE id = 1").fetchone()
        stored = row["token_digest"] if row is not None else DUMMY_DIGEST
        return credentials.matches(SecretKind.OPERATOR, token, stored) and row is not None

    # -- applications --------------------------------------------------------------------------

    def add_application(
        self,
        app: str,
        interface_id: str,
        fields: Sequence[str],
        purpose: str,
        valid_from: datetime,
        valid_until: datetime,
        quota: Quota,
        *,
        now: datetime,
    ) -> Application:
        """Persist a pending application. ``fields`` may be empty (a verify-only interface
        releases no fields); a grant without fields releases no data, only a match answer."""
        now = utc(now)
        start = check.aware("valid_from", valid_from)
        application = Application(
            id=t.new_id("app", now),
            app=check.app_id(app),
            interface_id=interface_id,
            fields=check.field_list("fields", fields),
            purpose=check.purpose("purpose", purpose),
            valid_from=start,
            valid_until=check.validity(start, valid_until, now),
            quota=check.check_quota("quota", quota),
            state="pending",
            reason="",
            grant_id="",
            created_at=now,
            decided_at=None,
            owner=check.interface_owner(interface_id),
        )
        with self._db.write() as conn:
            t.insert(conn, "applications", t.application_to_row(application))
        return application

    def get_application(self, application_id: str) -> Application:
        with self._db.read() as conn:
            return t.load_application(conn, application_id)

    def list_applications(
        self,
        state: str | None = None,
        apps: Iterable[str] | None = None,
        *,
        province: str | None = None,
    ) -> list[Application]:
        """Applications, oldest first; filtered by state, by app ids and/or by the applying
        apps' province (what a home node asks an owner about its own apps)."""
        clauses: list[str] = []
        params: list[object] = []
        if state:
            if state not in APPLICATION_STATES:
                raise InvalidArgument(
                    "state", f"one of {', '.join(APPLICATION_STATES)}", reason="BAD_STATE"
                )
            clauses.append("a.state = ?")
            params.append(state)
        if apps is not None:
            ids = sorted(set(apps))
            if not ids:
                return []
            clauses.append(f"a.app IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        if province is not None:
            clauses.append("substr(a.app, 1, 3) = ?")
            params.append(f"{province}/")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.read() as conn:
            # With the fields its grant carries: an approval may have narrowed them.
            rows = conn.execute(
                "SELECT a.*, g.fields AS granted_fields FROM applications AS a"
                f" LEFT JOIN grants AS g ON g.id = a.grant_id{where}"
                " ORDER BY a.created_at, a.id",
                params,
            ).fetchall()
        return [t.application_from_row(r, r["granted_fields"]) for r in rows]

    def approve(
        self,
        application_id: str,
        *,
        fields: Sequence[str] | None = None,
        quota: Quota | None = None,
        valid_until: datetime | None = None,
        max_grade: str | None = None,
        reason: str = "",
        now: datetime,
    ) -> Grant:
        """Approve a pending application, possibly narrowing it, and create its grant.

        Only narrowing is allowed: ``fields`` ⊆ asked, each quota part ≤ asked, ``valid_until``
        ≤ asked (else INVALID_ARGUMENT NOT_A_NARROWING naming the field). ``None``, an empty
        field list or a quota part of 0 (unset proto values) keep what was asked.
        """
        now = utc(now)
        grade = check.grade(max_grade or self._default_max_grade)
        note = check.text("reason", reason, required=False)
        with self._db.write() as conn:
            asked = t.pending(conn, application_id)
            grant = Grant(
                id=t.new_id("grant", now),
                grantee=asked.app,
                blanket=False,
                interface_id=asked.interface_id,
                fields=check.narrow_fields(asked.fields, fields),
                purposes=(asked.purpose,),
                max_grade=grade,
                valid_from=asked.valid_from,
                valid_until=check.narrow_until(asked, valid_until, now),
                quota=check.narrow_quota(asked.quota, quota),
                state="active",
                application_id=asked.id,
                revoked_reason="",
                created_at=now,
            )
            t.insert(conn, "grants", t.grant_to_row(grant))
            conn.execute(
                "UPDATE applications SET state = 'approved', reason = ?, grant_id = ?,"
                " decided_at = ? WHERE id = ?",
                (note, grant.id, t.stamp(now), asked.id),
            )
        return grant

    def reject(self, application_id: str, reason: str, now: datetime) -> Application:
        """Reject a pending application; the reason is required and shown to the applicant."""
        note = check.text("reason", reason, required=True, missing="MISSING_REASON")
        now = utc(now)
        with self._db.write() as conn:
            asked = t.pending(conn, application_id)
            conn.execute(
                "UPDATE applications SET state = 'rejected', reason = ?, decided_at = ?"
                " WHERE id = ?",
                (note, t.stamp(now), asked.id),
            )
        return replace(asked, state="rejected", reason=note, decided_at=now)

    # -- grants --------------------------------------------------------------------------------

    def create_blanket_grant(
        self,
        province: str,
        interface_id: str,
        fields: Sequence[str],
        purposes: Sequence[str],
        max_grade: str,
        valid_until: datetime,
        quota: Quota,
        now: datetime,
    ) -> Grant:
        """A whole-province grant (整体授权), created by the owner's operator directly.

        Fields whose grade does not allow blanket grants are accepted here but never released
        under it (the release policy drops them as NEEDS_APP_GRANT).
        """
        now = utc(now)
        check.interface_owner(interface_id)
        if isinstance(purposes, str) or not purposes:
            raise InvalidArgument("purposes", "at least one purpose", reason="MISSING_PURPOSE")
        grant = Grant(
            id=t.new_id("grant", now),
            grantee=check.province(province),
            blanket=True,
            interface_id=interface_id,
            fields=check.field_list("fields", fields),
            purposes=tuple(
                dict.fromkeys(check.purpose(f"purposes[{i}]", p) for i, p in enumerate(purposes))
            ),
            max_grade=check.grade(max_grade),
            valid_from=now,
            valid_until=check.validity(now, valid_until, now),
            quota=check.check_quota("quota", quota),
            state="active",
            application_id="",
            revoked_reason="",
            created_at=now,
        )
        with self._db.write() as conn:
            t.insert(conn, "grants", t.grant_to_row(grant))
        return grant

    def get_grant(self, grant_id: str) -> Grant:
        with self._db.read() as conn:
            return t.load_grant(conn, grant_id)

    def revoke_grant(self, grant_id: str, reason: str, now: datetime) -> Grant:
        """Revoke a grant; it stops working for the very next call."""
        note = check.text("reason", reason, required=False)
        now = utc(now)
        with self._db.write() as conn:
            grant = t.load_grant(conn, grant_id)
            if grant.state != "active":
                raise FailedPrecondition(
                    f"grant {grant_id} is already revoked", reason="GRANT_ALREADY_REVOKED"
                )
            conn.execute(
                "UPDATE grants SET state = 'revoked', revoked_reason = ?, revoked_at = ?"
                " WHERE id = ?",
                (note, t.stamp(now), grant_id),
            )
        return replace(grant, state="revoked", revoked_reason=note)

    def list_grants(
        self,
        interface_id: str | None = None,
        grantee: str | None = None,
        include_inactive: bool = False,
        *,
        now: datetime | None = None,
    ) -> list[Grant]:
        """Grants, oldest first. Without ``include_inactive``, only those active at ``now``
        (default: the wall clock)."""
        clauses: list[str] = []
        params: list[object] = []
        if interface_id:
            clauses.append("interface_id = ?")
            params.append(interface_id)
        if grantee:
            clauses.append("grantee = ?")
            params.append(grantee)
        if not include_inactive:
            stamp = t.stamp(utc(now))
            clauses.append(_ACTIVE)
            params.extend((stamp, stamp))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM grants{where} ORDER BY created_at, id", params
            ).fetchall()
        return [t.grant_from_row(r) for r in rows]

    def find_grant(self, app_id: str, interface_id: str, now: datetime) -> Grant | None:
        """The grant a call by ``app_id`` to ``interface_id`` runs under at ``now``.

        The app's own active, in-window grant if any (the newest when there are several), else
        an active, in-window blanket grant to the app's province (整体授权), else ``None``.
        Served from an in-memory view of the grants, rebuilt after any write.
        """
        return pick(self._views.grants(app_id, interface_id), utc(now))

    def latest_grant(self, app_id: str, interface_id: str) -> Grant | None:
        """The newest grant that ever covered the app for the interface, whatever its state;
        the app's own before its province's.

        Only to explain a refusal: ``find_grant(...) or latest_grant(...)`` lets the release
        policy answer GRANT_REVOKED or GRANT_EXPIRED rather than NO_GRANT. Never to authorize.
        """
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM grants WHERE interface_id = ? AND ((grantee = ? AND blanket = 0)"
                " OR (grantee = ? AND blanket = 1)) ORDER BY blanket, created_at DESC, id DESC"
                " LIMIT 1",
                (interface_id, app_id, province_of_app(app_id) or ""),
            ).fetchone()
        return t.grant_from_row(row) if row is not None else None

    # -- quota ---------------------------------------------------------------------------------

    def consume_quota(self, grant: Grant, app_id: str, now: datetime) -> None:
        """Count one call by ``app_id`` under ``grant``, or refuse it without counting.

        Check and increment are one atomic step on in-memory counters (loaded from the file
        the first time a window is seen; shared by the node's workers when it has several),
        so concurrent calls can never both take the last unit. Usage is counted per grant and
        app: each app of a province has its own quota under a blanket grant. ``flush_quota``
        writes the counters behind.
        """
        self._ledger.consume(grant, app_id, now)

    def flush_quota(self, now: datetime | None = None) -> int:
        """Write the counters changed since the last flush; returns how many.

        Also forgets finished windows already written (a shared table does not prune itself).
        """
        return self._ledger.flush(now)

    def prune_quota(self, now: datetime) -> int:
        """Delete the usage rows of finished windows; returns how many went."""
        return self._ledger.prune(now)
