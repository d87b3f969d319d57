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

A PostgreSQL catalog's reads wait on the server, without the GIL: they stay on the default
executor, so a slow or lost server holds up none of the SQLite catalogs' searches.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from gateway.catalog.store import CatalogStore

__all__ = ["read"]

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
    executor = _READER if isinstance(store, CatalogStore) else None
    return await loop.run_in_executor(executor, call)
