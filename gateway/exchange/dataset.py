"""A node's local dataset: the SQLite file (``<data_dir>/dataset.db``, WAL) its sqlite backend
serves, its schema (the allow-list every backend query is checked against), building it once
from ``synthetic`` (people, enterprises) and ``registers`` (licences, social insurance, credit),
and the well-known sample values demos and tests call with.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.exchange import registers
from gateway.exchange.synthetic import Rows, World

__all__ = [
    "DATASET_FILENAME",
    "CURSOR_COLUMN",
    "DATASET_VERSION",
    "DEFAULT_PEOPLE",
    "SCHEMA",
    "Table",
    "dataset_path",
    "dataset_signature",
    "ensure_dataset",
    "generate_rows",
    "sample_values",
]

log = logging.getLogger(__name__)

DATASET_FILENAME = "dataset.db"
#: Bump when the schema or the generator changes: existing files are then rebuilt.
DATASET_VERSION = "1"
DEFAULT_PEOPLE = 5000


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: str
    """Natural key (unique): the resident ID, credit code, licence or record id."""
    columns: tuple[str, ...]
    integers: frozenset[str] = frozenset()
    indexes: tuple[tuple[str, ...], ...] = ()
    """Columns interfaces look records up by (the key is indexed already)."""


#: Every table also has this integer column, its insertion order: the stable cursor that paging
#: resumes after. It is deliberately not the natural key: cursors travel inside resume tokens
#: that callers can decode, and a resident ID there would leak what masking hides.
CURSOR_COLUMN = "seq"


def _table(name: str, columns: str, *, integers: str = "", indexes: str = "") -> Table:
    cols = tuple(columns.split())
    return Table(
        name=name,
        key=cols[0],
        columns=cols,
        integers=frozenset(integers.split()),
        indexes=tuple(tuple(ix.split("+")) for ix in indexes.split()),
    )


#: The only tables and columns a backend query may name; the first column is the key.
SCHEMA: Mapping[str, Table] = {
    t.name: t
    for t in (
        _table(
            "person",
            "id_number name gender birth_date ethnicity marital_status education mobile email "
            "hukou_county_code hukou_city hukou_address address city household_type registered_on",
            indexes="city",
        ),
        _table(
            "enterprise",
            "credit_code name enterprise_type legal_rep_name legal_rep_id registered_capital "
            "established_on status address business_scope industry registration_authority city "
            "county_code",
            indexes="legal_rep_id city",
        ),
        _table(
            "licence",
            "licence_id licence_type licence_no holder_kind holder_id holder_name issuer "
            "issued_on valid_until status city",
            indexes="holder_id licence_no",
        ),
        _table(
            "social_insurance",
            "record_id id_number name insurance_type status employer_name employer_credit_code "
            "monthly_base start_month months_paid bank_card mobile district county_code",
            integers="monthly_base months_paid",
            indexes="id_number district",
        ),
        _table(
            "credit_record",
            "record_id credit_code subject_name record_type title decision_no authority "
            "decided_on valid_until status",
            indexes="credit_code",
        ),
    )
}


def dataset_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / DATASET_FILENAME


def dataset_signature(province: str, people: int, seed: int) -> str:
    return f"v{DATASET_VERSION}:{province}:{people}:{seed}"


def ensure_dataset(
    path: str | os.PathLike[str],
    province: str,
    *,
    people: int = DEFAULT_PEOPLE,
    seed: int = 0,
    force: bool = False,
) -> float | None:
    """Build the dataset unless ``path`` already holds exactly this one; returns seconds taken,
    or ``None`` when nothing had to be done.

    Call it before any backend opens the file: a rebuild deletes and rewrites it.
    """
    path = Path(path)
    signature = dataset_signature(province, people, seed)
    if not force and _stored_signature(path) == signature:
        return None
    start = time.perf_counter()
    rows = generate_rows(province, people=people, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A stale -wal or -shm next to a fresh file would be replayed into it: remove all three.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for table in SCHEMA.values():
                _create(conn, table)
                records = getattr(rows, table.name)
                marks = ", ".join("?" * (1 + len(table.columns)))
                conn.executemany(
                    f"INSERT INTO {table.name} VALUES ({marks})",
                    [(i, *(r[c] for c in table.columns)) for i, r in enumerate(records, start=1)],
                )
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("province", province),
                    ("samples", json.dumps(rows.samples, ensure_ascii=False, sort_keys=True)),
                    # Written last: a build interrupted before this commit is rebuilt next time.
                    ("signature", signature),
                ],
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    elapsed = time.perf_counter() - start
    log.info("built %s dataset with %d people in %.2f s", province, people, elapsed)
    return elapsed


def generate_rows(province: str, *, people: int, seed: int) -> Rows:
    """Every row of one province's dataset; deterministic in (province, people, seed)."""
    if people < 1:
        raise ValueError("people must be at least 1")
    world = World(province, people, seed)
    world.make_people()
    world.make_enterprises()
    registers.add_licences(world)
    registers.add_social_insurance(world)
    registers.add_credit_records(world)
    registers.pick_samples(world)
    return world.rows


def sample_values(path: str | os.PathLike[str]) -> dict[str, str]:
    """Values that exist in the dataset, keyed like the shipped interfaces' parameters.

    Keys: ``id_number`` (a resident ID), ``name`` and ``hukou_address`` (that person's),
    ``credit_code`` and ``enterprise_name`` (an enterprise the person represents, with credit
    records and licences), ``district`` (where the person is insured; a roster parameter).
    """
    conn = _open_readonly(Path(path))
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'samples'").fetchone()
    finally:
        conn.close()
    if row is None:
        raise ValueError(f"{path}: not a built dataset (no samples)")
    return dict(json.loads(row[0]))


def _create(conn: sqlite3.Connection, table: Table) -> None:
    cols = ", ".join(
        f"{c} {'INTEGER' if c in table.integers else 'TEXT'} NOT NULL"
        + (" UNIQUE" if c == table.key else "")
        for c in table.columns
    )
    conn.execute(f"CREATE TABLE {table.name} ({CURSOR_COLUMN} INTEGER PRIMARY KEY, {cols})")
    for i, ix in enumerate(table.indexes):
        conn.execute(f"CREATE INDEX {table.name}_ix{i} ON {table.name} ({', '.join(ix)})")


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise FileNotFoundError(f"no dataset at {path}")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _stored_signature(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        conn = _open_readonly(path)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # unreadable or half-built: rebuild it
    return row[0] if row else None
