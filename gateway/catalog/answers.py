"""What one node and the whole federation answer to a catalog search (domain records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from gateway.catalog.model import FACET_FIELDS as FACET_FIELDS
from gateway.catalog.model import CatalogEntry


class Bucket(NamedTuple):
    """One facet value's label and count. A named tuple, not a frozen dataclass like the other
    records: a federated search builds hundreds (every peer's facets, then the merge), and a
    frozen dataclass's ``__init__`` costs several times as much."""

    label: str
    count: int


Facets = dict[str, dict[str, Bucket]]
"""facet field -> value -> bucket."""


class ScoredEntry(NamedTuple):
    """A hit: this node's own (``entry``, and ``wire`` its serialized ``SearchResult``) or a
    peer's, kept as the peer sent it (``wire``, a ``SearchResult`` message) so the federated merge
    never decodes and re-encodes it. A named tuple for the same reason as ``Bucket``: one per
    hit of every province, each search."""

    score: float
    code: str
    province: str
    entry: CatalogEntry | None = None
    wire: object | None = None


@dataclass(frozen=True, slots=True)
class LocalAnswer:
    """One node's answer about its own catalog."""

    node: str
    hits: tuple[ScoredEntry, ...]
    total: int
    facets: Facets = field(default_factory=dict)


# Province states, as the response reports them.
ANSWERED = "answered"
FAILED = "failed"
TIMED_OUT = "timed_out"
SKIPPED = "skipped"
NOT_ASKED = "not_asked"


@dataclass(frozen=True, slots=True)
class ProvinceAnswer:
    province: str
    name: str
    state: str
    total: int = 0
    latency_ms: float = 0.0
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class FederatedAnswer:
    hits: tuple[ScoredEntry, ...]
    total: int
    facets: Facets
    provinces: tuple[ProvinceAnswer, ...]
    partial: bool
    next_page_token: str
    answered_by: str


class PeerFailure(Exception):
    """A peer did not answer: how (state) and why (stable reason, message)."""

    def __init__(self, state: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.state, self.reason, self.message = state, reason, message
