"""A node serves on uvloop when it is installed, and on asyncio's loop when told to."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from gateway.cli import eventloop


def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.ENV, raising=False)
    assert eventloop.loop_factory() is uvloop.new_event_loop

    async def which() -> type:
        return type(asyncio.get_running_loop())

    assert eventloop.run(which()) is uvloop.Loop


def test_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV, "asyncio")
    assert eventloop.loop_factory() is None

    async def which() -> bool:
        return isinstance(asyncio.get_running_loop(), uvloop.Loop)

    assert eventloop.run(which()) is False
