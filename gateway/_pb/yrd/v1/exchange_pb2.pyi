from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvokeRequest(_message.Message):
    __slots__ = ("interface_id", "params", "purpose", "fields")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    interface_id: str
    params: _containers.ScalarMap[str, str]
    purpose: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, interface_id: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., purpose: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("fields",)
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.ScalarMap[str, str]
    def __init__(self, fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FieldDecision(_message.Message):
    __slots__ = ("field", "grade", "kind", "reason")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    field: str
    grade: str
    kind: str
    reason: str
    def __init__(self, field: _Optional[str] = ..., grade: _Optional[str] = ..., kind: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class InvokeResponse(_message.Message):
    __slots__ = ("records", "verify_only", "match", "masked_fields", "dropped_fields", "grade", "served_by", "trace_id", "provider_audit_hash", "record_count")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    VERIFY_ONLY_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_AUDIT_HASH_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    verify_only: bool
    match: bool
    masked_fields: _containers.RepeatedCompositeFieldContainer[FieldDecision]
    dropped_fields: _containers.RepeatedCompositeFieldContainer[FieldDecision]
    grade: str
    served_by: str
    trace_id: str
    provider_audit_hash: str
    record_count: int
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., verify_only: _Optional[bool] = ..., match: _Optional[bool] = ..., masked_fields: _Optional[_Iterable[_Union[FieldDecision, _Mapping]]] = ..., dropped_fields: _Optional[_Iterable[_Union[FieldDecision, _Mapping]]] = ..., grade: _Optional[str] = ..., served_by: _Optional[str] = ..., trace_id: _Optional[str] = ..., provider_audit_hash: _Optional[str] = ..., record_count: _Optional[int] = ...) -> None: ...

class InvokeStreamRequest(_message.Message):
    __slots__ = ("call", "resume_token", "batch_size")
    CALL_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    call: InvokeRequest
    resume_token: str
    batch_size: int
    def __init__(self, call: _Optional[_Union[InvokeRequest, _Mapping]] = ..., resume_token: _Optional[str] = ..., batch_size: _Optional[int] = ...) -> None: ...

class RecordBatch(_message.Message):
    __slots__ = ("records", "resume_token", "last", "masked_fields", "dropped_fields", "grade", "served_by", "trace_id")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    resume_token: str
    last: bool
    masked_fields: _containers.RepeatedCompositeFieldContainer[FieldDecision]
    dropped_fields: _containers.RepeatedCompositeFieldContainer[FieldDecision]
    grade: str
    served_by: str
    trace_id: str
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., resume_token: _Optional[str] = ..., last: _Optional[bool] = ..., masked_fields: _Optional[_Iterable[_Union[FieldDecision, _Mapping]]] = ..., dropped_fields: _Optional[_Iterable[_Union[FieldDecision, _Mapping]]] = ..., grade: _Optional[str] = ..., served_by: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class InterfaceParam(_message.Message):
    __slots__ = ("name", "kind", "required", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    required: bool
    description: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., required: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...

class InterfaceField(_message.Message):
    __slots__ = ("name", "label", "kind", "grade")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    name: str
    label: str
    kind: str
    grade: str
    def __init__(self, name: _Optional[str] = ..., label: _Optional[str] = ..., kind: _Optional[str] = ..., grade: _Optional[str] = ...) -> None: ...

class InterfaceInfo(_message.Message):
    __slots__ = ("id", "province", "department", "department_name", "name", "resource_code", "mode", "params", "fields", "streamable", "callable", "granted_fields", "granted_purposes")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    STREAMABLE_FIELD_NUMBER: _ClassVar[int]
    CALLABLE_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    GRANTED_PURPOSES_FIELD_NUMBER: _ClassVar[int]
    id: str
    province: str
    department: str
    department_name: str
    name: str
    resource_code: str
    mode: str
    params: _containers.RepeatedCompositeFieldContainer[InterfaceParam]
    fields: _containers.RepeatedCompositeFieldContainer[InterfaceField]
    streamable: bool
    callable: bool
    granted_fields: _containers.RepeatedScalarFieldContainer[str]
    granted_purposes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., province: _Optional[str] = ..., department: _Optional[str] = ..., department_name: _Optional[str] = ..., name: _Optional[str] = ..., resource_code: _Optional[str] = ..., mode: _Optional[str] = ..., params: _Optional[_Iterable[_Union[InterfaceParam, _Mapping]]] = ..., fields: _Optional[_Iterable[_Union[InterfaceField, _Mapping]]] = ..., streamable: _Optional[bool] = ..., callable: _Optional[bool] = ..., granted_fields: _Optional[_Iterable[str]] = ..., granted_purposes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListInterfacesRequest(_message.Message):
    __slots__ = ("provinces",)
    PROVINCES_FIELD_NUMBER: _ClassVar[int]
    provinces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, provinces: _Optional[_Iterable[str]] = ...) -> None: ...

class ListInterfacesResponse(_message.Message):
    __slots__ = ("interfaces", "unavailable")
    INTERFACES_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    interfaces: _containers.RepeatedCompositeFieldContainer[InterfaceInfo]
    unavailable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, interfaces: _Optional[_Iterable[_Union[InterfaceInfo, _Mapping]]] = ..., unavailable: _Optional[_Iterable[str]] = ...) -> None: ...
