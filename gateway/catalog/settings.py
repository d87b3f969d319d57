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
#: cold searches, and nothing stopped a catalog's 512 terms from being common ones of megabytes
#: each. In the benchmark's cold searches through one node (4 catalogs of 131,000 entries),
#: 16 MiB a catalog took the node from 460-484 to 352 MiB but cost 14-30% more CPU a search:
#: the common terms' arrays, asked again and again, no longer fitted. 64 MiB held 428-436 MiB at
#: no CPU cost measurable in one process (six alternating pairs against no budget, cold searches
#: at c=1 and c=16: within the noise either way), so it is the default.
SEARCH_CACHE_MIB = 64


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
