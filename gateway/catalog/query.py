"""A federated catalog query: validated once at the edge of the service, then trusted.

Every refusal names the field (``filters.grades[1]``, ``page_token`` ...). Page tokens are opaque
to callers but bound to the query they came from, so a token cannot be replayed on another query.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import unicodedata
from dataclasses import dataclass, field

from gateway.catalog.settings import SearchSettings
from gateway.catalog.textindex import query_terms
from gateway.errors import InvalidArgument

SCOPES = ("all", "local", "provinces")


@dataclass(frozen=True, slots=True)
class Filters:
    categories: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    share_types: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    """``sh/gaj`` (one province's department) or bare ``gaj`` (that code in any province)."""
    update_cycles: tuple[str, ...] = ()
    data_marks: tuple[str, ...] = ()
    """GB/T 43697 marks (``important``, ``core``): only entries carrying one of them."""


@dataclass(frozen=True, slots=True)
class RawSearch:
    """A search as the caller sent it, before validation."""

    query: str = ""
    filters: Filters = field(default_factory=Filters)
    page_size: int = 0
    page_token: str = ""
    scope: str = "all"
    scope_provinces: tuple[str, ...] = ()
    live: bool = False


@dataclass(frozen=True, slots=True)
class FederatedQuery:
    text: str
    filters: Filters
    page_size: int
    offset: int
    provinces: tuple[str, ...]
    """Nodes to ask, in federation order, after scope and the province filter."""
    live: bool = False
    """Ask the owners themselves, not this node's replicas of their catalogs."""

    @property
    def depth(self) -> int:
        """How many top results each node must return to fill this page after merging."""
        return self.offset + self.page_size

    def fingerprint(self) -> str:
        return _fingerprint(self.text, self.filters, self.provinces, self.live)

    def next_token(self) -> str:
        return encode_token(self.offset + self.page_size, self.fingerprint())


@functools.lru_cache(maxsize=4096)
def _fingerprint(text: str, filters: Filters, provinces: tuple[str, ...], live: bool) -> str:
    """What a page token binds a query to (kept: a popular query's pages ask for it each time,
    and a JSON encoding and a hash cost more than the rest of its token)."""
    bound: list[object] = [text, _filters_key(filters), list(provinces)]
    if live:  # a live answer's pages are not a replica answer's
        bound.append("live")
    key = json.dumps(bound, ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _filters_key(f: Filters) -> list[list[str]]:
    return [
        sorted(f.categories),
        sorted(f.grades),
        sorted(f.share_types),
        sorted(f.provinces),
        sorted(f.departments),
        sorted(f.update_cycles),
        *([sorted(f.data_marks)] if f.data_marks else []),
    ]


def encode_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
        offset, fingerprint = data["o"], data["q"]
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError
        if not isinstance(fingerprint, str):
            raise ValueError
        return offset, fingerprint
    except (ValueError, KeyError, TypeError, UnicodeError, RecursionError, binascii.Error):
        raise InvalidArgument(
            "page_token", "malformed page token", reason="BAD_PAGE_TOKEN"
        ) from None


def normalize_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


class QueryValidator:
    """Checks a RawSearch against the standard, the federation and the node's limits."""

    def __init__(
        self,
        *,
        provinces: tuple[str, ...],
        self_id: str,
        categories: dict[str, str],
        grades: tuple[str, ...],
        share_types: tuple[str, ...],
        update_cycles: tuple[str, ...],
        settings: SearchSettings,
        data_marks: tuple[str, ...] = (),
    ) -> None:
        self._provinces = provinces
        self._self = self_id
        self._categories = categories
        self._grades = frozenset(grades)
        self._share_types = frozenset(share_types)
        self._update_cycles = frozenset(update_cycles)
        self._data_marks = frozenset(data_marks)
        self._settings = settings

    def text(self, query: str) -> str:
        """The query text, normalised; refused when empty, too long or not plain text. The same
        checks on both ports: a peer's question is held to what an app's would be."""
        s = self._settings
        if len(query) > s.max_query_chars * 4:  # refuse before normalising a huge string
            raise InvalidArgument(
                "query", f"longer than {s.max_query_chars} characters", reason="QUERY_TOO_LONG"
            )
        text = normalize_text(query)
        if not text:
            raise InvalidArgument("query", "must not be empty", reason="EMPTY_QUERY")
        if len(text) > s.max_query_chars:
            raise InvalidArgument(
                "query", f"longer than {s.max_query_chars} characters", reason="QUERY_TOO_LONG"
            )
        if not query_terms(text):
            # Only punctuation, symbols, emoji or control characters: nothing the index holds,
            # and "no text" would mean the whole catalog.
            raise InvalidArgument(
                "query",
                "has no searchable text (only punctuation, symbols, emoji or control characters)",
                reason="NO_SEARCHABLE_TEXT",
            )
        if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in text):
            raise InvalidArgument(
                "query", "contains control or unassigned characters", reason="BAD_QUERY_TEXT"
            )
        return text

    def validate_local(self, query: str, limit: int) -> str:
        """A peer's search of this node's own catalog (the peer port's ``SearchLocal``): the
        query text as ``text`` checks it, and a depth no page of a client's search could need
        beyond. The checked text."""
        text = self.text(query)
        s = self._settings
        max_limit = s.max_offset + s.max_page_size
        if not 1 <= limit <= max_limit:
            raise InvalidArgument(
                "limit", f"must be between 1 and {max_limit}", reason="LIMIT_OUT_OF_RANGE"
            )
        return text

    def validate(self, raw: RawSearch) -> FederatedQuery:
        s = self._settings
        text = self.text(raw.query)
        page_size = raw.page_size or s.default_page_size
        if not 1 <= page_size <= s.max_page_size:
            raise InvalidArgument(
                "page_size",
                f"must be between 1 and {s.max_page_size}",
                reason="PAGE_SIZE_OUT_OF_RANGE",
            )
        f = raw.filters
        categories: list[str] = []
        for i, code in enumerate(f.categories):
            expanded = self._expand_category(code)
            if not expanded:
                raise InvalidArgument(
                    f"filters.categories[{i}]",
                    f"unknown category {code!r}",
                    reason="UNKNOWN_FILTER_VALUE",
                )
            categories.extend(c for c in expanded if c not in categories)
        self._check_values("filters.grades", f.grades, self._grades)
        self._check_values("filters.share_types", f.share_types, self._share_types)
        self._check_values("filters.update_cycles", f.update_cycles, self._update_cycles)
        self._check_values("filters.data_marks", f.data_marks, self._data_marks)
        self._check_values(
            "filters.provinces", f.provinces, frozenset(self._provinces), reason="UNKNOWN_PROVINCE"
        )
        for i, dept in enumerate(f.departments):
            province, _, code = dept.rpartition("/")
            if (
                (province and province not in self._provinces)
                or not code
                or len(dept) > 64
                or not code.replace("-", "").replace("_", "").isalnum()
            ):
                raise InvalidArgument(
                    f"filters.departments[{i}]",
                    f"not a department code: {dept!r}",
                    reason="UNKNOWN_FILTER_VALUE",
                )
        if raw.scope not in SCOPES:
            raise InvalidArgument(
                "scope", f"must be one of {', '.join(SCOPES)}", reason="UNKNOWN_SCOPE"
            )
        self._check_values(
            "provinces", raw.scope_provinces, frozenset(self._provinces), reason="UNKNOWN_PROVINCE"
        )
        if raw.scope == "provinces" and not raw.scope_provinces:
            raise InvalidArgument(
                "provinces", "scope 'provinces' needs at least one province", reason="EMPTY_SCOPE"
            )
        asked = self._asked(raw, f)
        query = FederatedQuery(
            text=text,
            filters=Filters(
                tuple(categories),
                tuple(dict.fromkeys(f.grades)),
                tuple(dict.fromkeys(f.share_types)),
                tuple(dict.fromkeys(f.provinces)),
                tuple(dict.fromkeys(f.departments)),
                tuple(dict.fromkeys(f.update_cycles)),
                tuple(dict.fromkeys(f.data_marks)),
            ),
            page_size=page_size,
            offset=0,
            provinces=asked,
            live=raw.live,
        )
        if raw.page_token:
            offset, fingerprint = decode_token(raw.page_token)
            if fingerprint != query.fingerprint():
                raise InvalidArgument(
                    "page_token", "belongs to a different query", reason="BAD_PAGE_TOKEN"
                )
            if offset > s.max_offset:
                raise InvalidArgument(
                    "page_token",
                    f"pages deeper than {s.max_offset} results are not served; narrow the query",
                    reason="PAGE_TOO_DEEP",
                )
            query = FederatedQuery(query.text, query.filters, page_size, offset, asked, raw.live)
        return query

    def _expand_category(self, code: str) -> list[str]:
        if code in self._categories:
            return [code]
        if len(code) == 1:
            return [c for c in self._categories if c.startswith(code)]
        return []

    @staticmethod
    def _check_values(name: str, values, allowed, *, reason: str = "UNKNOWN_FILTER_VALUE") -> None:
        for i, value in enumerate(values):
            if value not in allowed:
                shown = value if len(value) <= 32 else value[:32] + "..."
                raise InvalidArgument(
                    f"{name}[{i}]",
                    f"unknown value {shown!r}; expected one of {', '.join(sorted(allowed))}",
                    reason=reason,
                )

    def _asked(self, raw: RawSearch, f: Filters) -> tuple[str, ...]:
        if raw.scope == "local":
            wanted = {self._self}
        elif raw.scope == "provinces":
            wanted = set(raw.scope_provinces)
        else:
            wanted = set(self._provinces)
        if f.provinces:
            wanted &= set(f.provinces)
        if f.departments and all("/" in d for d in f.departments):
            wanted &= {d.split("/", 1)[0] for d in f.departments}
        return tuple(p for p in self._provinces if p in wanted)


def departments_for(province: str, departments: tuple[str, ...]) -> tuple[str, ...]:
    """The department codes of a filter that apply to one province's store."""
    out = []
    for dept in departments:
        owner, _, code = dept.rpartition("/")
        if not owner or owner == province:
            out.append(code)
    return tuple(dict.fromkeys(out))
