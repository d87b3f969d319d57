"""Federated catalog search: ask this node and its peers in parallel, merge by relevance.

By default another province's part comes from this node's replica of its catalog (``replicas``),
reported as such, with its freshness; a ``live`` search, and a province whose replica has never
been in sync, asks the province's node. A peer that is down, refuses or is slow makes a live
answer partial and says which and why; it never fails the whole query and never holds it past
the caller's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import NamedTuple, Protocol

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from gateway.catalog.answers import (
    ANSWERED,
    FAILED,
    NOT_ASKED,
    TIMED_OUT,
    Bucket,
    Facets,
    FederatedAnswer,
    Hit,
    LocalAnswer,
    PeerFailure,
    ProvinceAnswer,
    ReplicaReport,
    ScoredEntry,
)
from gateway.catalog.model import RESOURCE_CODE_RE, CatalogEntry
from gateway.catalog.query import FederatedQuery, Filters, departments_for
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.reads import at_once, read
from gateway.catalog.store import AnyCatalogStore, CatalogStore, LocalResult, SearchQuery
from gateway.catalog.store import Hit as StoreHit
from gateway.catalog.store.feed import published_share_types, publishes
from gateway.catalog.textindex import QueryTerm, parse_query
from gateway.deadlines import budget
from gateway.errors import InvalidArgument, NotFound, Unavailable
from gateway.memo import IdentityMemo
from gateway.tracing import current, step

log = logging.getLogger(__name__)

Floor = float | None
"""Hits scoring below it may be left out of a catalog's part of a federated answer
(``SearchQuery.floor``)."""


class Labels:
    """Chinese labels for facet values: the standard's names and this node's departments."""

    def __init__(
        self, node: str, by_field: Mapping[str, Mapping[str, str]], departments: Mapping[str, str]
    ) -> None:
        self._node = node
        self._by_field = by_field
        self._departments = departments

    def facets(self, counts: Mapping[str, Mapping[str, int]]) -> Facets:
        out: Facets = {}
        for name, values in counts.items():
            if name == "department":
                out[name] = {
                    f"{self._node}/{code}": Bucket(self._departments.get(code, code), n)
                    for code, n in values.items()
                }
            else:
                labels = self._by_field.get(name, {})
                out[name] = {v: Bucket(labels.get(v, v), n) for v, n in values.items()}
        return out


#: How many answers' hits a ``LocalCatalog`` keeps converted: more than its store's result cache
#: holds (128 answers by default), so every cached answer finds its hits built.
_SCORED_KEPT = 512


class LocalCatalog:
    """This node's own catalog; its reads run in a thread so the event loop keeps serving
    (``gateway.catalog.reads``: one thread per process for SQLite).

    A query's text expands through the standard's synonyms here (``synonyms``: each term -> its
    equivalents, ``Synonyms.equivalents``), once for both ports: every node holds the same list
    (the standard's digest covers it), so a peer's answer expands as this node's would. A peer's
    search (and a live one) ranks with the store's own collection statistics
    (``CollectionStats``); a search answered from this node's replicas ranks with statistics
    summed over what its catalog publishes and the replicas (``FederatedCatalog``), at no round
    trip: the same sum on every node whose replicas are in sync.
    """

    def __init__(
        self,
        node: str,
        store: AnyCatalogStore,
        labels: Labels,
        synonyms: Mapping[str, tuple[str, ...]] | None = None,
        *,
        share_types: tuple[str, ...] = (),
    ) -> None:
        """``share_types``: every share type of the standard (for ``published_only``)."""
        self.node = node
        self._store = store
        # A SQLite store's caches are asked on the event loop (one indexed read of a local
        # file, microseconds), and its reads may run beside other SQLite catalogs' (``reads``).
        # Another store's caches are not asked there: each question is a round trip to its
        # server, which would hold up every call the loop serves meanwhile (up to the pool's
        # wait of 2 s while the server is down). Its searches go off the loop, where the
        # store consults its caches itself, and no federated answer is kept over it.
        self._sqlite = isinstance(store, CatalogStore)
        self._labels = labels
        equivalents = dict(synonyms or {})
        # Popular queries repeat, and expanding one costs more than answering it from the cache.
        self._terms = functools.lru_cache(maxsize=4096)(lambda text: parse_query(text, equivalents))
        self._share_types = share_types
        # The hits of answers from the store's result cache, as the merge takes them: a cached
        # answer's hits are one tuple for as long as it stays cached, and building twenty
        # ``ScoredEntry`` per catalog was a tenth of a popular search's CPU.
        self._scored: IdentityMemo[tuple[StoreHit, ...], tuple[ScoredEntry, ...]] = IdentityMemo(
            _SCORED_KEPT
        )

    async def search(
        self,
        text: str,
        filters: Filters,
        limit: int,
        facets: bool = True,
        *,
        published_only: bool = False,
        stats: CollectionStats | None = None,
    ) -> LocalAnswer:
        """``published_only``: only what this node publishes to the other provinces (a peer's
        search: what the owner keeps to itself never leaves, ``store.feed.publishes``).
        ``stats``: the collection statistics to rank with (None: this catalog's own)."""
        share_types = filters.share_types
        if published_only:
            share_types = published_share_types(share_types or self._share_types)
            if not share_types:
                return LocalAnswer(node=self.node, hits=(), total=0, facets={})
        query = self._query(text, filters, limit, stats, None, facets, share_types)
        # A repeated search is answered from the store's result cache right here: the worker
        # thread's hop costs more CPU than that. Anything else reads SQLite off the event loop.
        result = self._store.search_if_cached(query) if self._sqlite else None
        if result is None:
            result = await read(self._store, self._store.search, query)
        return self._answer(result, facets)

    def cached_answer(
        self, text: str, filters: Filters, limit: int, stats: CollectionStats | None, floor: Floor
    ) -> LocalAnswer | None:
        """The answer of ``answer_now`` if the store's result cache holds it (on the event
        loop: one indexed read); else None (always, for a store that is not SQLite)."""
        if not self._sqlite:
            return None
        result = self._store.search_if_cached(self._query(text, filters, limit, stats, floor))
        return None if result is None else self._answer(result, True)

    def answer_now(
        self, text: str, filters: Filters, limit: int, stats: CollectionStats | None, floor: Floor
    ) -> LocalAnswer:
        """A federated search's part from this catalog (blocking: call it in a thread, through
        ``reads``), leaving out hits below ``floor`` (``SearchQuery.floor``)."""
        query = self._query(text, filters, limit, stats, floor)
        return self._answer(self._store.search(query), True)

    def _query(
        self,
        text: str,
        filters: Filters,
        limit: int,
        stats: CollectionStats | None,
        floor: Floor,
        facets: bool = True,
        share_types: tuple[str, ...] | None = None,
    ) -> SearchQuery:
        """The store's query (``share_types``: in place of the filters' own)."""
        return SearchQuery(
            text=text,
            filters=Filters(
                categories=filters.categories,
                grades=filters.grades,
                share_types=filters.share_types if share_types is None else share_types,
                departments=departments_for(self.node, filters.departments),
                update_cycles=filters.update_cycles,
                data_marks=filters.data_marks,
            ),
            limit=limit,
            facets=facets,
            terms=self._terms(text),
            stats=stats,
            floor=floor,
        )

    def _answer(self, result: LocalResult, facets: bool) -> LocalAnswer:
        return LocalAnswer(
            node=self.node,
            hits=self._scored_hits(result.hits),
            total=result.total,
            facets=self._labels.facets(result.facets) if facets else {},
        )

    def _scored_hits(self, hits: tuple[StoreHit, ...]) -> tuple[ScoredEntry, ...]:
        scored = self._scored.get(hits)
        if scored is None:
            scored = tuple(
                ScoredEntry(h.score, h.entry.code, h.entry.province, h.entry) for h in hits
            )
            self._scored.put(hits, scored)
        return scored

    def generation(self) -> int | None:
        """What this catalog's answers depend on that can change, when its store caches answers
        and can tell right now (one indexed read, fit for the event loop); else None. An answer
        built from it is good for as long as it stays the same (``FederatedCatalog``). None
        for a store that is not SQLite: it cannot tell on the event loop."""
        return self._store.cached_generation() if self._sqlite else None

    @property
    def store(self) -> AnyCatalogStore:
        return self._store

    def terms(self, text: str) -> tuple[QueryTerm, ...]:
        """The ranking terms of ``text``, expanded through the standard's synonyms."""
        return self._terms(text)

    def collection_stats(self, terms: tuple[QueryTerm, ...]) -> CollectionStats:
        """This catalog's part of the federation's statistics for ``terms``: over what it
        publishes, which is what every other node's replica of it holds, so every node in sync
        sums the same statistics and ranks alike (a blocking read: call it in a thread)."""
        return self._store.collection_stats(terms, published_only=True)

    def stats_read(self, terms: tuple[QueryTerm, ...]) -> Callable[[], CollectionStats] | None:
        """``collection_stats(terms)`` as a blocking call that may run beside other catalogs'
        (``reads.at_once``: a SQLite store's); None for another store."""
        return functools.partial(self.collection_stats, terms) if self._sqlite else None

    def cached_stats(self, terms: tuple[QueryTerm, ...]) -> CollectionStats | None:
        """``collection_stats`` if the store has them cached at its current generation (one
        indexed read: fit for the event loop); else None (always, for a store that is not
        SQLite)."""
        if not self._sqlite:
            return None
        return self._store.collection_stats_if_cached(terms, published_only=True)

    async def get(self, code: str, *, published_only: bool = False) -> CatalogEntry | None:
        entry = await read(self._store, self._store.get, code)
        if entry is not None and published_only and not publishes(entry):
            return None
        return entry


class CatalogPeer(Protocol):
    """A peer's catalog as the federation sees it (implemented over gRPC by
    ``gateway.peers.catalog``); every failure is a ``PeerFailure``."""

    id: str
    name: str

    async def search_local(
        self, text: str, filters: Filters, limit: int, timeout: float
    ) -> LocalAnswer: ...

    async def get_local(self, code: str, timeout: float) -> CatalogEntry | None: ...


class Replica(Protocol):
    """This node's copy of a province's catalog (``gateway.catalog.replicas.ReplicaCatalog``)."""

    def report(self, *, owner_down: bool = False) -> ReplicaReport | None:
        """How fresh it is; None while it has never been in sync (not to answer from)."""
        ...

    def cached_answer(
        self, text: str, filters: Filters, limit: int, stats: CollectionStats | None, floor: Floor
    ) -> LocalAnswer | None:
        """``answer_now``'s answer if cached (fit for the event loop); else None."""
        ...

    def answer_now(
        self, text: str, filters: Filters, limit: int, stats: CollectionStats | None, floor: Floor
    ) -> LocalAnswer:
        """Its part of a federated search (a blocking read), hits below ``floor`` left out."""
        ...

    def collection_stats(self, terms: tuple[QueryTerm, ...]) -> CollectionStats:
        """Its statistics for ``terms`` (a blocking read)."""
        ...

    def cached_stats(self, terms: tuple[QueryTerm, ...]) -> CollectionStats | None:
        """Its statistics for ``terms`` if cached (fit for the event loop); else None."""
        ...

    def stats_read(self, terms: tuple[QueryTerm, ...]) -> Callable[[], CollectionStats] | None:
        """``collection_stats`` as a call for ``reads.at_once``, or None (``LocalCatalog``)."""
        ...

    def generation(self) -> Hashable | None:
        """What its answers depend on that can change (``LocalCatalog.generation``), if it can
        tell right now; else None."""
        ...

    async def get(self, code: str) -> CatalogEntry | None: ...


Part = LocalCatalog | Replica
"""A part of a federated answer this node reads from its own data."""


class _Parts:
    """The parts of a federated answer read from this node's own data so far, and the floor
    the next may leave out hits below: the lowest of the best ``depth`` scores so far."""

    def __init__(self, depth: int) -> None:
        self.results: dict[str, tuple[ProvinceAnswer, LocalAnswer | None]] = {}
        self._depth = depth
        self._best: list[float] = []  # a heap of the best ``depth`` scores so far

    def floor(self) -> Floor:
        if self._depth and len(self._best) >= self._depth:
            return self._best[0]
        return None

    def add(self, status: ProvinceAnswer, answer: LocalAnswer | None, span: Span) -> None:
        _end_part(span, status)
        self.results[status.province] = (status, answer)
        for hit in answer.hits if answer is not None else ():
            if len(self._best) < self._depth:
                heapq.heappush(self._best, hit.score)
            elif hit.score > self._best[0]:
                heapq.heapreplace(self._best, hit.score)


def _end_part(span: Span, status: ProvinceAnswer) -> None:
    span.set_attributes({"yrd.state": status.state, "yrd.total": status.total})
    if status.state != ANSWERED:
        span.set_status(Status(StatusCode.ERROR, status.reason))


class Found(NamedTuple):
    """An entry looked up by code, and the replica's report when the owner did not answer."""

    entry: CatalogEntry
    replica: ReplicaReport | None = None


KEPT_ANSWERS = 256
"""Federated answers kept by default. A popular search repeats; answered again part by part from
the parts' own caches, it cost four result-cache lookups, four spans, four facet labellings and
a merge: most of its CPU on the node."""


class _Kept(NamedTuple):
    """A federated answer given wholly from this node's own data, as kept for the next time
    (without the provinces' states, which are read again: a replica's freshness changes)."""

    hits: tuple[Hit, ...]
    total: int
    facets: Facets
    totals: Mapping[str, int]
    next_page_token: str


class FederatedCatalog:
    """The node's Catalog service: local search plus parallel fan-out, merged.

    An answer given wholly from this node's own catalog and replicas is kept, keyed by the
    query, the parts, and the generation of every catalog it was read from (``_kept_key``): the
    same search answers from it until one of them is written to. A live search, an answer with a
    part from a peer, and a partial answer are never kept.
    """

    def __init__(
        self,
        node: str,
        province_names: Mapping[str, str],
        local: LocalCatalog,
        peers: Mapping[str, CatalogPeer],
        *,
        default_budget: float,
        tracer: Tracer | None = None,
        observe_province: Callable[[str, str, float], None] | None = None,
        replicas: Mapping[str, Replica] | None = None,
        kept_answers: int = KEPT_ANSWERS,
    ) -> None:
        """``observe_province(province, state, seconds)``: each asked province's answer, for the
        node's metrics (search latency per province). ``replicas``: this node's copies of the
        other provinces' catalogs, by province. ``kept_answers``: how many answers given wholly
        from this node's own data are kept (0: none)."""
        self.node = node
        self._observe = observe_province
        self._tracer = tracer or trace.get_tracer(__name__)
        self._names = dict(province_names)
        self._local = local
        self._peers = dict(peers)
        self._replicas = dict(replicas or {})
        self._default_budget = default_budget
        self._kept_size = kept_answers
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()

    def budget(self, time_remaining: float | None) -> float:
        """Time the fan-out may take (see ``gateway.deadlines``)."""
        return budget(time_remaining, self._default_budget)

    async def search(self, query: FederatedQuery, time_remaining: float | None) -> FederatedAnswer:
        start = time.perf_counter()
        budget = self.budget(time_remaining)
        asked = set(query.provinces)
        trace.get_current_span().set_attributes(
            {
                "yrd.node": self.node,
                "yrd.query": query.text,
                "yrd.asked": ",".join(query.provinces),
                "yrd.budget_ms": round(budget * 1000),
            }
        )
        synced = {} if query.live else self._synced()
        here = self._here(query, synced)
        key = self._kept_key(query, here, synced) if len(here) == len(query.provinces) else None
        if key is not None:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return self._from_kept(here, kept, start)
        tasks = {
            p: asyncio.create_task(self._ask_peer(p, query, budget))
            for p in query.provinces
            if p not in here
        }
        from_here = asyncio.create_task(self._ask_here(here, query, synced)) if here else None
        results: dict[str, tuple[ProvinceAnswer, LocalAnswer | None]] = {}
        waiting = [*tasks.values(), *([from_here] if from_here is not None else [])]
        if waiting:
            done, pending = await asyncio.wait(waiting, timeout=budget + 0.002)
            for task in pending:
                task.cancel()
            for province, task in tasks.items():
                answered = task in done and not task.cancelled()
                results[province] = task.result() if answered else self._late(province, budget)
            if from_here is not None:
                if from_here in done and not from_here.cancelled():
                    results.update(from_here.result())
                else:
                    results.update((p, self._late(p, budget)) for p in here)
        statuses = []
        answers: list[LocalAnswer] = []
        for province, name in self._names.items():
            if province not in asked:
                statuses.append(ProvinceAnswer(province, name, NOT_ASKED))
                continue
            status, answer = results[province]
            statuses.append(status)
            if self._observe is not None:
                self._observe(province, status.state.value, status.latency_ms / 1000)
            if answer is not None:
                answers.append(answer)
        # Equal scores interleave the provinces by each one's own rank (1st of every province,
        # then 2nd, ...), so one province's ties never crowd out the others; stable across pages
        # because every node orders its own hits deterministically.
        # One C sort of plain tuples; the last element (arrival order) is unique, so comparison
        # never reaches a hit, and equal keys keep arrival order as a stable sort would.
        order = {p: i for i, p in enumerate(self._names)}
        keyed: list[tuple[float, int, int, str, int]] = []
        hits: list[Hit] = []
        for a in answers:
            at = order.get(a.node, len(order))
            for rank, h in enumerate(a.hits):
                keyed.append((-h.score, rank, at, h.code, len(hits)))
                hits.append(h)
        keyed.sort()
        total = sum(a.total for a in answers)
        page = tuple(hits[t[4]] for t in keyed[query.offset : query.offset + query.page_size])
        more = query.offset + query.page_size < total
        merged = FederatedAnswer(
            hits=page,
            total=total,
            facets=_merge_facets(answers, self._names),
            provinces=tuple(statuses),
            partial=any(s.state not in (ANSWERED, NOT_ASKED) for s in statuses),
            next_page_token=query.next_token() if more else "",
            answered_by=self.node,
        )
        if key is not None and not merged.partial:
            if len(self._kept) >= self._kept_size:
                self._kept.popitem(last=False)
            totals = {s.province: s.total for s in statuses if s.state == ANSWERED}
            self._kept[key] = _Kept(page, total, merged.facets, totals, merged.next_page_token)
        return merged

    def _kept_key(
        self,
        query: FederatedQuery,
        here: Mapping[str, tuple[Part, ReplicaReport | None]],
        synced: Mapping[str, tuple[Replica, ReplicaReport]],
    ) -> Hashable | None:
        """What an answer given wholly from this node's own data depends on: the query, the
        parts that answer it, and the generation of every catalog the parts and the
        statistics they rank with are read from (``Part.generation``); None when one of them
        cannot tell right now, or answers are not kept."""
        if not self._kept_size:
            return None
        generations: list[Hashable] = []
        sources: list[Part] = [self._local, *(replica for replica, _ in synced.values())]
        try:
            for source in sources:
                generation = source.generation()
                if generation is None:
                    return None
                generations.append(generation)
        except Exception:  # noqa: BLE001 - answered part by part, where a failure is reported
            return None
        return query, tuple(here), tuple(generations)

    def _from_kept(
        self, here: Mapping[str, tuple[Part, ReplicaReport | None]], kept: _Kept, start: float
    ) -> FederatedAnswer:
        """A kept answer, with each part's state as of now (its replica's freshness)."""
        elapsed = (time.perf_counter() - start) * 1000
        statuses = []
        for province, name in self._names.items():
            if province not in here:
                statuses.append(ProvinceAnswer(province, name, NOT_ASKED))
                continue
            status = ProvinceAnswer(
                province,
                name,
                ANSWERED,
                total=kept.totals.get(province, 0),
                latency_ms=elapsed,
                replica=here[province][1],
            )
            statuses.append(status)
            if self._observe is not None:
                self._observe(province, status.state.value, elapsed / 1000)
        with step("catalog.kept_answer") as kept_step:
            kept_step.set_attribute("yrd.parts", ",".join(here))
        return FederatedAnswer(
            hits=kept.hits,
            total=kept.total,
            facets=kept.facets,
            provinces=tuple(statuses),
            partial=False,
            next_page_token=kept.next_page_token,
            answered_by=self.node,
            kept=True,
        )

    def _late(self, province: str, budget: float) -> tuple[ProvinceAnswer, LocalAnswer | None]:
        return ProvinceAnswer(
            province,
            self._names.get(province, province),
            TIMED_OUT,
            latency_ms=budget * 1000,
            reason="DEADLINE_EXCEEDED",
            message=f"{province} did not answer within {budget * 1000:.0f} ms",
        ), None

    def _synced(self) -> dict[str, tuple[Replica, ReplicaReport]]:
        """This node's replicas that answer searches (in sync at least once), with their
        reports: read once per search, so every use of them within it agrees."""
        synced = {}
        for province, replica in self._replicas.items():
            report = replica.report()
            if report is not None and province != self.node:
                synced[province] = (replica, report)
        return synced

    def _here(
        self, query: FederatedQuery, synced: Mapping[str, tuple[Replica, ReplicaReport]]
    ) -> dict[str, tuple[Part, ReplicaReport | None]]:
        """The asked provinces this node answers for from its own data, in the order they are
        read: its own catalog, then every replica in ``synced`` (none for a live search)."""
        here: dict[str, tuple[Part, ReplicaReport | None]] = {}
        if self.node in query.provinces:
            here[self.node] = (self._local, None)
        for province in query.provinces:
            if province in synced:
                here[province] = synced[province]
        return here

    async def _ask_here(
        self,
        here: dict[str, tuple[Part, ReplicaReport | None]],
        query: FederatedQuery,
        synced: Mapping[str, tuple[Replica, ReplicaReport]],
    ) -> dict[str, tuple[ProvinceAnswer, LocalAnswer | None]]:
        """The parts of the answer from this node's own catalog and replicas (``here``).

        Answered on the event loop while their caches hold them (a popular query: the worker
        thread's hop costs more than the answer); from the first that does not, the rest in
        one read off the event loop (``reads``), the statistics first if needed. Parts are read
        in turn, each leaving out the hits the parts before it have already beaten (``Floor``):
        only ``depth`` hits of all of them make the page, and each part decoded ``depth`` of
        its own (the entry, its data items) for a merge that threw most of them away."""
        parts = _Parts(query.depth)
        # With replicas answering, every catalog ranks with the federation's statistics: summed
        # over what this node's own catalog publishes and every replica in sync, so their
        # scores compare, and every node in sync ranks alike. Otherwise (a live search, one
        # without text, no replica in sync) each catalog ranks with its own.
        terms = self._local.terms(query.text) if synced and query.text else None
        sources: list[Part] = [self._local, *(replica for replica, _ in synced.values())]
        stats = None
        if terms is not None:
            try:
                cached = [source.cached_stats(terms) for source in sources]
            except Exception:  # noqa: BLE001 - summed again off the loop, where a failure shows
                cached = [None]
            if all(part is not None for part in cached):
                stats = CollectionStats.combine(p for p in cached if p is not None)
        if terms is None or stats is not None:
            self._answer_parts(here, query, stats, parts, cached_only=True)
            if len(parts.results) == len(here):
                return parts.results

        if terms is not None and stats is None:
            # Each catalog's statistics read its postings, mostly inside SQLite without the
            # GIL: on an idle node, all at once (``reads``); then every part finds them cached.
            calls = [source.stats_read(terms) for source in sources]
            if all(calls):
                read_alike = await at_once([call for call in calls if call is not None])
                if read_alike is not None:
                    stats = CollectionStats.combine(read_alike)

        def rest() -> dict[str, tuple[ProvinceAnswer, LocalAnswer | None]]:
            ranked_with = stats
            if terms is not None and ranked_with is None:
                ranked_with = CollectionStats.combine(s.collection_stats(terms) for s in sources)
            self._answer_parts(here, query, ranked_with, parts, cached_only=False)
            return parts.results

        return await read(self._local.store, rest)

    def _answer_parts(
        self,
        here: dict[str, tuple[Part, ReplicaReport | None]],
        query: FederatedQuery,
        stats: CollectionStats | None,
        parts: _Parts,
        *,
        cached_only: bool,
    ) -> None:
        """Answer the parts of ``here`` not yet in ``parts``, in turn; with ``cached_only``,
        stop at the first whose answer is not cached."""
        for province, (source, report) in here.items():
            if province in parts.results:
                continue
            floor = parts.floor()
            if cached_only:
                start = time.perf_counter()
                try:
                    cached = source.cached_answer(
                        query.text, query.filters, query.depth, stats, floor
                    )
                except Exception:  # noqa: BLE001 - read again below, where a failure is reported
                    cached = None
                if cached is None:
                    return
                with self._part_span(province, query, report) as span:
                    parts.add(self._answered(province, start, cached, report), cached, span)
                continue
            with self._part_span(province, query, report) as span:
                start = time.perf_counter()
                try:
                    answer = source.answer_now(query.text, query.filters, query.depth, stats, floor)
                except Exception:  # a local failure must not fail the whole federated answer
                    where = province if report is None else f"the replica of {province}"
                    log.exception("catalog search failed on %s", where)
                    failed = ProvinceAnswer(
                        province,
                        self._names.get(province, province),
                        FAILED,
                        latency_ms=(time.perf_counter() - start) * 1000,
                        reason="INTERNAL",
                        message=f"{where} failed to search",
                        replica=report,
                    )
                    parts.add(failed, None, span)
                    continue
                parts.add(self._answered(province, start, answer, report), answer, span)

    def _answered(
        self, province: str, start: float, answer: LocalAnswer, report: ReplicaReport | None
    ) -> ProvinceAnswer:
        elapsed = (time.perf_counter() - start) * 1000
        name = self._names.get(province, province)
        return ProvinceAnswer(
            province, name, ANSWERED, total=answer.total, latency_ms=elapsed, replica=report
        )

    @contextlib.contextmanager
    def _part_span(
        self, province: str, query: FederatedQuery, report: ReplicaReport | None
    ) -> Iterator[Span]:
        name = "catalog.local_search" if report is None else "catalog.replica_search"
        with current(self._tracer, name) as span:
            span.set_attributes(
                {
                    "yrd.node": self.node,
                    "yrd.peer": province,
                    "yrd.query": query.text,
                    "yrd.depth": query.depth,
                }
            )
            if report is not None:
                span.set_attribute("yrd.stale", report.stale)
            yield span

    async def _ask_peer(
        self, province: str, query: FederatedQuery, budget: float
    ) -> tuple[ProvinceAnswer, LocalAnswer | None]:
        """The part of the answer from ``province``'s own node."""
        name = self._names.get(province, province)
        with current(self._tracer, "fanout.peer") as span:
            span.set_attributes(
                {
                    "yrd.node": self.node,
                    "yrd.peer": province,
                    "yrd.query": query.text,
                    "yrd.depth": query.depth,
                }
            )
            start = time.perf_counter()
            answer: LocalAnswer | None = None
            try:
                answer = await self._peers[province].search_local(
                    query.text, query.filters, query.depth, budget
                )
                status = self._answered(province, start, answer, None)
            except PeerFailure as exc:
                status = ProvinceAnswer(
                    province,
                    name,
                    exc.state,
                    latency_ms=(time.perf_counter() - start) * 1000,
                    reason=exc.reason,
                    message=exc.message,
                )
            except Exception:  # a local failure must not fail the whole federated answer
                log.exception("catalog search failed on %s", province)
                status = ProvinceAnswer(
                    province,
                    name,
                    FAILED,
                    latency_ms=(time.perf_counter() - start) * 1000,
                    reason="INTERNAL",
                    message=f"{province} failed to search",
                )
            _end_part(span, status)
            return status, answer

    async def get(self, code: str, time_remaining: float | None) -> CatalogEntry:
        return (await self.lookup(code, time_remaining)).entry

    async def lookup(self, code: str, time_remaining: float | None) -> Found:
        """The entry of ``code`` from its owner; from this node's replica, reported stale, when
        the owner did not answer."""
        if not RESOURCE_CODE_RE.match(code):
            raise InvalidArgument(
                "code",
                "not a resource code (类项目[细目]/顺序码, e.g. 101001/320001)",
                reason="BAD_RESOURCE_CODE",
            )
        entry = await self._local.get(code)
        if entry is not None:
            return Found(entry)
        budget = self.budget(time_remaining)
        tasks = {asyncio.create_task(self._get_from(p, code, budget)): p for p in self._peers}
        silent: list[str] = []
        try:
            for next_done in asyncio.as_completed(list(tasks), timeout=budget + 0.002):
                try:
                    found = await next_done
                except TimeoutError:
                    raise
                if isinstance(found, CatalogEntry):
                    return Found(found)
                if isinstance(found, str):
                    silent.append(found)
        except TimeoutError:
            silent.extend(p for t, p in tasks.items() if not t.done())
        finally:
            for task in tasks:
                task.cancel()
        for province in sorted(silent):
            replica = self._replicas.get(province)
            report = replica.report(owner_down=True) if replica is not None else None
            if replica is not None and report is not None:
                entry = await replica.get(code)
                if entry is not None:
                    return Found(entry, report)
        if silent:
            raise Unavailable(
                f"resource {code} not found on the provinces that answered; "
                f"{', '.join(sorted(silent))} did not answer",
                reason="PROVINCES_UNAVAILABLE",
                metadata={"unavailable": ",".join(sorted(silent))},
            )
        raise NotFound(
            f"no province has resource {code}", reason="RESOURCE_NOT_FOUND", metadata={"code": code}
        )

    async def _get_from(self, province: str, code: str, budget: float) -> CatalogEntry | str | None:
        """The entry, None when the peer doesn't have it, or the peer's id when it failed."""
        try:
            return await self._peers[province].get_local(code, budget)
        except PeerFailure:
            return province


def _merge_facets(answers: list[LocalAnswer], names: Mapping[str, str]) -> Facets:
    facets: Facets = {}
    for answer in answers:
        for name, buckets in answer.facets.items():
            into = facets.get(name)
            if into is None:
                facets[name] = dict(buckets)
                continue
            for value, bucket in buckets.items():
                have = into.get(value)  # the first label seen stays
                into[value] = (
                    bucket if have is None else Bucket(have.label, have.total + bucket.total)
                )
    facets["province"] = {
        a.node: Bucket(names.get(a.node, a.node), a.total) for a in answers if a.total
    }
    return facets
