"""``nodes/<id>/interfaces.yaml``: a node's data interfaces, read and checked against the
standard, its departments and the dataset's tables into ``Interface`` records.

A bad declaration stops the node at start-up with a ``ConfigError`` naming the key
(``interfaces[2].fields[1].grade``).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from gateway.config.reader import ConfigNode, load_yaml
from gateway.departments import Department, Departments
from gateway.errors import ConfigError
from gateway.exchange.dataset import SCHEMA
from gateway.exchange.model import (
    BACKEND_TYPES,
    DEFAULT_HTTP_TIMEOUT_MS,
    INTERFACE_ID_RE,
    MAX_PARAMS,
    MODES,
    PARAM_KINDS,
    BackendSpec,
    Field,
    Interface,
    Param,
)
from gateway.standard import Standard

__all__ = ["load_interfaces"]

_PARAM_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# 类(1) 项(2) 目(3) "/" 顺序码: the region prefix of the province and four digits.
_RESOURCE_CODE_RE = re.compile(r"^(?P<category>[1-3]\d{2})(?P<dept>\d{3})/(?P<seq>\d{6})$")
_HTTP_PATH_RE = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$")
_FIXED_LENGTH = {"resident_id": 18, "credit_code": 18, "date": 10, "mobile": 11}
# Defaults of optional keys are the records' own.
_PARAM = Param("", "string")
_FIELD = Field("", "", "plain", "L1")


def load_interfaces(
    path: str | Path,
    *,
    province: str,
    standard: Standard,
    departments: Departments,
) -> dict[str, Interface]:
    """Load one province's interface declarations, keyed by interface id in file order."""
    root = load_yaml(path)
    root.only("province", "interfaces")
    if root["province"].text() != province:
        raise root["province"].fail(f"{province!r} (the node this file belongs to)")
    if departments.province != province:
        raise root["province"].fail(f"departments of {province!r}, got {departments.province!r}")
    by_code = {d.code: d for d in departments.departments}
    loaded: dict[str, Interface] = {}
    for node in root["interfaces"].items(non_empty=False):
        iface = _interface(node, province, standard, departments, by_code)
        if iface.id in loaded:
            raise node["id"].fail(f"a unique interface id, {iface.id!r} appears twice")
        loaded[iface.id] = iface
    return loaded


def _interface(
    node: ConfigNode,
    province: str,
    standard: Standard,
    departments: Departments,
    by_code: dict[str, Department],
) -> Interface:
    node.only(
        "id",
        "department",
        "name",
        "resource_code",
        "mode",
        "description",
        "streamable",
        "params",
        "fields",
        "backend",
        "data_mark",
    )
    iid = node["id"].text(INTERFACE_ID_RE, "an id such as sh/gaj/hukou-verify/v1")
    m = INTERFACE_ID_RE.match(iid)
    assert m is not None  # text() checked the pattern
    if m["node"] != province:
        raise node["id"].fail(f"an id in this node's namespace '{province}/...', got {iid!r}")
    dept_node = node["department"]
    dept_code = dept_node.text()
    if dept_code not in by_code:
        raise dept_node.fail(f"a department of {departments.name}, got {dept_code!r}")
    if dept_code != m["dept"]:
        raise dept_node.fail(f"the department named in the id ({m['dept']!r}), got {dept_code!r}")
    dept = by_code[dept_code]
    mode_node = node["mode"]
    mode = mode_node.text()
    if mode not in MODES:
        raise mode_node.fail(f"one of {', '.join(MODES)}, got {mode!r}")
    params = _params(node["params"]) if node.has("params") else ()
    if mode == "verify" and not any(p.required for p in params):
        # A verify interface without a required parameter could answer "match" to nothing.
        raise ConfigError(
            node.path,
            f"{node.key}.params",
            "at least one required parameter for a verify interface",
        )
    fields = _fields(node["fields"], standard)
    streamable = node["streamable"].boolean() if node.has("streamable") else False
    if streamable and mode != "query":
        raise node["streamable"].fail("false for a verify interface (only records stream)")
    return Interface(
        id=iid,
        province=province,
        department=dept_code,
        department_name=dept.name,
        name=node["name"].text(),
        resource_code=_resource_code(node["resource_code"], standard, departments, dept),
        mode=mode,
        params=params,
        fields=fields,
        backend=_backend(node["backend"], params, fields),
        streamable=streamable,
        description=node.text_or("description", ""),
        data_mark=_data_mark(node, standard),
    )


def _data_mark(node: ConfigNode, standard: Standard) -> str:
    mark = node.text_or("data_mark", "")
    if mark and mark not in standard.data_marks:
        raise node["data_mark"].fail(
            f"one of the standard's data_marks {sorted(standard.data_marks)}"
        )
    return mark


def _resource_code(
    node: ConfigNode, standard: Standard, departments: Departments, dept: Department
) -> str:
    code = node.text(_RESOURCE_CODE_RE, 'a 信息资源代码 such as "101001/310001"')
    m = _RESOURCE_CODE_RE.match(code)
    assert m is not None
    if not standard.is_category(m["category"]):
        raise node.fail(f"a category (类+项) of {standard.fingerprint}, got {m['category']!r}")
    if m["category"] not in dept.categories:
        raise node.fail(
            f"a category {dept.name} publishes in ({', '.join(dept.categories)}), "
            f"got {m['category']!r}"
        )
    if int(m["dept"]) != dept.index:
        raise node.fail(f"目 {dept.index:03d} (the department's position), got {m['dept']!r}")
    if not m["seq"].startswith(departments.region_prefix):
        raise node.fail(f"a 顺序码 starting with {departments.region_prefix}, got {m['seq']!r}")
    return code


def _params(node: ConfigNode) -> tuple[Param, ...]:
    items = node.items(non_empty=False)
    if len(items) > MAX_PARAMS:
        raise node.fail(f"at most {MAX_PARAMS} parameters, got {len(items)}")
    params: list[Param] = []
    for p in items:
        p.only("name", "kind", "required", "description", "max_length")
        name = p["name"].text(_PARAM_NAME_RE, "a lower_snake_case name of at most 32 characters")
        if any(q.name == name for q in params):
            raise p["name"].fail(f"a unique parameter name, {name!r} appears twice")
        kind = p["kind"].text()
        if kind not in PARAM_KINDS:
            raise p["kind"].fail(f"one of {', '.join(PARAM_KINDS)}, got {kind!r}")
        max_length = (
            p["max_length"].integer(minimum=1) if p.has("max_length") else _PARAM.max_length
        )
        if max_length > 1024:
            raise p["max_length"].fail(f"at most 1024, got {max_length}")
        if max_length < _FIXED_LENGTH.get(kind, 1):
            raise p["max_length"].fail(f"at least {_FIXED_LENGTH[kind]} for kind {kind}")
        params.append(
            Param(
                name=name,
                kind=kind,
                required=p["required"].boolean() if p.has("required") else _PARAM.required,
                description=p.text_or("description", ""),
                max_length=max_length,
            )
        )
    return tuple(params)


def _fields(node: ConfigNode, standard: Standard) -> tuple[Field, ...]:
    fields: list[Field] = []
    for f in node.items():
        f.only("name", "label", "kind", "grade", "mask")
        name = f["name"].text(_FIELD_NAME_RE, "a lower_snake_case field name")
        if any(g.name == name for g in fields):
            raise f["name"].fail(f"a unique field name, {name!r} appears twice")
        kind = f["kind"].text()
        if kind not in standard.item_kinds:
            raise f["kind"].fail(
                f"a data-item kind of the standard {sorted(standard.item_kinds)}, got {kind!r}"
            )
        grade = f["grade"].text()
        if not standard.is_grade(grade):
            raise f["grade"].fail(
                f"a grade of the standard {sorted(standard.grades)}, got {grade!r}"
            )
        # A field is the standard's data item of its label: one grade and kind, whoever serves it.
        item = standard.data_items.get(f["label"].text())
        if item is not None and (item.grade, item.kind) != (grade, kind):
            raise f["grade"].fail(
                f"{item.grade} with kind {item.kind}, as the standard defines {item.name}; "
                f"got {grade} with kind {kind}"
            )
        mask = f["mask"].boolean() if f.has("mask") else _FIELD.mask
        rule = standard.mask_rule(kind)
        if mask and (rule is None or rule.method == "none"):
            raise f["mask"].fail(f"false: the standard has no masking for kind {kind!r}")
        fields.append(Field(name, f["label"].text(), kind, grade, mask))
    return tuple(fields)


def _backend(node: ConfigNode, params: tuple[Param, ...], fields: tuple[Field, ...]) -> BackendSpec:
    btype = node["type"].text()
    if btype == "sqlite":
        return BackendSpec("sqlite", _sqlite_options(node, params, fields))
    if btype == "http":
        return BackendSpec("http", _http_options(node))
    raise node["type"].fail(f"one of {', '.join(BACKEND_TYPES)}, got {btype!r}")


def _mapping(node: ConfigNode | None) -> list[tuple[str, ConfigNode]]:
    """(key, value node) pairs of an optional mapping, each value node keyed for errors."""
    return [] if node is None else node.entries()


def _sqlite_options(
    node: ConfigNode, params: tuple[Param, ...], fields: tuple[Field, ...]
) -> dict[str, object]:
    # Table and column names end up in SQL text, so they must come from the dataset's allow-list;
    # only values ever come from callers, and those are bound as parameters.
    node.only("type", "table", "lookup", "columns")
    table_node = node["table"]
    table = SCHEMA.get(table_node.text())
    if table is None:
        raise table_node.fail(f"a dataset table ({', '.join(SCHEMA)}), got {table_node.value!r}")
    declared = {p.name for p in params}
    lookup: dict[str, str] = {}
    for name, col in _mapping(node.get("lookup")):
        if name not in declared:
            raise col.fail(f"a declared parameter ({', '.join(sorted(declared)) or 'none'})")
        lookup[name] = _column(col, table.name)
    missing = [p.name for p in params if p.name not in lookup]
    if missing:
        where = node.get("lookup") or node
        raise where.fail(
            f"a column for every parameter (missing {', '.join(missing)})"
            if where is not node
            else "a lookup mapping parameter -> column"
        )
    renames = dict(_mapping(node.get("columns")))
    by_field = {f.name for f in fields}
    for name, col in renames.items():
        if name not in by_field:
            raise col.fail("a declared field")
    columns: dict[str, str] = {}
    for f in fields:
        if f.name in renames:
            columns[f.name] = _column(renames[f.name], table.name)
        elif f.name in table.columns:
            columns[f.name] = f.name
        else:
            # Named as the key that would fix it: a columns entry for this field.
            raise ConfigError(
                node.path,
                f"{node.key}.columns.{f.name}",
                f"a column of {table.name} for field {f.name!r} (the table has no such column)",
            )
    return {"table": table.name, "lookup": lookup, "columns": columns}


def _column(node: ConfigNode, table: str) -> str:
    value = node.text()
    if value not in SCHEMA[table].columns:
        raise node.fail(f"a column of {table} ({', '.join(SCHEMA[table].columns)}), got {value!r}")
    return value


def _http_options(node: ConfigNode) -> dict[str, object]:
    node.only("type", "base_url", "path", "timeout_ms")
    url_node = node["base_url"]
    url = url_node.text()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise url_node.fail("an http:// or https:// URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise url_node.fail("a URL without query, fragment or credentials")
    path = node["path"].text(_HTTP_PATH_RE, "a relative path such as persons/basic")
    if ".." in path.split("/"):
        raise node["path"].fail("a path without '..'")
    timeout_ms = DEFAULT_HTTP_TIMEOUT_MS
    if node.has("timeout_ms"):
        timeout_ms = node["timeout_ms"].integer(minimum=1)
    if timeout_ms > 600_000:
        raise node["timeout_ms"].fail("at most 600000")
    return {"base_url": url.rstrip("/"), "path": path, "timeout_ms": timeout_ms}
