"""Deterministic, realistic seed catalogs for one province, drawn from its department list.

Owns the vocabulary of resource names, abstracts and data items (``seed_vocabulary``). A record
is drawn in the province's local vocabulary (local grade label, category code, share type, open
attribute and update cycle) and every local value is mapped through the crosswalk onto the shared
standard, so the seed exercises the crosswalk on every entry.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Generic, TypeVar

from gateway.catalog.model import CatalogEntry, DataItem
from gateway.catalog.seed_vocabulary import (
    _CATEGORIES,
    _CONDITIONS,
    _CORE,
    _CORE_L4_ID,
    _FORMATS,
    _GENERIC,
    _L4_ID_CATEGORIES,
    _OPEN_BY_GRADE,
    _OPEN_CAP,
    _QUALIFIERS,
    _SHARE_BY_GRADE,
    _SUFFIXES,
    _TYPES,
    _UPDATE_CYCLES,
    _USES,
    _VERBS,
    _VERIFY_ONLY_CONDITION,
)
from gateway.crosswalk import Crosswalk
from gateway.departments import Department, Departments
from gateway.standard import Standard

__all__ = [
    "MAX_SEQUENCE",
    "capacity",
    "generate_entries",
]

#: 顺序码 is the 2-digit region prefix plus 4 digits, so one 类项目 prefix holds at most 9999.
MAX_SEQUENCE = 9999

T = TypeVar("T")


def capacity(departments: Departments) -> int:
    """How many entries fit: every (department, category) prefix holds ``MAX_SEQUENCE``."""
    return sum(len(d.categories) for d in departments.departments) * MAX_SEQUENCE


_FIRST_DAY = date(2016, 1, 1)
_DAYS = (date(2023, 12, 31) - _FIRST_DAY).days + 1


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True, slots=True)
class _ItemSpec:
    item: DataItem
    profiles: str
    """Profiles the item fits; empty means all."""
    keywords: tuple[str, ...]
    """The subject must contain one of these; empty means any subject."""

    def fits(self, subject: str, profile: str) -> bool:
        if self.profiles and profile not in self.profiles:
            return False
        return not self.keywords or any(k in subject for k in self.keywords)


@dataclass(frozen=True, slots=True)
class _Subject:
    text: str
    profile: str
    kinds: frozenset[str]
    """Department kinds that publish it; empty means any."""
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
    local_categories: tuple[str, ...]
    subjects: tuple[_Subject, ...]


def _item_specs(spec: str, standard: Standard) -> list[_ItemSpec]:
    out = []
    for token in spec.split():
        body, _, keywords = token.partition("~")
        body, _, profiles = body.partition("#")
        parts = body.split("/")
        kind = parts[4] if len(parts) > 4 else "plain"
        item = DataItem(parts[0], _TYPES[parts[1]], int(parts[2]), parts[3], kind)
        # The seed's vocabulary is code, the standard is data: check they still agree.
        if (
            item.type not in standard.item_types
            or item.grade not in standard.grades
            or item.kind not in standard.item_kinds
        ):
            raise ValueError(f"seed data item {token!r} does not fit {standard.fingerprint}")
        out.append(
            _ItemSpec(item, profiles.replace(",", ""), tuple(filter(None, keywords.split("|"))))
        )
    return out


def _subjects(category: str, standard: Standard) -> tuple[_Subject, ...]:
    subjects_spec, extras_spec = _CATEGORIES.get(
        category, (f"{standard.category(category).name}业务:O", "")
    )
    extras = _item_specs(extras_spec, standard)
    generic = {p: _item_specs(spec, standard) for p, spec in _GENERIC.items()}
    out = []
    for token in subjects_spec.split():
        token, _, kinds = token.partition("@")
        text, profile, *rest = token.split(":")
        core_spec = _CORE_L4_ID if profile == "P" and category in _L4_ID_CATEGORIES else None
        items = [s.item for s in _item_specs(core_spec or _CORE[profile], standard)]
        core = len(items)
        seen = {i.name for i in items}
        for spec in generic[profile] + extras:
            if spec.item.name not in seen and spec.fits(text, profile):
                seen.add(spec.item.name)
                items.append(spec.item)
        suffixes = tuple(rest[0].split("/")) if rest else _SUFFIXES[profile]
        names = tuple(
            f"{text}{q}{s}"
            for q in _QUALIFIERS[profile]
            for s in suffixes
            # 婚姻登记 + 登记信息 would stutter.
            if q or not text.endswith(s[:2])
        )
        out.append(
            _Subject(
                text, profile, frozenset(filter(None, kinds.split(","))), names, tuple(items), core
            )
        )
    return tuple(out)


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
    for dept in departments.departments:
        for rank, category in enumerate(dept.categories):
            if not standard.is_category(category):
                raise ValueError(f"department {dept.code}: unknown category {category!r}")
            if category not in subjects_by_category:
                subjects_by_category[category] = _subjects(category, standard)
            every = subjects_by_category[category]
            # A department publishes its own line of work plus what anyone in the category may.
            own = tuple(s for s in every if not s.kinds or dept.kind in s.kinds)
            slot = _Slot(
                department=dept,
                category=category,
                prefix=f"{category}{dept.index:03d}",
                local_categories=crosswalk.categories.locals_for(category),
                subjects=own or every,
            )
            # The department's main category carries most of its catalog.
            weights.append((len(slots), dept.weight * (3 if rank == 0 else 1)))
            slots.append(slot)
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
    dates = [(_FIRST_DAY + timedelta(days=d)).isoformat() for d in range(_DAYS)]
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
        extra = min(randint(3, 12) - core, optional)
        if extra > 0:
            picked = sorted(rng.sample(range(optional), extra))
            items = all_items[:core] + tuple(all_items[core + j] for j in picked)
        else:
            items = all_items[:core]
        top = max(items, key=lambda it: rank[it.grade]).grade

        # The record in the province's own words ...
        local_category = choice(slot.local_categories)
        grade_label = local_grade[top]
        share_label = shares[top].pick(rng)
        open_label = opens[top].pick(rng)
        cycle_label = cycles[profile].pick(rng)
        # ... and as the shared standard says it. Nothing is opened to the public more freely
        # than it is shared between departments.
        share_type = cw.share_type(share_label)
        wanted = cw.open_attribute(open_label)
        open_attribute = _OPEN_CAP[share_type].get(wanted, wanted)
        update_cycle = cw.update_cycle(cycle_label)
        if share_type == "conditional" and verify_only[top]:
            conditions = _VERIFY_ONLY_CONDITION
        else:
            conditions = choice(_CONDITIONS[share_type])

        published = dates[int(rand() * _DAYS)]
        roll = rand()
        if roll < 0.45:
            scope = choice(cities)
        elif roll < 0.6:
            scope = province_name
        else:
            scope = ""
        # Statistics are named after the year they cover, the year before publication.
        if rand() < (0.5 if profile == "S" else 0.08):
            scope = f"{int(published[:4]) - 1}年{scope}"
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
            publish_date=published,
            grade=cw.grade(grade_label),
            items=items,
            local_grade=grade_label,
            local_category=local_category,
        )
