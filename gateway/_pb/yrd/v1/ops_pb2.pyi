from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Span(_message.Message):
    __slots__ = ("node", "trace_id", "span_id", "parent_id", "name", "kind", "start_unix_nano", "duration_ms", "status", "status_message", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    node: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    start_unix_nano: int
    duration_ms: float
    status: str
    status_message: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, node: _Optional[str] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., start_unix_nano: _Optional[int] = ..., duration_ms: _Optional[float] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class NodeGather(_message.Message):
    __slots__ = ("node", "state", "spans", "reason")
    NODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node: str
    state: str
    spans: int
    reason: str
    def __init__(self, node: _Optional[str] = ..., state: _Optional[str] = ..., spans: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class GetTraceRequest(_message.Message):
    __slots__ = ("trace_id",)
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    def __init__(self, trace_id: _Optional[str] = ...) -> None: ...

class Trace(_message.Message):
    __slots__ = ("trace_id", "spans", "nodes", "partial")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    spans: _containers.RepeatedCompositeFieldContainer[Span]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeGather]
    partial: bool
    def __init__(self, trace_id: _Optional[str] = ..., spans: _Optional[_Iterable[_Union[Span, _Mapping]]] = ..., nodes: _Optional[_Iterable[_Union[NodeGather, _Mapping]]] = ..., partial: _Optional[bool] = ...) -> None: ...

class ListTracesRequest(_message.Message):
    __slots__ = ("app", "interface", "status", "min_duration_ms", "since_unix", "until_unix", "limit")
    APP_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SINCE_UNIX_FIELD_NUMBER: _ClassVar[int]
    UNTIL_UNIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    app: str
    interface: str
    status: str
    min_duration_ms: float
    since_unix: int
    until_unix: int
    limit: int
    def __init__(self, app: _Optional[str] = ..., interface: _Optional[str] = ..., status: _Optional[str] = ..., min_duration_ms: _Optional[float] = ..., since_unix: _Optional[int] = ..., until_unix: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class TraceSummary(_message.Message):
    __slots__ = ("trace_id", "node", "root", "start_unix_nano", "duration_ms", "status", "app", "interface", "span_count")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    node: str
    root: str
    start_unix_nano: int
    duration_ms: float
    status: str
    app: str
    interface: str
    span_count: int
    def __init__(self, trace_id: _Optional[str] = ..., node: _Optional[str] = ..., root: _Optional[str] = ..., start_unix_nano: _Optional[int] = ..., duration_ms: _Optional[float] = ..., status: _Optional[str] = ..., app: _Optional[str] = ..., interface: _Optional[str] = ..., span_count: _Optional[int] = ...) -> None: ...

class ListTracesResponse(_message.Message):
    __slots__ = ("traces",)
    TRACES_FIELD_NUMBER: _ClassVar[int]
    traces: _containers.RepeatedCompositeFieldContainer[TraceSummary]
    def __init__(self, traces: _Optional[_Iterable[_Union[TraceSummary, _Mapping]]] = ...) -> None: ...

class VerifyAuditRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditResponse(_message.Message):
    __slots__ = ("node", "ok", "checked", "first_bad_seq", "problem", "head_hash")
    NODE_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    node: str
    ok: bool
    checked: int
    first_bad_seq: int
    problem: str
    head_hash: str
    def __init__(self, node: _Optional[str] = ..., ok: _Optional[bool] = ..., checked: _Optional[int] = ..., first_bad_seq: _Optional[int] = ..., problem: _Optional[str] = ..., head_hash: _Optional[str] = ...) -> None: ...

class QueryAuditRequest(_message.Message):
    __slots__ = ("trace_id", "app", "interface", "decision", "limit", "before_seq")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_SEQ_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    app: str
    interface: str
    decision: str
    limit: int
    before_seq: int
    def __init__(self, trace_id: _Optional[str] = ..., app: _Optional[str] = ..., interface: _Optional[str] = ..., decision: _Optional[str] = ..., limit: _Optional[int] = ..., before_seq: _Optional[int] = ...) -> None: ...

class AuditLine(_message.Message):
    __slots__ = ("seq", "hash", "prev_hash", "json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hash: str
    prev_hash: str
    json: str
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[str] = ..., prev_hash: _Optional[str] = ..., json: _Optional[str] = ...) -> None: ...

class QueryAuditResponse(_message.Message):
    __slots__ = ("node", "entries", "next_before_seq")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_SEQ_FIELD_NUMBER: _ClassVar[int]
    node: str
    entries: _containers.RepeatedCompositeFieldContainer[AuditLine]
    next_before_seq: int
    def __init__(self, node: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[AuditLine, _Mapping]]] = ..., next_before_seq: _Optional[int] = ...) -> None: ...

class AuditEvidenceRequest(_message.Message):
    __slots__ = ("seqs", "hashes", "witnessed", "receipts", "receipts_after", "witnessed_after")
    SEQS_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    WITNESSED_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_AFTER_FIELD_NUMBER: _ClassVar[int]
    WITNESSED_AFTER_FIELD_NUMBER: _ClassVar[int]
    seqs: _containers.RepeatedScalarFieldContainer[int]
    hashes: _containers.RepeatedScalarFieldContainer[str]
    witnessed: bool
    receipts: bool
    receipts_after: int
    witnessed_after: str
    def __init__(self, seqs: _Optional[_Iterable[int]] = ..., hashes: _Optional[_Iterable[str]] = ..., witnessed: _Optional[bool] = ..., receipts: _Optional[bool] = ..., receipts_after: _Optional[int] = ..., witnessed_after: _Optional[str] = ...) -> None: ...

class WitnessedHead(_message.Message):
    __slots__ = ("node", "witness", "seq", "hash", "time", "signature", "received")
    NODE_FIELD_NUMBER: _ClassVar[int]
    WITNESS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    node: str
    witness: str
    seq: int
    hash: str
    time: str
    signature: bytes
    received: str
    def __init__(self, node: _Optional[str] = ..., witness: _Optional[str] = ..., seq: _Optional[int] = ..., hash: _Optional[str] = ..., time: _Optional[str] = ..., signature: _Optional[bytes] = ..., received: _Optional[str] = ...) -> None: ...

class SeqHash(_message.Message):
    __slots__ = ("seq", "hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hash: str
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[str] = ...) -> None: ...

class AuditReceipt(_message.Message):
    __slots__ = ("seq", "owner", "owner_hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    OWNER_HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    owner: str
    owner_hash: str
    def __init__(self, seq: _Optional[int] = ..., owner: _Optional[str] = ..., owner_hash: _Optional[str] = ...) -> None: ...

class AuditEvidenceResponse(_message.Message):
    __slots__ = ("node", "head_seq", "head_hash", "witnessed", "at", "present", "receipts", "receipts_next", "chain_state", "chain_problem", "witnessed_next")
    NODE_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    WITNESSED_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_NEXT_FIELD_NUMBER: _ClassVar[int]
    CHAIN_STATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    WITNESSED_NEXT_FIELD_NUMBER: _ClassVar[int]
    node: str
    head_seq: int
    head_hash: str
    witnessed: _containers.RepeatedCompositeFieldContainer[WitnessedHead]
    at: _containers.RepeatedCompositeFieldContainer[SeqHash]
    present: _containers.RepeatedScalarFieldContainer[str]
    receipts: _containers.RepeatedCompositeFieldContainer[AuditReceipt]
    receipts_next: int
    chain_state: str
    chain_problem: str
    witnessed_next: str
    def __init__(self, node: _Optional[str] = ..., head_seq: _Optional[int] = ..., head_hash: _Optional[str] = ..., witnessed: _Optional[_Iterable[_Union[WitnessedHead, _Mapping]]] = ..., at: _Optional[_Iterable[_Union[SeqHash, _Mapping]]] = ..., present: _Optional[_Iterable[str]] = ..., receipts: _Optional[_Iterable[_Union[AuditReceipt, _Mapping]]] = ..., receipts_next: _Optional[int] = ..., chain_state: _Optional[str] = ..., chain_problem: _Optional[str] = ..., witnessed_next: _Optional[str] = ...) -> None: ...

class AcknowledgeAuditRequest(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: str
    def __init__(self, note: _Optional[str] = ...) -> None: ...

class AcknowledgeAuditResponse(_message.Message):
    __slots__ = ("node", "chain_state", "first_bad_seq", "problem", "seq")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_STATE_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    node: str
    chain_state: str
    first_bad_seq: int
    problem: str
    seq: int
    def __init__(self, node: _Optional[str] = ..., chain_state: _Optional[str] = ..., first_bad_seq: _Optional[int] = ..., problem: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...
