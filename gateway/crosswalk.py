"""A province's crosswalk: its local vocabulary mapped onto the shared YRD standard.

``gateway.config`` reads ``nodes/<province>/crosswalk.yaml`` into a ``Crosswalk``, checking that
every local value names a target the standard defines and that every shared value can be said
locally, so neither direction of a federated answer meets a word it cannot translate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.errors import Fault

__all__ = ["DIMENSIONS", "Crosswalk", "UnmappedValue", "Vocabulary"]

#: The crosswalk's sections, each mapping onto one dictionary of the standard.
DIMENSIONS: tuple[str, ...] = (
    "grades",
    "categories",
    "share_types",
    "open_attributes",
    "update_cycles",
)


class UnmappedValue(Fault, ValueError):
    """A local value the crosswalk does not know (or a shared value with no local word)."""

    def __init__(self, province: str, dimension: str, value: str, direction: str) -> None:
        self.province = province
        self.dimension = dimension
        self.value = value
        super().__init__(
            f"{province} crosswalk: {dimension} value {value!r} has no {direction} mapping"
        )


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """One dimension of a province's local vocabulary and its mapping to the shared ids."""

    province: str
    dimension: str
    to_shared: Mapping[str, str]
    """local value -> shared id."""
    names: Mapping[str, str]
    """local value -> the province's display name for it."""
    to_local: Mapping[str, tuple[str, ...]]
    """shared id -> local values, preferred first."""

    def shared(self, local: str) -> str:
        try:
            return self.to_shared[local]
        except (KeyError, TypeError):
            raise UnmappedValue(self.province, self.dimension, local, "shared") from None

    def local(self, shared: str) -> str:
        """The preferred local value for a shared id."""
        return self.locals_for(shared)[0]

    def locals_for(self, shared: str) -> tuple[str, ...]:
        try:
            return self.to_local[shared]
        except (KeyError, TypeError):
            raise UnmappedValue(self.province, self.dimension, shared, "local") from None

    def name(self, local: str) -> str:
        self.shared(local)
        return self.names[local]


@dataclass(frozen=True, slots=True)
class Crosswalk:
    """A province's local vocabularies, all validated against one standard."""

    province: str
    standard_fingerprint: str
    path: str
    grades: Vocabulary
    categories: Vocabulary
    share_types: Vocabulary
    open_attributes: Vocabulary
    update_cycles: Vocabulary

    def vocabulary(self, dimension: str) -> Vocabulary:
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown crosswalk dimension {dimension!r}")
        vocabulary: Vocabulary = getattr(self, dimension)
        return vocabulary

    def grade(self, local: str) -> str:
        return self.grades.shared(local)

    def category(self, local: str) -> str:
        return self.categories.shared(local)

    def share_type(self, local: str) -> str:
        return self.share_types.shared(local)

    def open_attribute(self, local: str) -> str:
        return self.open_attributes.shared(local)

    def update_cycle(self, local: str) -> str:
        return self.update_cycles.shared(local)
