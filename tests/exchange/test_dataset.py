"""The synthetic node-local dataset: valid identifiers, consistent people, links, determinism."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from datetime import date
from pathlib import Path

import pytest

from gateway.checkdigits import is_valid_credit_code, is_valid_resident_id
from gateway.config import load_departments
from gateway.exchange.dataset import (
    SCHEMA,
    dataset_path,
    dataset_signature,
    ensure_dataset,
    sample_values,
)
from gateway.exchange.synthetic import luhn_check_digit, org_code_check_char
from gateway.exchange.vocabulary import COUNTIES, PROVINCES
from tests.support.federation import ROOT

NODES = ("js", "sh", "zj", "ah")
PEOPLE = 1200


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("datasets")
    paths = {}
    for node in NODES:
        paths[node] = dataset_path(base / node)
        ensure_dataset(paths[node], node, people=PEOPLE, seed=7)
    return paths


def rows(path: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def count(path: Path, table: str, column: str, value: str) -> int:
    return rows(path, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", value)[0][0]


def digest(path: Path) -> str:
    h = hashlib.sha256()
    for table in SCHEMA.values():
        for row in rows(path, f"SELECT * FROM {table.name} ORDER BY seq"):
            h.update(repr(row).encode())
    h.update(repr(sample_values(path)).encode())
    return h.hexdigest()


@pytest.mark.parametrize("node", NODES)
def test_vocabulary_cities_are_the_departments_cities(node):
    deps = load_departments(ROOT / "nodes" / node / "departments.yaml")
    assert tuple(COUNTIES[node]) == deps.cities
    assert PROVINCES[node][0] == deps.region_code
    for pairs in COUNTIES[node].values():
        assert all(code[:2] == deps.region_code[:2] and len(code) == 6 for code, _ in pairs)


@pytest.mark.parametrize("node", NODES)
def test_people_have_valid_consistent_resident_ids(datasets, node):
    counties = {code for pairs in COUNTIES[node].values() for code, _ in pairs}
    people = rows(
        datasets[node],
        "SELECT id_number, birth_date, gender, hukou_county_code, name, mobile FROM person",
    )
    assert len(people) == PEOPLE
    assert len({p[0] for p in people}) == PEOPLE
    for id_number, birth, gender, hukou, name, mobile in people:
        assert is_valid_resident_id(id_number), id_number
        assert id_number[:6] in counties and hukou in counties
        assert id_number[6:14] == birth.replace("-", "")
        assert date.fromisoformat(birth) <= date(2024, 6, 30)
        assert gender == ("男" if int(id_number[16]) % 2 else "女")
        assert 2 <= len(name) <= 4
        assert mobile == "" or (len(mobile) == 11 and mobile.startswith("1"))


@pytest.mark.parametrize("node", NODES)
def test_enterprises_have_valid_credit_codes_in_the_province(datasets, node):
    counties = {code for pairs in COUNTIES[node].values() for code, _ in pairs}
    codes = rows(datasets[node], "SELECT credit_code FROM enterprise")
    assert len(codes) == PEOPLE // 4
    for (code,) in codes:
        assert is_valid_credit_code(code), code
        assert code[:2] in ("91", "92") and code[2:8] in counties
        assert code[16] == org_code_check_char(code[8:16])


@pytest.mark.parametrize("node", NODES)
def test_records_link_to_each_other(datasets, node):
    path = datasets[node]
    assert rows(
        path,
        "SELECT COUNT(*) FROM enterprise e LEFT JOIN person p "
        "ON p.id_number = e.legal_rep_id AND p.name = e.legal_rep_name "
        "WHERE p.id_number IS NULL",
    ) == [(0,)]
    assert rows(
        path,
        "SELECT COUNT(*) FROM social_insurance s LEFT JOIN person p "
        "ON p.id_number = s.id_number AND p.name = s.name "
        "WHERE p.id_number IS NULL",
    ) == [(0,)]
    assert rows(
        path,
        "SELECT COUNT(*) FROM social_insurance s LEFT JOIN enterprise e "
        "ON e.credit_code = s.employer_credit_code WHERE e.credit_code IS NULL",
    ) == [(0,)]
    assert rows(
        path,
        "SELECT COUNT(*) FROM credit_record c LEFT JOIN enterprise e "
        "ON e.credit_code = c.credit_code WHERE e.credit_code IS NULL",
    ) == [(0,)]
    orphans = rows(
        path,
        "SELECT COUNT(*) FROM licence l WHERE NOT EXISTS "
        "(SELECT 1 FROM enterprise e WHERE e.credit_code = l.holder_id) "
        "AND NOT EXISTS (SELECT 1 FROM person p WHERE p.id_number = l.holder_id)",
    )
    assert orphans == [(0,)]
    # every enterprise holds its business licence, numbered with its credit code
    assert rows(
        path,
        "SELECT COUNT(*) FROM licence WHERE licence_type = '营业执照' AND licence_no = holder_id",
    ) == rows(path, "SELECT COUNT(*) FROM enterprise")


@pytest.mark.parametrize("node", NODES)
def test_bank_cards_pass_luhn_and_bases_fit_the_province(datasets, node):
    cards = rows(datasets[node], "SELECT DISTINCT bank_card FROM social_insurance")
    assert cards
    for (card,) in cards:
        assert card.isdigit() and len(card) in (16, 19)
        assert card[-1] == luhn_check_digit(card[:-1])
    lo, hi = rows(
        datasets[node], "SELECT MIN(monthly_base), MAX(monthly_base) FROM social_insurance"
    )[0]
    assert 4000 <= lo <= hi <= 40000


def test_luhn_matches_a_known_number():
    assert luhn_check_digit("7992739871") == "3"  # the textbook example 79927398713


@pytest.mark.parametrize("node", NODES)
def test_sample_values_exist_in_the_dataset(datasets, node):
    path = datasets[node]
    s = sample_values(path)
    assert set(s) == {
        "id_number",
        "name",
        "hukou_address",
        "credit_code",
        "enterprise_name",
        "district",
    }
    assert is_valid_resident_id(s["id_number"]) and is_valid_credit_code(s["credit_code"])
    person = "SELECT name, hukou_address FROM person WHERE id_number = ?"
    assert rows(path, person, s["id_number"]) == [(s["name"], s["hukou_address"])]
    firm = "SELECT legal_rep_id, name, status FROM enterprise WHERE credit_code = ?"
    assert rows(path, firm, s["credit_code"]) == [(s["id_number"], s["enterprise_name"], "存续")]
    assert count(path, "credit_record", "credit_code", s["credit_code"]) >= 1
    insured = rows(
        path, "SELECT DISTINCT district FROM social_insurance WHERE id_number = ?", s["id_number"]
    )
    assert (s["district"],) in insured
    assert s["district"] in COUNTIES[node]


def test_the_dataset_is_deterministic(datasets, tmp_path):
    again = tmp_path / "again.db"
    ensure_dataset(again, "sh", people=PEOPLE, seed=7)
    assert digest(again) == digest(datasets["sh"])
    other = tmp_path / "other.db"
    ensure_dataset(other, "sh", people=PEOPLE, seed=8)
    assert digest(other) != digest(datasets["sh"])


def test_ensure_builds_once_and_rebuilds_on_a_new_signature(tmp_path):
    path = tmp_path / "d" / "dataset.db"
    assert ensure_dataset(path, "ah", people=50, seed=1) is not None
    assert ensure_dataset(path, "ah", people=50, seed=1) is None
    assert rows(path, "SELECT value FROM meta WHERE key = 'signature'") == [
        (dataset_signature("ah", 50, 1),)
    ]
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert ensure_dataset(path, "ah", people=60, seed=1) is not None
    assert rows(path, "SELECT COUNT(*) FROM person") == [(60,)]
    assert ensure_dataset(path, "ah", people=60, seed=1, force=True) is not None


def test_a_corrupt_file_is_rebuilt(tmp_path):
    path = tmp_path / "dataset.db"
    path.write_bytes(b"not a database at all" * 100)
    assert ensure_dataset(path, "zj", people=20) is not None
    assert rows(path, "SELECT COUNT(*) FROM person") == [(20,)]


def test_tiny_datasets_still_have_samples(tmp_path):
    path = tmp_path / "dataset.db"
    ensure_dataset(path, "js", people=10, seed=3)
    s = sample_values(path)
    assert count(path, "credit_record", "credit_code", s["credit_code"]) >= 1
    assert count(path, "social_insurance", "id_number", s["id_number"]) >= 1


def test_five_thousand_people_build_in_seconds(tmp_path):
    start = time.perf_counter()
    ensure_dataset(tmp_path / "dataset.db", "sh", people=5000)
    assert time.perf_counter() - start < 15


def test_unknown_province_and_missing_file(tmp_path):
    with pytest.raises(ValueError):
        ensure_dataset(tmp_path / "x.db", "xx", people=10)
    with pytest.raises(FileNotFoundError):
        sample_values(tmp_path / "absent.db")
