"""Where a search's blocking catalog reads run: one thread per process for SQLite catalogs.

A search of a SQLite catalog is CPU work that holds the GIL most of the time (reading postings,
ranking and decoding in Python and numpy), with many short releases inside SQLite and numpy.
Spread over the default executor's threads (a federated search asks four catalogs at once,
sixteen searches in flight ask sixty-four), those threads take the GIL from each other at every
release: the same searches cost half as much CPU again, and more threads only make it worse.
Measured in one process, 131,000 entries per province, 400 cold queries
(``scripts/bench_federated_search.py``): 12.8 ms of CPU per search and 91 searches/s one at a
time, 19.1 ms and 63/s sixteen at a time, on the default executor; 7.8 ms and 131/s, and
9.9 ms and 106/s, with every read on this module's one thread. Two cores give one thread of
Python, so one reader thread loses nothing but the contention.

Except when that thread is all a search has. A cold federated search first reads its
statistics from four catalogs (``CollectionStats`` over each one's published entries), one
after another, and that is where it reads its terms' postings: mostly FTS5 walking doclists and
SQLite writing the ids out, inside ``sqlite3_step`` without the GIL, so two such reads overlap
on two cores. When no other catalog read is queued or running, those four reads run at once on
two more threads (``at_once``), and the reader thread then finds every term's postings cached.
Under load the reader is never idle and nothing runs at once: the cores are busy already, and
the threads would only contend for the GIL. Measured in one process (``python
scripts/bench_federated_search.py --entries 131000 --latency 3000``: 1,000 new cold queries one
at a time, then 2,000 sixteen at a time), four runs before and four after, alternating: one at
a time, p99 22.9-23.5 against 17.1-18.4 ms (21.8 in a run where the whole box slowed), p90
9.1-9.5 against 8.1-8.3 ms, mean 5.6-5.9 against 5.2-5.5 ms, p50 unchanged (4.5-4.8 against
4.6-4.9 ms), for 0.6-0.9 ms more CPU a search (the threads' hand-offs); sixteen at a time,
187-202 against 185-197 searches/s, the same CPU. Not kept: running them at once under load
too (25-33% more CPU per search, no more searches a second), and the four parts of the answer
at once after the statistics, without floors (three pairs: p50 5.1-5.6 against 5.6-6.2 ms,
CPU 6.9-7.6 against 7.9-8.8 ms a search, p99 no better: ranking and decoding hold the GIL).

A PostgreSQL catalog's reads wait on the server, without the GIL: they stay on the default
executor, so a slow or lost server holds up none of the SQLite catalogs' searches.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from gateway.catalog.store import CatalogStore

__all__ = ["at_once", "read"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-read")
"""The process's SQLite catalog reader (its thread starts at the first read)."""


async def read(store: object, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, a blocking read of ``store``, off the event loop: on the
    process's catalog reader thread for a SQLite ``CatalogStore``, else on the default
    executor. The caller's context (its span) goes with it, as with ``asyncio.to_thread``."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    call = functools.partial(context.run, fn, *args, **kwargs)
    if not isinstance(store, CatalogStore):
        return await loop.run_in_executor(None, call)
    _enter()
    try:
        return await loop.run_in_executor(_READER, call)
    finally:
        _leave()


_AT_ONCE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="catalog-at-once")
"""Where ``at_once`` runs its reads: two threads, one per core."""

_busy = 0
"""SQLite catalog reads (``read``, ``at_once``) queued or running in this process."""
_busy_lock = threading.Lock()


def _enter() -> None:
    global _busy
    with _busy_lock:
        _busy += 1


def _leave() -> None:
    global _busy
    with _busy_lock:
        _busy -= 1


async def at_once(calls: Sequence[Callable[[], T]]) -> list[T] | None:
    """The results of ``calls`` (blocking reads of SQLite catalogs, one each) run at once on
    two threads of their own; or None, without running them, when any other catalog read is
    queued or running (the caller then reads on the reader thread, as it would have), and None
    when one of them failed (the caller reads again there, where a failure is reported)."""
    global _busy
    with _busy_lock:
        if not calls or _busy:
            return None
        _busy += 1
    try:
        loop = asyncio.get_running_loop()
        done = await asyncio.gather(
            *(loop.run_in_executor(_AT_ONCE, contextvars.copy_context().run, c) for c in calls),
            return_exceptions=True,
        )
    finally:
        _leave()
    results: list[T] = []
    for outcome in done:
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            log.debug("catalog read at once failed: %r", outcome)
            return None
        results.append(outcome)
    return results
