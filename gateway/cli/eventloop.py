"""The event loop a node serves on: uvloop when it is installed, asyncio's own otherwise.

Why (issue 18): grpcio's aio server and client hand every completion to the loop as a callback,
so a hop spends about a third of its event-loop time in the loop's own scheduling. uvloop (libuv,
in C) does that scheduling for less; it works with grpc.aio's poller and with the thread
hand-offs the node makes (``call_soon_threadsafe`` from the audit writer, ``asyncio.to_thread``).
``YRD_EVENT_LOOP=asyncio`` keeps the standard loop (to compare, or to rule the loop out).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["ENV", "loop_factory", "run"]

ENV = "YRD_EVENT_LOOP"
"""``asyncio`` for the standard loop; anything else (or unset): uvloop if installed."""

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default loop."""
    if os.environ.get(ENV, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # an install without it still runs, on the standard loop
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop ``loop_factory`` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
