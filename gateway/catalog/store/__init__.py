"""The catalog store: a node's catalog entries, their Chinese full-text index and facet counts.

The store answers a local search (hits best first, the total and facet counts over every match)
and takes bulk writes. The rest of the gateway uses only what this module exports.

Modules, backend-neutral first (a second backend reuses them), then SQLite's own:

* ``records``: ``SearchQuery``, ``Hit``, ``LocalResult`` (what a store is asked and answers).
* ``entries``: how an entry is keyed (``code_key``: code order as integers) and laid out.
* ``facets``: the facet index of one write generation, counted in numpy; filters read on it.
* ``relevance``: a text search's matches, counts and BM25F-ranked hits from per-field postings
  (``gateway.catalog.ranking`` is the model), with the rank table of field lengths and dates.
* ``search``: ``Searcher``, which runs a search on a backend's read snapshot
  (``search.Snapshot``) with the caches, the facet index and the rank table.
* ``caches``: postings, decoded entries and whole results, keyed by write generation.
* ``schema``, ``pool``, ``writes``, ``fts``: the SQLite file, its connections, its writes and
  its FTS5 reads (``fts.FtsIndex`` is SQLite's ``Snapshot``); ``sqlite``: ``CatalogStore``,
  which ties them together.
* ``pgtext``, ``pg``: PostgreSQL's (``tsvector`` + GIN reads as ``pgtext.PgTextIndex``, and
  ``PgCatalogStore``), for a province whose replicas share one database.
"""

from gateway.catalog.store.entries import code_key
from gateway.catalog.store.pg import PgCatalogStore
from gateway.catalog.store.records import UNRANKED_SCORE, Hit, LocalResult, SearchQuery
from gateway.catalog.store.sqlite import CatalogStore

AnyCatalogStore = CatalogStore | PgCatalogStore
"""A catalog store on either backend (the same methods)."""

__all__ = [
    "UNRANKED_SCORE",
    "AnyCatalogStore",
    "CatalogStore",
    "Hit",
    "LocalResult",
    "PgCatalogStore",
    "SearchQuery",
    "code_key",
]
