"""The shared YRD classification & grading standard: loading, validation and lookups.

Owns ``config/standard/yrd-standard.yaml`` and the small YAML reader (``ConfigNode``) that the
other vocabulary files (crosswalks, department lists) use so every failure names file and key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError

__all__ = [
    "MASK_METHODS",
    "SHARE_TYPE_IDS",
    "OPEN_ATTRIBUTE_IDS",
    "Category",
    "ConfigNode",
    "Grade",
    "ItemKind",
    "MaskRule",
    "Standard",
    "Term",
    "canonical_digest",
    "load_standard",
    "load_yaml",
]

#: Masking methods the standard may name; ``gateway.masking`` implements exactly these.
MASK_METHODS: tuple[str, ...] = ("keep_ends", "surname", "email", "year", "none")

#: The catalog model (``gateway.catalog.model``) speaks these ids, so the standard must define them.
SHARE_TYPE_IDS: frozenset[str] = frozenset({"unconditional", "conditional", "none"})
OPEN_ATTRIBUTE_IDS: frozenset[str] = frozenset({"open", "conditional", "closed"})

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_GRADE_ID_RE = re.compile(r"^L[1-9]$")
_CLASS_RE = re.compile(r"^[1-9]$")
_ITEM_CODE_RE = re.compile(r"^\d{2}$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------- YAML reading


class ConfigNode:
    """One parsed YAML value that knows its file and key path, so any failure names both."""

    __slots__ = ("path", "key", "value")

    def __init__(self, path: str, key: str, value: Any) -> None:
        self.path = path
        self.key = key
        self.value = value

    def fail(self, expected: str) -> ConfigError:
        """The error to raise when this value is not what was expected."""
        return ConfigError(self.path, self.key or "<document>", expected)

    def _child(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def _as_dict(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise self.fail(f"a mapping, got {_describe(self.value)}")
        return self.value

    def has(self, name: str) -> bool:
        return name in self._as_dict()

    def __getitem__(self, name: str) -> ConfigNode:
        mapping = self._as_dict()
        if name not in mapping:
            raise ConfigError(self.path, self._child(name), "a value (the key is missing)")
        return ConfigNode(self.path, self._child(name), mapping[name])

    def get(self, name: str) -> ConfigNode | None:
        """The child if present (even when null), else ``None``."""
        mapping = self._as_dict()
        if name not in mapping:
            return None
        return ConfigNode(self.path, self._child(name), mapping[name])

    def only(self, *allowed: str) -> ConfigNode:
        """Reject keys outside ``allowed``: a misspelt key should fail, not be ignored."""
        for name in self._as_dict():
            if name not in allowed:
                raise ConfigError(
                    self.path,
                    self._child(str(name)),
                    f"no such key (allowed: {', '.join(allowed)})",
                )
        return self

    def items(self, *, non_empty: bool = True) -> list[ConfigNode]:
        if not isinstance(self.value, list):
            raise self.fail(f"a list, got {_describe(self.value)}")
        if non_empty and not self.value:
            raise self.fail("a non-empty list")
        return [ConfigNode(self.path, f"{self.key}[{i}]", v) for i, v in enumerate(self.value)]

    def text(self, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            # YAML reads 01 as 1 and 1.0 as a float: the fix is almost always to quote.
            number = isinstance(self.value, int | float) and not isinstance(self.value, bool)
            extra = " (quote it in the YAML)" if number else ""
            raise self.fail(f"{hint or 'a non-empty string'}{extra}, got {_describe(self.value)}")
        if pattern is not None and not pattern.match(self.value):
            raise self.fail(f"{hint or 'a string matching ' + pattern.pattern}, got {self.value!r}")
        return self.value

    def integer(self, minimum: int | None = None) -> int:
        # bool is an int subclass in Python; `true` is never a valid count.
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise self.fail(f"an integer, got {_describe(self.value)}")
        if minimum is not None and self.value < minimum:
            raise self.fail(f"an integer >= {minimum}, got {self.value}")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail(f"true or false, got {_describe(self.value)}")
        return self.value

    def text_or(self, name: str, default: str) -> str:
        child = self.get(name)
        return default if child is None else child.text()


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"[:80]


def load_yaml(path: str | Path) -> ConfigNode:
    """Parse one YAML file into a ``ConfigNode``; unreadable or malformed files are ConfigErrors."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(p, "<file>", f"a readable UTF-8 file ({exc.__class__.__name__})") from exc
    try:
        value = yaml.load(text, Loader=_YAML_LOADER)  # the C or pure SafeLoader
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(p, "<file>", f"valid YAML{at}") from exc
    return ConfigNode(str(p), "", value)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Category:
    """One shared category: 类 + 项."""

    code: str
    """Three digits, 类 + 项, e.g. ``101``."""
    class_code: str
    """类, one digit: ``1`` 基础, ``2`` 主题, ``3`` 部门."""
    class_name: str
    item_code: str
    """项, two digits."""
    name: str
    """项's name, e.g. ``人口``."""

    @property
    def full_name(self) -> str:
        return f"{self.class_name}/{self.name}"


@dataclass(frozen=True, slots=True)
class Grade:
    """One sensitivity grade and what it demands of a caller."""

    id: str
    name: str
    rank: int
    """Higher is more sensitive; ranks are 1..N without gaps."""
    description: str
    leaves_province: bool
    """False: the data never leaves its province (answers are verify-only)."""
    requires_grant: bool
    allows_blanket_grant: bool
    """Whether a whole-province (整体) grant suffices or an app grant is needed."""
    requires_purpose: bool
    requires_masking: bool
    verify_only: bool


@dataclass(frozen=True, slots=True)
class Term:
    """One entry of a flat vocabulary (share type, update cycle, format ...)."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ItemKind:
    """What a data item holds, which decides how it is masked."""

    id: str
    name: str
    default_grade: str


@dataclass(frozen=True, slots=True)
class MaskRule:
    """How values of one data-item kind are masked."""

    kind: str
    method: str
    """One of ``MASK_METHODS``."""
    keep_first: int = 0
    keep_last: int = 0
    mask_char: str = "*"


@dataclass(frozen=True, eq=False)
class Standard:
    """The loaded standard. Compare two standards by ``fingerprint``, not by ``==``."""

    id: str
    version: str
    name: str
    digest: str
    """sha256 hex of the canonical JSON of the parsed document: formatting does not change it."""
    path: str
    classes: dict[str, str]
    """类 code -> name."""
    categories: dict[str, Category]
    grades: dict[str, Grade]
    share_types: dict[str, Term]
    open_attributes: dict[str, Term]
    update_cycles: dict[str, Term]
    formats: dict[str, Term]
    item_types: dict[str, Term]
    item_kinds: dict[str, ItemKind]
    masking: dict[str, MaskRule]

    @property
    def fingerprint(self) -> str:
        return f"{self.id}@{self.version}#{self.digest[:12]}"

    @property
    def grades_by_rank(self) -> tuple[Grade, ...]:
        return tuple(sorted(self.grades.values(), key=lambda g: g.rank))

    def is_category(self, code: str) -> bool:
        return code in self.categories

    def is_grade(self, grade: str) -> bool:
        return grade in self.grades

    def category(self, code: str) -> Category:
        try:
            return self.categories[code]
        except KeyError:
            raise ValueError(f"unknown category {code!r} in standard {self.fingerprint}") from None

    def grade(self, grade: str) -> Grade:
        try:
            return self.grades[grade]
        except KeyError:
            raise ValueError(f"unknown grade {grade!r} in standard {self.fingerprint}") from None

    def grade_rank(self, grade: str) -> int:
        return self.grade(grade).rank

    def max_grade(self, grades: Iterable[str]) -> str:
        """The most sensitive of ``grades``; ValueError when empty or unknown."""
        best: Grade | None = None
        for g in grades:
            candidate = self.grade(g)
            if best is None or candidate.rank > best.rank:
                best = candidate
        if best is None:
            raise ValueError("max_grade() of no grades")
        return best.id

    def mask_rule(self, kind: str) -> MaskRule | None:
        return self.masking.get(kind)


# --------------------------------------------------------------------------- loading


def canonical_digest(document: Any) -> str:
    """sha256 of a canonical JSON form: sorted keys, no whitespace, UTF-8."""
    canonical = json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
    )
    std_id = root["id"].text(re.compile(r"^[a-z0-9][a-z0-9.-]*$"), "a lower-case id")
    version = root["version"].text(_VERSION_RE, 'a quoted semantic version such as "1.0.0"')
    classes, categories = _categories(root["categories"])
    grades = _grades(root["grades"])
    share_types = _terms(root["share_types"], required=SHARE_TYPE_IDS)
    open_attributes = _terms(root["open_attributes"], required=OPEN_ATTRIBUTE_IDS)
    item_kinds = _item_kinds(root["item_kinds"], grades)
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
        item_types=_terms(root["item_types"]),
        item_kinds=item_kinds,
        masking=_masking(root["masking"], item_kinds),
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
        r.only("kind", "method", "keep_first", "keep_last", "mask_char")
        kind = _unique(set(rules), r["kind"], r["kind"].text())
        if kind not in kinds:
            raise r["kind"].fail(f"one of the item_kinds {sorted(kinds)}, got {kind!r}")
        method = r["method"].text()
        if method not in MASK_METHODS:
            raise r["method"].fail(f"one of {', '.join(MASK_METHODS)}, got {method!r}")
        keep_first = keep_last = 0
        if method == "keep_ends":
            keep_first = r["keep_first"].integer(minimum=0)
            keep_last = r["keep_last"].integer(minimum=0)
        mask_char = r.text_or("mask_char", "*")
        if len(mask_char) != 1:
            raise r["mask_char"].fail(f"a single character, got {mask_char!r}")
        rules[kind] = MaskRule(kind, method, keep_first, keep_last, mask_char)
    # Every kind needs a rule so a masker never meets a kind the standard knows but cannot mask.
    missing = sorted(kinds.keys() - rules.keys())
    if missing:
        raise node.fail(f"a rule for every item kind (missing {', '.join(missing)})")
    return rules
