"""Deterministic, realistic seed catalogs for one province, drawn from its department list.

Owns the vocabulary of resource names, abstracts and data items (``seed_vocabulary``). A record
is drawn in the province's local vocabulary (local grade label, category code, share type, open
attribute and update cycle) and every local value is mapped through the crosswalk onto the shared
standard, so the seed exercises the crosswalk on every entry.
"""

from __future__ import annotations

import random
import re
from bisect import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import accumulate
from types import MappingProxyType
from typing import Generic, TypeVar

from gateway.catalog.model import CatalogEntry, DataItem
from gateway.catalog.seed_subjects import CATEGORIES as SUBJECTS
from gateway.catalog.seed_vocabulary import (
    _CORE,
    _FORMATS,
    _GENERIC,
    _GROUPS,
    _OPEN_BY_GRADE,
    _OPEN_CAP,
    _QUALIFIERS,
    _SHARE_BY_GRADE,
    _SUFFIXES,
    _UPDATE_CYCLES,
    _USES,
    _VERBS,
    _VERIFY_ONLY_CONDITION,
    BASE_CATEGORIES,
    CONDITIONS,
    NONE_BASES,
    SENSITIVE_BASIS,
    TAX_BASIS,
    VERIFY_CONDITION,
    data_mark,
)
from gateway.crosswalk import Crosswalk
from gateway.departments import Department, Departments
from gateway.standard import Standard

__all__ = [
    "GENERATOR_VERSION",
    "MAX_SEQUENCE",
    "SubjectRule",
    "capacity",
    "generate_entries",
    "subject_rules",
]

#: Moves when the same arguments start to give other entries (2: data marks), so a catalog
#: seeded by an older generator is seeded again.
GENERATOR_VERSION = 2

#: 顺序码 is the 2-digit region prefix plus 4 digits, so one 类项目 prefix holds at most 9999.
MAX_SEQUENCE = 9999

T = TypeVar("T")


def capacity(departments: Departments) -> int:
    """How many entries fit: every (department, category) prefix that owns a subject holds
    ``MAX_SEQUENCE``."""
    owned = subject_rules()
    return MAX_SEQUENCE * sum(
        1
        for d in departments.departments
        for c in d.categories
        if any(d.kind in r.kinds for r in owned.get(c, ()))
    )


_FIRST_DAY = date(2016, 1, 1)
_LAST_DAY = date(2025, 12, 31)


@dataclass(frozen=True, slots=True)
class SubjectRule:
    """Who may publish a subject and from when: what a realism check holds the seed to."""

    text: str
    profile: str
    kinds: frozenset[str]
    """Department kinds that own it by function (三定)."""
    since: int
    """The year it first existed; 0: older than any catalog."""


@cache
def subject_rules() -> Mapping[str, tuple[SubjectRule, ...]]:
    """Category -> its subjects' owners and first years, as the vocabulary writes them."""
    return MappingProxyType(
        {c: tuple(_rule(t) for t in spec.split()) for c, (spec, _) in SUBJECTS.items()}
    )


def _rule(token: str) -> SubjectRule:
    head, _, rest = token.partition("@")
    text, profile, *_ = head.split(":")
    kinds = re.split(r"[\^=+]", rest, maxsplit=1)[0]
    since = re.search(r"\^(\d{4})", rest)
    return SubjectRule(text, profile, frozenset(kinds.split(",")), int(since[1]) if since else 0)


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True, slots=True)
class _Subject:
    text: str
    profile: str
    kinds: frozenset[str]
    """Department kinds that own it by function."""
    since: int
    names: tuple[str, ...]
    """subject + qualifier + suffix, precomputed: names are drawn, not built."""
    items: tuple[DataItem, ...]
    """Core items first (always present), then the optional pool."""
    core: int


@dataclass(frozen=True, slots=True)
class _Slot:
    """One (department, category) pair: one 类项目 prefix with its own sequence."""

    department: Department
    category: str
    prefix: str
    local_categories: tuple[tuple[str, str], ...]
    """(local code, local name) the crosswalk maps onto ``category``."""
    subjects: tuple[_Subject, ...]


def _item(name: str, standard: Standard) -> DataItem:
    # The standard defines each item once; the vocabulary only names it.
    try:
        d = standard.data_items[name]
    except KeyError:
        raise ValueError(f"seed data item {name!r} is not in {standard.fingerprint}") from None
    return DataItem(d.name, d.type, d.length, d.grade, d.kind)


def _pool(spec: str, profile: str) -> list[str]:
    out = []
    for token in spec.split():
        name, _, profiles = token.partition("#")
        if not profiles or profile in profiles:
            out.append(name)
    return out


def _subjects(category: str, standard: Standard) -> tuple[_Subject, ...]:
    subjects_spec, extras_spec = SUBJECTS[category]
    out = []
    for token, rule in zip(subjects_spec.split(), subject_rules()[category], strict=True):
        head, _, rest = token.partition("@")
        _, _, *suffix_spec = head.split(":")
        rest, _, groups = rest.partition("+")
        _, _, own = rest.partition("=")
        names_core = _CORE[rule.profile].split() + [n for n in own.split(",") if n]
        optional = _GENERIC[rule.profile].split() + _pool(extras_spec, rule.profile)
        for group in filter(None, groups.split("+")):
            optional += _GROUPS[group].split()
        ordered = list(dict.fromkeys(names_core + optional))
        items = tuple(_item(n, standard) for n in ordered)
        suffixes = tuple(suffix_spec[0].split("/")) if suffix_spec else _SUFFIXES[rule.profile]
        names = tuple(
            f"{rule.text}{q}{s}"
            for q in _QUALIFIERS[rule.profile]
            for s in suffixes
            # 婚姻登记 + 登记信息 would stutter.
            if q or not rule.text.endswith(s[:2])
        )
        core = len(dict.fromkeys(names_core))
        out.append(_Subject(rule.text, rule.profile, rule.kinds, rule.since, names, items, core))
    return tuple(out)


def _fitting_local(text: str, locals_: tuple[tuple[str, str], ...]) -> str:
    """The local category whose name shares most two-character words with the subject
    (流动人口居住登记 -> 流动人口, not 户籍人口); on a tie the crosswalk's first, its main one."""

    def score(name: str) -> int:
        return sum(name[i : i + 2] in text for i in range(len(name) - 1))

    return max(locals_, key=lambda pair: score(pair[1]))[0]


class _Weighted(Generic[T]):
    """A fixed weighted choice: one ``random()`` and a bisect, far cheaper than ``choices``."""

    __slots__ = ("values", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[T, int]]) -> None:
        self.values = [v for v, _ in pairs]
        self.cum = list(accumulate(w for _, w in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.cum, rng.random() * self.total)]


def _local(weights: dict[str, int], to_local: Callable[[str], str]) -> _Weighted[str]:
    """Weights over shared ids re-keyed by the province's preferred local label."""
    return _Weighted([(to_local(shared), w) for shared, w in weights.items()])


def generate_entries(
    province: str,
    n: int,
    *,
    standard: Standard,
    crosswalk: Crosswalk,
    departments: Departments,
    seed: int = 0,
) -> Iterator[CatalogEntry]:
    """``n`` catalog entries for ``province``; the same arguments always give the same entries.

    Entry *i* does not depend on ``n``, so a smaller catalog is a prefix of a larger one.
    Raises ValueError at once (not on first iteration) when the inputs disagree or ``n`` does
    not fit the department list's code space.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if crosswalk.province != province or departments.province != province:
        raise ValueError(
            f"province {province!r} given with crosswalk for {crosswalk.province!r} "
            f"and departments of {departments.province!r}"
        )
    if crosswalk.standard_fingerprint != standard.fingerprint:
        raise ValueError(
            f"crosswalk was validated against {crosswalk.standard_fingerprint}, "
            f"not {standard.fingerprint}"
        )
    limit = capacity(departments)
    if n > limit:
        raise ValueError(
            f"{province}: n={n} does not fit: {limit} entries at most "
            f"({limit // MAX_SEQUENCE} department/category prefixes of {MAX_SEQUENCE} each); "
            "add departments or categories"
        )
    slots, slot_pick = _slots(standard, crosswalk, departments)
    return _generate(province, n, seed, standard, crosswalk, departments, slots, slot_pick)


def _slots(
    standard: Standard, crosswalk: Crosswalk, departments: Departments
) -> tuple[list[_Slot], _Weighted[int]]:
    subjects_by_category: dict[str, tuple[_Subject, ...]] = {}
    slots: list[_Slot] = []
    weights: list[tuple[int, int]] = []
    cats = crosswalk.categories
    for dept in departments.departments:
        for rank, category in enumerate(dept.categories):
            if not standard.is_category(category):
                raise ValueError(f"department {dept.code}: unknown category {category!r}")
            if category not in subjects_by_category:
                subjects_by_category[category] = _subjects(category, standard)
            # A department publishes only what its functions make it own: a category it lists
            # but owns no subject in gets no entries (公安 publishes no 核酸检测机构).
            own = tuple(s for s in subjects_by_category[category] if dept.kind in s.kinds)
            if not own:
                continue
            slot = _Slot(
                department=dept,
                category=category,
                prefix=f"{category}{dept.index:03d}",
                local_categories=tuple((c, cats.name(c)) for c in cats.locals_for(category)),
                subjects=own,
            )
            # The department's main category carries most of its catalog.
            weights.append((len(slots), dept.weight * (3 if rank == 0 else 1)))
            slots.append(slot)
    if not slots:
        raise ValueError(f"{departments.province}: no department owns any subject")
    return slots, _Weighted(weights)


def _generate(
    province: str,
    n: int,
    seed: int,
    standard: Standard,
    cw: Crosswalk,
    departments: Departments,
    slots: list[_Slot],
    slot_pick: _Weighted[int],
) -> Iterator[CatalogEntry]:
    # String seeds hash with SHA-512, so the stream is stable across runs and PYTHONHASHSEED.
    rng = random.Random(f"yrd-seed:{province}:{seed}")
    randint, rand, choice = rng.randint, rng.random, rng.choice
    rank = {g: standard.grade_rank(g) for g in standard.grades}
    verify_only = {g.id: g.verify_only for g in standard.grades.values()}
    local_grade = {g: cw.grades.local(g) for g in standard.grades}
    cycles = {p: _local(w, cw.update_cycles.local) for p, w in _UPDATE_CYCLES.items()}
    shares = {g: _local(w, cw.share_types.local) for g, w in _SHARE_BY_GRADE.items()}
    opens = {g: _local(w, cw.open_attributes.local) for g, w in _OPEN_BY_GRADE.items()}
    formats = _Weighted(list(_FORMATS.items()))
    cycle_names = {c: t.name for c, t in standard.update_cycles.items()}
    cities, province_name = departments.cities, departments.name
    region = departments.region_prefix
    bases = {p: tuple(b for b, ps in NONE_BASES.items() if p in ps) for p in _CORE}
    conditional_label = cw.share_types.local("conditional")
    used = [0] * len(slots)

    for _ in range(n):
        i = slot_pick.pick(rng)
        # A full prefix hands its entry to the next one with room; capacity was checked.
        while used[i] >= MAX_SEQUENCE:
            i = (i + 1) % len(slots)
        used[i] += 1
        slot = slots[i]
        dept = slot.department
        subject = choice(slot.subjects)
        profile = subject.profile

        all_items, core = subject.items, subject.core
        optional = len(all_items) - core
        extra = min(max(randint(3, 12) - core, 1), optional)
        if extra > 0:
            picked = sorted(rng.sample(range(optional), extra))
            items = all_items[:core] + tuple(all_items[core + j] for j in picked)
        else:
            items = all_items[:core]
        top = max(items, key=lambda it: rank[it.grade]).grade

        # The record in the province's own words ...
        local_category = _fitting_local(subject.text, slot.local_categories)
        grade_label = local_grade[top]
        share_label = shares[top].pick(rng)
        open_label = opens[top].pick(rng)
        cycle_label = cycles[profile].pick(rng)
        # ... and as the shared standard says it. Nothing is opened to the public more freely
        # than it is shared between departments.
        share_type = cw.share_type(share_label)
        if share_type == "none" and slot.category in BASE_CATEGORIES:
            # A base database's items are shared, with conditions at most.
            share_label, share_type = conditional_label, "conditional"
        wanted = cw.open_attribute(open_label)
        open_attribute = _OPEN_CAP[share_type].get(wanted, wanted)
        update_cycle = cw.update_cycle(cycle_label)
        if share_type == "unconditional":
            conditions = ""
        elif share_type == "conditional":
            if verify_only[top]:
                conditions = _VERIFY_ONLY_CONDITION
            elif profile in "PO" and rank[top] >= 3 and rand() < 0.25:
                conditions = VERIFY_CONDITION
            else:
                conditions = choice(CONDITIONS)
        else:
            if dept.kind == "税务":
                conditions = TAX_BASIS
            elif profile == "P" and verify_only[top]:
                conditions = SENSITIVE_BASIS
            else:
                conditions = choice(bases[profile])

        # Dated after the subject and the department both existed.
        start = max(_FIRST_DAY.year, subject.since, dept.since)
        first = date(start, 1, 1).toordinal()
        published = date.fromordinal(first + int(rand() * (_LAST_DAY.toordinal() - first + 1)))
        published_iso = published.isoformat()
        roll = rand()
        if roll < 0.45:
            scope = choice(cities)
        elif roll < 0.6:
            scope = province_name
        else:
            scope = ""
        # A provincial department's record without a city covers the whole province.
        mark = data_mark(
            slot.category, profile, {it.name for it in items}, rank[top], whole=roll >= 0.45
        )
        # Statistics are named after the year they cover, the year before publication, never a
        # year before the subject or the department existed.
        if rand() < (0.5 if profile == "S" else 0.08) and published.year - 1 >= start:
            scope = f"{published.year - 1}年{scope}"
        name = scope + choice(subject.names)

        shown = "、".join(it.name for it in items[:4])
        abstract = f"{dept.name}{choice(_VERBS)}的{name}，包括{shown}等{len(items)}个信息项。"
        if rand() < 0.6:
            abstract += f"数据{cycle_names[update_cycle]}更新，{choice(_USES[profile])}。"

        yield CatalogEntry(
            code=f"{slot.prefix}/{region}{used[i]:04d}",
            name=name,
            province=province,
            department_code=dept.code,
            department=dept.name,
            category=cw.category(local_category),
            abstract=abstract,
            format=formats.pick(rng),
            share_type=share_type,
            share_conditions=conditions,
            open_attribute=open_attribute,
            update_cycle=update_cycle,
            publish_date=published_iso,
            grade=cw.grade(grade_label),
            items=items,
            local_grade=grade_label,
            local_category=local_category,
            data_mark=mark,
        )
