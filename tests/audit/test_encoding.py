"""The writer's one-pass encoding hashes exactly what the chain's canonical form hashes, and
stores the same columns the record's ``to_dict`` gives (issue 18: cheaper, not different)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.chain import CANONICAL_JSON, GENESIS_HASH, AuditRecord, canonical_bytes
from gateway.audit.encoding import JSON_COLUMNS, RECORD_COLUMNS, encode_entry, stored_hash

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)


def _expected(seq: int, prev: str, record: AuditRecord) -> tuple[str, list]:
    values = record.to_dict()
    digest = hashlib.sha256(canonical_bytes(seq, prev, values)).hexdigest()
    columns = [
        CANONICAL_JSON.encode(values[n]) if n in JSON_COLUMNS else values[n] for n in RECORD_COLUMNS
    ]
    return digest, columns


@given(
    seq=st.integers(1, 2**40),
    app=_TEXT,
    purpose=_TEXT,
    fields=st.lists(_TEXT, max_size=4),
    count=st.integers(0, 10**6),
    latency=st.floats(0, 1e6, allow_nan=False) | st.integers(0, 10**6),
    extra=st.dictionaries(_TEXT, _JSON, max_size=4),
)
def test_encode_entry_is_the_canonical_hash_and_columns(
    seq, app, purpose, fields, count, latency, extra
) -> None:
    record = AuditRecord(
        time="2026-12-06T08:30:00.123Z",
        node="sh",
        side="provider",
        app=app,
        purpose=purpose,
        action="invoke",
        decision="allow",
        fields_returned=tuple(fields),
        fields_masked=tuple(fields[:1]),
        record_count=count,
        latency_ms=latency,
        extra=extra,
    )
    prev = hashlib.sha256(str(seq).encode()).hexdigest() if seq > 1 else GENESIS_HASH
    digest, columns = encode_entry(seq, prev, record)
    assert (digest, columns) == _expected(seq, prev, record)
    assert record.to_dict() == AuditRecord.from_dict(record.to_dict()).to_dict()
    # The integrity check's hash of the row as stored is the same hash.
    assert stored_hash((seq, prev, digest, *columns)) == digest


def _row() -> tuple:
    record = AuditRecord(
        side="consumer",
        action="invoke",
        decision="allow",
        purpose="社会保障资格核验",
        fields_returned=("姓名", "id"),
        latency_ms=2.5,
        extra={"b": [1, 2], "a": "\u00e9\n"},
    )
    digest, columns = encode_entry(9, GENESIS_HASH, record)
    return (9, GENESIS_HASH, digest, *columns)


def test_the_stored_hash_changes_with_any_column_and_gives_up_on_other_types() -> None:
    row = _row()
    assert stored_hash(row) == row[2]
    for index in range(len(row)):
        if index == 2:
            continue
        value = row[index]
        for changed in (
            (value + 1, float(value))
            if type(value) is int
            else (value + 0.5, int(value))
            if type(value) is float
            else (value + " ", value.replace("[1,2]", "[1, 2]"), value.upper() + "x")
        ):
            if changed == value and type(changed) is type(value):
                continue
            altered = (*row[:index], changed, *row[index + 1 :])
            assert stored_hash(altered) != row[2], (index, changed)
    for odd in (None, b"x", True, [1]):
        assert stored_hash((*row[:4], odd, *row[5:])) is None
    assert stored_hash((*row[:-1], 7)) is None  # a JSON column that is no text
    latency = 3 + RECORD_COLUMNS.index("latency_ms")
    for number in (float("inf"), float("nan")):  # text canonical JSON refuses
        assert stored_hash((*row[:latency], number, *row[latency + 1 :])) is None


def test_a_number_canonical_json_refuses_is_refused_as_before() -> None:
    """A record read back unchecked with a latency that is not finite cannot be encoded: the
    writer's hash from the columns gives up, and the whole-record encoding refuses it."""
    values = AuditRecord(side="local", action="invoke", decision="allow").to_dict()
    values["latency_ms"] = float("nan")
    with pytest.raises(ValueError):
        encode_entry(3, GENESIS_HASH, AuditRecord._unchecked(values))


def test_an_unchecked_record_takes_the_slow_path_alike() -> None:
    """A row read back without checks (tuples and dicts as stored) still encodes alike."""
    record = AuditRecord(side="local", action="invoke", decision="deny", extra={"b": [1, 2]})
    again = AuditRecord._unchecked(record.to_dict())
    assert encode_entry(7, GENESIS_HASH, again) == _expected(7, GENESIS_HASH, record)
