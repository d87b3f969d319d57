"""Each province's crosswalk covers the shared standard both ways; bad crosswalks name the key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import load_crosswalk, load_standard
from gateway.crosswalk import DIMENSIONS, Crosswalk, UnmappedValue
from gateway.errors import ConfigError
from gateway.standard import Standard
from tests.support.federation import ROOT

PROVINCES = ("js", "sh", "zj", "ah")


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")


@pytest.fixture(scope="module")
def crosswalks(standard: Standard) -> dict[str, Crosswalk]:
    return {p: load_crosswalk(ROOT / "nodes" / p / "crosswalk.yaml", standard) for p in PROVINCES}


def crosswalk_doc(province: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "nodes" / province / "crosswalk.yaml").read_text("utf-8"))


@pytest.mark.parametrize("province", PROVINCES)
def test_crosswalk_loads_for_its_province(
    crosswalks: dict[str, Crosswalk], standard: Standard, province: str
) -> None:
    cw = crosswalks[province]
    assert cw.province == province
    assert cw.standard_fingerprint == standard.fingerprint


@pytest.mark.parametrize("province", PROVINCES)
@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_every_shared_value_round_trips(
    crosswalks: dict[str, Crosswalk], standard: Standard, province: str, dimension: str
) -> None:
    vocabulary = crosswalks[province].vocabulary(dimension)
    for shared in getattr(standard, dimension):
        for local in vocabulary.locals_for(shared):
            assert vocabulary.shared(local) == shared
        assert vocabulary.shared(vocabulary.local(shared)) == shared


@pytest.mark.parametrize(
    ("province", "method", "local", "shared"),
    [
        ("zj", "grade", "一级", "L1"),
        ("zj", "grade", "四级", "L4"),
        ("sh", "grade", "S3", "L3"),
        ("js", "grade", "严控级", "L4"),
        # Anhui's letters run the other way round: A is the most sensitive.
        ("ah", "grade", "A", "L4"),
        ("ah", "grade", "D", "L1"),
        ("js", "category", "JC0101", "101"),
        ("js", "category", "JC0102", "101"),
        ("sh", "category", "B02", "203"),
        ("sh", "category", "B03", "202"),
        ("zj", "category", "2.3", "203"),
        ("ah", "category", "0316", "316"),
        ("js", "share_type", "暂不共享", "none"),
        ("sh", "share_type", "02", "conditional"),
        ("zj", "share_type", "不共享", "none"),
        ("ah", "open_attribute", "01", "open"),
        ("zj", "open_attribute", "受限开放", "conditional"),
        ("sh", "update_cycle", "Q", "quarterly"),
        ("zj", "update_cycle", "按日", "daily"),
        ("js", "update_cycle", "按需", "irregular"),
        ("ah", "update_cycle", "07", "irregular"),
    ],
)
def test_local_to_shared(
    crosswalks: dict[str, Crosswalk], province: str, method: str, local: str, shared: str
) -> None:
    assert getattr(crosswalks[province], method)(local) == shared


def test_vocabularies_are_really_local(crosswalks: dict[str, Crosswalk]) -> None:
    # Four provinces, four different ways of saying L3 and 203.
    assert len({cw.grades.local("L3") for cw in crosswalks.values()}) == 4
    assert len({cw.categories.local("203") for cw in crosswalks.values()}) == 4


def test_preferred_local_value_and_display_name(crosswalks: dict[str, Crosswalk]) -> None:
    js = crosswalks["js"]
    assert js.categories.locals_for("101") == ("JC0101", "JC0102")
    assert js.categories.local("101") == "JC0101"
    assert js.categories.name("JC0102") == "流动人口"
    assert crosswalks["sh"].grades.name("S4") == "高敏感"


@pytest.mark.parametrize(
    ("method", "value"),
    [("grade", "五级"), ("grade", "L3"), ("category", "101"), ("share_type", "unconditional")],
)
def test_unmapped_local_value(crosswalks: dict[str, Crosswalk], method: str, value: str) -> None:
    # Shared ids are not local values: zj must say 三级, not L3.
    with pytest.raises(UnmappedValue, match=f"zj crosswalk: .* {value!r} has no shared mapping"):
        getattr(crosswalks["zj"], method)(value)


def test_unmapped_is_a_value_error(crosswalks: dict[str, Crosswalk]) -> None:
    with pytest.raises(ValueError):
        crosswalks["sh"].update_cycle("hourly")
    with pytest.raises(UnmappedValue, match="has no local mapping"):
        crosswalks["sh"].grades.local("L9")
    with pytest.raises(ValueError, match="unknown crosswalk dimension"):
        crosswalks["sh"].vocabulary("formats")


def _mutated(tmp_path: Path, mutate: Callable[[dict], object]) -> Path:
    doc = copy.deepcopy(crosswalk_doc("zj"))
    mutate(doc)
    path = tmp_path / "crosswalk.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "key", "expected"),
    [
        (lambda d: d["grades"][1].update(shared="L7"), "grades[1].shared", "one of the standard"),
        (lambda d: d["grades"][2].update(shared=None), "grades[2].shared", "for '三级'"),
        (lambda d: d["grades"][0].pop("shared"), "grades[0].shared", "for '一级'"),
        (lambda d: d["categories"][4].update(shared="999"), "categories[4].shared", "standard"),
        (lambda d: d["categories"][5].update(local="1.1"), "categories[5].local", "twice"),
        (lambda d: d["grades"].pop(3), "grades", "missing ['L4']"),
        (lambda d: d["categories"].pop(), "categories", "missing ['316']"),
        (lambda d: d["update_cycles"].pop(0), "update_cycles", "realtime"),
        (lambda d: d["standard"].update(version="2.0.0"), "standard.version", "'1.0.0'"),
        (lambda d: d["standard"].update(id="other"), "standard.id", "yrd-public-data"),
        (lambda d: d.pop("share_types"), "share_types", "missing"),
        (lambda d: d.update(province="zhejiang"), "province", "two-letter"),
        (lambda d: d["grades"][0].update(level=1), "grades[0].level", "no such key"),
        (lambda d: d["open_attributes"][0].update(local=1), "open_attributes[0].local", "quote"),
    ],
)
def test_bad_crosswalk_names_file_and_key(
    tmp_path: Path,
    standard: Standard,
    mutate: Callable[[dict], object],
    key: str,
    expected: str,
) -> None:
    path = _mutated(tmp_path, mutate)
    with pytest.raises(ConfigError) as info:
        load_crosswalk(path, standard)
    assert info.value.path == str(path)
    assert info.value.key == key
    assert expected in info.value.expected
