"""The event loop a node serves on: uvloop when it is installed, asyncio's own otherwise.

Why (issue 18): grpcio's aio server and client hand every completion to the loop as a callback,
so a hop spends about a third of its event-loop time in the loop's own scheduling. uvloop (libuv,
in C) does that scheduling for less; it works with grpc.aio's poller and with the thread
hand-offs the node makes (``call_soon_threadsafe`` from the audit writer, ``asyncio.to_thread``).
``YRD_EVENT_LOOP=asyncio`` keeps the standard loop (to compare, or to rule the loop out).

Both loops are subclassed for one reason. grpc.aio binds every loop it ever runs on to one
process-wide poller and never unbinds it. Whichever live loop reads the poller's socket hands
each completion to the loop of the call it belongs to, with ``call_soon_threadsafe``; a loop that
has been closed raises there, and the completions queued behind the raising one wait until the
poller wakes again. For a node that is stopping, the completion waiting may be its server's
shutdown, with nothing left to wake the poller: the stop hangs. That happens wherever one process
runs grpc on successive loops: the in-process CLI, the test suite. A loop from this module, once
closed, drops the callback instead (nothing can run it any more, and nothing on a live loop waits
for it).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple, Unpack

__all__ = ["ENV", "AsyncioLoop", "loop_factory", "run"]

ENV = "YRD_EVENT_LOOP"
"""``asyncio`` for the standard loop; anything else (or unset): uvloop if installed."""

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class _DropsLateCallbacks(asyncio.AbstractEventLoop):
    """``call_soon_threadsafe`` on a closed loop drops the callback rather than raising."""

    def call_soon_threadsafe(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        try:
            return super().call_soon_threadsafe(callback, *args, context=context)
        except RuntimeError:
            if not self.is_closed():
                raise
        dropped = asyncio.Handle(callback, args, self, context)
        dropped.cancel()
        return dropped


class AsyncioLoop(_DropsLateCallbacks, asyncio.SelectorEventLoop):
    """asyncio's standard loop (``YRD_EVENT_LOOP=asyncio``, and the test suite's loops)."""


try:
    import uvloop
except ImportError:  # an install without it still runs, on the standard loop
    UvLoop: type[asyncio.AbstractEventLoop] | None = None
else:

    class UvLoop(_DropsLateCallbacks, uvloop.Loop):  # type: ignore[no-redef,misc]
        """uvloop's loop."""


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """The loop class to run on: uvloop's, unless told otherwise or not installed."""
    if os.environ.get(ENV, "").strip().lower() == "asyncio" or UvLoop is None:
        return AsyncioLoop
    return UvLoop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop ``loop_factory`` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
