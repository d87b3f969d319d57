"""The ops page's Host check, byte for byte: which Host headers a node answers, and that it never
binds anything but loopback.

A browser tricked by DNS rebinding sends a foreign Host, so only loopback names are answered
(421); a Host that is not a host at all is the client's mistake (400), never a 500 with a
traceback in the node log. Raw requests over a socket, because an HTTP client library tidies up
the very headers under test.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import pytest_asyncio

from gateway.ops.login import OpsLogin
from gateway.ops.web import OpsWeb
from gateway.telemetry.metrics import Metrics

in_module_loop = pytest.mark.asyncio(loop_scope="module")


class _NoTraces:
    """Stands in for the operator's reads: these tests only ask for /healthz."""


async def _nobody(token: str) -> bool:
    return False


_LOGIN = OpsLogin("js", bytes(32), _nobody)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web():
    page = OpsWeb("js", {"js": "江苏"}, _NoTraces(), Metrics("js"), _LOGIN)  # type: ignore[arg-type]
    await page.start("127.0.0.1", 0)
    yield page
    await page.stop()


async def _status(port: int, host_line: bytes | None) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = b"GET /healthz HTTP/1.1\r\n"
        if host_line is not None:
            head += b"Host: " + host_line + b"\r\n"
        writer.write(head + b"Connection: close\r\n\r\n")
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest


@in_module_loop
@pytest.mark.parametrize(
    "host",
    [
        b"localhost",
        b"LOCALHOST",
        b"localhost:50521",
        b"127.0.0.1",
        b"127.0.0.1:50521",
        b"127.9.9.9:1",
        b"[::1]",
        b"[::1]:50521",
    ],
)
async def test_loopback_host_names_are_answered(web: OpsWeb, host: bytes):
    status, body = await _status(web.port, host)
    assert status == 200, body
    assert body.endswith(b"ok js\n")


@in_module_loop
@pytest.mark.parametrize(
    "host",
    [
        b"evil.example",
        b"evil.example:80",
        b"localhost.evil.example",
        b"localhost.evil.example:50521",
        b"127.0.0.1.evil.example",
        b"10.0.0.1",
        b"[::2]",
        b"0.0.0.0",
    ],
)
async def test_foreign_or_missing_host_names_are_refused(web: OpsWeb, host: bytes | None):
    status, body = await _status(web.port, host)
    assert status == 421, body
    assert b"loopback host names only" in body


@in_module_loop
async def test_a_request_without_host_is_a_bad_request(
    web: OpsWeb, caplog: pytest.LogCaptureFixture
):
    # HTTP/1.1 requires Host: 400, and nothing in the node log that reads like a crash.
    for host in (None, b""):
        with caplog.at_level(logging.DEBUG):
            status, body = await _status(web.port, host)
        assert status == 400, body
        assert b"Traceback" not in body
        assert not [r for r in caplog.records if r.exc_info], "a missing Host logged a traceback"
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
        caplog.clear()


@in_module_loop
@pytest.mark.parametrize(
    "host",
    [b"127.0.0.1:abc", b"localhost:-1", b":-1", b":1:1", b"127.0.0.1:99999", b"[::1", b"[::1]:x"],
)
async def test_malformed_host_is_a_bad_request_not_a_crash(
    web: OpsWeb, host: bytes, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.ERROR):
        status, body = await _status(web.port, host)
    assert status == 400, body
    assert b"malformed Host header" in body
    assert b"Traceback" not in body and b"internal error" not in body
    assert not [r for r in caplog.records if r.exc_info], "a malformed Host logged a traceback"


@in_module_loop
@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com"])
async def test_refuses_to_bind_a_non_loopback_address(address: str):
    page = OpsWeb("js", {"js": "江苏"}, _NoTraces(), Metrics("js"), _LOGIN)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loopback only"):
        await page.start(address, 0)
    assert page.port is None
    await page.stop()
