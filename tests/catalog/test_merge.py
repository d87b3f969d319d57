"""The federated merge in-process (fake provinces): ranking, ties and facets against a reference."""

from __future__ import annotations

import copy
import heapq
import random
from typing import NamedTuple

import pytest

from gateway.catalog.answers import Bucket, LocalAnswer
from gateway.catalog.federated import FederatedCatalog
from gateway.catalog.query import FederatedQuery, Filters

NAMES = {"js": "江苏", "sh": "上海", "zj": "浙江", "ah": "安徽"}
SCORES = (1, 2, 8, 9)


class Hit(NamedTuple):
    """A province's hit as the merge sees one (``gateway.catalog.answers.Hit``)."""

    score: float
    code: str
    province: str


class FakeProvince:
    def __init__(self, answer: LocalAnswer) -> None:
        self.id = self.node = self.name = answer.node
        self._answer = answer

    async def search(self, text, filters, limit, facets=True, *, stats=None) -> LocalAnswer:
        return self._answer

    async def search_local(self, text, filters, limit, timeout) -> LocalAnswer:
        return self._answer

    def cached_answer(self, text, filters, limit, stats, floor) -> LocalAnswer:
        return self._answer  # a floor only permits leaving hits out

    def answer_now(self, text, filters, limit, stats, floor) -> LocalAnswer:
        return self._answer


def answer(node: str, rng: random.Random) -> LocalAnswer:
    # Few distinct scores: ties across provinces everywhere. Each node orders its own hits by
    # (score desc, code asc), as the store does.
    hits = sorted(
        (
            Hit(float(rng.choice(SCORES)), f"{rng.randint(100, 999)}001/{i:06d}", node)
            for i in range(rng.randint(0, 30))
        ),
        key=lambda h: (-h.score, h.code),
    )
    facets = {
        "grade": {g: Bucket(f"{node}-{g}", rng.randint(1, 9)) for g in rng.sample("1234", 2)},
        "department": {f"{node}/d{i}": Bucket(f"部门{i}", rng.randint(1, 9)) for i in range(3)},
    }
    return LocalAnswer(node, tuple(hits), len(hits) * 3, facets)


def reference(answers: list[LocalAnswer], offset: int, page_size: int) -> list[Hit]:
    order = {p: i for i, p in enumerate(NAMES)}
    ranked = heapq.nsmallest(
        offset + page_size,
        (
            (-h.score, rank, order.get(a.node, len(order)), h.code, h)
            for a in answers
            for rank, h in enumerate(a.hits)
        ),
        key=lambda t: t[:4],
    )
    return [t[4] for t in ranked][offset : offset + page_size]


def reference_facets(answers: list[LocalAnswer]) -> dict[str, dict[str, tuple[str, int]]]:
    merged: dict[str, dict[str, tuple[str, int]]] = {}
    for a in answers:
        for name, buckets in a.facets.items():
            into = merged.setdefault(name, {})
            for value, b in buckets.items():
                label, count = into.get(value, (b.label, 0))
                into[value] = (label, count + b.total)
    merged["province"] = {a.node: (NAMES[a.node], a.total) for a in answers if a.total}
    return merged


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", range(20))
async def test_merge_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    answers = [answer(node, rng) for node in NAMES]
    before = copy.deepcopy(answers)
    fakes = {a.node: FakeProvince(a) for a in answers}
    catalog = FederatedCatalog(
        "js", NAMES, fakes["js"], {p: fakes[p] for p in NAMES if p != "js"}, default_budget=1.0
    )
    for offset, page_size in ((0, 20), (20, 20), (5, 7), (0, 200)):
        query = FederatedQuery("户籍", Filters(), page_size, offset, tuple(NAMES))
        got = await catalog.search(query, 1.0)
        assert list(got.hits) == reference(answers, offset, page_size)
        assert got.total == sum(a.total for a in answers)
        facets = {n: {v: tuple(b) for v, b in bs.items()} for n, bs in got.facets.items()}
        assert facets == reference_facets(answers)
        assert answers == before  # the merge never changes a province's own answer
