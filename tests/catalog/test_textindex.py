"""Chinese segmentation for FTS5: index tokens, FTS5 keeps them whole, queries safe and exact."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.catalog.store.schema import FIELD_MARKS, field_term, marked
from gateway.catalog.textindex import (
    CJK_RANGES,
    FTS_TOKENIZER,
    index_text,
    match_expression,
    parse_query,
    query_terms,
)

COLUMNS = ("name", "department", "items", "abstract")

HOSTILE = [
    '" OR 1=1 --',
    "name:x",
    "{name}: 户籍",
    "NEAR(a b)",
    "NEAR(户籍 人口, 2)",
    ")))",
    "(((",
    "*",
    "户*",
    "^户籍",
    '"',
    '""',
    "'",
    "AND",
    "OR NOT AND",
    "a AND NOT b",
    "-户籍",
    "+",
    ":",
    "🙂户籍🙂",
    "\0",
    "户\0籍",
    "（户籍）【公积金】「社保」",
    "户籍，社保；公积金。",
    "\ud800",
    "\U0010ffff",
    "\u200b户籍\u200b",
    "a" * 500,
    "户" * 300,
    " ",
    "",
]


@pytest.fixture
def fts() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        f"CREATE VIRTUAL TABLE t USING fts5({', '.join(COLUMNS)}, content='', "
        f"tokenize=\"{FTS_TOKENIZER}\", prefix='1')"
    )
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    yield conn
    conn.close()


def index(conn: sqlite3.Connection, rows: dict[int, tuple[str, ...]]) -> None:
    conn.executemany(
        "INSERT INTO t (rowid, name, department, items, abstract) VALUES (?, ?, ?, ?, ?)",
        [(rowid, *(index_text(text) for text in texts)) for rowid, texts in rows.items()],
    )


def matching(conn: sqlite3.Connection, expression: str | None, table: str = "t") -> list[int]:
    if expression is None:
        return []
    rows = conn.execute(
        f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid", (expression,)
    )
    return [row[0] for row in rows]


# -- indexing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "tokens"),
    [
        (("户籍",), "户籍 籍"),
        (("户",), "户"),
        (("户籍人口迁入",), "户籍 籍人 人口 口迁 迁入 入"),
        (("住房公积金缴存明细",), "住房 房公 公积 积金 金缴 缴存 存明 明细 细"),
        (("2022年度户籍",), "2022 年度 度户 户籍 籍"),
        (("GB/T 2260 行政区划",), "gb t 2260 行政 政区 区划 划"),
        (("ＧＢ１１６４３",), "gb11643"),  # full-width letters and digits fold to ASCII
        (("户籍，人口",), "户籍 籍 人口 口"),  # full-width punctuation separates
        (("户籍·人口（迁入）",), "户籍 籍 人口 口 迁入 入"),
        (("户口 籍贯",), "户口 口 籍贯 贯"),
        (("姓名", "性别"), "姓名 名 性别 别"),  # two texts never form a bigram across
        (("🙂户籍\0人口",), "户籍 籍 人口 口"),
        (("二〇二二年",), "二〇 〇二 二二 二年 年"),
        (("\uf900",), unicodedata.normalize("NFKC", "\uf900")),  # compatibility ideograph
        (("𠀀𠀁",), "𠀀𠀁 𠀁"),  # extension B
        (("", "  ", "!?"), ""),
    ],
)
def test_index_tokens(texts: tuple[str, ...], tokens: str) -> None:
    assert index_text(*texts) == tokens


def test_fts_keeps_every_token_whole(fts: sqlite3.Connection) -> None:
    texts = [
        "住房公积金缴存明细",
        "GB11643 check 2022年度",
        "二〇二二",
        "𠀀𠀁𪜀𫝀",
        "\U00031350\U00031351",
    ]
    index(fts, {i: (text, "", "", "") for i, text in enumerate(texts, 1)})
    vocabulary = {row[0] for row in fts.execute("SELECT term FROM v")}
    assert vocabulary == {token for text in texts for token in index_text(text).split()}


def test_fts_tokenizer_treats_every_ideograph_as_a_token_character(fts: sqlite3.Connection) -> None:
    ideographs = [chr(cp) for lo, hi in CJK_RANGES for cp in range(lo, hi + 1)]
    assert all(index_text(c) == unicodedata.normalize("NFKC", c) for c in ideographs[::97])
    assert len(ideographs) > 90_000
    # Each ideograph next to an ASCII letter: any ideograph FTS5 took for a separator would
    # leave a lone "x" token behind.
    fts.execute(
        "INSERT INTO t (rowid, name) VALUES (1, ?)", (" ".join(c + "x" for c in ideographs),)
    )
    vocabulary = {row[0] for row in fts.execute("SELECT term FROM v")}
    assert len(vocabulary) == len(ideographs)
    assert "x" not in vocabulary


# -- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("户籍", ['"户籍"']),
        ("公积金", ['"公积 积金"']),
        ("营业执照", ['"营业 业执 执照"']),
        ("户", ['"户" *']),
        ("GB", ['"gb" *']),
        ("ＧＢ１１６４３", ['"gb11643" *']),
        ("苏州 营业执照", ['"苏州"', '"营业 业执 执照"']),
        ("苏州，营业执照", ['"苏州"', '"营业 业执 执照"']),  # punctuation separates like a space
        ("2022年户籍", ['"2022" *', '"年户 户籍"']),
        ("户籍 户籍", ['"户籍"']),
        ('" OR 1=1 --', ['"or" *', '"1" *']),
        ("NEAR(a b)", ['"near" *', '"a" *', '"b" *']),
        ("name:x", ['"name" *', '"x" *']),
        ("*", []),
        ("", []),
    ],
)
def test_query_terms(text: str, terms: list[str]) -> None:
    assert query_terms(text) == terms


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_never_fts_syntax(fts: sqlite3.Connection, text: str) -> None:
    index(fts, {1: ("户籍人口", "公安", "a", "or 1 near")})
    expression = match_expression(text)
    if expression is not None:
        matching(fts, expression)  # must compile and run
        for term in query_terms(text):
            for column in COLUMNS:  # what ranking reads per field
                matching(fts, f"{{{column}}}: {term}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_makes_a_valid_expression(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f'CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize="{FTS_TOKENIZER}")')
        expression = match_expression(text)
        assert expression is None or "\0" not in expression
        if expression is not None:
            conn.execute("SELECT * FROM t WHERE t MATCH ?", (expression,)).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("户籍", [1, 3]),
        ("籍", [1, 2, 3, 4]),  # every occurrence of one character, wherever it sits in a run
        ("户", [1, 2, 3, 4, 5]),
        ("籍人", [1]),
        ("户籍人口", [1]),
        ("人口户籍", []),
        ("口籍", []),  # 户口 籍贯: the characters are there, but not adjacent
        ("户口", [2]),
        ("公积", [3]),
        ("公积金", [3]),
        ("积金", [3]),
        ("金", [3]),
        ("公 积 金", [3]),
        ("公金", []),
        ("社保", [4]),
        ("社会保险", []),
        ("gb", [5]),
        ("GB11643", [5]),
        ("11643", []),  # ASCII words match from their start
        ("户籍 gb", []),
        ("户 gb", [5]),
    ],
)
def test_matches_are_exact(fts: sqlite3.Connection, query: str, expected: list[int]) -> None:
    index(
        fts,
        {
            1: ("户籍人口迁入登记", "", "", ""),
            2: ("户口", "", "籍贯", ""),
            3: ("住房公积金", "", "", "户籍地址"),
            4: ("社保卡", "", "", "籍贯 户"),
            5: ("GB11643 身份号码校验 户", "", "", ""),
        },
    )
    assert matching(fts, match_expression(query)) == expected


# -- relevance levels ---------------------------------------------------------------------------

ALPHABET = "户籍口贯公积金社保 ,ab"


def oracle_terms(text: str) -> list[str]:
    terms: list[str] = []
    for term in re.findall(
        r"[\u4e00-\u9fff]+|[a-z0-9]+", unicodedata.normalize("NFKC", text).lower()
    ):
        if term not in terms:
            terms.append(term)
    return terms


def occurs(term: str, column: str) -> bool:
    column = unicodedata.normalize("NFKC", column).lower()
    if term.isascii():
        return any(word.startswith(term) for word in re.findall(r"[a-z0-9]+", column))
    return term in column


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(*[st.text(ALPHABET, max_size=8)] * 4), min_size=1, max_size=12),
    text=st.text(ALPHABET, min_size=1, max_size=10),
)
def test_column_filters_find_each_term_per_column(rows: list[tuple[str, ...]], text: str) -> None:
    """What ranking reads per term and field is exactly where the term occurs: as a column
    filter (``{column}: term``), and as the SQLite store reads it, the field's marked tokens
    (``schema.field_term`` on ``schema.marked`` tokens); and the text matches the rows holding
    every term in some column."""
    assume(oracle_terms(text))
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(
            f"CREATE VIRTUAL TABLE t USING fts5({', '.join(COLUMNS)}, content='', "
            f"tokenize=\"{FTS_TOKENIZER}\", prefix='1')"
        )
        index(conn, dict(enumerate(rows, 1)))
        conn.execute(
            f"CREATE VIRTUAL TABLE m USING fts5({', '.join(COLUMNS)}, content='', "
            f"tokenize=\"{FTS_TOKENIZER}\", prefix='2')"
        )
        conn.executemany(
            "INSERT INTO m (rowid, name, department, items, abstract) VALUES (?, ?, ?, ?, ?)",
            [
                (rowid, *(marked(k, index_text(t)) for k, t in zip(FIELD_MARKS, row, strict=True)))
                for rowid, row in enumerate(rows, 1)
            ],
        )
        terms = query_terms(text)
        assert len(terms) == len(oracle_terms(text))
        for term, word in zip(terms, oracle_terms(text), strict=True):
            for i, column in enumerate(COLUMNS):
                expected = [rowid for rowid, row in enumerate(rows, 1) if occurs(word, row[i])]
                assert matching(conn, f"{{{column}}}: {term}") == expected
                assert matching(conn, field_term(FIELD_MARKS[i], term), table="m") == expected
        every = [
            rowid
            for rowid, row in enumerate(rows, 1)
            if all(any(occurs(w, col) for col in row) for w in oracle_terms(text))
        ]
        assert matching(conn, match_expression(text)) == every
    finally:
        conn.close()


SYNONYMS = {"社保": ("社会保险",), "社会保险": ("社保",), "社保卡": ("社会保障卡",)}


@pytest.mark.parametrize(
    ("text", "exact", "synonyms"),
    [
        ("户籍", '"户籍"', ()),
        ("社保", '"社保"', ('"社会 会保 保险"',)),
        ("社保缴费", '"社保 保缴 缴费"', ('"社会 会保 保险 险缴 缴费"',)),
        ("社保卡申领", '"社保 保卡 卡申 申领"', ('"社会 会保 保障 障卡 卡申 申领"',)),
        ("gb", '"gb" *', ()),
    ],
)
def test_parse_query_expands_listed_terms(text: str, exact: str, synonyms: tuple) -> None:
    (term,) = parse_query(text, SYNONYMS)
    assert (term.exact, term.synonyms) == (exact, synonyms)
    assert term.tokens == (len(text) if not text.isascii() else 1)
    assert parse_query(text)[0].synonyms == ()


def test_parse_query_keeps_each_segment_once() -> None:
    terms = parse_query("社保 户籍 社保。", SYNONYMS)
    assert [t.exact for t in terms] == ['"社保"', '"户籍"']
    assert parse_query("。！😀", SYNONYMS) == ()
