"""Replication's own cost in the benchmark: how long every node takes to hold a copy of every
other province's catalog after the federation starts (twelve followers catching up at once),
then one follower's catch-up of one 131,000-entry catalog on its own (sh re-following js from
an empty replica) with its apply rate, and how the follower's node answers searches meanwhile;
then how a node answers the popular searches while one province's catalog keeps changing
(``search_while_writing``).

The figures are read from the files the nodes write: a replica's cursor and its first catch-up's
start and end (``gateway.catalog.store.replica``), the owner's head (its ``meta.change_seq``).
The cases are measured only once every replica is in sync, so a search case never shares the
CPU with a catch-up.
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import grpc

from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc
from gateway.catalog.store import CatalogStore, replica
from gateway.catalog.store.replica import ReplicaState
from gateway.client import open_channel
from gateway.config import FederationConfig

__all__ = ["catch_up_alone", "search_while_writing", "wait_in_sync"]

SYNC_TIMEOUT_S = 1800.0
CHURN_SECONDS = 8.0
"""How long the popular searches are asked without writes, then again with them."""
CHURN_EVERY_S = 0.5
CHURN_PER_WRITE = 5
"""The owner's writes while searching: this many entries edited, every ``CHURN_EVERY_S``."""


def _read(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def owner_head(fed: FederationConfig, owner: str) -> int:
    rows = _read(
        fed.data_dir / owner / "catalog.db", "SELECT value FROM meta WHERE key = 'change_seq'"
    )
    return int(rows[0][0]) if rows else 0


def replica_state(fed: FederationConfig, node: str, province: str) -> ReplicaState | None:
    path = fed.data_dir / node / "replicas" / f"{province}.db"
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return replica.read_state(conn)
    except sqlite3.Error:  # not created yet
        return None
    finally:
        conn.close()


#: The head of an owner's change feed (``meta.change_seq``), by province.
OwnerHead = Callable[[str], int]


def _in_sync(fed: FederationConfig, node: str, province: str, head: int) -> bool:
    """Whether ``node``'s replica of ``province`` holds the owner's ``head`` (and it has one)."""
    state = replica_state(fed, node, province)
    return state is not None and state.seq >= head > 0


def wait_in_sync(
    fed: FederationConfig,
    nodes: Iterable[str],
    say=print,
    *,
    head: OwnerHead | None = None,
    timeout: float = SYNC_TIMEOUT_S,
) -> dict[str, Any]:
    """Wait until every node's replica of every other node holds its owner's head; the time
    that took, and each replica's first catch-up (start to first in sync). ``head``: where
    an owner's head is read when its catalog is not the SQLite file under ``fed.data_dir``
    (a PostgreSQL federation's, ``pgfederation``); replicas are SQLite files either way."""
    nodes = list(nodes)
    read_head = head or (lambda province: owner_head(fed, province))
    pairs = [(n, p) for n in nodes for p in nodes if p != n]
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    say(f"waiting for {len(pairs)} replicas to catch up ...")
    while True:
        heads = {p: read_head(p) for p in nodes}  # each owner once a round, not once a follower
        if all(_in_sync(fed, n, p, heads[p]) for n, p in pairs):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"replicas not in sync after {timeout:.0f} s")
        time.sleep(0.5)
    waited = time.perf_counter() - started
    catch_ups = {}
    for node, province in pairs:
        state = replica_state(fed, node, province)
        assert state is not None
        catch_ups[f"{node}<-{province}"] = round(state.synced_at - state.started_at, 2)
    say(f"every replica in sync {waited:.1f} s after the federation was up")
    return {"all_in_sync_after_up_s": round(waited, 2), "first_catch_up_s": catch_ups}


def catch_up_alone(
    bench: Any, follower: str = "sh", owner: str = "js", say=print
) -> dict[str, Any]:
    """Restart ``follower`` with its replica of ``owner`` removed and time its catch-up alone;
    meanwhile search through ``follower`` (live=False) once every 0.2 s and time the answers."""
    fed: FederationConfig = bench.fed
    procs = bench.procs
    path = fed.data_dir / follower / "replicas" / f"{owner}.db"
    procs.stop(follower)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    procs.start(follower)
    procs.wait_ready([follower], timeout=600)
    head = owner_head(fed, owner)
    say(f"{follower} re-following {owner} from an empty replica ({head:,} changes) ...")
    latencies: list[float] = []
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    with open_channel(fed, follower, insecure=False) as channel:
        stub = catalog_pb2_grpc.CatalogStub(channel)
        request = catalog_pb2.SearchRequest(query="户籍", page_size=20)
        while not _in_sync(fed, follower, owner, head):  # nothing writes to the owner meanwhile
            if time.monotonic() > deadline:
                raise TimeoutError(f"{follower}'s replica of {owner} not in sync")
            started = time.perf_counter()
            try:
                stub.Search(request, timeout=10)
                latencies.append((time.perf_counter() - started) * 1000)
            except grpc.RpcError:
                latencies.append(float("inf"))
            time.sleep(0.2)
    state = replica_state(fed, follower, owner)
    assert state is not None
    took = state.synced_at - state.started_at
    rows = _read(path, "SELECT count(*) FROM entries")[0][0]
    finite = sorted(x for x in latencies if x != float("inf"))
    result = {
        "follower": follower,
        "owner": owner,
        "entries": int(rows),
        "changes": head,
        "catch_up_s": round(took, 2),
        "apply_rate_per_s": round(rows / took) if took > 0 else None,
        "searches_meanwhile": len(latencies),
        "search_failed_meanwhile": len(latencies) - len(finite),
        "search_p50_ms_meanwhile": round(statistics.median(finite), 1) if finite else None,
        "search_max_ms_meanwhile": round(finite[-1], 1) if finite else None,
    }
    say(
        f"{follower} caught up with {owner}'s {rows:,} entries in {took:.1f} s "
        f"({result['apply_rate_per_s']:,} entries/s); searches through {follower} meanwhile: "
        f"p50 {result['search_p50_ms_meanwhile']} ms, max {result['search_max_ms_meanwhile']} ms"
    )
    return result


def search_while_writing(
    bench: Any,
    requests: Iterable[bytes],
    owner: str = "js",
    via: str = "sh",
    seconds: float = CHURN_SECONDS,
    say=print,
) -> dict[str, Any]:
    """How ``via`` answers ``requests`` (searches, asked one at a time in turn) for ``seconds``
    while nothing changes, then for ``seconds`` while ``owner``'s catalog takes a write of
    ``CHURN_PER_WRITE`` edited entries every ``CHURN_EVERY_S`` (written to its file, as a load
    would be; the owner's feed carries each to the other nodes' replicas). Every write moves
    the write generation of the owner's catalog and of each replica of it."""
    fed: FederationConfig = bench.fed
    path = fed.data_dir / owner / "catalog.db"
    asked = [catalog_pb2.SearchRequest.FromString(r) for r in requests]
    codes = [str(row[0]) for row in _read(path, "SELECT code FROM entries ORDER BY id")]
    say(
        f"searching through {via} while {owner}'s catalog takes a {CHURN_PER_WRITE}-entry write "
        f"every {CHURN_EVERY_S} s ..."
    )
    writes: list[float] = []
    stop = threading.Event()
    with CatalogStore(path) as store, open_channel(fed, via, insecure=False) as channel:
        stub = catalog_pb2_grpc.CatalogStub(channel)
        quiet = _ask_for(stub, asked, seconds)

        def write() -> None:
            rng = random.Random(11)
            while not stop.wait(CHURN_EVERY_S):
                edited = []
                for code in rng.sample(codes, CHURN_PER_WRITE):
                    entry = store.get(code)
                    if entry is not None:
                        note = f"（第{len(writes) + 1}次修订）"
                        edited.append(dataclasses.replace(entry, abstract=entry.abstract + note))
                started = time.perf_counter()
                store.insert_many(edited)
                writes.append(time.perf_counter() - started)

        writer = threading.Thread(target=write, name="churn-writer", daemon=True)
        writer.start()
        try:
            busy = _ask_for(stub, asked, seconds)
        finally:
            stop.set()
            writer.join()
    result = {
        "owner": owner,
        "via": via,
        "seconds": seconds,
        "writes": len(writes),
        "entries_per_write": CHURN_PER_WRITE,
        "every_s": CHURN_EVERY_S,
        "quiet": quiet,
        "writing": busy,
    }
    say(
        f"  through {via}: quiet p50 {quiet['p50_ms']} ms, p99 {quiet['p99_ms']} ms; while "
        f"{owner} wrote {len(writes)} times: p50 {busy['p50_ms']} ms, p99 {busy['p99_ms']} ms, "
        f"max {busy['max_ms']} ms"
    )
    return result


def _ask_for(
    stub: catalog_pb2_grpc.CatalogStub, requests: list[catalog_pb2.SearchRequest], seconds: float
) -> dict[str, Any]:
    """Ask ``requests`` in turn, one at a time, for ``seconds``: how many, how fast."""
    latencies: list[float] = []
    failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        request = requests[len(latencies) % len(requests)]
        started = time.perf_counter()
        try:
            stub.Search(request, timeout=10)
        except grpc.RpcError:
            failed += 1
        latencies.append((time.perf_counter() - started) * 1000)
    ordered = sorted(latencies)
    return {
        "asked": len(ordered),
        "failed": failed,
        "p50_ms": round(statistics.median(ordered), 2) if ordered else None,
        "p99_ms": round(ordered[int(len(ordered) * 0.99)], 2) if ordered else None,
        "max_ms": round(ordered[-1], 2) if ordered else None,
    }
