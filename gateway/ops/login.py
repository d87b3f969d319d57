"""Who may read the ops page: the node's operator, by bearer token or by a session cookie.

The trace pages show which app called what, with which parameters' shapes, across the
federation: they are operator reads, like ``yrdgw trace show``. A request is let in when it
carries ``Authorization: Bearer <operator token>`` (scripts, curl) or the session cookie the
login form sets after checking that same token (browsers). The cookie is ``HttpOnly`` (no page
script can read it) and ``SameSite=Strict`` (no other site can make the browser send it), and
holds no secret of its own: an expiry and an HMAC over it with a key kept in the node's data
directory, so every worker of a node accepts what any of them issued, and deleting the key file
ends every session. Browsers keep cookies per host, not per port: each node's cookie has its
own name (``yrd_ops_session_<node>``), so logging in to one node's page does not log the
operator out of another's on the same machine.

``/metrics`` has a token of its own (``metrics_token_file`` in node.yaml), since Prometheus
should not hold the operator's: checked here too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = [
    "OPS_SESSION_KEY_FILE",
    "SESSION_TTL_S",
    "OpsLogin",
    "bearer",
    "load_session_key",
]

OPS_SESSION_KEY_FILE = "ops-session.key"
"""In the node's data directory: the key its session cookies are signed with."""

SESSION_TTL_S = 8 * 3600
"""A working day: then the operator logs in again."""
_KEY_BYTES = 32
_MAX_TOKEN = 256


def load_session_key(path: Path) -> bytes:
    """The node's session key, created on first use. Several workers may race here: the key is
    written to a private temporary file and linked into place, so all of them read the one that
    won."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secrets.token_bytes(_KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another worker's key is in place: use it
    finally:
        tmp.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise ValueError(f"{path}: not a session key ({len(key)} bytes); delete it to renew")
    return key


def bearer(header: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, else empty."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN:
        return ""
    return token


class OpsLogin:
    """Checks operator credentials for the ops page and issues its session cookies."""

    def __init__(
        self,
        node: str,
        key: bytes,
        authenticate: Callable[[str], Awaitable[bool]],
        *,
        metrics_token: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cookie = f"yrd_ops_session_{node}"
        """The session cookie's name."""
        self._key = key
        self._authenticate = authenticate
        self._metrics_token = metrics_token
        self._clock = clock

    async def operator_token(self, token: str) -> bool:
        """The node's operator token (checked against its digest in the sharing store)."""
        return bool(token) and len(token) <= _MAX_TOKEN and await self._authenticate(token)

    def issue(self) -> str:
        """A fresh session cookie value."""
        expires = int(self._clock()) + SESSION_TTL_S
        return f"{expires}.{self._sign(expires)}"

    def session(self, cookie: str) -> bool:
        """A cookie this node issued that has not expired."""
        expires_text, _, mac = cookie.partition(".")
        if not expires_text.isdigit() or len(expires_text) > 12:
            return False
        expires = int(expires_text)
        return hmac.compare_digest(mac, self._sign(expires)) and self._clock() < expires

    def metrics_allowed(self, authorization: str) -> bool:
        """``/metrics`` is open when node.yaml sets no metrics token."""
        if not self._metrics_token:
            return True
        return hmac.compare_digest(bearer(authorization).encode(), self._metrics_token.encode())

    def _sign(self, expires: int) -> str:
        return hmac.new(self._key, f"ops-session:{expires}".encode(), hashlib.sha256).hexdigest()
