"""The audit record's checks and the chain's canonical serialisation and hash."""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    canonical_bytes,
    entry_hash,
    format_time,
)

FIXED = dict(
    time="2024-05-01T08:30:00.123Z",
    node="sh",
    side="provider",
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    app="js/rsj/pension-transfer",
    interface="sh/gaj/hukou-verify/v1",
    purpose="跨省养老保险关系转移",
    action="invoke",
    decision="allow",
    reason="grant g-17",
    fields_returned=("姓名", "身份证号"),
    fields_masked=("身份证号",),
    fields_dropped=("手机号",),
    record_count=1,
    grade="L3",
    status="OK",
    latency_ms=12.5,
    peer="js",
    peer_hash="",
    actor="",
    extra={"quota_left": 99, "说明": "测试"},
)


def test_canonical_bytes_are_sorted_compact_utf8() -> None:
    record = AuditRecord(**FIXED)
    data = canonical_bytes(1, GENESIS_HASH, record.to_dict())
    text = data.decode("utf-8")
    assert text.startswith('{"prev_hash":"' + GENESIS_HASH + '","record":{"action":"invoke",')
    assert text.endswith(',"seq":1}')
    assert " " not in text.replace("grant g-17", "")  # the only space is inside a value
    assert "跨省养老保险关系转移".encode() in data  # Chinese as itself, not \u escapes
    assert "\\u" not in text
    # Anyone can recompute it with a stock JSON library.
    expected = json.dumps(
        {"seq": 1, "prev_hash": GENESIS_HASH, "record": record.to_dict()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    assert data == expected
    assert entry_hash(1, GENESIS_HASH, record.to_dict()) == hashlib.sha256(expected).hexdigest()


def test_hash_is_pinned() -> None:
    # A change here breaks every stored chain: only ever change it with a migration.
    record = AuditRecord(**FIXED)
    assert entry_hash(1, GENESIS_HASH, record.to_dict()) == (
        "ee131ef6cae272d166ffd59fb831dc9affaeb83cdbd997b115c996843c60fc7d"
    )


def test_genesis_is_64_zeros() -> None:
    assert GENESIS_HASH == "0" * 64


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("node", "js"),
        ("purpose", "跨省养老保险关系转移 "),
        ("fields_masked", ()),
        ("record_count", 2),
        ("latency_ms", 12.25),
        ("extra", {"quota_left": 98, "说明": "测试"}),
        ("status", "PERMISSION_DENIED"),
        ("decision", "deny"),
        ("peer_hash", "a" * 64),
        ("time", "2024-05-01T08:30:00.124Z"),
    ],
)
def test_any_field_changes_the_hash(name: str, value: object) -> None:
    base = AuditRecord(**FIXED)
    changed = AuditRecord(**(FIXED | {name: value}))
    assert entry_hash(1, GENESIS_HASH, base.to_dict()) != entry_hash(
        1, GENESIS_HASH, changed.to_dict()
    )


def test_seq_and_prev_hash_change_the_hash() -> None:
    values = AuditRecord(**FIXED).to_dict()
    one = entry_hash(1, GENESIS_HASH, values)
    assert entry_hash(2, GENESIS_HASH, values) != one
    assert entry_hash(1, "1" * 64, values) != one


def test_record_normalises_its_values() -> None:
    class Side(enum.StrEnum):
        LOCAL = "local"

    moment = datetime(2024, 5, 1, 16, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    record = AuditRecord(
        time=moment,  # type: ignore[arg-type]
        side=Side.LOCAL,
        action="create_app",
        decision="allow",
        fields_returned=["a", "b"],  # type: ignore[arg-type]
        latency_ms=3,
        extra={"ids": (1, 2)},
    )
    assert record.time == "2024-05-01T08:30:00.123Z"
    assert type(record.side) is str and record.side == "local"
    assert record.fields_returned == ("a", "b")
    assert isinstance(record.latency_ms, float)
    assert record.extra == {"ids": [1, 2]}  # the shape a stored row reads back as


def test_record_extra_is_a_private_copy() -> None:
    extra = {"k": [1]}
    record = AuditRecord(side="local", action="x", decision="allow", extra=extra)
    extra["k"].append(2)
    record.to_dict()["extra"]["k"].append(3)
    assert record.extra == {"k": [1]}


def test_default_time_is_now_in_utc() -> None:
    record = AuditRecord(side="local", action="x", decision="allow")
    stamped = datetime.fromisoformat(record.time)
    assert abs(stamped - datetime.now(UTC)) < timedelta(seconds=5)
    assert record.time.endswith("Z") and len(record.time) == 24


def test_dict_round_trip() -> None:
    record = AuditRecord(**FIXED)
    again = AuditRecord.from_dict(json.loads(json.dumps(record.to_dict(), ensure_ascii=False)))
    assert again == record
    entry = AuditEntry(seq=1, prev_hash=GENESIS_HASH, hash="h", record=record)
    flat = entry.to_dict()
    assert flat["seq"] == 1 and flat["purpose"] == FIXED["purpose"]


def test_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="colour"):
        AuditRecord.from_dict({"side": "local", "action": "x", "decision": "allow", "colour": 1})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"side": "client"}, "side"),
        ({"decision": "maybe"}, "decision"),
        ({"status": "StatusCode.OK"}, "status"),
        ({"action": ""}, "action"),
        ({"time": "2024-05-01T08:30:00Z"}, "time"),
        ({"time": "2024-05-01 08:30:00.123Z"}, "time"),
        ({"time": "2024-02-30T08:30:00.123Z"}, "time"),
        ({"time": datetime(2024, 5, 1)}, "time"),
        ({"record_count": -1}, "record_count"),
        ({"record_count": True}, "record_count"),
        ({"record_count": 1.0}, "record_count"),
        ({"latency_ms": float("nan")}, "latency_ms"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": "3"}, "latency_ms"),
        ({"fields_returned": "姓名"}, "fields_returned"),
        ({"fields_masked": (1,)}, "fields_masked"),
        ({"purpose": "\ud800"}, "purpose"),
        ({"app": None}, "app"),
        ({"extra": {"x": object()}}, "extra"),
        ({"extra": {"x": float("inf")}}, "extra"),
        ({"extra": {"x": "长" * 10_000}}, "extra"),
        ({"extra": ["x"]}, "extra"),
    ],
)
def test_record_refuses_bad_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AuditRecord(**(FIXED | changes))


def test_format_time_refuses_naive() -> None:
    with pytest.raises(ValueError):
        format_time(datetime(2024, 1, 1))
    assert format_time(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 6, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2027, 3, 1, 7, 5, 9, 1_500, tzinfo=timezone(timedelta(hours=8))),
        datetime(1999, 12, 31, 20, 0, 0, 999, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_format_time_is_strftimes_text(moment: datetime) -> None:
    """Formatted by hand for speed (issue 18), the text is what strftime gave."""
    utc = moment.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert format_time(moment) == expected
