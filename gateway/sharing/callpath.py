"""The sharing state a call needs on its hot path, as coroutines: the app's credential on its
home node, then the grant and the quota count on the owner.

- ``LocalCalls`` (SQLite): in-memory views checked against the file's version and in-memory
  quota counters; nothing leaves the process, so nothing is awaited.
- ``PgCalls`` (PostgreSQL): one round trip per node, sent from the event loop
  (``Postgres.fetch``). The home node reads the write version to check the app (a revoked app
  is refused on its very next call). The owner finds the grant in its view as of the newest
  version it has seen, without a round trip, and counts the call with that version in one
  statement (``pgquota.COUNT_CALL``), which counts nothing when the version moved: the grant
  is found again on fresh views and, if it is still the one, counted at the new version; if not,
  the caller decides again (``count`` answers False). Revocation stays immediate (a call
  counted under a grant ran at a version where the grant held) and quota stays exact. A view
  that must be read again (after a write) is read in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from gateway.errors import Unauthenticated
from gateway.sharing import credentials
from gateway.sharing.credentials import SecretKind
from gateway.sharing.model import App, Grant
from gateway.sharing.pgdatabase import PgDatabase
from gateway.sharing.pgquota import PgQuotaLedger
from gateway.sharing.usage import QuotaLedger
from gateway.sharing.views import Views, pick
from gateway.timefmt import utc

__all__ = ["DUMMY_DIGEST", "CallPath", "LocalCalls", "PgCalls", "check_app_secret"]

_BAD_CREDENTIAL = "bad app credential"
DUMMY_DIGEST = credentials.digest(SecretKind.APP, "", "")
"""Compared against when an app does not exist, so unknown and known apps take the same time."""

_RECOUNTS = 8
"""Times a count follows a moving version before it lets the caller decide again."""


def check_app_secret(app_id: str, secret: str, row, app: App | None) -> App:
    """The app, if ``secret`` is its secret (``row`` its stored row) and it is not revoked.

    Unknown app, wrong secret and revoked app fail alike (same reason, same message, a digest
    compared in every case), so a caller cannot probe which apps exist.
    """
    stored = row["secret_digest"] if row is not None else DUMMY_DIGEST
    ok = credentials.matches(SecretKind.APP, secret, stored, app_id)
    if row is None or app is None or not ok or row["revoked_at"] is not None:
        raise Unauthenticated(_BAD_CREDENTIAL, reason="BAD_CREDENTIAL")
    return app


class LocalCalls:
    """The hot path on a SQLite file: views and counters in memory."""

    def __init__(
        self,
        views: Views,
        ledger: QuotaLedger,
        latest: Callable[[str, str], Grant | None],
        get: Callable[[str], Grant],
    ) -> None:
        self._views, self._ledger, self._latest, self._get = views, ledger, latest, get

    async def authenticate(self, app_id: str, secret: str) -> App:
        return check_app_secret(app_id, secret, *self._views.app(app_id))

    async def find(
        self, app_id: str, interface_id: str, now: datetime, *, fresh: bool = False
    ) -> Grant | None:
        """The grant a call at ``now`` runs under (``SharingStore.find_grant``); ``fresh``: as
        of the store's latest version (always, here)."""
        return pick(self._views.grants(app_id, interface_id), utc(now))

    async def latest(self, app_id: str, interface_id: str) -> Grant | None:
        """``SharingStore.latest_grant``: only to explain a refusal."""
        return self._latest(app_id, interface_id)

    async def grant(self, grant_id: str) -> Grant:
        return self._get(grant_id)

    async def count(self, grant: Grant, app_id: str, now: datetime) -> bool:
        """Count one call under ``grant`` (True), or raise the quota refusal; False when the
        grants changed since ``grant`` was found (never, here: the views are exact)."""
        self._ledger.consume(grant, app_id, now)
        return True


class PgCalls:
    """The hot path on the province's PostgreSQL database (see the module's docstring)."""

    def __init__(
        self,
        db: PgDatabase,
        views: Views,
        ledger: PgQuotaLedger,
        latest: Callable[[str, str], Grant | None],
        get: Callable[[str], Grant],
    ) -> None:
        self._db, self._views, self._ledger = db, views, ledger
        self._latest, self._get = latest, get
        self._known = -1
        """The newest write version this replica has seen."""

    def _see(self, version: int) -> int:
        if version > self._known:
            self._known = version
        return version

    async def authenticate(self, app_id: str, secret: str) -> App:
        gen = (0, self._see(await self._db.version_async()))
        view = self._views.cached_app(app_id, gen)
        if view is None:
            view = await asyncio.to_thread(self._views.app, app_id, gen)
        return check_app_secret(app_id, secret, *view)

    async def find(
        self, app_id: str, interface_id: str, now: datetime, *, fresh: bool = False
    ) -> Grant | None:
        """The grant a call at ``now`` runs under, as of the newest version seen (``count``
        checks it), or, when ``fresh`` or nothing is found, as of the version read now (a grant
        made on another replica counts at once)."""
        when = utc(now)
        if fresh or self._known < 0:
            self._see(await self._db.version_async())
        known = self._known
        grant = await self._at(app_id, interface_id, when, known)
        if grant is None and not fresh:
            current = self._see(await self._db.version_async())
            if current != known:
                grant = await self._at(app_id, interface_id, when, current)
        return grant

    async def latest(self, app_id: str, interface_id: str) -> Grant | None:
        return await asyncio.to_thread(self._latest, app_id, interface_id)

    async def grant(self, grant_id: str) -> Grant:
        return await asyncio.to_thread(self._get, grant_id)

    async def count(self, grant: Grant, app_id: str, now: datetime) -> bool:
        when = utc(now)
        for _ in range(_RECOUNTS):
            version = self._known
            current = await self._at(app_id, grant.interface_id, when, version)
            if current is None or current.id != grant.id:
                return False  # another grant decides now (or none): the caller decides again
            moved_to, counted = await self._ledger.count_call(grant, app_id, now, version)
            self._see(moved_to)
            if counted:
                return True
        return False

    async def _at(
        self, app_id: str, interface_id: str, when: datetime, version: int
    ) -> Grant | None:
        gen = (0, version)
        view = self._views.cached_grants(app_id, interface_id, gen)
        if view is None:
            view = await asyncio.to_thread(self._views.grants, app_id, interface_id, gen)
        return pick(view, when)


CallPath = LocalCalls | PgCalls
