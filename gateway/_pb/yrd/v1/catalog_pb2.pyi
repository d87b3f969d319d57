from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_UNSPECIFIED: _ClassVar[Scope]
    SCOPE_LOCAL: _ClassVar[Scope]
    SCOPE_PROVINCES: _ClassVar[Scope]
    SCOPE_ALL: _ClassVar[Scope]

class ProvinceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROVINCE_STATE_UNSPECIFIED: _ClassVar[ProvinceState]
    PROVINCE_STATE_ANSWERED: _ClassVar[ProvinceState]
    PROVINCE_STATE_FAILED: _ClassVar[ProvinceState]
    PROVINCE_STATE_TIMED_OUT: _ClassVar[ProvinceState]
    PROVINCE_STATE_SKIPPED: _ClassVar[ProvinceState]
    PROVINCE_STATE_NOT_ASKED: _ClassVar[ProvinceState]
SCOPE_UNSPECIFIED: Scope
SCOPE_LOCAL: Scope
SCOPE_PROVINCES: Scope
SCOPE_ALL: Scope
PROVINCE_STATE_UNSPECIFIED: ProvinceState
PROVINCE_STATE_ANSWERED: ProvinceState
PROVINCE_STATE_FAILED: ProvinceState
PROVINCE_STATE_TIMED_OUT: ProvinceState
PROVINCE_STATE_SKIPPED: ProvinceState
PROVINCE_STATE_NOT_ASKED: ProvinceState

class DataItem(_message.Message):
    __slots__ = ("name", "type", "length", "grade", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    length: int
    grade: str
    kind: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., length: _Optional[int] = ..., grade: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class CatalogEntry(_message.Message):
    __slots__ = ("code", "name", "province", "province_name", "department_code", "department", "category", "category_name", "abstract", "format", "share_type", "share_conditions", "open_attribute", "update_cycle", "publish_date", "grade", "items", "local_grade", "local_category", "data_mark", "data_mark_name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_NAME_FIELD_NUMBER: _ClassVar[int]
    ABSTRACT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SHARE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHARE_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_CYCLE_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_DATE_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_GRADE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DATA_MARK_FIELD_NUMBER: _ClassVar[int]
    DATA_MARK_NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    province: str
    province_name: str
    department_code: str
    department: str
    category: str
    category_name: str
    abstract: str
    format: str
    share_type: str
    share_conditions: str
    open_attribute: str
    update_cycle: str
    publish_date: str
    grade: str
    items: _containers.RepeatedCompositeFieldContainer[DataItem]
    local_grade: str
    local_category: str
    data_mark: str
    data_mark_name: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., province: _Optional[str] = ..., province_name: _Optional[str] = ..., department_code: _Optional[str] = ..., department: _Optional[str] = ..., category: _Optional[str] = ..., category_name: _Optional[str] = ..., abstract: _Optional[str] = ..., format: _Optional[str] = ..., share_type: _Optional[str] = ..., share_conditions: _Optional[str] = ..., open_attribute: _Optional[str] = ..., update_cycle: _Optional[str] = ..., publish_date: _Optional[str] = ..., grade: _Optional[str] = ..., items: _Optional[_Iterable[_Union[DataItem, _Mapping]]] = ..., local_grade: _Optional[str] = ..., local_category: _Optional[str] = ..., data_mark: _Optional[str] = ..., data_mark_name: _Optional[str] = ...) -> None: ...

class SearchFilters(_message.Message):
    __slots__ = ("categories", "grades", "share_types", "provinces", "departments", "update_cycles", "data_marks")
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    GRADES_FIELD_NUMBER: _ClassVar[int]
    SHARE_TYPES_FIELD_NUMBER: _ClassVar[int]
    PROVINCES_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_CYCLES_FIELD_NUMBER: _ClassVar[int]
    DATA_MARKS_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedScalarFieldContainer[str]
    grades: _containers.RepeatedScalarFieldContainer[str]
    share_types: _containers.RepeatedScalarFieldContainer[str]
    provinces: _containers.RepeatedScalarFieldContainer[str]
    departments: _containers.RepeatedScalarFieldContainer[str]
    update_cycles: _containers.RepeatedScalarFieldContainer[str]
    data_marks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, categories: _Optional[_Iterable[str]] = ..., grades: _Optional[_Iterable[str]] = ..., share_types: _Optional[_Iterable[str]] = ..., provinces: _Optional[_Iterable[str]] = ..., departments: _Optional[_Iterable[str]] = ..., update_cycles: _Optional[_Iterable[str]] = ..., data_marks: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "filters", "page_size", "page_token", "scope", "provinces", "live")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PROVINCES_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    query: str
    filters: SearchFilters
    page_size: int
    page_token: str
    scope: Scope
    provinces: _containers.RepeatedScalarFieldContainer[str]
    live: bool
    def __init__(self, query: _Optional[str] = ..., filters: _Optional[_Union[SearchFilters, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., scope: _Optional[_Union[Scope, str]] = ..., provinces: _Optional[_Iterable[str]] = ..., live: _Optional[bool] = ...) -> None: ...

class SearchResult(_message.Message):
    __slots__ = ("entry", "score")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    entry: CatalogEntry
    score: float
    def __init__(self, entry: _Optional[_Union[CatalogEntry, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class FacetValue(_message.Message):
    __slots__ = ("value", "label", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: str
    label: str
    count: int
    def __init__(self, value: _Optional[str] = ..., label: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class Facet(_message.Message):
    __slots__ = ("field", "values")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    values: _containers.RepeatedCompositeFieldContainer[FacetValue]
    def __init__(self, field: _Optional[str] = ..., values: _Optional[_Iterable[_Union[FacetValue, _Mapping]]] = ...) -> None: ...

class ReplicaStatus(_message.Message):
    __slots__ = ("from_replica", "stale", "last_change_at", "lag_ms", "behind")
    FROM_REPLICA_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGE_AT_FIELD_NUMBER: _ClassVar[int]
    LAG_MS_FIELD_NUMBER: _ClassVar[int]
    BEHIND_FIELD_NUMBER: _ClassVar[int]
    from_replica: bool
    stale: bool
    last_change_at: str
    lag_ms: float
    behind: int
    def __init__(self, from_replica: _Optional[bool] = ..., stale: _Optional[bool] = ..., last_change_at: _Optional[str] = ..., lag_ms: _Optional[float] = ..., behind: _Optional[int] = ...) -> None: ...

class ProvinceStatus(_message.Message):
    __slots__ = ("province", "name", "state", "total", "latency_ms", "reason", "message", "replica")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    province: str
    name: str
    state: ProvinceState
    total: int
    latency_ms: float
    reason: str
    message: str
    replica: ReplicaStatus
    def __init__(self, province: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[ProvinceState, str]] = ..., total: _Optional[int] = ..., latency_ms: _Optional[float] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., replica: _Optional[_Union[ReplicaStatus, _Mapping]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("results", "facets", "provinces", "partial", "next_page_token", "total", "trace_id", "answered_by")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    FACETS_FIELD_NUMBER: _ClassVar[int]
    PROVINCES_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResult]
    facets: _containers.RepeatedCompositeFieldContainer[Facet]
    provinces: _containers.RepeatedCompositeFieldContainer[ProvinceStatus]
    partial: bool
    next_page_token: str
    total: int
    trace_id: str
    answered_by: str
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResult, _Mapping]]] = ..., facets: _Optional[_Iterable[_Union[Facet, _Mapping]]] = ..., provinces: _Optional[_Iterable[_Union[ProvinceStatus, _Mapping]]] = ..., partial: _Optional[bool] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ..., trace_id: _Optional[str] = ..., answered_by: _Optional[str] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("entry", "trace_id", "replica")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    entry: CatalogEntry
    trace_id: str
    replica: ReplicaStatus
    def __init__(self, entry: _Optional[_Union[CatalogEntry, _Mapping]] = ..., trace_id: _Optional[str] = ..., replica: _Optional[_Union[ReplicaStatus, _Mapping]] = ...) -> None: ...
