"""Applications added straight to a SharingStore, for the store's own tests on either backend:
the usual app, interface, fields and purpose, a 30-day validity and a small quota."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.sharing.model import Application, Quota
from gateway.sharing.store import SharingStore
from tests.support.names import APP, FIELDS, IFACE, PURPOSE, T0

QUOTA = Quota(10, 100)


def apply(
    store: SharingStore,
    *,
    app: str = APP,
    fields: tuple[str, ...] = FIELDS,
    quota: Quota = QUOTA,
    days: int = 30,
    now: datetime = T0,
) -> Application:
    return store.add_application(
        app, IFACE, fields, PURPOSE, now, now + timedelta(days=days), quota, now=now
    )
