"""Chinese full-text segmentation for the catalog's FTS5 index: index tokens and safe MATCH queries.

SQLite's own tokenizers do not fit Chinese here: ``trigram`` finds nothing for the two-character
words most searches use (户籍, 社保, 医保) and its LIKE support misbehaves on non-ASCII text in
SQLite 3.40. So segmentation happens in Python and FTS5 only ever sees space-separated tokens:

* a run of CJK ideographs becomes its overlapping bigrams plus the run's last character as a
  unigram (``户籍人口`` → ``户籍 籍人 人口 口``). Every character of the run then starts some token,
  so the prefix query ``"X"*`` finds every occurrence of a single character X;
* a run of ASCII letters and digits becomes one lowercase word;
* everything else (punctuation, full-width or not, emoji, control characters) separates.

Queries are built from the same segmentation, and every token is quoted: no user text can ever be
read as FTS5 syntax (operators, column filters, ``NEAR``, ``*``, parentheses, quotes).

``parse_query`` turns a query into ``QueryTerm``s for ranking (``ranking``): each segment's term,
and the terms of its equivalents from the standard's synonym list (a segment that is, or holds,
a listed term: 社保 → 社会保险, 社保缴费 → 社会保险缴费).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CJK_RANGES",
    "cjk_word",
    "FTS_TOKENIZER",
    "TEXTINDEX_VERSION",
    "index_text",
    "match_expression",
    "normalize",
    "parse_query",
    "query_terms",
    "QueryTerm",
]

#: Bumped whenever index tokens change: an index built by another version must be rebuilt, both
#: because old tokens would not match new queries and because the contentless FTS table deletes
#: rows by re-tokenizing them.
TEXTINDEX_VERSION = "1"

#: The FTS5 ``tokenize`` option the store must use. Our tokens never contain a space and contain
#: only ASCII alphanumerics or CJK ideographs, so all FTS5 has to do is split on spaces. ``Cn``
#: (unassigned) is a token category as a guard: SQLite's Unicode tables predate some CJK extension
#: blocks, and an ideograph they called a separator would silently split a bigram in two (the tests
#: check every ideograph we emit stays whole). ``remove_diacritics 0``: nothing to fold, and
#: folding must never merge two distinct tokens.
FTS_TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* N* Co Cn'"

#: Code-point ranges (inclusive) indexed as CJK: the Unified Ideographs and their extensions A-H,
#: compatibility ideographs (NFKC folds most of them, not all) and 〇, the ideographic zero of
#: dates such as 二〇二二年.
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3007, 0x3007),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
    (0x30000, 0x323AF),
)
_CJK_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES)
_SEGMENT_RE = re.compile(f"([{_CJK_CLASS}]+)|([a-z0-9]+)")


def normalize(text: str) -> str:
    """NFKC (full-width → half-width, compatibility ideographs → unified) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def cjk_word(text: str) -> str | None:
    """``text`` normalized, if it is one run of two or more ideographs (a query segment that is
    a phrase of bigrams); else None."""
    segments = _segments(text)
    if len(segments) == 1 and segments[0][0] and len(segments[0][1]) >= 2:
        if segments[0][1] == normalize(text).strip():
            return segments[0][1]
    return None


def _segments(text: str) -> list[tuple[bool, str]]:
    """Split normalized text into ``(is_cjk, run)`` pairs; separators are dropped."""
    return [(bool(m.group(1)), m.group(0)) for m in _SEGMENT_RE.finditer(normalize(text))]


def index_text(*texts: str) -> str:
    """The space-joined index tokens of ``texts``; each text is segmented on its own.

    Several texts (for example the names of a resource's data items) share one column without
    forming bigrams across their boundaries, since each ends in its own unigram.
    """
    tokens: list[str] = []
    # A newline is a separator, so joining first segments each text on its own in one pass.
    for match in _SEGMENT_RE.finditer(normalize("\n".join(texts))):
        run = match.group(1)
        if run:
            tokens.extend(map(str.__add__, run, run[1:]))  # overlapping bigrams
            tokens.append(run[-1])
        else:
            tokens.append(match.group(0))
    return " ".join(tokens)


def _quote(token: str) -> str:
    # Tokens hold only [a-z0-9] and ideographs, but quoting with doubled quotes keeps the
    # expression safe even if the segmentation rules are widened later.
    return '"' + token.replace('"', '""') + '"'


def query_terms(text: str) -> list[str]:
    """The FTS5 sub-expressions for ``text``, one per segment; all must match.

    Whitespace and punctuation both separate terms: ``户籍·迁入`` asks for 户籍 and 迁入.
    """
    terms: list[str] = []
    for is_cjk, run in _segments(text):
        term = _term(is_cjk, run)
        if term not in terms:
            terms.append(term)
    return terms


#: A query segment expands to at most this many equivalents (bounds the index reads).
MAX_EQUIVALENTS = 6


@dataclass(frozen=True)
class QueryTerm:
    """One segment of a query as ranking sees it: all of a query's terms must match, each by
    itself or by one of its synonyms."""

    key: str
    """The term's identity across stores (``CollectionStats.df`` is keyed by it)."""
    exact: str
    """The segment's own term (``query_terms``' syntax)."""
    synonyms: tuple[str, ...] = ()
    """The terms of its equivalents."""
    tokens: int = 1
    """How many index tokens the segment makes: an entry's name made of exactly the query's
    segments has this many tokens in all."""


def _term(is_cjk: bool, run: str) -> str:
    if not is_cjk or len(run) == 1:
        # ASCII words match as prefix or exactly (``gb`` finds ``gb11643``); a single
        # ideograph is the first character of a bigram or a run's final unigram.
        return _quote(run) + " *"
    # The bigrams as one phrase: adjacent positions, so the characters must be adjacent in the
    # source. A run's final unigram never sits between two bigrams of one phrase.
    return _quote(" ".join(run[i : i + 2] for i in range(len(run) - 1)))


def bigram_term(token: str) -> str | None:
    """The query term (``query_terms``' syntax) that asks for exactly the index token ``token``
    when it is a bigram of two ideographs (信息 -> ``"信息"``); None for any other token (a
    single ideograph or an ASCII word is asked for as a prefix, which matches more tokens)."""
    word = cjk_word(token)
    return _term(True, word) if word is not None and len(word) == 2 and word == token else None


def _equivalents(run: str, synonyms: Mapping[str, Sequence[str]]) -> list[str]:
    """The runs equivalent to ``run``: the longest listed term in it (leftmost on a tie)
    replaced by each of its equivalents."""
    best: tuple[int, int] | None = None  # (start, length)
    for length in range(len(run), 1, -1):
        for start in range(len(run) - length + 1):
            if run[start : start + length] in synonyms:
                best = (start, length)
                break
        if best:
            break
    if best is None:
        return []
    start, length = best
    head, tail = run[:start], run[start + length :]
    return [head + other + tail for other in synonyms[run[start : start + length]]]


def parse_query(
    text: str, synonyms: Mapping[str, Sequence[str]] | None = None
) -> tuple[QueryTerm, ...]:
    """The ranking terms of ``text``, one per distinct segment, each with its equivalents from
    ``synonyms`` (normalized term -> its equivalents, ``Standard.synonyms``)."""
    terms: dict[str, QueryTerm] = {}
    for is_cjk, run in _segments(text):
        exact = _term(is_cjk, run)
        others: list[str] = []
        if is_cjk and synonyms:
            for other in _equivalents(run, synonyms)[:MAX_EQUIVALENTS]:
                term = _term(True, other)
                if term != exact and term not in others:
                    others.append(term)
        key = " | ".join((exact, *others))
        terms.setdefault(key, QueryTerm(key, exact, tuple(others), len(run) if is_cjk else 1))
    return tuple(terms.values())


def match_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for the user's ``text``, or ``None`` when it has no searchable
    token (empty, or only punctuation and symbols)."""
    terms = query_terms(text)
    return " AND ".join(terms) if terms else None
