"""``config/standard/yrd-standard.yaml``: the shared classification & grading standard, read
and checked into a ``gateway.standard.Standard``; any defect names the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.catalog.textindex import cjk_word
from gateway.config.reader import ConfigNode, load_yaml
from gateway.standard import (
    DATA_MARK_IDS,
    MASK_METHODS,
    OPEN_ATTRIBUTE_IDS,
    SHARE_TYPE_IDS,
    Category,
    DataItemDef,
    Grade,
    ItemKind,
    MaskRule,
    Standard,
    Synonyms,
    Term,
    canonical_digest,
)

__all__ = ["load_standard"]

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_GRADE_ID_RE = re.compile(r"^L[1-9]$")
_CLASS_RE = re.compile(r"^[1-9]$")
_ITEM_CODE_RE = re.compile(r"^\d{2}$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


def load_standard(path: str | Path) -> Standard:
    """Load and validate the standard; any defect is a ``ConfigError`` naming file and key."""
    root = load_yaml(path)
    root.only(
        "id",
        "version",
        "name",
        "categories",
        "grades",
        "share_types",
        "open_attributes",
        "update_cycles",
        "formats",
        "item_types",
        "item_kinds",
        "masking",
        "data_items",
        "data_marks",
        "synonyms",
    )
    std_id = root["id"].text(re.compile(r"^[a-z0-9][a-z0-9.-]*$"), "a lower-case id")
    version = root["version"].text(_VERSION_RE, 'a quoted semantic version such as "1.0.0"')
    classes, categories = _categories(root["categories"])
    grades = _grades(root["grades"])
    share_types = _terms(root["share_types"], required=SHARE_TYPE_IDS)
    open_attributes = _terms(root["open_attributes"], required=OPEN_ATTRIBUTE_IDS)
    item_kinds = _item_kinds(root["item_kinds"], grades)
    item_types = _terms(root["item_types"])
    return Standard(
        id=std_id,
        version=version,
        name=root.text_or("name", std_id),
        digest=canonical_digest(root.value),
        path=root.path,
        classes=classes,
        categories=categories,
        grades=grades,
        share_types=share_types,
        open_attributes=open_attributes,
        update_cycles=_terms(root["update_cycles"]),
        formats=_terms(root["formats"]),
        item_types=item_types,
        item_kinds=item_kinds,
        masking=_masking(root["masking"], item_kinds),
        data_items=_data_items(root["data_items"], grades, item_types, item_kinds),
        data_marks=_terms(root["data_marks"], required=DATA_MARK_IDS),
        synonyms=_synonyms(root.get("synonyms")),
    )


def _unique(seen: set[str], node: ConfigNode, value: str) -> str:
    if value in seen:
        raise node.fail(f"a unique value, {value!r} appears twice")
    seen.add(value)
    return value


def _categories(node: ConfigNode) -> tuple[dict[str, str], dict[str, Category]]:
    classes: dict[str, str] = {}
    categories: dict[str, Category] = {}
    for cls in node.items():
        cls.only("class", "name", "items")
        class_code = _unique(
            set(classes), cls["class"], cls["class"].text(_CLASS_RE, 'one digit such as "1"')
        )
        class_name = cls["name"].text()
        classes[class_code] = class_name
        seen: set[str] = set()
        for item in cls["items"].items():
            item.only("code", "name")
            code_node = item["code"]
            item_code = _unique(seen, code_node, code_node.text(_ITEM_CODE_RE, 'two digits "01"'))
            code = class_code + item_code
            categories[code] = Category(
                code, class_code, class_name, item_code, item["name"].text()
            )
    return classes, categories


_GRADE_FLAGS = (
    "leaves_province",
    "requires_grant",
    "allows_blanket_grant",
    "requires_purpose",
    "requires_masking",
    "verify_only",
)


def _grades(node: ConfigNode) -> dict[str, Grade]:
    grades: dict[str, Grade] = {}
    ranks: set[int] = set()
    for g in node.items():
        g.only("id", "name", "rank", "description", *_GRADE_FLAGS)
        gid = _unique(set(grades), g["id"], g["id"].text(_GRADE_ID_RE, 'a grade id such as "L1"'))
        rank = _unique_int(ranks, g["rank"], g["rank"].integer(minimum=1))
        flags = {flag: g[flag].boolean() for flag in _GRADE_FLAGS}
        grades[gid] = Grade(
            id=gid,
            name=g["name"].text(),
            rank=rank,
            description=g.text_or("description", ""),
            **flags,
        )
    if ranks != set(range(1, len(ranks) + 1)):
        raise node.fail(f"grade ranks 1..{len(ranks)} without gaps, got {sorted(ranks)}")
    return grades


def _unique_int(seen: set[int], node: ConfigNode, value: int) -> int:
    if value in seen:
        raise node.fail(f"a unique value, {value} appears twice")
    seen.add(value)
    return value


def _terms(node: ConfigNode, required: frozenset[str] = frozenset()) -> dict[str, Term]:
    terms: dict[str, Term] = {}
    for t in node.items():
        t.only("id", "name", "description")
        tid = _unique(set(terms), t["id"], t["id"].text(_ID_RE, "a lower_snake_case id"))
        terms[tid] = Term(tid, t["name"].text(), t.text_or("description", ""))
    missing = sorted(required - terms.keys())
    if missing:
        raise node.fail(f"entries with ids {', '.join(sorted(required))} (missing {missing})")
    return terms


def _item_kinds(node: ConfigNode, grades: dict[str, Grade]) -> dict[str, ItemKind]:
    kinds: dict[str, ItemKind] = {}
    for k in node.items():
        k.only("id", "name", "default_grade")
        kid = _unique(set(kinds), k["id"], k["id"].text(_ID_RE, "a lower_snake_case id"))
        grade = k["default_grade"].text()
        if grade not in grades:
            raise k["default_grade"].fail(f"one of the grades {sorted(grades)}, got {grade!r}")
        kinds[kid] = ItemKind(kid, k["name"].text(), grade)
    return kinds


def _masking(node: ConfigNode, kinds: dict[str, ItemKind]) -> dict[str, MaskRule]:
    rules: dict[str, MaskRule] = {}
    for r in node.items():
        r.only("kind", "method", "keep_first", "keep_last", "mask_char", "hide_at_least")
        kind = _unique(set(rules), r["kind"], r["kind"].text())
        if kind not in kinds:
            raise r["kind"].fail(f"one of the item_kinds {sorted(kinds)}, got {kind!r}")
        method = r["method"].text()
        if method not in MASK_METHODS:
            raise r["method"].fail(f"one of {', '.join(MASK_METHODS)}, got {method!r}")
        keep_first = keep_last = hide_at_least = 0
        if method == "keep_ends":
            keep_first = r["keep_first"].integer(minimum=0)
            keep_last = r["keep_last"].integer(minimum=0)
            if r.has("hide_at_least"):
                hide_at_least = r["hide_at_least"].integer(minimum=0)
        mask_char = r.text_or("mask_char", "*")
        if len(mask_char) != 1:
            raise r["mask_char"].fail(f"a single character, got {mask_char!r}")
        rules[kind] = MaskRule(kind, method, keep_first, keep_last, mask_char, hide_at_least)
    # Every kind needs a rule so a masker never meets a kind the standard knows but cannot mask.
    missing = sorted(kinds.keys() - rules.keys())
    if missing:
        raise node.fail(f"a rule for every item kind (missing {', '.join(missing)})")
    return rules


def _data_items(
    node: ConfigNode,
    grades: dict[str, Grade],
    types: dict[str, Term],
    kinds: dict[str, ItemKind],
) -> dict[str, DataItemDef]:
    items: dict[str, DataItemDef] = {}
    for d in node.items():
        d.only("name", "type", "length", "grade", "kind")
        name = _unique(set(items), d["name"], d["name"].text())
        itype = d["type"].text()
        if itype not in types:
            raise d["type"].fail(f"one of the item_types {sorted(types)}, got {itype!r}")
        kind = d.text_or("kind", "plain")
        if kind not in kinds:
            raise d["kind"].fail(f"one of the item_kinds {sorted(kinds)}, got {kind!r}")
        grade = d["grade"].text()
        if grade not in grades:
            raise d["grade"].fail(f"one of the grades {sorted(grades)}, got {grade!r}")
        floor = kinds[kind].default_grade
        # A 姓名 graded L1 would let a name leave unmasked: an item is never graded below its kind.
        if grades[grade].rank < grades[floor].rank:
            raise d["grade"].fail(f"at least {floor}, the default grade of kind {kind!r}")
        items[name] = DataItemDef(name, itype, d["length"].integer(minimum=0), grade, kind)
    return items


def _synonyms(node: ConfigNode | None) -> Synonyms:
    """``synonyms: {version, groups: [[term, ...], ...]}``; absent: none. A term must be one
    run of two or more Chinese characters (a query segment is one) and may sit in one group
    only, or a query's equivalents would depend on which group was read first."""
    if node is None:
        return Synonyms("")
    node.only("version", "groups")
    version = node["version"].text(re.compile(r"^[0-9][0-9.]*$"), 'a quoted version such as "1"')
    seen: set[str] = set()
    groups = []
    for group in node["groups"].items():
        terms = []
        for term_node in group.items():
            term = cjk_word(term_node.text())
            if term is None:
                raise term_node.fail(f"two or more Chinese characters, got {term_node.value!r}")
            terms.append(_unique(seen, term_node, term))
        if len(terms) < 2:
            raise group.fail("a list of two or more equivalent terms")
        groups.append(tuple(terms))
    return Synonyms(version, tuple(groups))
