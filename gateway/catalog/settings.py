"""How a node answers searches: page sizes, query length, the fan-out budget, paging depth.

A catalog record, read from ``node.yaml``'s ``search:`` block by the config reader, which sits
above the catalog and builds it (the catalog never imports the config package).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SearchSettings"]


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
