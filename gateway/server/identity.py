"""Who is calling on the client port: an app (per-app credential) or an operator (token).

Credentials travel in metadata: ``yrd-app-id`` + ``yrd-app-secret`` for apps,
``yrd-operator-token`` for operators. App and operator credentials live in separate tables, so
one can never stand in for the other.
"""

from __future__ import annotations

import asyncio

from grpc import aio

from gateway.errors import PermissionDenied, Unauthenticated
from gateway.ids import APP_ID_RE
from gateway.server.guards import metadata_of
from gateway.sharing.model import App
from gateway.sharing.store import SharingStore

MD_APP_ID = "yrd-app-id"
MD_APP_SECRET = "yrd-app-secret"
MD_OPERATOR = "yrd-operator-token"


class Identities:
    def __init__(self, node: str, store: SharingStore) -> None:
        self._node = node
        self._store = store

    async def app(self, context: aio.ServicerContext) -> App:
        md = metadata_of(context)
        app_id, secret = md.get(MD_APP_ID, ""), md.get(MD_APP_SECRET, "")
        if not app_id or not secret:
            raise Unauthenticated(
                "app credential missing: send yrd-app-id and yrd-app-secret",
                reason="MISSING_CREDENTIAL",
            )
        if not APP_ID_RE.match(app_id) or len(secret) > 256:
            raise Unauthenticated("bad app credential", reason="BAD_CREDENTIAL")
        if not app_id.startswith(f"{self._node}/"):
            raise PermissionDenied(
                f"app {app_id} belongs to another province; apps call through their home node",
                reason="NOT_HOME_NODE",
            )
        # The store's in-memory view of apps (on PostgreSQL checked by one version read from
        # the event loop): a digest compare, no thread hop.
        return await self._store.calls.authenticate(app_id, secret)

    async def operator(self, context: aio.ServicerContext) -> str:
        token = metadata_of(context).get(MD_OPERATOR, "")
        if not token:
            raise Unauthenticated(
                "operator credential missing: send yrd-operator-token", reason="MISSING_CREDENTIAL"
            )
        if len(token) > 256 or not await asyncio.to_thread(
            self._store.authenticate_operator, token
        ):
            raise Unauthenticated("bad operator credential", reason="BAD_CREDENTIAL")
        return f"{self._node}/operator"
