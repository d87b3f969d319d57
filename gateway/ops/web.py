"""The node's ops port: a read-only operator web page and the Prometheus metrics endpoint.

``/traces`` lists traces that entered the federation at this node, ``/traces/<id>`` renders one
trace gathered from every node as a waterfall (PARTIAL when a node did not answer), ``/metrics``
is the Prometheus text format and ``/healthz`` a liveness probe. The trace pages are the node's
operator's only (``gateway.ops.login``: a bearer token, or the session cookie ``/login`` sets),
and every view is audited as an operator read; ``/metrics`` wants the metrics token when
node.yaml sets one. GET and HEAD only, except the login form's POST. The server runs in the
node's asyncio loop (aiohttp), answers only loopback host names, and is not traced itself:
looking at traces must not add traces.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import random
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from gateway.errors import InvalidArgument
from gateway.ops import pages
from gateway.ops.login import SESSION_TTL_S, OpsLogin, bearer
from gateway.ops.reads import OperatorReads, TraceFilter
from gateway.ops.traces import check_trace_id
from gateway.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

__all__ = ["OpsWeb"]


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's server logger without the traceback it logs for a request the client got
    wrong (a missing Host header, a garbled request line: a 4xx its parser answers before any
    handler runs): one debug line instead. Anything else is logged as aiohttp logs it."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kw: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and 400 <= (exc_info.code or 0) < 500:
            self.logger.debug("ops page: bad request (%s): %s", exc_info.code, exc_info.message)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kw)


HTML = "text/html; charset=utf-8"
MAX_FILTER_CHARS = 200
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SECURITY_HEADERS = {
    # Inline styles only; no scripts, no frames, no external fetches of any kind.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class OpsWeb:
    """One node's ops HTTP server. ``start`` binds, ``stop`` closes; safe to stop twice."""

    def __init__(
        self,
        node: str,
        node_names: Mapping[str, str],
        reads: OperatorReads,
        metrics: Metrics,
        login: OpsLogin,
        *,
        gather_timeout: float = 3.0,
        list_limit: int = 50,
    ) -> None:
        self.node = node
        self._names = dict(node_names)
        self._reads = reads
        self._metrics = metrics
        self._login = login
        self._actor = f"{node}/operator"
        self._gather_timeout = gather_timeout
        self._list_limit = list_limit
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The bound port once started (useful with port 0)."""

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors, self._guard, self._operator_only], client_max_size=8192
        )
        app.router.add_get("/", self._index)
        app.router.add_get("/login", self._login_form)
        app.router.add_post("/login", self._log_in)
        app.router.add_post("/logout", self._log_out)
        app.router.add_get("/traces", self._traces)
        app.router.add_get("/traces/", self._index)
        app.router.add_get("/traces/{trace_id}", self._trace)
        app.router.add_get("/trace", self._open)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/healthz", self._healthz)
        app.on_response_prepare.append(_secure)
        return app

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False
    ) -> None:
        """Serve on ``host:port``; ``reuse_port`` when the node's workers share the port."""
        if not _is_loopback(host):
            # Plain HTTP: it is for an operator on this machine (or an SSH tunnel).
            raise ValueError(f"ops web page binds loopback only, not {host!r}")
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, logger=_ServerLog(log)
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("node %s ops page on http://%s:%d/traces", self.node, host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- middlewares ------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        posting = request.method == "POST" and request.path in _POST_PATHS
        if request.method not in ("GET", "HEAD") and not posting:
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        # A browser tricked by DNS rebinding would send a foreign Host: refuse to answer it.
        host = _host_name(request.headers.get("Host", ""))
        if host is None:
            raise web.HTTPBadRequest(text="malformed Host header")
        if not _is_loopback(host):
            raise web.HTTPMisdirectedRequest(text="loopback host names only")
        origin = request.headers.get("Origin", "null")  # "null": no-referrer pages send it
        if (
            posting
            and origin != "null"
            and not _is_loopback(_host_name(_origin_host(origin)) or "")
        ):
            raise web.HTTPForbidden(text="a form from another site")
        return await handler(request)

    @web.middleware
    async def _operator_only(self, request: web.Request, handler):
        """The trace pages need the operator (bearer token or session); /metrics its token."""
        path = request.path
        if path == "/metrics":
            if not self._login.metrics_allowed(request.headers.get("Authorization", "")):
                raise web.HTTPUnauthorized(
                    text="send Authorization: Bearer <the node's metrics token>",
                    headers={"WWW-Authenticate": 'Bearer realm="yrd-metrics"'},
                )
            return await handler(request)
        if path in _OPEN_PATHS:
            return await handler(request)
        token = bearer(request.headers.get("Authorization", ""))
        if token:
            if await self._login.operator_token(token):
                return await handler(request)
        elif self._login.session(request.cookies.get(self._login.cookie, "")):
            return await handler(request)
        # Not audited: no operator acted (a flood of anonymous requests must not fill the log).
        return self._login_page(request.path_qs, status=401, problem="")

    @web.middleware
    async def _errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return self._error(exc.status, exc.reason, _explain(exc), headers=exc.headers)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ops page %s failed", request.path)
            return self._error(500, "Internal Server Error", "internal error; see the node log")

    def _error(
        self,
        status: int,
        title: str,
        message: str,
        *,
        extra: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        keep = {
            k: v for k, v in (headers or {}).items() if k.lower() in ("allow", "www-authenticate")
        }
        return web.Response(
            status=status,
            headers={**keep, "Content-Type": HTML},
            text=pages.error_page(
                status, title, message, node=self.node, names=self._names, extra=extra
            ),
        )

    # -- pages ------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/traces")

    def _login_page(self, next_path: str, *, status: int, problem: str) -> web.Response:
        return web.Response(
            status=status,
            headers={
                "Content-Type": HTML,
                "WWW-Authenticate": 'Bearer realm="yrd-ops"',
            },
            text=pages.login_page(
                _safe_next(next_path), problem, node=self.node, names=self._names
            ),
        )

    async def _login_form(self, request: web.Request) -> web.StreamResponse:
        return self._login_page(request.query.get("next", "/traces"), status=200, problem="")

    async def _log_in(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token, next_path = str(form.get("token", "")).strip(), str(form.get("next", ""))
        if not await self._login.operator_token(token):
            await self._reads.record(self._actor, "ops_page_login", decision="deny")
            return self._login_page(next_path, status=401, problem="wrong operator token")
        await self._reads.record(self._actor, "ops_page_login")
        response = web.HTTPSeeOther(_safe_next(next_path))
        response.set_cookie(
            self._login.cookie,
            self._login.issue(),
            max_age=SESSION_TTL_S,
            path="/",
            httponly=True,
            samesite="Strict",
        )
        raise response

    async def _log_out(self, request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther("/login")
        response.del_cookie(self._login.cookie, path="/")
        raise response

    async def _open(self, request: web.Request) -> web.StreamResponse:
        try:
            trace_id = check_trace_id(request.query.get("id", ""))
        except InvalidArgument as exc:
            return self._error(400, "Bad trace id", exc.message)
        raise web.HTTPSeeOther(pages.trace_link(trace_id))

    async def _traces(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        filters = {k: query.get(k, "").strip() for k in ("app", "interface", "status", "min_ms")}
        problem = _check_filters(filters)
        if problem:
            return self._error(400, "Bad filter", problem)
        min_ms = float(filters["min_ms"]) if filters["min_ms"] else 0.0
        # Through the gatherer: it waits for queued spans first, so a call that just ended is
        # listed (those of sibling workers too).
        summaries = await self._reads.recent_traces(
            TraceFilter(
                app=filters["app"],
                interface=filters["interface"],
                status=filters["status"],
                min_duration_ms=min_ms,
                limit=self._list_limit,
            ),
            self._actor,
            action="view_traces",
        )
        return _html(pages.traces_page(summaries, filters, node=self.node, names=self._names))

    async def _trace(self, request: web.Request) -> web.StreamResponse:
        try:
            trace_id = check_trace_id(request.match_info["trace_id"])
        except InvalidArgument as exc:
            return self._error(400, "Bad trace id", exc.message)
        with _untraced():
            _, gathered = await self._reads.trace(
                trace_id, self._gather_timeout, self._actor, action="view_trace"
            )
        if not any(g.spans for g in gathered):
            extra = pages.gather_banner(gathered, self._names) + pages.gather_table(
                gathered, self._names
            )
            return self._error(
                404, "Trace not found", f"no node has spans for trace {trace_id}", extra=extra
            )
        return _html(pages.trace_page(trace_id, gathered, node=self.node, names=self._names))

    async def _metrics_page(self, request: web.Request) -> web.StreamResponse:
        body, content_type = await asyncio.to_thread(
            self._metrics.exposition, request.headers.get("Accept")
        )
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=f"ok {self.node}\n", content_type="text/plain", charset="utf-8")


_POST_PATHS = ("/login", "/logout")
_OPEN_PATHS = ("/login", "/logout", "/healthz")


def _safe_next(path: str) -> str:
    """Where to go after logging in: a path on this page only (never ``//host`` or a URL)."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        if not path.startswith(("/login", "/logout")) and len(path) <= 2048:
            return path
    return "/traces"


def _origin_host(origin: str) -> str:
    return origin.split("://", 1)[-1].split("/", 1)[0]


def _html(text: str) -> web.Response:
    return web.Response(text=text, headers={"Content-Type": HTML})


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)


def _check_filters(filters: dict[str, str]) -> str:
    for key, value in filters.items():
        if len(value) > MAX_FILTER_CHARS:
            return f"{key}: at most {MAX_FILTER_CHARS} characters"
    if filters["status"] not in ("", "OK", "ERROR"):
        return "status: OK or ERROR (or empty for any)"
    if filters["min_ms"]:
        try:
            min_ms = float(filters["min_ms"])
        except ValueError:
            return "min_ms: a number of milliseconds"
        if not math.isfinite(min_ms) or min_ms < 0:
            return "min_ms: a non-negative number of milliseconds"
    return ""


def _explain(exc: web.HTTPException) -> str:
    if exc.status == 404:
        return "no such page; try /traces"
    if exc.status == 405:
        return "this page is read-only: GET and HEAD only"
    return exc.text or exc.reason


_HOST_RE = re.compile(
    r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>[0-9]{1,5}))?"
)


def _host_name(header: str) -> str | None:
    """The host part of a Host header, or None when it is not ``host[:port]`` at all.

    Parsed here rather than through ``request.url``, which raises on a bad port (``:abc``,
    ``:-1``, ``:1:1``) and would turn the client's mistake into a 500.
    """
    match = _HOST_RE.fullmatch(header.strip())
    if match is None or int(match["port"] or 0) > 65535:
        return None
    return match["ip6"] or match["name"]


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _untraced:
    """Runs a block under an unsampled trace context: the peer calls that gather a trace carry
    ``traceparent`` with the sampled flag off, so neither this node nor its peers record them
    (without it every page view would list as a new trace on every node)."""

    def __enter__(self) -> None:
        ctx = SpanContext(
            trace_id=random.getrandbits(128) or 1,
            span_id=random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
        )
        self._token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(ctx)))

    def __exit__(self, *exc: Any) -> None:
        otel_context.detach(self._token)
