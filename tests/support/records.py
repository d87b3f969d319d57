"""Varied audit records for the audit log tests: Chinese text, empty fields, allow and deny."""

from __future__ import annotations

from gateway.audit import AuditRecord

APPS = ("js/rsj/pension-transfer", "zj/scjgj/licence-check", "ah/mzt/marriage-verify")
PURPOSES = ("跨省养老保险关系转移", "营业执照核验", "")


def make_record(i: int, **changes: object) -> AuditRecord:
    """A varied record: Chinese text, empty fields, allow and deny, several apps."""
    values: dict[str, object] = dict(
        side=("consumer", "provider", "local", "operator")[i % 4],
        trace_id=f"{i:032x}",
        app=APPS[i % 3],
        interface=f"sh/gaj/hukou-verify/v{i % 2 + 1}",
        purpose=PURPOSES[i % 3],
        action="invoke" if i % 5 else "approve",
        decision="deny" if i % 7 == 0 else "allow",
        reason="" if i % 7 else "无有效授权 (no grant)",
        fields_returned=("姓名", "身份证号")[: i % 3],
        fields_masked=("身份证号",) if i % 2 else (),
        record_count=i % 4,
        grade=("L1", "L2", "L3", "")[i % 4],
        status="OK" if i % 7 else "PERMISSION_DENIED",
        latency_ms=i * 0.5,
        peer="sh" if i % 2 else "",
        peer_hash=f"{i:064x}" if i % 3 == 0 else "",
        actor="op-王" if i % 5 == 0 else "",
        extra={"n": i, "备注": "测试"} if i % 4 == 0 else {},
    )
    values.update(changes)
    return AuditRecord(**values)  # type: ignore[arg-type]
