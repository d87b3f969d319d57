"""What one node and the whole federation answer to a catalog search (domain records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from gateway.catalog.model import FACET_FIELDS as FACET_FIELDS
from gateway.catalog.model import CatalogEntry
from gateway.partial import AnswerState, PeerFailure

__all__ = [
    "ANSWERED",
    "FAILED",
    "NOT_ASKED",
    "SKIPPED",
    "TIMED_OUT",
    "FACET_FIELDS",
    "AnswerState",
    "Bucket",
    "Facets",
    "FederatedAnswer",
    "Hit",
    "LocalAnswer",
    "PeerFailure",
    "ProvinceAnswer",
    "ReplicaReport",
    "ScoredEntry",
]


class Bucket(NamedTuple):
    """One facet value's label and count. A named tuple, not a frozen dataclass like the other
    records: a federated search builds hundreds (every peer's facets, then the merge), and a
    frozen dataclass's ``__init__`` costs several times as much."""

    label: str
    total: int
    """How many entries have this value (not ``count``: that would shadow ``tuple.count``)."""


Facets = dict[str, dict[str, Bucket]]
"""facet field -> value -> bucket."""


class Hit(Protocol):
    """What the federated merge needs of a hit, whichever node it came from."""

    @property
    def score(self) -> float: ...
    @property
    def code(self) -> str: ...
    @property
    def province(self) -> str: ...


class ScoredEntry(NamedTuple):
    """This node's own hit. A named tuple for the same reason as ``Bucket``: one per hit of
    every province, each search. (A peer's hit arrives as a wire-side record, passed through
    undecoded: ``gateway.wire.catalog.PeerHit``.)"""

    score: float
    code: str
    province: str
    entry: CatalogEntry


@dataclass(frozen=True, slots=True)
class LocalAnswer:
    """One node's answer about its own catalog."""

    node: str
    hits: tuple[Hit, ...]
    total: int
    facets: Facets = field(default_factory=dict)


# Province states, as the response reports them (kept as names for the merge's readers).
ANSWERED = AnswerState.ANSWERED
FAILED = AnswerState.FAILED
TIMED_OUT = AnswerState.TIMED_OUT
SKIPPED = AnswerState.SKIPPED
NOT_ASKED = AnswerState.NOT_ASKED


@dataclass(frozen=True, slots=True)
class ReplicaReport:
    """A province's part of an answer that came from this node's replica of its catalog."""

    stale: bool
    """The owner's feed is not being followed right now, or the replica lags behind it."""
    last_change_at: float
    """When the owner made the last change the replica applied (seconds since the epoch)."""
    lag_ms: float
    """Since the replica last held everything the owner had."""
    behind: int = 0
    """Changes the owner had that the replica had not applied, when last heard."""


@dataclass(frozen=True, slots=True)
class ProvinceAnswer:
    province: str
    name: str
    state: AnswerState
    total: int = 0
    latency_ms: float = 0.0
    reason: str = ""
    message: str = ""
    replica: ReplicaReport | None = None
    """Set when the answer came from this node's replica, not from the province's node."""


@dataclass(frozen=True, slots=True)
class FederatedAnswer:
    hits: tuple[Hit, ...]
    total: int
    facets: Facets
    provinces: tuple[ProvinceAnswer, ...]
    partial: bool
    next_page_token: str
    answered_by: str
    kept: bool = False
    """The hits and facets are the very objects of an earlier answer to the same search, kept
    because nothing it was read from has changed since (a reply may reuse their encoding)."""
