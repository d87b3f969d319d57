"""The catalog's SQLite schema: tables, the statements that read and write them, ``meta``.

Tables:

* ``entries``: every ``CatalogEntry`` field, data items as JSON. Its ``id`` is the resource code
  mapped to an integer *in code order* (``entries.code_key``), so rowid order is code order
  everywhere: the ranking's tie-break and the no-text order cost nothing.
* ``entry_facets``: per entry the ids of its category, grade, share type, department, update
  cycle and data mark in ``facet_values`` (the dictionary of facet values).
* ``entries_fts``: contentless FTS5 over name, department, data-item names, abstract and ``tags``
  (one token ``f<id>`` per facet value). Each text column's tokens carry its field's mark
  (``FIELD_MARKS``: 户籍 in a name is ``n户籍``), so a term's entries in one field are one
  doclist read (``field_term``), where a column filter reads the term's doclist for every column
  and drops the others' (a third more per term at 131,000 entries: 1.9 against 1.3 ms for the
  four fields of a cold query term). Contentless because ``entries`` already holds the text; a
  replaced row is deleted from the index by re-tokenizing its stored text, hence
  ``meta.textindex_version`` (``INDEX_LAYOUT``) and a rebuild when the tokens change.
* ``meta``: key/value: ``schema_version``, ``textindex_version`` and ``generation`` (moved by
  every write; the caches and the facet index are keyed by it); the change feed's
  ``change_seq`` and ``feed_id``, and a replica's cursor (``replica``).
* ``changes``: the owner's change feed, one row per published entry (``feed``).
* ``entry_writes``: which entries each recent write generation inserted, replaced or deleted
  (``bump_generation``; one row per generation, the ids as comma-separated text), so a reader
  brings its facet index and rank table forward from the entries a write touched instead of
  reading every entry again (``Searcher``). It keeps the last ``LOGGED_GENERATIONS``
  generations, and none of a write touching more than ``LOGGED_WRITE_LIMIT`` entries:
  ``meta.writes_logged_after`` says from which generation on it is complete.

Migrations are forward-only (``MIGRATIONS``: step *n* brings a file at version *n* to *n* + 1);
a new file is created at ``SCHEMA_VERSION`` directly, and a file newer than this node knows
stops it (``SchemaTooNew``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence

from gateway.catalog import textindex
from gateway.catalog.model import FACET_FIELDS
from gateway.catalog.store import feed
from gateway.catalog.store.entries import ENTRY_COLUMNS, item_names
from gateway.errors import SchemaTooNew

_WRITES_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry_writes (
    generation INTEGER PRIMARY KEY,
    ids TEXT NOT NULL
)"""
#: How many write generations ``entry_writes`` keeps: a reader whose tables are older reads
#: every entry again (after a burst of writes that is no dearer than reading their log).
LOGGED_GENERATIONS = 64
#: A write touching more entries than this is not logged (a bulk load, a replica's first
#: catch-up): a reader reads every entry again after it, which costs about the same.
LOGGED_WRITE_LIMIT = 4096
#: ``meta`` key: ``entry_writes`` holds every write of a generation above this one.
LOGGED_AFTER = "writes_logged_after"

# Step n brings a file at version n to n + 1; each runs inside the opening write transaction.
MIGRATIONS = (
    # 1 -> 2: the GB/T 43697 mark (重要数据/核心数据), an entry field and a facet; every existing
    # entry is unmarked (the empty value), and the FTS rows are rebuilt to carry its tag.
    (
        "ALTER TABLE entries ADD COLUMN data_mark TEXT NOT NULL DEFAULT ''",
        "INSERT OR IGNORE INTO facet_values (field, value) VALUES ('data_mark', '')",
        "ALTER TABLE entry_facets ADD COLUMN data_mark INTEGER NOT NULL DEFAULT 0",
        "UPDATE entry_facets SET data_mark ="
        " (SELECT id FROM facet_values WHERE field = 'data_mark' AND value = '')",
    ),
    # 2 -> 3: the change feed (``feed``); the entries the file holds are numbered once, by
    # ``init_schema`` (``feed.init_feed``: a file without a feed id gets one).
    (feed.LITE_SCHEMA,),
    # 3 -> 4: the log of written entries (``entry_writes``), empty: it is complete from the
    # generation the migration moves to (``init_schema``). A node that does not log writes
    # must not write a file whose readers patch from the log, hence a version of its own.
    (_WRITES_SCHEMA,),
)
SCHEMA_VERSION = str(len(MIGRATIONS) + 1)

# Text columns of the FTS table, most telling first: the order sets the relevance weights.
TEXT_COLUMNS = ("name", "department", "items", "abstract")
#: The mark each text column's tokens begin with (ASCII letters: tokens are lowercase words or
#: ideographs, and the facet tags are ``f<id>``, so no token of one field is another's).
FIELD_MARKS = ("n", "d", "i", "a")
#: What ``meta.textindex_version`` holds for this index: the tokenizer's version and the layout.
INDEX_LAYOUT = f"{textindex.TEXTINDEX_VERSION}/marked"

_FTS_TABLE = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    {", ".join(TEXT_COLUMNS)}, tags,
    content='',
    tokenize="{textindex.FTS_TOKENIZER}",
    prefix='2'
)"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    province TEXT NOT NULL,
    department_code TEXT NOT NULL,
    department TEXT NOT NULL,
    category TEXT NOT NULL,
    abstract TEXT NOT NULL,
    format TEXT NOT NULL,
    share_type TEXT NOT NULL,
    share_conditions TEXT NOT NULL,
    open_attribute TEXT NOT NULL,
    update_cycle TEXT NOT NULL,
    publish_date TEXT NOT NULL,
    grade TEXT NOT NULL,
    items TEXT NOT NULL,
    local_grade TEXT NOT NULL,
    local_category TEXT NOT NULL,
    data_mark TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS facet_values (
    id INTEGER PRIMARY KEY,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (field, value)
);
CREATE TABLE IF NOT EXISTS entry_facets (
    id INTEGER PRIMARY KEY,
    category INTEGER NOT NULL,
    grade INTEGER NOT NULL,
    share_type INTEGER NOT NULL,
    department INTEGER NOT NULL,
    update_cycle INTEGER NOT NULL,
    data_mark INTEGER NOT NULL DEFAULT 0
);
{_FTS_TABLE};
{feed.LITE_SCHEMA};
{_WRITES_SCHEMA};
"""

SELECT_ENTRY = f"SELECT id, {', '.join(ENTRY_COLUMNS)} FROM entries"
INSERT_ENTRY = (
    f"INSERT INTO entries (id, {', '.join(ENTRY_COLUMNS)})"
    f" VALUES ({', '.join('?' * (len(ENTRY_COLUMNS) + 1))})"
)
INSERT_FACETS = f"INSERT INTO entry_facets VALUES ({', '.join('?' * (len(FACET_FIELDS) + 1))})"
INSERT_FTS = (
    f"INSERT INTO entries_fts (rowid, {', '.join(TEXT_COLUMNS)}, tags) VALUES (?, ?, ?, ?, ?, ?)"
)
DELETE_FTS = (
    f"INSERT INTO entries_fts (entries_fts, rowid, {', '.join(TEXT_COLUMNS)}, tags)"
    " VALUES ('delete', ?, ?, ?, ?, ?, ?)"
)
# Reads what the FTS row of an entry was built from, in fts_row's argument order.
SELECT_FTS_SOURCE = (
    "SELECT e.id, e.name, e.department, e.items, e.abstract, f.category, f.grade, f.share_type,"
    " f.department, f.update_cycle, f.data_mark"
    " FROM entries AS e JOIN entry_facets AS f ON f.id = e.id"
)


def marked(mark: str, tokens: str) -> str:
    """Space-separated index tokens (``textindex.index_text``), each with the field's mark."""
    return mark + tokens.replace(" ", " " + mark) if tokens else ""


def field_term(mark: str, term: str) -> str:
    """A ``textindex.query_terms`` term (a quoted phrase, or a quoted prefix and ``*``) for the
    field whose tokens carry ``mark`` (``"户籍 籍人"`` -> ``"n户籍 n籍人"``)."""
    prefix = term.endswith(" *")
    body = (term[:-2] if prefix else term)[1:-1].replace('""', '"')
    quoted = '"' + marked(mark, body).replace('"', '""') + '"'
    return quoted + " *" if prefix else quoted


def tag(facet_id: int) -> str:
    """The ``tags`` token of a facet value."""
    return f"f{facet_id}"


def fts_row(
    row_id: int,
    name: str,
    department: str,
    item_names: Sequence[str],
    abstract: str,
    facet_ids: Iterable[int],
) -> tuple[object, ...]:
    name_mark, department_mark, items_mark, abstract_mark = FIELD_MARKS
    return (
        row_id,
        marked(name_mark, textindex.index_text(name)),
        marked(department_mark, textindex.index_text(department)),
        marked(items_mark, textindex.index_text(*item_names)),
        marked(abstract_mark, textindex.index_text(abstract)),
        " ".join(tag(i) for i in facet_ids),
    )


def stored_fts_row(row: Sequence[object]) -> tuple[object, ...]:
    """``fts_row`` for a ``SELECT_FTS_SOURCE`` row: what the entry was indexed with."""
    row_id, name, department, items, abstract, *facet_ids = row
    return fts_row(row_id, name, department, item_names(items), abstract, facet_ids)  # type: ignore[arg-type]


def init_schema(conn: sqlite3.Connection, path: str, now: float) -> None:
    """Create what is missing, or migrate an older file, inside the caller's write transaction;
    re-tokenize every entry when the index was built by another tokenizer or the tags changed.
    ``now``: the time stamped on the feed rows of entries a migration numbers."""
    version = _stored_version(conn)
    if version is not None and version > int(SCHEMA_VERSION):
        raise SchemaTooNew("catalog", version, int(SCHEMA_VERSION), where=path)
    # Not executescript: it would COMMIT the transaction this runs in.
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    if version is None:
        set_meta(conn, "schema_version", SCHEMA_VERSION)
    elif version < int(SCHEMA_VERSION):
        for step in MIGRATIONS[version - 1 :]:
            for statement in step:
                conn.execute(statement)
        set_meta(conn, "schema_version", SCHEMA_VERSION)
        if version < 2:
            set_meta(conn, "textindex_version", "")  # the tags changed: rebuilt below
        if get_meta(conn, "generation") is not None:
            bump_generation(conn)
    if get_meta(conn, "textindex_version") != INDEX_LAYOUT:
        # Built by another tokenizer or layout (its options too): a new table, every entry
        # re-tokenized.
        conn.execute("DROP TABLE entries_fts")
        conn.execute(_FTS_TABLE)
        rows = conn.execute(SELECT_FTS_SOURCE).fetchall()
        conn.executemany(INSERT_FTS, map(stored_fts_row, rows))
        set_meta(conn, "textindex_version", INDEX_LAYOUT)
    if get_meta(conn, "generation") is None:
        set_meta(conn, "generation", "0")
    if get_meta(conn, LOGGED_AFTER) is None:
        set_meta(conn, LOGGED_AFTER, str(generation(conn)))
    feed.LITE.init_feed(feed.Lite(conn), now)  # a new file, or one from before the feed


def _stored_version(conn: sqlite3.Connection) -> int | None:
    """The schema version of the file, None for a new one."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        return None
    version = get_meta(conn, "schema_version")
    return None if version is None else int(version)


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def generation(conn: sqlite3.Connection) -> int:
    """The write generation of the snapshot ``conn`` reads."""
    return int(get_meta(conn, "generation") or 0)


def bump_generation(conn: sqlite3.Connection, written: Collection[int] | None = None) -> None:
    """Mark the entries changed: readers bring their facet index and rank table forward to
    the new snapshot. ``written``: the ids of the entries the write inserted, replaced or
    deleted, logged in ``entry_writes`` (None: any entry may have changed, and a reader reads
    them all again)."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    new = generation(conn)
    if written is None or len(written) > LOGGED_WRITE_LIMIT:
        conn.execute("DELETE FROM entry_writes")
        set_meta(conn, LOGGED_AFTER, str(new))
        return
    # One row per write, its ids as one text: a row per id cost a replica's catch-up a tenth
    # more CPU (500 inserts a page).
    conn.execute(
        "INSERT INTO entry_writes (generation, ids) VALUES (?, ?)",
        (new, ",".join(map(str, sorted(written)))),
    )
    oldest = new - LOGGED_GENERATIONS
    if oldest > logged_after(conn):
        conn.execute("DELETE FROM entry_writes WHERE generation <= ?", (oldest,))
        set_meta(conn, LOGGED_AFTER, str(oldest))


def logged_after(conn: sqlite3.Connection) -> int:
    """The generation above which ``entry_writes`` holds every write (``bump_generation``)."""
    value = get_meta(conn, LOGGED_AFTER)
    return generation(conn) if value is None else int(value)
