"""Fills a node's catalog store from the seed generator when it is empty or seeded differently."""

from __future__ import annotations

import ctypes
import gc
import logging
import time
from collections.abc import Sequence

from gateway.catalog.model import CatalogEntry
from gateway.catalog.seed import GENERATOR_VERSION, generate_entries
from gateway.catalog.store import AnyCatalogStore
from gateway.crosswalk import Crosswalk
from gateway.departments import Departments
from gateway.standard import Standard

log = logging.getLogger(__name__)
SEED_META_KEY = "seed"
COUNT_META_KEY = "seed_count"


def seed_signature(province: str, entries: int, seed: int, standard: Standard) -> str:
    return f"{province}:{entries}:{seed}:{standard.fingerprint}:g{GENERATOR_VERSION}"


def release_free_memory() -> None:
    """Hand the seeding's freed heap back to the OS (glibc keeps it otherwise), so a node's
    resident set reflects what it serves with, not the one-off bulk load."""
    gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Hand the heap's free pages back to the OS, in every thread's arena (``malloc_trim``).
    Without the GIL (a ``ctypes`` call), and without a collection."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def ensure_seeded(
    store: AnyCatalogStore,
    *,
    province: str,
    entries: int,
    seed: int,
    standard: Standard,
    crosswalk: Crosswalk,
    departments: Departments,
    published: Sequence[CatalogEntry] = (),
    published_digest: str = "",
    force: bool = False,
) -> float | None:
    """Seed unless the store already holds exactly this seed; returns seconds taken, or None.

    ``published`` entries (the node's own interfaces as catalog resources) go in after the
    generated ones and replace any generated entry with the same code.
    """
    signature = f"{seed_signature(province, entries, seed, standard)}:{published_digest}"
    if (
        not force
        and store.get_meta(SEED_META_KEY) == signature
        and str(store.count()) == store.get_meta(COUNT_META_KEY)
    ):
        return None
    start = time.perf_counter()
    store.clear()
    store.insert_many(
        generate_entries(
            province,
            entries,
            standard=standard,
            crosswalk=crosswalk,
            departments=departments,
            seed=seed,
        )
    )
    if published:
        store.insert_many(published)
    store.set_meta(COUNT_META_KEY, str(store.count()))
    store.set_meta(SEED_META_KEY, signature)  # last: an interrupted seeding is redone
    elapsed = time.perf_counter() - start
    release_free_memory()
    log.info("seeded %s with %d catalog entries in %.1f s", province, entries, elapsed)
    return elapsed
