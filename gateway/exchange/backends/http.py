"""The http backend: an upstream JSON API behind an interface, called with the standard library.

Contract (what an upstream must implement), for an interface whose backend options are
``{base_url, path, timeout_ms}``:

* Records: ``GET <base_url>/<path>?<param>=<value>&...&_limit=<n>[&_after=<cursor>]`` answers
  ``200`` with ``{"records": [{"cursor": "<opaque string>", "fields": {"<field>": value}}]}``:
  at most ``_limit`` records matching every parameter, ordered by cursor, all after ``_after``
  when given. Values are strings, numbers, booleans or null (null and missing become ``""``).
* Verify (核验): ``GET <base_url>/<path>?<param>=<value>&...&_mode=verify`` answers ``200`` with
  ``{"match": true|false}``: whether one record matches every parameter.

Reserved query names start with ``_``; parameter names never do. Anything else (a non-200
status, a redirect, a timeout, a body that is not that JSON, more than ``max_bytes``) is the
upstream's failure: ``Unavailable`` (reason ``BACKEND_UNAVAILABLE``) or, for a timeout,
``DeadlineExceeded`` (reason ``BACKEND_TIMEOUT``). Error messages name the interface, never the
URL: it can reveal internal hosts, and its query string holds the caller's parameters.
Fields the upstream sends but the interface does not declare are dropped here.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from gateway.errors import DeadlineExceeded, Fault, InvalidArgument, Unavailable
from gateway.exchange.model import Interface

__all__ = ["DEFAULT_MAX_BYTES", "HttpBackend"]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
_MAX_CURSOR_CHARS = 512
_CHUNK = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could send the caller's parameters to a host nobody configured.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _Failure(Fault):
    """Raised in the worker thread; turned into a GatewayError on the event loop's side."""

    def __init__(self, detail: str, *, kind: str = "unavailable") -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind
        """``unavailable``, ``timeout`` or ``malformed``."""


class HttpBackend:
    """Serves interfaces whose backend is ``http`` from one upstream base URL."""

    def __init__(
        self, base_url: str, *, timeout: float = 5.0, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._max_bytes = max_bytes
        # No proxies from the environment (they would see every parameter) and no redirects.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
        self._closed = False

    # -- the Backend protocol ----------------------------------------------------------------

    async def fetch(
        self,
        iface: Interface,
        params: Mapping[str, str],
        *,
        limit: int,
        after: str | None = None,
    ) -> list[tuple[str, dict[str, str]]]:
        if limit < 1:
            return []
        query = [*_params(iface, params), ("_limit", str(limit))]
        if after is not None:
            query.append(("_after", after))
        data = await self._get(iface, query)
        records = data.get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise _malformed(iface, "no records list")
        names = [f.name for f in iface.fields]
        out: list[tuple[str, dict[str, str]]] = []
        for item in records[:limit]:
            cursor = item.get("cursor") if isinstance(item, dict) else None
            fields = item.get("fields") if isinstance(item, dict) else None
            if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR_CHARS:
                raise _malformed(iface, "record without a cursor")
            if not isinstance(fields, dict):
                raise _malformed(iface, "record without fields")
            out.append((cursor, {name: _text(iface, fields.get(name)) for name in names}))
        return out

    async def verify(self, iface: Interface, params: Mapping[str, str]) -> bool:
        query = _params(iface, params)
        if not query:
            return False  # never ask an upstream whether "nothing" matches
        data = await self._get(iface, [*query, ("_mode", "verify")])
        match = data.get("match") if isinstance(data, dict) else None
        if not isinstance(match, bool):
            raise _malformed(iface, "no boolean match")
        return match

    async def close(self) -> None:
        self._closed = True

    # -- internals ---------------------------------------------------------------------------

    async def _get(self, iface: Interface, query: list[tuple[str, str]]) -> Any:
        if self._closed:
            raise Unavailable(f"backend of {iface.id} is closed", reason="BACKEND_UNAVAILABLE")
        path = str(iface.backend.options.get("path", "")).strip("/")
        url = f"{self._base}/{path}?{urlencode(query)}"
        try:
            # The thread bounds its own work by the same deadline (see _read), so a timed-out
            # call does not leave a worker reading from a slow upstream for long.
            async with asyncio.timeout(self._timeout):
                return await asyncio.to_thread(self._blocking_get, url)
        except TimeoutError:
            raise _timeout(iface) from None
        except _Failure as exc:
            if exc.kind == "timeout":
                raise _timeout(iface) from None
            if exc.kind == "malformed":
                raise _malformed(iface, exc.detail) from None
            log.warning("http backend of %s failed: %s", iface.id, exc.detail)
            raise Unavailable(
                f"backend of {iface.id} is unavailable", reason="BACKEND_UNAVAILABLE"
            ) from None

    def _blocking_get(self, url: str) -> Any:
        deadline = time.monotonic() + self._timeout
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise _Failure(f"HTTP {resp.status}")
                body = self._read(resp, deadline)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response body open
            raise _Failure(f"HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError)
            raise _Failure(
                type(exc.reason).__name__, kind="timeout" if timed_out else "unavailable"
            ) from None
        except TimeoutError:
            raise _Failure("timeout", kind="timeout") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Failure(type(exc).__name__) from None
        # Parsed here, off the event loop: a large answer takes a while.
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _Failure("not JSON", kind="malformed") from None

    def _read(self, resp: http.client.HTTPResponse, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise _Failure("timeout while reading", kind="timeout")
            chunk = resp.read1(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_bytes:
                raise _Failure(f"answer larger than {self._max_bytes} bytes")
            chunks.append(chunk)


def _params(iface: Interface, params: Mapping[str, str]) -> list[tuple[str, str]]:
    declared = {p.name for p in iface.params}
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        if name not in declared:
            # Never drop a parameter silently: the upstream would answer a wider question.
            raise InvalidArgument(
                f"params.{name[:32]}", "not a parameter of this interface", reason="UNKNOWN_PARAM"
            )
        if not isinstance(value, str):
            raise InvalidArgument(f"params.{name}", "must be a string", reason="BAD_FORMAT")
        out.append((name, value))
    return out


def _text(iface: Interface, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _malformed(iface, "a field value that is not a scalar")


def _malformed(iface: Interface, detail: str) -> Unavailable:
    log.warning("http backend of %s sent a malformed answer: %s", iface.id, detail)
    return Unavailable(
        f"backend of {iface.id} sent a malformed answer", reason="BACKEND_UNAVAILABLE"
    )


def _timeout(iface: Interface) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"backend of {iface.id} did not answer in time", reason="BACKEND_TIMEOUT"
    )
