"""The shared YRD classification & grading standard: its records and lookups.

``gateway.config`` reads ``config/standard/yrd-standard.yaml`` into a ``Standard``; this module
knows nothing of files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MASK_METHODS",
    "SHARE_TYPE_IDS",
    "DATA_MARK_IDS",
    "OPEN_ATTRIBUTE_IDS",
    "Category",
    "DataItemDef",
    "Grade",
    "ItemKind",
    "MaskRule",
    "Standard",
    "Synonyms",
    "Term",
    "canonical_digest",
]

#: Masking methods the standard may name; ``gateway.masking`` implements exactly these.
MASK_METHODS: tuple[str, ...] = ("keep_ends", "surname", "email", "year", "region", "none")

#: The catalog model (``gateway.catalog.model``) speaks these ids, so the standard must define them.
SHARE_TYPE_IDS: frozenset[str] = frozenset({"unconditional", "conditional", "none"})
#: The marks of GB/T 43697-2024 the exchange acts on.
DATA_MARK_IDS: frozenset[str] = frozenset({"important", "core"})
OPEN_ATTRIBUTE_IDS: frozenset[str] = frozenset({"open", "conditional", "closed"})


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
class DataItemDef:
    """One named data item (信息项) and its one grade, read by the catalog and the interfaces."""

    name: str
    """Chinese name, e.g. ``民族``; a catalog item or an interface field label of this name is
    this item."""
    type: str
    """An item type of the standard (``string``, ``date`` ...)."""
    length: int
    grade: str
    """Never below its kind's default grade."""
    kind: str = "plain"


@dataclass(frozen=True, slots=True)
class MaskRule:
    """How values of one data-item kind are masked."""

    kind: str
    method: str
    """One of ``MASK_METHODS``."""
    keep_first: int = 0
    keep_last: int = 0
    mask_char: str = "*"
    hide_at_least: int = 0
    """``keep_ends`` only: a value whose masked middle would be shorter than this (a truncated or
    mistyped number) keeps nothing but its first character, so that what the rule protects in a
    full-length value (a mobile's middle four digits, an ID number's birth date) never shows."""


@dataclass(frozen=True, slots=True)
class Synonyms:
    """The standard's equivalent terms (同义词与简称): groups of terms a caseworker types for one
    another, each term normalized (NFKC, lower case) and in one group only."""

    version: str
    groups: tuple[tuple[str, ...], ...] = ()

    def equivalents(self) -> dict[str, tuple[str, ...]]:
        """Each term -> the other terms of its group (what a query for it also looks for)."""
        return {
            term: tuple(other for other in group if other != term)
            for group in self.groups
            for term in group
        }


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
    data_items: dict[str, DataItemDef]
    """Name -> the item's one definition (grade, kind, type, length)."""
    data_marks: dict[str, Term]
    """GB/T 43697 marks beside the grades: ``important`` 重要数据, ``core`` 核心数据."""
    synonyms: Synonyms = Synonyms("")
    """Equivalent terms for search; part of the document, so of ``digest``."""

    @property
    def fingerprint(self) -> str:
        return f"{self.id}@{self.version}#{self.digest[:12]}"

    @property
    def home_grades(self) -> frozenset[str]:
        """Grades whose data never leaves its province (L4)."""
        return frozenset(g.id for g in self.grades.values() if not g.leaves_province)

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

    def data_item(self, name: str) -> DataItemDef:
        try:
            return self.data_items[name]
        except KeyError:
            raise ValueError(f"no data item {name!r} in standard {self.fingerprint}") from None

    def mask_rule(self, kind: str) -> MaskRule | None:
        return self.masking.get(kind)


# --------------------------------------------------------------------------- identity


def canonical_digest(document: Any) -> str:
    """sha256 of a canonical JSON form: sorted keys, no whitespace, UTF-8."""
    canonical = json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
