"""What a catalog store is asked and answers, whichever backend holds the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gateway.catalog.model import FACET_FIELDS, CatalogEntry
from gateway.catalog.query import Filters
from gateway.catalog.ranking import CollectionStats
from gateway.catalog.textindex import QueryTerm

#: Score of every hit of a search without text: nothing to rank by, order is by code.
UNRANKED_SCORE = 1.0


@dataclass(frozen=True)
class SearchQuery:
    text: str
    """Free text, Chinese or ASCII; empty (or only punctuation) means filters only."""
    filters: Filters = field(default_factory=Filters)
    """Shared-standard filters, values OR within a field and AND across; an empty tuple is no
    filter. For a store, ``departments`` are this node's bare codes (``gaj``: the caller keeps
    those of its province, ``query.departments_for``), ``categories`` may hold a 1-digit 类
    matching every category under it, and ``provinces`` is not looked at."""
    limit: int = 20
    facets: bool = True
    terms: tuple[QueryTerm, ...] | None = None
    """The text's ranking terms with their synonyms (``textindex.parse_query`` with the
    standard's list); None: the text's own terms, without synonyms."""
    stats: CollectionStats | None = None
    """The collection statistics to rank with (the federation's: ``CollectionStats.combine``
    over every province's store); None: this store's own."""
    floor: float | None = None
    """Hits scoring below it may be left out (None: none are): the caller already holds
    ``limit`` hits scoring at least this (a federated merge, ``FederatedCatalog``), so none of
    them could make its page, and reading them would be wasted. Hits tying with it are kept."""


@dataclass(frozen=True)
class Hit:
    entry: CatalogEntry
    score: float
    """Relevance, higher is better, always positive: BM25F (``gateway.catalog.ranking``) with
    the query's collection statistics, tie-breaks folded in below its last digit. Stores
    ranking with the same statistics give scores that compare."""


@dataclass(frozen=True)
class LocalResult:
    hits: tuple[Hit, ...]
    total: int
    """Number of entries matching text and filters (not just the ones returned)."""
    facets: Mapping[str, Mapping[str, int]]
    """Facet field -> value -> count over all matches; empty when facets were not asked for.
    Read-only views: a result may be the store's cached one, or share the facet index's
    counts, and copying them for every search and cache hit cost more than counting them."""

    def __post_init__(self) -> None:
        views = {name: MappingProxyType(counts) for name, counts in self.facets.items()}
        object.__setattr__(self, "facets", MappingProxyType(views))


def empty_facets(query: SearchQuery) -> dict[str, dict[str, int]]:
    return {name: {} for name in FACET_FIELDS} if query.facets else {}
