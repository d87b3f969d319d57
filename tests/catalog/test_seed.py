"""The seed catalog: deterministic, federation-unique codes, every value in the shared standard."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from gateway.catalog.model import RESOURCE_CODE_RE, CatalogEntry
from gateway.catalog.seed import MAX_SEQUENCE, capacity, generate_entries
from gateway.config import load_crosswalk, load_departments, load_standard
from gateway.crosswalk import Crosswalk
from gateway.departments import Departments
from gateway.errors import ConfigError
from gateway.standard import Standard
from tests.support.federation import ROOT

PROVINCES = {
    "js": ("江苏省", "32"),
    "sh": ("上海市", "31"),
    "zj": ("浙江省", "33"),
    "ah": ("安徽省", "34"),
}
FEDERATION_SIZE = 20_000


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")


@pytest.fixture(scope="module")
def inputs(standard: Standard) -> dict[str, tuple[Crosswalk, Departments]]:
    return {
        p: (
            load_crosswalk(ROOT / "nodes" / p / "crosswalk.yaml", standard),
            load_departments(ROOT / "nodes" / p / "departments.yaml", standard),
        )
        for p in PROVINCES
    }


def generate(
    province: str, n: int, standard: Standard, inputs: dict, seed: int = 0
) -> list[CatalogEntry]:
    crosswalk, departments = inputs[province]
    return list(
        generate_entries(
            province, n, standard=standard, crosswalk=crosswalk, departments=departments, seed=seed
        )
    )


@pytest.fixture(scope="module")
def federation(standard: Standard, inputs: dict) -> dict[str, list[CatalogEntry]]:
    return {p: generate(p, FEDERATION_SIZE, standard, inputs) for p in PROVINCES}


# --------------------------------------------------------------------------- departments


@pytest.mark.parametrize(("province", "expected"), PROVINCES.items())
def test_departments_file(inputs: dict, province: str, expected: tuple[str, str]) -> None:
    name, region_prefix = expected
    departments: Departments = inputs[province][1]
    assert departments.province == province
    assert departments.name == name
    assert departments.region_prefix == region_prefix
    assert 20 <= len(departments.departments) <= 35
    assert len(departments.cities) >= 11
    codes = [d.code for d in departments.departments]
    assert len(codes) == len(set(codes))
    assert [d.index for d in departments.departments] == list(range(1, len(codes) + 1))
    # Real provincial department names (the tax bureau is 国家税务总局<省>税务局); a customs
    # district is a central body named after its seat (南京海关, 上海海关).
    assert all(name in d.name or d.kind == "海关" for d in departments.departments)
    assert all(d.categories for d in departments.departments)


@pytest.mark.parametrize(
    ("province", "code", "name"),
    [
        ("js", "gat", "江苏省公安厅"),
        ("js", "rst", "江苏省人力资源和社会保障厅"),
        ("js", "scjgj", "江苏省市场监督管理局"),
        ("sh", "gaj", "上海市公安局"),
        ("sh", "rsj", "上海市人力资源和社会保障局"),
        ("sh", "dsjzx", "上海市数据局"),
        ("zj", "dsjj", "浙江省数据局"),
        ("ah", "sjzyj", "安徽省数据资源管理局"),
    ],
)
def test_known_departments(inputs: dict, province: str, code: str, name: str) -> None:
    assert inputs[province][1].get(code).name == name


def test_cities(inputs: dict) -> None:
    assert "南京市" in inputs["js"][1].cities and "苏州市" in inputs["js"][1].cities
    assert "浦东新区" in inputs["sh"][1].cities
    assert "杭州市" in inputs["zj"][1].cities
    assert "合肥市" in inputs["ah"][1].cities


def test_unknown_department(inputs: dict) -> None:
    with pytest.raises(ValueError, match="unknown department 'nope'"):
        inputs["js"][1].get("nope")


@pytest.mark.parametrize(
    ("mutate", "key", "expected"),
    [
        (
            lambda d: d["departments"][2].update(categories=["101", "999"]),
            "departments[2].categories[1]",
            "category code",
        ),
        (lambda d: d["departments"][1].update(code="gat"), "departments[1].code", "twice"),
        (lambda d: d["departments"][0].update(weight=0), "departments[0].weight", ">= 1"),
        (lambda d: d.update(region_code=320000), "region_code", "quote"),
        (lambda d: d["departments"][3].pop("name"), "departments[3].name", "missing"),
        (
            lambda d: d["departments"][0].update(categories=["301", "301"]),
            "departments[0].categories[1]",
            "twice",
        ),
    ],
)
def test_bad_departments_file(
    tmp_path: Path, standard: Standard, mutate: Callable[[dict], object], key: str, expected: str
) -> None:
    doc = yaml.safe_load((ROOT / "nodes" / "js" / "departments.yaml").read_text("utf-8"))
    mutate(doc)
    path = tmp_path / "departments.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_departments(path, standard)
    assert (info.value.path, info.value.key) == (str(path), key)
    assert expected in info.value.expected


# --------------------------------------------------------------------------- determinism


def test_same_arguments_same_entries(standard: Standard, inputs: dict) -> None:
    assert generate("sh", 2_000, standard, inputs) == generate("sh", 2_000, standard, inputs)


def test_other_seed_other_entries(standard: Standard, inputs: dict) -> None:
    a = generate("sh", 500, standard, inputs, seed=0)
    b = generate("sh", 500, standard, inputs, seed=1)
    assert [e.name for e in a] != [e.name for e in b]


def test_smaller_catalog_is_a_prefix(standard: Standard, inputs: dict, federation: dict) -> None:
    assert generate("zj", 1_000, standard, inputs) == federation["zj"][:1_000]


def test_no_entries(standard: Standard, inputs: dict) -> None:
    assert generate("ah", 0, standard, inputs) == []


# --------------------------------------------------------------------------- codes


def test_codes_unique_across_the_federation(federation: dict) -> None:
    codes = [e.code for entries in federation.values() for e in entries]
    assert len(codes) == 4 * FEDERATION_SIZE
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("province", PROVINCES)
def test_code_structure(federation: dict, inputs: dict, province: str) -> None:
    region = PROVINCES[province][1]
    departments: Departments = inputs[province][1]
    sequences: dict[str, list[int]] = {}
    for e in federation[province]:
        assert RESOURCE_CODE_RE.match(e.code), e.code
        prefix, sequence = e.code.split("/")
        assert prefix[:3] == e.category
        assert int(prefix[3:]) == departments.get(e.department_code).index
        assert sequence[:2] == region
        sequences.setdefault(prefix, []).append(int(sequence[2:]))
    # Sequences count up from 1 inside each prefix, without gaps.
    for numbers in sequences.values():
        assert numbers == list(range(1, len(numbers) + 1))


def test_full_size_province_fits(standard: Standard, inputs: dict) -> None:
    # 13.1万类: Jiangsu's real catalog size must fit without any prefix overflowing.
    entries = generate("js", 131_000, standard, inputs)
    per_prefix = Counter(e.code.split("/")[0] for e in entries)
    assert len({e.code for e in entries}) == 131_000
    assert max(per_prefix.values()) <= MAX_SEQUENCE


def test_full_prefix_spills_over(standard: Standard, inputs: dict) -> None:
    # A single department with two categories: the weighted pick favours the first, which fills.
    crosswalk, departments = inputs["ah"]
    tiny = replace(departments, departments=departments.departments[:1])
    tiny = replace(tiny, departments=(replace(tiny.departments[0], categories=("301", "101")),))
    n = capacity(tiny)
    entries = list(
        generate_entries("ah", n, standard=standard, crosswalk=crosswalk, departments=tiny)
    )
    assert Counter(e.code.split("/")[0] for e in entries) == {
        "301001": MAX_SEQUENCE,
        "101001": MAX_SEQUENCE,
    }


def test_too_many_entries_is_refused_up_front(standard: Standard, inputs: dict) -> None:
    crosswalk, departments = inputs["js"]
    limit = capacity(departments)
    with pytest.raises(ValueError, match=f"n={limit + 1} does not fit: {limit} entries at most"):
        generate_entries(
            "js", limit + 1, standard=standard, crosswalk=crosswalk, departments=departments
        )


@pytest.mark.parametrize(
    ("province", "crosswalk_of", "departments_of", "message"),
    [
        ("js", "sh", "js", "crosswalk for 'sh'"),
        ("js", "js", "zj", "departments of 'zj'"),
    ],
)
def test_mismatched_inputs(
    standard: Standard,
    inputs: dict,
    province: str,
    crosswalk_of: str,
    departments_of: str,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        generate_entries(
            province,
            1,
            standard=standard,
            crosswalk=inputs[crosswalk_of][0],
            departments=inputs[departments_of][1],
        )


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize("province", PROVINCES)
def test_every_value_is_in_the_standard(
    federation: dict, standard: Standard, inputs: dict, province: str
) -> None:
    crosswalk: Crosswalk = inputs[province][0]
    departments: Departments = inputs[province][1]
    for e in federation[province]:
        assert e.province == province
        assert standard.is_category(e.category)
        assert e.grade in standard.grades
        assert e.share_type in standard.share_types
        assert e.open_attribute in standard.open_attributes
        assert e.update_cycle in standard.update_cycles
        assert e.format in standard.formats
        assert re.fullmatch(r"20(1[6-9]|2[0-5])-\d\d-\d\d", e.publish_date)
        dept = departments.get(e.department_code)
        assert e.department == dept.name
        assert e.category in dept.categories
        # The local vocabulary is kept and maps back through the crosswalk.
        assert crosswalk.grade(e.local_grade) == e.grade
        assert crosswalk.category(e.local_category) == e.category
        assert 3 <= len(e.items) <= 12
        assert len({i.name for i in e.items}) == len(e.items)
        for item in e.items:
            assert item.type in standard.item_types
            assert item.grade in standard.grades
            assert item.kind in standard.item_kinds
            assert item.length >= 0
        assert e.grade == standard.max_grade(i.grade for i in e.items)


def test_local_labels_differ_from_shared_ids(federation: dict) -> None:
    assert {e.local_grade for e in federation["zj"]} == {"一级", "二级", "三级", "四级"}
    assert {e.local_grade for e in federation["ah"]} == {"A", "B", "C", "D"}
    assert {e.local_category[:2] for e in federation["js"]} == {"JC", "ZT", "BM"}


def test_share_type_follows_grade(federation: dict) -> None:
    entries = [e for es in federation.values() for e in es]
    by_grade = {g: Counter(e.share_type for e in entries if e.grade == g) for g in ("L1", "L4")}
    l1, l4 = by_grade["L1"], by_grade["L4"]
    assert l1["unconditional"] > 0.7 * l1.total()
    assert l4["unconditional"] == 0
    assert l4["none"] + l4["conditional"] == l4.total() > 0
    # Nothing is opened to the public more freely than it is shared.
    assert all(e.open_attribute == "closed" for e in entries if e.share_type == "none")
    assert not any(e.open_attribute == "open" for e in entries if e.share_type == "conditional")
    assert all(e.open_attribute == "closed" for e in entries if e.grade == "L4")


def test_all_grades_and_many_categories_occur(federation: dict, standard: Standard) -> None:
    entries = federation["js"]
    grades = Counter(e.grade for e in entries)
    assert set(grades) == set(standard.grades)
    assert all(count > 0.03 * len(entries) for count in grades.values())
    assert len({e.category for e in entries}) >= 30


@pytest.mark.parametrize(
    ("terms", "low", "high"),
    [
        (("户籍",), 0.015, 0.06),
        (("营业执照",), 0.008, 0.05),
        (("社保", "社会保险"), 0.008, 0.05),
        (("公积金",), 0.003, 0.05),
        (("医保",), 0.01, 0.05),
        (("不动产",), 0.01, 0.05),
        (("核酸", "疫苗"), 0.01, 0.05),
    ],
)
def test_term_frequencies(
    federation: dict, terms: tuple[str, ...], low: float, high: float
) -> None:
    for province, entries in federation.items():
        share = sum(any(t in e.name for t in terms) for e in entries) / len(entries)
        assert low <= share <= high, (province, terms, share)


def test_names_and_abstracts_look_real(federation: dict) -> None:
    entries = federation["js"]
    names = [e.name for e in entries]
    assert len(set(names)) > 0.4 * len(names)
    assert all(re.fullmatch(r"[\u4e00-\u9fff0-9A-Za-z.（）()“”]+", n) for n in names)
    assert any(n.startswith("南京市") for n in names)
    assert not any("登记登记" in n for n in names)
    for e in entries[:2_000]:
        assert e.abstract.endswith("。")
        assert 1 <= e.abstract.count("。") <= 2
        assert e.department in e.abstract
        if e.share_type == "unconditional":
            assert e.share_conditions == ""
        else:
            assert e.share_conditions


def test_verify_only_grade_is_shared_only_as_verification(federation: dict) -> None:
    l4 = [e for e in federation["sh"] if e.grade == "L4" and e.share_type == "conditional"]
    assert l4 and all("核验" in e.share_conditions for e in l4)


def test_department_subjects_match_their_work(federation: dict) -> None:
    # A housing-fund centre publishes 公积金 data, never 失业保险金 or 户籍.
    fund = [e for e in federation["js"] if e.department_code == "zjzx"]
    assert fund
    assert not any("失业" in e.name or "户籍" in e.name for e in fund)
    police = [e for e in federation["js"] if e.department_code == "gat"]
    assert sum("户籍" in e.name for e in police) > 0.1 * len(police)
