"""A province's crosswalk: its local vocabulary mapped onto the shared YRD standard.

Owns ``nodes/<province>/crosswalk.yaml``. Loading checks that every local value names a target
the standard defines and that every shared value can be said locally, so neither direction of a
federated answer meets a word it cannot translate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigError
from gateway.standard import ConfigNode, Standard, load_yaml

__all__ = ["DIMENSIONS", "Crosswalk", "UnmappedValue", "Vocabulary", "load_crosswalk"]

#: The crosswalk's sections, each mapping onto one dictionary of the standard.
DIMENSIONS: tuple[str, ...] = (
    "grades",
    "categories",
    "share_types",
    "open_attributes",
    "update_cycles",
)

_PROVINCE_RE = re.compile(r"^[a-z]{2}$")


class UnmappedValue(ValueError):
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


def load_crosswalk(path: str | Path, standard: Standard) -> Crosswalk:
    """Load one province's crosswalk and validate it against ``standard``."""
    root = load_yaml(path)
    root.only("province", "standard", *DIMENSIONS)
    province = root["province"].text(_PROVINCE_RE, "a two-letter node id such as js")
    _check_standard(root["standard"], standard)
    targets: dict[str, Mapping[str, object]] = {
        "grades": standard.grades,
        "categories": standard.categories,
        "share_types": standard.share_types,
        "open_attributes": standard.open_attributes,
        "update_cycles": standard.update_cycles,
    }
    vocabularies = {dim: _vocabulary(province, dim, root[dim], targets[dim]) for dim in DIMENSIONS}
    return Crosswalk(
        province=province,
        standard_fingerprint=standard.fingerprint,
        path=root.path,
        **vocabularies,
    )


def _check_standard(node: ConfigNode, standard: Standard) -> None:
    # A crosswalk written for another version may map onto ids that changed meaning.
    node.only("id", "version")
    if node["id"].text() != standard.id:
        raise node["id"].fail(f"{standard.id!r} (the loaded standard), got {node['id'].value!r}")
    if node["version"].text() != standard.version:
        raise node["version"].fail(
            f"{standard.version!r} (the loaded standard), got {node['version'].value!r}"
        )


def _vocabulary(
    province: str, dimension: str, node: ConfigNode, targets: Mapping[str, object]
) -> Vocabulary:
    to_shared: dict[str, str] = {}
    names: dict[str, str] = {}
    to_local: dict[str, list[str]] = {}
    for entry in node.items():
        entry.only("local", "name", "shared")
        local = entry["local"].text()
        if local in to_shared:
            raise entry["local"].fail(f"a unique local value, {local!r} appears twice")
        shared_node = entry.get("shared")
        if shared_node is None or shared_node.value is None:
            raise ConfigError(
                node.path, f"{entry.key}.shared", f"a shared {dimension} id for {local!r}"
            )
        shared = shared_node.text()
        if shared not in targets:
            raise shared_node.fail(f"one of the standard's {dimension} {sorted(targets)}")
        to_shared[local] = shared
        names[local] = entry.text_or("name", local)
        to_local.setdefault(shared, []).append(local)
    missing = [t for t in targets if t not in to_local]
    if missing:
        raise node.fail(f"a local value for every shared {dimension} (missing {missing})")
    return Vocabulary(
        province=province,
        dimension=dimension,
        to_shared=to_shared,
        names=names,
        to_local={shared: tuple(locals_) for shared, locals_ in to_local.items()},
    )
