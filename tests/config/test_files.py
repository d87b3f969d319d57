"""Every kind of configuration file, read through ``gateway.config`` as a node reads it: the
shipped files load, and an unknown key, a wrong type or a missing file is a ``ConfigError``
naming the file, the key and what was expected."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import (
    FederationConfig,
    Province,
    load_federation,
    load_province,
)
from gateway.errors import ConfigError
from tests.support.federation import NODE_IDS, ROOT

#: kind of file -> where it lies in a copy of the repository's config/ and nodes/.
FILES = {
    "federation": "config/federation.yaml",
    "node": "nodes/js/node.yaml",
    "standard": "config/standard/yrd-standard.yaml",
    "crosswalk": "nodes/js/crosswalk.yaml",
    "departments": "nodes/js/departments.yaml",
    "interfaces": "nodes/js/interfaces.yaml",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of config/ and nodes/: federation.yaml's relative paths point into it."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "nodes", tmp_path / "nodes")
    return tmp_path


def _load(tree: Path) -> tuple[FederationConfig, Province]:
    fed = load_federation(tree / FILES["federation"])
    return fed, load_province(fed, "js")


def _edit(tree: Path, kind: str, change: Callable[[Any], None]) -> Path:
    path = tree / FILES[kind]
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path.resolve()


def _set(*keys: Any, value: Any) -> Callable[[Any], None]:
    """Set ``doc[k1][k2]...`` to ``value`` (list indexes allowed)."""

    def change(doc: Any) -> None:
        for key in keys[:-1]:
            doc = doc[key]
        doc[keys[-1]] = value

    return change


def test_every_shipped_file_loads():
    fed = load_federation(ROOT / "config" / "federation.yaml")
    assert list(fed.nodes) == list(NODE_IDS)
    for node_id in fed.nodes:
        province = load_province(fed, node_id)
        assert province.id == node_id
        assert province.crosswalk.province == province.departments.province == node_id
        assert province.interfaces
        assert province.config.interfaces_path == ROOT / "nodes" / node_id / "interfaces.yaml"
        assert province.config.limits.shutdown_grace_s == 5.0
        assert province.config.search.cache_mib == 64


UNKNOWN_KEYS = [
    ("federation", _set("colour", value="blue"), "colour"),
    ("federation", _set("nodes", "js", "colour", value="blue"), "nodes.js.colour"),
    ("node", _set("colour", value="blue"), "colour"),
    ("node", _set("limits", "shutdown_grace", value=3), "limits.shutdown_grace"),
    ("node", _set("search", "page_size", value=3), "search.page_size"),
    ("node", _set("seed", "entrys", value=3), "seed.entrys"),
    ("standard", _set("colour", value="blue"), "colour"),
    ("standard", _set("grades", 0, "colour", value="blue"), "grades[0].colour"),
    ("crosswalk", _set("colour", value="blue"), "colour"),
    ("crosswalk", _set("grades", 0, "colour", value="blue"), "grades[0].colour"),
    ("departments", _set("colour", value="blue"), "colour"),
    ("departments", _set("departments", 0, "colour", value="blue"), "departments[0].colour"),
    ("interfaces", _set("colour", value="blue"), "colour"),
    (
        "interfaces",
        _set("interfaces", 0, "backend", "colour", value="blue"),
        "interfaces[0].backend.colour",
    ),
]


@pytest.mark.parametrize(
    ("kind", "change", "key"), UNKNOWN_KEYS, ids=[f"{k}-{key}" for k, _, key in UNKNOWN_KEYS]
)
def test_an_unknown_key_is_refused_by_name(tree, kind, change, key):
    path = _edit(tree, kind, change)
    with pytest.raises(ConfigError) as err:
        _load(tree)
    assert (err.value.path, err.value.key) == (str(path), key)
    assert "no such key (allowed: " in err.value.expected


WRONG_TYPES = [
    ("federation", _set("nodes", "js", "client", value=50321), "nodes.js.client", "host:port"),
    ("federation", _set("data_dir", value=["var"]), "data_dir", "a non-empty string"),
    ("federation", _set("nodes", value=["js"]), "nodes", "a mapping"),
    (
        "federation",
        _set("nodes", "js", "region_code", value=320000),
        "nodes.js.region_code",
        "quote",
    ),
    ("node", _set("workers", value=True), "workers", "an integer in [1, 64]"),
    ("node", _set("seed", "entries", value="many"), "seed.entries", "an integer"),
    ("node", _set("search", "cache_mib", value=-1), "search.cache_mib", "an integer in [0, "),
    ("node", _set("limits", value=[1]), "limits", "a mapping"),
    (
        "node",
        _set("limits", "shutdown_grace_s", value="soon"),
        "limits.shutdown_grace_s",
        "a number of seconds",
    ),
    ("node", _set("crosswalk", value=7), "crosswalk", "a non-empty string"),
    ("standard", _set("version", value=1.0), "version", "quote it"),
    ("standard", _set("grades", value={"L1": 1}), "grades", "a list"),
    ("crosswalk", _set("grades", value={"公开级": "L1"}), "grades", "a list"),
    ("crosswalk", _set("province", value=32), "province", "quote it"),
    ("departments", _set("cities", value="南京市"), "cities", "a list"),
    (
        "departments",
        _set("departments", 0, "weight", value="3"),
        "departments[0].weight",
        "an integer",
    ),
    (
        "interfaces",
        _set("interfaces", 0, "streamable", value="yes"),
        "interfaces[0].streamable",
        "true or false",
    ),
    (
        "interfaces",
        _set("interfaces", 0, "backend", "lookup", value=["id_number"]),
        "interfaces[0].backend.lookup",
        "a mapping",
    ),
]


@pytest.mark.parametrize(
    ("kind", "change", "key", "expected"),
    WRONG_TYPES,
    ids=[f"{k}-{key}" for k, _, key, _ in WRONG_TYPES],
)
def test_a_wrong_type_is_refused_by_name(tree, kind, change, key, expected):
    path = _edit(tree, kind, change)
    with pytest.raises(ConfigError) as err:
        _load(tree)
    assert (err.value.path, err.value.key) == (str(path), key)
    assert expected in err.value.expected


@pytest.mark.parametrize("kind", ["crosswalk", "departments", "interfaces"])
def test_a_province_file_of_another_node_is_refused(tree, kind):
    path = _edit(tree, kind, _set("province", value="sh"))
    with pytest.raises(ConfigError) as err:
        _load(tree)
    assert (err.value.path, err.value.key) == (str(path), "province")
    assert "'js'" in err.value.expected


@pytest.mark.parametrize("kind", list(FILES))
def test_a_missing_file_is_refused_by_name(tree, kind):
    path = (tree / FILES[kind]).resolve()
    path.unlink()
    with pytest.raises(ConfigError) as err:
        _load(tree)
    assert (err.value.path, err.value.key) == (str(path), "<file>")
    assert "an existing file" in err.value.expected


@pytest.mark.parametrize("kind", ["crosswalk", "departments", "interfaces"])
def test_node_yaml_names_the_files_it_reads_relative_to_itself(tree, kind):
    moved = tree / "elsewhere" / f"{kind}.yaml"
    moved.parent.mkdir()
    shutil.move(tree / FILES[kind], moved)
    _edit(tree, "node", _set(kind, value=f"../../elsewhere/{kind}.yaml"))
    _, province = _load(tree)
    assert getattr(province.config, f"{kind}_path") == moved.resolve()


def test_the_federation_file_is_found_by_configuration_not_by_the_package(
    tree, tmp_path, monkeypatch
):
    monkeypatch.delenv("YRD_FEDERATION", raising=False)
    monkeypatch.chdir(tmp_path / "nodes")  # no config/federation.yaml here
    with pytest.raises(ConfigError) as err:
        load_federation()
    assert err.value.path == str((tmp_path / "nodes" / FILES["federation"]).resolve())
    assert "--federation" in err.value.expected and "$YRD_FEDERATION" in err.value.expected
    monkeypatch.setenv("YRD_FEDERATION", str(tree / FILES["federation"]))
    assert load_federation().data_dir == (tree / "var").resolve()
    monkeypatch.chdir(tree)
    monkeypatch.delenv("YRD_FEDERATION")
    assert load_federation().path == (tree / FILES["federation"]).resolve()


SETTINGS = [
    ("limits", "shutdown_grace_s", None, 5.0),
    ("limits", "shutdown_grace_s", 0.5, 0.5),
    ("limits", "shutdown_grace_s", 0, 0.0),
    ("search", "cache_mib", None, 64),
    ("search", "cache_mib", 0, 0),
    ("search", "cache_mib", 64, 64),
]


@pytest.mark.parametrize(("block", "key", "given", "read"), SETTINGS)
def test_a_setting_is_read_from_its_block_or_defaults(tree, block, key, given, read):
    """``given`` None: the key is left out, and the default is read."""

    def change(doc: Any) -> None:
        doc[block].pop(key, None)
        if given is not None:
            doc[block][key] = given

    _edit(tree, "node", change)
    _, province = _load(tree)
    assert getattr(getattr(province.config, block), key) == read
