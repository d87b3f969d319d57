"""The shared standard loads into the documented shape, and every defect names file and key."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import load_standard
from gateway.errors import ConfigError
from gateway.standard import MASK_METHODS, Standard
from tests.support.federation import ROOT

STANDARD_PATH = ROOT / "config" / "standard" / "yrd-standard.yaml"


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_standard(STANDARD_PATH)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(STANDARD_PATH.read_text(encoding="utf-8"))


def write(tmp_path: Path, doc: Any, name: str = "standard.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_identity_and_fingerprint(standard: Standard) -> None:
    assert standard.id == "yrd-public-data-classification"
    assert standard.version == "1.0.0"
    assert re.fullmatch(r"[0-9a-f]{64}", standard.digest)
    assert standard.fingerprint == f"{standard.id}@{standard.version}#{standard.digest[:12]}"


@pytest.mark.parametrize(
    ("code", "class_name", "name"),
    [
        ("101", "基础", "人口"),
        ("102", "基础", "法人单位"),
        ("103", "基础", "自然资源和空间地理"),
        ("104", "基础", "社会信用"),
        ("105", "基础", "电子证照"),
        ("201", "主题", "公共服务"),
        ("202", "主题", "健康保障"),
        ("203", "主题", "社会保障"),
        ("204", "主题", "食品药品安全"),
        ("205", "主题", "安全生产"),
        ("206", "主题", "价格监管"),
        ("207", "主题", "能源安全"),
        ("208", "主题", "信用体系"),
        ("209", "主题", "城乡建设"),
        ("210", "主题", "社区治理"),
        ("211", "主题", "生态环保"),
        ("212", "主题", "应急维稳"),
        ("301", "部门", "公安"),
        ("302", "部门", "人力资源和社会保障"),
        ("303", "部门", "市场监管"),
        ("308", "部门", "税务"),
    ],
)
def test_categories(standard: Standard, code: str, class_name: str, name: str) -> None:
    assert standard.is_category(code)
    category = standard.categories[code]
    assert (category.class_name, category.name) == (class_name, name)
    assert category.code == category.class_code + category.item_code
    assert category.full_name == f"{class_name}/{name}"


def test_category_classes(standard: Standard) -> None:
    assert standard.classes == {"1": "基础", "2": "主题", "3": "部门"}
    assert sum(c.class_code == "1" for c in standard.categories.values()) == 5
    assert sum(c.class_code == "2" for c in standard.categories.values()) == 12
    assert all(re.fullmatch(r"[1-3]\d{2}", code) for code in standard.categories)
    assert not standard.is_category("199")
    assert not standard.is_category("10")


@pytest.mark.parametrize(
    ("grade", "name", "rank", "leaves", "grant", "purpose", "masking", "verify_only"),
    [
        ("L1", "不敏感", 1, True, False, False, False, False),
        ("L2", "低敏感", 2, True, True, False, False, False),
        ("L3", "较敏感", 3, True, True, True, True, False),
        ("L4", "敏感", 4, False, True, True, True, True),
    ],
)
def test_grades(
    standard: Standard,
    grade: str,
    name: str,
    rank: int,
    leaves: bool,
    grant: bool,
    purpose: bool,
    masking: bool,
    verify_only: bool,
) -> None:
    g = standard.grades[grade]
    assert (g.name, g.rank, standard.grade_rank(grade)) == (name, rank, rank)
    assert g.leaves_province is leaves
    assert g.requires_grant is grant
    assert g.requires_purpose is purpose
    assert g.requires_masking is masking
    assert g.verify_only is verify_only


def test_l3_needs_an_app_grant_not_a_blanket_one(standard: Standard) -> None:
    assert standard.grades["L2"].allows_blanket_grant
    assert not standard.grades["L3"].allows_blanket_grant


def test_grade_helpers(standard: Standard) -> None:
    assert [g.id for g in standard.grades_by_rank] == ["L1", "L2", "L3", "L4"]
    assert standard.max_grade(["L2", "L4", "L1"]) == "L4"
    assert standard.max_grade(["L1"]) == "L1"
    with pytest.raises(ValueError, match="unknown grade 'L9'"):
        standard.grade_rank("L9")
    with pytest.raises(ValueError, match="no grades"):
        standard.max_grade([])
    with pytest.raises(ValueError, match="unknown category '999'"):
        standard.category("999")


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        (
            "share_types",
            {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"},
        ),
        (
            "open_attributes",
            {"open": "无条件开放", "conditional": "有条件开放", "closed": "不予开放"},
        ),
    ],
)
def test_share_and_open_vocabularies(standard: Standard, attr: str, expected: dict) -> None:
    assert {k: t.name for k, t in getattr(standard, attr).items()} == expected


def test_flat_vocabularies(standard: Standard) -> None:
    assert list(standard.update_cycles) == [
        "realtime",
        "daily",
        "weekly",
        "monthly",
        "quarterly",
        "yearly",
        "irregular",
    ]
    assert standard.update_cycles["quarterly"].name == "每季度"
    assert {"database", "file", "interface"} <= standard.formats.keys()
    assert standard.formats["file"].name == "电子文件"
    assert set(standard.item_types) == {
        "string",
        "integer",
        "decimal",
        "date",
        "datetime",
        "boolean",
        "binary",
    }
    assert standard.item_types["string"].name == "字符型"


@pytest.mark.parametrize(
    ("kind", "method", "keep_first", "keep_last"),
    [
        ("id_number", "keep_ends", 6, 4),
        ("mobile", "keep_ends", 3, 4),
        ("name", "surname", 0, 0),
        ("bank_card", "keep_ends", 6, 4),
        ("email", "email", 0, 0),
        ("birth_date", "year", 0, 0),
        ("address", "region", 0, 0),
        ("plain", "none", 0, 0),
    ],
)
def test_masking_rules_follow_design(
    standard: Standard, kind: str, method: str, keep_first: int, keep_last: int
) -> None:
    rule = standard.mask_rule(kind)
    assert rule is not None
    assert (rule.method, rule.keep_first, rule.keep_last, rule.mask_char) == (
        method,
        keep_first,
        keep_last,
        "*",
    )


def test_every_item_kind_has_a_rule(standard: Standard) -> None:
    assert standard.masking.keys() == standard.item_kinds.keys()
    assert {r.method for r in standard.masking.values()} <= set(MASK_METHODS)
    assert standard.mask_rule("no_such_kind") is None


def test_digest_ignores_formatting_but_not_content(tmp_path: Path, document: dict) -> None:
    original = load_standard(STANDARD_PATH)
    # Same content, different layout: flow style, other key order, no comments.
    reordered = dict(reversed(list(document.items())))
    path = tmp_path / "reformatted.yaml"
    path.write_text(
        yaml.safe_dump(reordered, allow_unicode=False, default_flow_style=True), encoding="utf-8"
    )
    assert load_standard(path).digest == original.digest

    changed = copy.deepcopy(document)
    changed["grades"][0]["name"] = "公开"
    assert load_standard(write(tmp_path, changed)).digest != original.digest


def test_synonyms_are_part_of_the_standard(
    tmp_path: Path, standard: Standard, document: dict
) -> None:
    equivalents = standard.synonyms.equivalents()
    # The examples, from the standard's own vocabulary.
    for term, other in [
        ("社保", "社会保险"),
        ("医保", "医疗保障"),
        ("医保", "医疗保险"),
        ("公积金", "住房公积金"),
        ("驾照", "驾驶证"),
        ("身份证号", "公民身份号码"),
        ("身份证号", "身份证件号码"),
        ("低保", "最低生活保障"),
        ("个税", "个人所得税"),
        ("营业执照", "企业登记"),
        ("出生证", "出生医学证明"),
        ("社保卡", "社会保障卡"),
        ("残疾人", "残疾人证"),
    ]:
        assert other in equivalents[term] and term in equivalents[other]
    assert standard.synonyms.version == "1"
    assert len(equivalents) >= 300
    # The list travels with the standard's digest (the peer handshake compares it).
    changed = copy.deepcopy(document)
    changed["synonyms"]["groups"].append(["长三角", "长江三角洲"])
    assert load_standard(write(tmp_path, changed)).digest != standard.digest


def _set(path: list[Any], value: Any) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _append(path: list[Any], value: Any) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        target = doc
        for key in path:
            target = target[key]
        target.append(value)

    return mutate


@pytest.mark.parametrize(
    ("mutate", "key", "expected"),
    [
        (_delete(["id"]), "id", "missing"),
        (_set(["version"], 1.0), "version", "quote it"),
        (_set(["version"], "v1"), "version", "semantic version"),
        (_delete(["grades", 2, "id"]), "grades[2].id", "missing"),
        (_set(["grades", 1, "id"], "L1"), "grades[1].id", "appears twice"),
        (_set(["grades", 3, "rank"], 7), "grades", "without gaps"),
        (_set(["grades", 0, "requires_grant"], "no"), "grades[0].requires_grant", "true or false"),
        (_set(["grades", 0, "rank"], True), "grades[0].rank", "an integer"),
        (_set(["categories", 0, "items", 1, "code"], 2), "categories[0].items[1].code", "quote"),
        (_set(["categories", 1, "items", 0, "code"], "1"), "categories[1].items[0].code", "two"),
        (_set(["categories", 2, "class"], "1"), "categories[2].class", "appears twice"),
        (_set(["share_types"], []), "share_types", "non-empty list"),
        (_delete(["share_types", 2]), "share_types", "none"),
        (_set(["update_cycles"], {"daily": "每日"}), "update_cycles", "a list"),
        (_set(["masking", 0, "method"], "scramble"), "masking[0].method", "keep_ends"),
        (_delete(["masking", 1, "keep_last"]), "masking[1].keep_last", "missing"),
        (_set(["masking", 0, "keep_first"], -1), "masking[0].keep_first", ">= 0"),
        (_set(["masking", 2, "kind"], "passport"), "masking[2].kind", "item_kinds"),
        (_delete(["masking", 8]), "masking", "missing plain"),
        (_set(["item_kinds", 0, "default_grade"], "L5"), "item_kinds[0].default_grade", "grades"),
        (_set(["grade"], []), "grade", "no such key"),
        (_append(["formats"], {"id": "Bad Id", "name": "x"}), "formats[7].id", "lower_snake_case"),
        (_set(["synonyms", "groups", 0, 1], "sb"), "synonyms.groups[0][1]", "Chinese characters"),
        (_set(["synonyms", "groups", 0, 1], "社 保"), "synonyms.groups[0][1]", "Chinese"),
        (_set(["synonyms", "groups", 1, 0], "社保"), "synonyms.groups[1][0]", "appears twice"),
        (_set(["synonyms", "groups", 0], ["社保"]), "synonyms.groups[0]", "two or more"),
        (_set(["synonyms", "version"], 1), "synonyms.version", "quote it"),
        (_set(["synonyms", "list"], []), "synonyms.list", "no such key"),
    ],
)
def test_bad_standard_names_file_and_key(
    tmp_path: Path, document: dict, mutate: Callable[[dict], None], key: str, expected: str
) -> None:
    doc = copy.deepcopy(document)
    mutate(doc)
    path = write(tmp_path, doc, "broken-standard.yaml")
    with pytest.raises(ConfigError) as info:
        load_standard(path)
    err = info.value
    assert err.path == str(path)
    assert err.key == key
    assert expected in err.expected
    assert str(path) in str(err) and key in str(err)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id: [unclosed\n", "valid YAML at line"),
        ("- just\n- a list\n", "a mapping"),
        ("", "a mapping"),
    ],
)
def test_unparsable_standard(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(expected)) as info:
        load_standard(path)
    assert info.value.path == str(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_standard(tmp_path / "nope.yaml")
    assert info.value.key == "<file>"
    assert "nope.yaml" in str(info.value)
