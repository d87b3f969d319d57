"""In-memory views of the sharing file for the calls' hot path: an app's row (to check its
credential) and the grants an (app, interface) call may run under.

Exact, not a staleness trade: a view is kept with the file's version when it was read
(``Database.version``: this connection's writes and everyone else's; on PostgreSQL the
shared write version), and read again as soon
as that moved, so a revoke takes effect for the very next call.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from gateway.ids import province_of_app
from gateway.sharing import tables as t
from gateway.sharing.database import Database
from gateway.sharing.model import App, Grant
from gateway.sharing.pgdatabase import PgDatabase

VIEW_LIMIT = 10_000
"""Cached (app, interface) grant views and app rows kept between writes at most."""


class Views:
    """The views of one sharing file."""

    def __init__(self, db: Database | PgDatabase) -> None:
        self._db = db
        self._grant_views: dict[tuple[str, str], tuple[object, list[Grant], list[Grant]]] = {}
        # app id -> (version, row, App): the App is built once, not per call.
        self._app_views: dict[str, tuple[object, sqlite3.Row | None, App | None]] = {}

    def app(self, app_id: str, gen: object = None) -> tuple[sqlite3.Row | None, App | None]:
        """The app's row and record (None, None when there is no such app), as of ``gen`` (the
        file's version; None: read it now)."""
        if gen is None:
            gen = self._db.version()
        cached = self._app_views.get(app_id)
        if cached is not None and cached[0] == gen:
            return cached[1], cached[2]
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM apps WHERE id = ?", (app_id,)).fetchone()
        app = t.app_from_row(row) if row is not None else None
        if len(self._app_views) > VIEW_LIMIT:
            self._app_views.clear()
        self._app_views[app_id] = (gen, row, app)
        return row, app

    def cached_app(self, app_id: str, gen: object) -> tuple[sqlite3.Row | None, App | None] | None:
        """The app's view if it is at ``gen``; None when it must be read (``app``)."""
        cached = self._app_views.get(app_id)
        return (cached[1], cached[2]) if cached is not None and cached[0] == gen else None

    def cached_grants(
        self, app_id: str, interface_id: str, gen: object
    ) -> tuple[list[Grant], list[Grant]] | None:
        """The grant view if it is at ``gen``; None when it must be read (``grants``)."""
        cached = self._grant_views.get((app_id, interface_id))
        return (cached[1], cached[2]) if cached is not None and cached[0] == gen else None

    def grants(
        self, app_id: str, interface_id: str, gen: object = None
    ) -> tuple[list[Grant], list[Grant]]:
        """The active grants of the app itself and of its province, newest first (validity
        windows are the caller's to check), as of ``gen`` (None: read the version now)."""
        key = (app_id, interface_id)
        if gen is None:
            gen = self._db.version()
        cached = self._grant_views.get(key)
        if cached is not None and cached[0] == gen:
            return cached[1], cached[2]
        newest = "ORDER BY created_at DESC, id DESC"
        with self._db.read() as conn:
            own = [
                t.grant_from_row(r)
                for r in conn.execute(
                    f"SELECT * FROM grants WHERE grantee = ? AND blanket = 0 AND interface_id = ?"
                    f" AND state = 'active' {newest}",
                    (app_id, interface_id),
                )
            ]
            province = province_of_app(app_id)
            blanket = (
                [
                    t.grant_from_row(r)
                    for r in conn.execute(
                        "SELECT * FROM grants WHERE grantee = ? AND blanket = 1"
                        f" AND interface_id = ? AND state = 'active' {newest}",
                        (province, interface_id),
                    )
                ]
                if province
                else []
            )
        if len(self._grant_views) > VIEW_LIMIT:
            self._grant_views.clear()
        self._grant_views[key] = (gen, own, blanket)
        return own, blanket


def pick(view: tuple[list[Grant], list[Grant]], when: datetime) -> Grant | None:
    """The grant a call runs under at ``when``: the app's own newest active one, else its
    province's newest active blanket grant (整体授权), else None."""
    for grants in view:
        for grant in grants:  # newest first
            if grant.status(when) == "active":
                return grant
    return None
