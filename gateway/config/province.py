"""A province's vocabulary files, ``nodes/<id>/crosswalk.yaml`` and ``departments.yaml``, and
``load_province``, which reads everything one node serves from in one go."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.config.federation import FederationConfig
from gateway.config.interfaces_file import load_interfaces
from gateway.config.node import NodeConfig, load_node
from gateway.config.reader import ConfigNode, load_yaml
from gateway.config.standard_file import load_standard
from gateway.crosswalk import DIMENSIONS, Crosswalk, Vocabulary
from gateway.departments import Department, Departments
from gateway.errors import ConfigError
from gateway.exchange.model import Interface
from gateway.standard import Standard

__all__ = ["Province", "load_crosswalk", "load_departments", "load_province"]

_PROVINCE_RE = re.compile(r"^[a-z]{2}$")
_REGION_RE = re.compile(r"^[1-9]\d0000$")
_DEPT_CODE_RE = re.compile(r"^[a-z][a-z0-9]*$")


@dataclass(frozen=True, slots=True)
class Province:
    """Everything a node serves from, read and cross-checked at start-up."""

    config: NodeConfig
    """Its ``node.yaml``."""
    standard: Standard
    """The federation's shared standard."""
    crosswalk: Crosswalk
    """Its local vocabulary, checked against ``standard``."""
    departments: Departments
    """Its departments and cities, their categories checked against ``standard``."""
    interfaces: Mapping[str, Interface]
    """Its data interfaces by id, in file order."""

    @property
    def id(self) -> str:
        return self.config.node


def load_province(fed: FederationConfig, node_id: str) -> Province:
    """Read one node's settings and every file they name; the first defect is a ConfigError."""
    config = load_node(fed, node_id)
    standard = load_standard(fed.standard_path)
    crosswalk = load_crosswalk(config.crosswalk_path, standard)
    departments = load_departments(config.departments_path, standard)
    for path, province in (
        (config.crosswalk_path, crosswalk.province),
        (config.departments_path, departments.province),
    ):
        if province != node_id:
            raise ConfigError(path, "province", f"'{node_id}' (the node it belongs to)")
    return Province(
        config=config,
        standard=standard,
        crosswalk=crosswalk,
        departments=departments,
        interfaces=load_interfaces(
            config.interfaces_path,
            province=node_id,
            standard=standard,
            departments=departments,
        ),
    )


# --------------------------------------------------------------------------- departments.yaml

_DEPARTMENT = Department("", "", ())


def load_departments(path: str | Path, standard: Standard | None = None) -> Departments:
    """Load a province's departments and cities; with ``standard``, check the categories too."""
    root = load_yaml(path)
    root.only("province", "name", "region_code", "cities", "departments")
    region = root["region_code"].text(_REGION_RE, 'a quoted GB/T 2260 code such as "320000"')
    cities = tuple(c.text() for c in root["cities"].items())
    depts: list[Department] = []
    seen: set[str] = set()
    nodes = root["departments"].items()
    if len(nodes) > 999:
        raise root["departments"].fail("at most 999 departments (目 has three digits)")
    for i, node in enumerate(nodes, start=1):
        node.only("code", "name", "kind", "weight", "categories", "since")
        code = node["code"].text(_DEPT_CODE_RE, "a lower-case code such as gaj")
        if code in seen:
            raise node["code"].fail(f"a unique department code, {code!r} appears twice")
        seen.add(code)
        cats: list[str] = []
        for cat in node["categories"].items():
            value = cat.text()
            if standard is not None and not standard.is_category(value):
                raise cat.fail(f"a category code of {standard.fingerprint}, got {value!r}")
            if value in cats:
                raise cat.fail(f"each category once, {value!r} appears twice")
            cats.append(value)
        weight = node["weight"].integer(minimum=1) if node.has("weight") else _DEPARTMENT.weight
        kind = node.text_or("kind", _DEPARTMENT.kind)
        since = node["since"].integer(minimum=1949) if node.has("since") else _DEPARTMENT.since
        depts.append(Department(code, node["name"].text(), tuple(cats), kind, weight, i, since))
    return Departments(
        province=root["province"].text(),
        name=root["name"].text(),
        region_code=region,
        cities=cities,
        departments=tuple(depts),
    )


# --------------------------------------------------------------------------- crosswalk.yaml


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
