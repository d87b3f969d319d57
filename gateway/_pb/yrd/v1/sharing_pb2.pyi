from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Quota(_message.Message):
    __slots__ = ("per_minute", "per_day")
    PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    PER_DAY_FIELD_NUMBER: _ClassVar[int]
    per_minute: int
    per_day: int
    def __init__(self, per_minute: _Optional[int] = ..., per_day: _Optional[int] = ...) -> None: ...

class Application(_message.Message):
    __slots__ = ("id", "app", "interface_id", "fields", "purpose", "valid_from", "valid_until", "quota", "state", "reason", "grant_id", "created_at", "decided_at", "owner", "granted_fields")
    ID_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    app: str
    interface_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    valid_from: str
    valid_until: str
    quota: Quota
    state: str
    reason: str
    grant_id: str
    created_at: str
    decided_at: str
    owner: str
    granted_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., app: _Optional[str] = ..., interface_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., quota: _Optional[_Union[Quota, _Mapping]] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., grant_id: _Optional[str] = ..., created_at: _Optional[str] = ..., decided_at: _Optional[str] = ..., owner: _Optional[str] = ..., granted_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("id", "grantee", "blanket", "interface_id", "fields", "purposes", "max_grade", "valid_from", "valid_until", "quota", "state", "application_id", "revoked_reason", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_FIELD_NUMBER: _ClassVar[int]
    BLANKET_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    MAX_GRADE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    grantee: str
    blanket: bool
    interface_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    purposes: _containers.RepeatedScalarFieldContainer[str]
    max_grade: str
    valid_from: str
    valid_until: str
    quota: Quota
    state: str
    application_id: str
    revoked_reason: str
    created_at: str
    def __init__(self, id: _Optional[str] = ..., grantee: _Optional[str] = ..., blanket: _Optional[bool] = ..., interface_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., purposes: _Optional[_Iterable[str]] = ..., max_grade: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., quota: _Optional[_Union[Quota, _Mapping]] = ..., state: _Optional[str] = ..., application_id: _Optional[str] = ..., revoked_reason: _Optional[str] = ..., created_at: _Optional[str] = ...) -> None: ...

class ApplyRequest(_message.Message):
    __slots__ = ("interface_id", "fields", "purpose", "valid_from", "valid_until", "quota")
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    interface_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    valid_from: str
    valid_until: str
    quota: Quota
    def __init__(self, interface_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., quota: _Optional[_Union[Quota, _Mapping]] = ...) -> None: ...

class ListApplicationsRequest(_message.Message):
    __slots__ = ("state", "app")
    STATE_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    state: str
    app: str
    def __init__(self, state: _Optional[str] = ..., app: _Optional[str] = ...) -> None: ...

class ListApplicationsResponse(_message.Message):
    __slots__ = ("applications", "unavailable")
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    applications: _containers.RepeatedCompositeFieldContainer[Application]
    unavailable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, applications: _Optional[_Iterable[_Union[Application, _Mapping]]] = ..., unavailable: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateAppRequest(_message.Message):
    __slots__ = ("app", "name")
    APP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    app: str
    name: str
    def __init__(self, app: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateAppResponse(_message.Message):
    __slots__ = ("app", "secret")
    APP_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    app: str
    secret: str
    def __init__(self, app: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class RevokeAppRequest(_message.Message):
    __slots__ = ("app",)
    APP_FIELD_NUMBER: _ClassVar[int]
    app: str
    def __init__(self, app: _Optional[str] = ...) -> None: ...

class RevokeAppResponse(_message.Message):
    __slots__ = ("app",)
    APP_FIELD_NUMBER: _ClassVar[int]
    app: str
    def __init__(self, app: _Optional[str] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("application_id", "fields", "quota", "valid_until", "max_grade", "reason")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    MAX_GRADE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    quota: Quota
    valid_until: str
    max_grade: str
    reason: str
    def __init__(self, application_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., quota: _Optional[_Union[Quota, _Mapping]] = ..., valid_until: _Optional[str] = ..., max_grade: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeGrantRequest(_message.Message):
    __slots__ = ("grant_id", "reason")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    reason: str
    def __init__(self, grant_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BlanketGrantRequest(_message.Message):
    __slots__ = ("province", "interface_id", "fields", "purposes", "max_grade", "valid_until", "quota")
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    MAX_GRADE_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    province: str
    interface_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    purposes: _containers.RepeatedScalarFieldContainer[str]
    max_grade: str
    valid_until: str
    quota: Quota
    def __init__(self, province: _Optional[str] = ..., interface_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., purposes: _Optional[_Iterable[str]] = ..., max_grade: _Optional[str] = ..., valid_until: _Optional[str] = ..., quota: _Optional[_Union[Quota, _Mapping]] = ...) -> None: ...

class ListGrantsRequest(_message.Message):
    __slots__ = ("interface_id", "grantee", "include_inactive")
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    interface_id: str
    grantee: str
    include_inactive: bool
    def __init__(self, interface_id: _Optional[str] = ..., grantee: _Optional[str] = ..., include_inactive: _Optional[bool] = ...) -> None: ...

class ListGrantsResponse(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    def __init__(self, grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ...) -> None: ...
