"""How a node answers searches: page sizes, query length, the fan-out budget, paging depth,
the search caches' memory.

A catalog record, read from ``node.yaml``'s ``search:`` block by the config reader, which sits
above the catalog and builds it (the catalog never imports the config package).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SEARCH_CACHE_MIB", "SearchSettings"]

#: How many MiB a catalog's search caches of arrays may hold together (``Relevance``'s
#: ``cache_bytes``): recent terms' postings and scores, and the filters' masks and normalizers.
#: Bounded by count alone (512 terms), four catalogs of 131,000 entries held 145 MiB after 1,000
#: cold searches (``scripts/bench_federated_search.py --fresh 1000``), a node's largest share of
#: its memory; 16 MiB each cost no CPU beyond the noise there.
SEARCH_CACHE_MIB = 16


@dataclass(frozen=True, slots=True)
class SearchSettings:
    default_page_size: int = 20
    """Results per page when the caller asks for none."""
    max_page_size: int = 100
    """Largest page a caller may ask for."""
    max_query_chars: int = 64
    """Longest query text accepted."""
    peer_timeout_ms: int = 2000
    """Fan-out budget used when the caller sets no deadline."""
    max_offset: int = 1000
    """Deepest result a page token may reach; deeper paging is refused."""
    cache_mib: int = SEARCH_CACHE_MIB
    """How many MiB each catalog's search caches of arrays may hold together (its own and
    every replica: four on a node of the delta); 0 keeps none."""
