from gateway._pb.yrd.v1 import catalog_pb2 as _catalog_pb2
from gateway._pb.yrd.v1 import exchange_pb2 as _exchange_pb2
from gateway._pb.yrd.v1 import sharing_pb2 as _sharing_pb2
from gateway._pb.yrd.v1 import ops_pb2 as _ops_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StandardRef(_message.Message):
    __slots__ = ("id", "version", "digest")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: str
    digest: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ..., digest: _Optional[str] = ...) -> None: ...

class HelloRequest(_message.Message):
    __slots__ = ("node", "standard")
    NODE_FIELD_NUMBER: _ClassVar[int]
    STANDARD_FIELD_NUMBER: _ClassVar[int]
    node: str
    standard: StandardRef
    def __init__(self, node: _Optional[str] = ..., standard: _Optional[_Union[StandardRef, _Mapping]] = ...) -> None: ...

class HelloResponse(_message.Message):
    __slots__ = ("node", "name", "standard")
    NODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STANDARD_FIELD_NUMBER: _ClassVar[int]
    node: str
    name: str
    standard: StandardRef
    def __init__(self, node: _Optional[str] = ..., name: _Optional[str] = ..., standard: _Optional[_Union[StandardRef, _Mapping]] = ...) -> None: ...

class LocalSearchRequest(_message.Message):
    __slots__ = ("query", "filters", "limit", "facets")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FACETS_FIELD_NUMBER: _ClassVar[int]
    query: str
    filters: _catalog_pb2.SearchFilters
    limit: int
    facets: bool
    def __init__(self, query: _Optional[str] = ..., filters: _Optional[_Union[_catalog_pb2.SearchFilters, _Mapping]] = ..., limit: _Optional[int] = ..., facets: _Optional[bool] = ...) -> None: ...

class LocalSearchResponse(_message.Message):
    __slots__ = ("results", "total", "facets", "node")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    FACETS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.SearchResult]
    total: int
    facets: _containers.RepeatedCompositeFieldContainer[_catalog_pb2.Facet]
    node: str
    def __init__(self, results: _Optional[_Iterable[_Union[_catalog_pb2.SearchResult, _Mapping]]] = ..., total: _Optional[int] = ..., facets: _Optional[_Iterable[_Union[_catalog_pb2.Facet, _Mapping]]] = ..., node: _Optional[str] = ...) -> None: ...

class FollowChangesRequest(_message.Message):
    __slots__ = ("since", "page_size", "wait_ms")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    since: int
    page_size: int
    wait_ms: int
    def __init__(self, since: _Optional[int] = ..., page_size: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class CatalogChange(_message.Message):
    __slots__ = ("seq", "code", "entry", "changed_at")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    code: str
    entry: _catalog_pb2.CatalogEntry
    changed_at: float
    def __init__(self, seq: _Optional[int] = ..., code: _Optional[str] = ..., entry: _Optional[_Union[_catalog_pb2.CatalogEntry, _Mapping]] = ..., changed_at: _Optional[float] = ...) -> None: ...

class ChangePage(_message.Message):
    __slots__ = ("feed_id", "changes", "head", "head_changed_at")
    FEED_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    HEAD_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    feed_id: str
    changes: _containers.RepeatedCompositeFieldContainer[CatalogChange]
    head: int
    head_changed_at: float
    def __init__(self, feed_id: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[CatalogChange, _Mapping]]] = ..., head: _Optional[int] = ..., head_changed_at: _Optional[float] = ...) -> None: ...

class ForwardedInvoke(_message.Message):
    __slots__ = ("app", "call")
    APP_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    app: str
    call: _exchange_pb2.InvokeRequest
    def __init__(self, app: _Optional[str] = ..., call: _Optional[_Union[_exchange_pb2.InvokeRequest, _Mapping]] = ...) -> None: ...

class ForwardedInvokeStream(_message.Message):
    __slots__ = ("app", "call")
    APP_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    app: str
    call: _exchange_pb2.InvokeStreamRequest
    def __init__(self, app: _Optional[str] = ..., call: _Optional[_Union[_exchange_pb2.InvokeStreamRequest, _Mapping]] = ...) -> None: ...

class ForwardedApplication(_message.Message):
    __slots__ = ("app", "application")
    APP_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    app: str
    application: _sharing_pb2.ApplyRequest
    def __init__(self, app: _Optional[str] = ..., application: _Optional[_Union[_sharing_pb2.ApplyRequest, _Mapping]] = ...) -> None: ...

class ForwardedListApplications(_message.Message):
    __slots__ = ("apps", "state")
    APPS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    apps: _containers.RepeatedScalarFieldContainer[str]
    state: str
    def __init__(self, apps: _Optional[_Iterable[str]] = ..., state: _Optional[str] = ...) -> None: ...

class ForwardedListInterfaces(_message.Message):
    __slots__ = ("app",)
    APP_FIELD_NUMBER: _ClassVar[int]
    app: str
    def __init__(self, app: _Optional[str] = ...) -> None: ...

class SignedHead(_message.Message):
    __slots__ = ("seq", "hash", "time", "signature")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hash: str
    time: str
    signature: bytes
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[str] = ..., time: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class WitnessReply(_message.Message):
    __slots__ = ("witness", "seq")
    WITNESS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    witness: str
    seq: int
    def __init__(self, witness: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class GetSpansResponse(_message.Message):
    __slots__ = ("node", "spans")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    node: str
    spans: _containers.RepeatedCompositeFieldContainer[_ops_pb2.Span]
    def __init__(self, node: _Optional[str] = ..., spans: _Optional[_Iterable[_Union[_ops_pb2.Span, _Mapping]]] = ...) -> None: ...
