"""Interface declarations: the four shipped files load, bad ones name the key, params validate."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from gateway.config import load_departments, load_interfaces, load_standard
from gateway.departments import Departments
from gateway.errors import ConfigError, InvalidArgument
from gateway.exchange.interfaces import MAX_PARAMS, validate_params
from gateway.exchange.model import BackendSpec, Field, Interface, Param
from gateway.standard import Standard
from tests.support.federation import ROOT

NODES = ("js", "sh", "zj", "ah")
BASE_DATABASES = {
    "101": "人口",
    "102": "法人",
    "104": "社会信用",
    "105": "电子证照",
    "203": "社会保障",
}


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")


def departments(node: str, standard: Standard) -> Departments:
    return load_departments(ROOT / "nodes" / node / "departments.yaml", standard)


def load(node: str, standard: Standard, path: Path | None = None) -> dict[str, Interface]:
    return load_interfaces(
        path or ROOT / "nodes" / node / "interfaces.yaml",
        province=node,
        standard=standard,
        departments=departments(node, standard),
    )


# --------------------------------------------------------------------------- shipped files


@pytest.mark.parametrize("node", NODES)
def test_shipped_interfaces_load_and_cover_the_base_databases(node, standard):
    interfaces = load(node, standard)
    assert len(interfaces) >= 5
    assert all(i.id.startswith(f"{node}/") and i.province == node for i in interfaces.values())
    categories = {i.resource_code[:3] for i in interfaces.values()}
    assert set(BASE_DATABASES) <= categories
    assert len({i.resource_code for i in interfaces.values()}) == len(interfaces)
    verify = [i for i in interfaces.values() if i.verify_only]
    # A verify interface checks sensitive data (its items keep their one grade, L3 and up) and
    # releases none of it.
    assert any(
        any(standard.grade_rank(f.grade) >= 3 for f in i.fields)
        and any(p.required for p in i.params)
        for i in verify
    )
    assert any(i.streamable and i.mode == "query" for i in interfaces.values())
    for iface in interfaces.values():
        assert iface.department_name.startswith(departments(node, standard).name[:2])
        assert iface.backend.type == "sqlite"


def test_the_same_interfaces_exist_in_every_province(standard):
    shapes = [
        sorted((i.id.split("/")[2], i.mode, i.streamable) for i in load(n, standard).values())
        for n in NODES
    ]
    assert all(s == shapes[0] for s in shapes)


def test_declarations_carry_what_the_policy_needs(standard):
    sh = load("sh", standard)
    basic = sh["sh/gaj/resident-basic/v1"]
    assert basic.field("ethnicity").grade == "L4"
    assert basic.field("id_number").mask and basic.field("id_number").kind == "id_number"
    assert [p.kind for p in basic.params] == ["resident_id"]
    assert basic.backend == BackendSpec(
        "sqlite",
        {
            "table": "person",
            "lookup": {"id_number": "id_number"},
            "columns": {f.name: f.name for f in basic.fields},
        },
    )
    licence = sh["sh/dsjzx/e-licence/v1"]
    assert licence.backend.options["lookup"] == {
        "credit_code": "holder_id",
        "licence_type": "licence_type",
    }
    assert sh["sh/rsj/insured-roster/v1"].streamable


# --------------------------------------------------------------------------- bad declarations


def _edit(doc, path, value):
    *head, last = path
    target = doc
    for key in head:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value


_DELETE = object()
_SH = yaml.safe_load((ROOT / "nodes" / "sh" / "interfaces.yaml").read_text(encoding="utf-8"))


def _many_params():
    return [{"name": f"p{i}", "kind": "string"} for i in range(MAX_PARAMS + 1)]


BAD = [
    # (what, [(path, value)...], expected key)
    ("other province", [(("province",), "js")], "province"),
    (
        "id outside namespace",
        [(("interfaces", 0, "id"), "js/gaj/resident-basic/v1")],
        "interfaces[0].id",
    ),
    ("malformed id", [(("interfaces", 0, "id"), "sh/gaj/Resident Basic")], "interfaces[0].id"),
    ("duplicate id", [(("interfaces", 1, "id"), "sh/gaj/resident-basic/v1")], "interfaces[1].id"),
    (
        "unknown department",
        [
            (("interfaces", 0, "id"), "sh/xyz/resident-basic/v1"),
            (("interfaces", 0, "department"), "xyz"),
        ],
        "interfaces[0].department",
    ),
    (
        "department differs from id",
        [(("interfaces", 0, "department"), "rsj")],
        "interfaces[0].department",
    ),
    ("missing name", [(("interfaces", 0, "name"), _DELETE)], "interfaces[0].name"),
    ("bad mode", [(("interfaces", 0, "mode"), "download")], "interfaces[0].mode"),
    (
        "resource code shape",
        [(("interfaces", 0, "resource_code"), "101-001")],
        "interfaces[0].resource_code",
    ),
    (
        "resource code unknown category",
        [(("interfaces", 0, "resource_code"), "199001/310001")],
        "interfaces[0].resource_code",
    ),
    (
        "resource code category of another department",
        [(("interfaces", 0, "resource_code"), "203001/310001")],
        "interfaces[0].resource_code",
    ),
    (
        "resource code wrong 目",
        [(("interfaces", 0, "resource_code"), "101002/310001")],
        "interfaces[0].resource_code",
    ),
    (
        "resource code other region",
        [(("interfaces", 0, "resource_code"), "101001/320001")],
        "interfaces[0].resource_code",
    ),
    ("unknown key", [(("interfaces", 0, "colour"), "red")], "interfaces[0].colour"),
    (
        "param kind",
        [(("interfaces", 0, "params", 0, "kind"), "passport")],
        "interfaces[0].params[0].kind",
    ),
    (
        "param name",
        [(("interfaces", 0, "params", 0, "name"), "Id-Number")],
        "interfaces[0].params[0].name",
    ),
    (
        "duplicate param",
        [(("interfaces", 1, "params", 1, "name"), "id_number")],
        "interfaces[1].params[1].name",
    ),
    (
        "required not a boolean",
        [(("interfaces", 0, "params", 0, "required"), "yes")],
        "interfaces[0].params[0].required",
    ),
    (
        "max_length below the kind's length",
        [(("interfaces", 0, "params", 0, "max_length"), 10)],
        "interfaces[0].params[0].max_length",
    ),
    ("too many params", [(("interfaces", 0, "params"), _many_params())], "interfaces[0].params"),
    (
        "grade outside the standard",
        [(("interfaces", 2, "fields", 1, "grade"), "L5")],
        "interfaces[2].fields[1].grade",
    ),
    (
        "kind outside the standard",
        [(("interfaces", 0, "fields", 2, "kind"), "passport")],
        "interfaces[0].fields[2].kind",
    ),
    (
        "duplicate field",
        [(("interfaces", 0, "fields", 1, "name"), "id_number")],
        "interfaces[0].fields[1].name",
    ),
    (
        "mask on a kind without masking",
        [(("interfaces", 0, "fields", 2, "mask"), True)],
        "interfaces[0].fields[2].mask",
    ),
    ("no fields", [(("interfaces", 0, "fields"), [])], "interfaces[0].fields"),
    (
        "verify without a required param",
        [
            (("interfaces", 1, "params", 0, "required"), False),
            (("interfaces", 1, "params", 1, "required"), False),
        ],
        "interfaces[1].params",
    ),
    ("verify cannot stream", [(("interfaces", 1, "streamable"), True)], "interfaces[1].streamable"),
    (
        "backend type",
        [(("interfaces", 0, "backend", "type"), "oracle")],
        "interfaces[0].backend.type",
    ),
    (
        "table off the allow-list",
        [(("interfaces", 0, "backend", "table"), "sqlite_master")],
        "interfaces[0].backend.table",
    ),
    (
        "lookup column off the allow-list",
        [(("interfaces", 0, "backend", "lookup"), {"id_number": "id_number; DROP TABLE person"})],
        "interfaces[0].backend.lookup.id_number",
    ),
    (
        "lookup names an undeclared param",
        [(("interfaces", 0, "backend", "lookup"), {"id_number": "id_number", "who": "name"})],
        "interfaces[0].backend.lookup.who",
    ),
    (
        "param without a lookup column",
        [(("interfaces", 1, "backend", "lookup"), {"id_number": "id_number", "name": "name"})],
        "interfaces[1].backend.lookup",
    ),
    (
        "field without a column",
        [(("interfaces", 0, "fields", 2, "name"), "shoe_size")],
        "interfaces[0].backend.columns.shoe_size",
    ),
    (
        "data mark off the standard's list",
        [(("interfaces", 0, "data_mark"), "secret")],
        "interfaces[0].data_mark",
    ),
    (
        # 民族 is L4 in the standard's data items: an interface cannot serve it as L2.
        "field graded apart from its data item",
        [(("interfaces", 0, "fields", 4, "grade"), "L2")],
        "interfaces[0].fields[4].grade",
    ),
    (
        "field of another kind than its data item",
        [(("interfaces", 0, "fields", 1, "kind"), "plain")],
        "interfaces[0].fields[1].grade",
    ),
    (
        "column rename off the allow-list",
        [(("interfaces", 0, "backend", "columns"), {"gender": "password"})],
        "interfaces[0].backend.columns.gender",
    ),
    (
        "http base_url scheme",
        [(("interfaces", 0, "backend"), {"type": "http", "base_url": "ftp://x", "path": "p"})],
        "interfaces[0].backend.base_url",
    ),
    (
        "http base_url credentials",
        [
            (
                ("interfaces", 0, "backend"),
                {"type": "http", "base_url": "http://u:pw@127.0.0.1", "path": "p"},
            )
        ],
        "interfaces[0].backend.base_url",
    ),
    (
        "http path escapes",
        [
            (
                ("interfaces", 0, "backend"),
                {"type": "http", "base_url": "http://127.0.0.1:1", "path": "a/../b"},
            )
        ],
        "interfaces[0].backend.path",
    ),
    (
        "http timeout",
        [
            (
                ("interfaces", 0, "backend"),
                {"type": "http", "path": "p", "base_url": "http://127.0.0.1:1", "timeout_ms": 0},
            )
        ],
        "interfaces[0].backend.timeout_ms",
    ),
]


@pytest.mark.parametrize(
    ("edits", "key"), [(e, k) for _, e, k in BAD], ids=[what for what, _, _ in BAD]
)
def test_bad_declaration_names_the_key(tmp_path, standard, edits, key):
    doc = copy.deepcopy(_SH)
    for path, value in edits:
        _edit(doc, path, value)
    path = tmp_path / "interfaces.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load("sh", standard, path)
    assert err.value.key == key
    assert err.value.path == str(path)


def test_an_http_backend_declaration_loads(tmp_path, standard):
    doc = copy.deepcopy(_SH)
    doc["interfaces"][0]["backend"] = {
        "type": "http",
        "base_url": "http://127.0.0.1:8080/api/",
        "path": "persons/basic",
        "timeout_ms": 1500,
    }
    path = tmp_path / "interfaces.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    iface = load("sh", standard, path)["sh/gaj/resident-basic/v1"]
    assert iface.backend == BackendSpec(
        "http",
        {"base_url": "http://127.0.0.1:8080/api", "path": "persons/basic", "timeout_ms": 1500},
    )


def test_missing_and_malformed_files(tmp_path, standard):
    with pytest.raises(ConfigError) as err:
        load("sh", standard, tmp_path / "absent.yaml")
    assert err.value.key == "<file>"
    bad = tmp_path / "bad.yaml"
    bad.write_text("interfaces: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load("sh", standard, bad)
    assert err.value.key == "<file>"


def test_an_empty_interface_list_is_allowed(tmp_path, standard):
    path = tmp_path / "interfaces.yaml"
    path.write_text("province: sh\ninterfaces: []\n", encoding="utf-8")
    assert load("sh", standard, path) == {}


# --------------------------------------------------------------------------- call parameters

IFACE = Interface(
    id="sh/gaj/test/v1",
    province="sh",
    department="gaj",
    department_name="上海市公安局",
    name="测试",
    resource_code="101001/310099",
    mode="query",
    params=(
        Param("id", "resident_id", required=True),
        Param("code", "credit_code", required=False),
        Param("day", "date", required=False),
        Param("n", "integer", required=False),
        Param("who", "name", required=False, max_length=16),
        Param("phone", "mobile", required=False),
        Param("note", "string", required=False, max_length=8),
    ),
    fields=(Field("name", "姓名", "name", "L3"),),
    backend=BackendSpec("sqlite", {}),
)

ID = "11010519491231002X"
CODE = "91350100M000100Y43"

VALID = [
    ({"id": ID}, {"id": ID}),
    ({"id": ID.lower()}, {"id": ID}),
    ({"id": f"  {ID} "}, {"id": ID}),
    ({"id": ID, "code": CODE}, {"id": ID, "code": CODE}),
    ({"id": ID, "code": ""}, {"id": ID}),
    ({"id": ID, "day": "2024-02-29"}, {"id": ID, "day": "2024-02-29"}),
    ({"id": ID, "n": "+007"}, {"id": ID, "n": "7"}),
    ({"id": ID, "n": "-12"}, {"id": ID, "n": "-12"}),
    ({"id": ID, "who": "欧阳娜娜"}, {"id": ID, "who": "欧阳娜娜"}),
    ({"id": ID, "who": "买买提·艾力"}, {"id": ID, "who": "买买提·艾力"}),
    ({"id": ID, "who": "王\ue000"}, {"id": ID, "who": "王\ue000"}),  # 生僻字 in private use
    ({"id": ID, "phone": "138-1234 5678"}, {"id": ID, "phone": "13812345678"}),
    ({"id": ID, "note": "12345678"}, {"id": ID, "note": "12345678"}),
]


@pytest.mark.parametrize(("params", "expected"), VALID)
def test_valid_params_are_normalised(params, expected):
    assert validate_params(IFACE, params) == expected


INVALID = [
    ({"id": "11010519491231002"[:-1] + "3X"}, "params.id", "BAD_CHECK_DIGIT"),
    ({"id": "110105194912310021"}, "params.id", "BAD_CHECK_DIGIT"),
    ({"id": ID, "code": "91350100M000100Y44"}, "params.code", "BAD_CHECK_DIGIT"),
    ({"id": ID, "code": "91350100M000100Y4"}, "params.code", "BAD_FORMAT"),
    ({"id": ID, "code": CODE.lower()}, "params.code", "BAD_FORMAT"),
    ({"id": "11010519491231002"}, "params.id", "BAD_FORMAT"),
    ({"id": "11010519491331002X"}, "params.id", "BAD_FORMAT"),
    ({}, "params.id", "MISSING_PARAM"),
    ({"id": "   "}, "params.id", "MISSING_PARAM"),
    ({"id": ID, "nope": "1"}, "params.nope", "UNKNOWN_PARAM"),
    ({"id": ID, "day": "2024-02-30"}, "params.day", "BAD_FORMAT"),
    ({"id": ID, "day": "20240101"}, "params.day", "BAD_FORMAT"),
    ({"id": ID, "day": "2024-1-1"}, "params.day", "BAD_FORMAT"),
    ({"id": ID, "n": "12a"}, "params.n", "BAD_FORMAT"),
    ({"id": ID, "n": "\u0661\u0662"}, "params.n", "BAD_FORMAT"),
    ({"id": ID, "n": "1" * 19}, "params.n", "BAD_FORMAT"),
    ({"id": ID, "note": "123456789"}, "params.note", "BAD_FORMAT"),
    ({"id": ID, "note": "ab\x00c"}, "params.note", "BAD_FORMAT"),
    ({"id": ID, "note": "ab\nc"}, "params.note", "BAD_FORMAT"),
    ({"id": ID, "note": "ab\u202ec"}, "params.note", "BAD_FORMAT"),
    ({"id": ID, "note": "ab\u200bc"}, "params.note", "BAD_FORMAT"),
    ({"id": ID, "who": "张三1"}, "params.who", "BAD_FORMAT"),
    ({"id": ID, "who": "' OR 1=1 --"}, "params.who", "BAD_FORMAT"),
    ({"id": ID, "phone": "2381234567"}, "params.phone", "BAD_FORMAT"),
    ({"id": ID, "phone": "1381234567x"}, "params.phone", "BAD_FORMAT"),
    ({f"p{i}": "x" for i in range(MAX_PARAMS + 1)}, "params", "TOO_MANY_PARAMS"),
]


@pytest.mark.parametrize(("params", "field", "reason"), INVALID)
def test_invalid_params_name_the_field_and_reason(params, field, reason):
    with pytest.raises(InvalidArgument) as err:
        validate_params(IFACE, params)
    assert (err.value.field, err.value.reason) == (field, reason)
    assert err.value.message.startswith(field)


def test_hostile_param_names_are_not_echoed_raw():
    with pytest.raises(InvalidArgument) as err:
        validate_params(IFACE, {"id": ID, "x\x00\n" + "y" * 100: "1"})
    assert err.value.reason == "UNKNOWN_PARAM"
    assert "\x00" not in err.value.message and "\n" not in err.value.message
    assert len(err.value.field) < 60


def test_shipped_verify_interface_params(standard):
    verify = load("sh", standard)["sh/gaj/hukou-verify/v1"]
    assert validate_params(verify, {"id_number": ID, "name": " 张三 "}) == {
        "id_number": ID,
        "name": "张三",
    }
    with pytest.raises(InvalidArgument) as err:
        validate_params(verify, {"id_number": ID})
    assert (err.value.field, err.value.reason) == ("params.name", "MISSING_PARAM")
