"""The node's tamper-evident audit trail: records, the hash chain and the durable log."""

from gateway.audit.chain import GENESIS_HASH, AuditEntry, AuditRecord
from gateway.audit.log import (
    AuditError,
    AuditLog,
    AuditReadError,
    AuditStats,
    AuditStoreUnavailable,
    AuditWriteError,
    VerifyReport,
)

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditReadError",
    "AuditRecord",
    "AuditStats",
    "AuditStoreUnavailable",
    "AuditWriteError",
    "VerifyReport",
]
