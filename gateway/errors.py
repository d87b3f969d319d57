"""The gateway's error tree: every exception the package raises on purpose sits in it.

Three roots. A ``GatewayError`` is an expected refusal: it carries a gRPC status and a stable,
machine-readable reason, and reaches the caller. A ``ConfigError`` stops a node at start-up and
never reaches a client. A ``Fault`` is a failure inside the node that is caught at one known
place and turned into a ``GatewayError``, a partial answer or a log line; it never reaches a
caller as itself::

    Exception
    ├── ConfigError                        a file, the key and what was expected
    │   └── SchemaTooNew                   a store's schema is newer than this node knows
    ├── GatewayError                       status + reason + the refusing node
    │   ├── InvalidArgument                INVALID_ARGUMENT (names the field)
    │   ├── NotFound                       NOT_FOUND
    │   ├── Unauthenticated                UNAUTHENTICATED
    │   ├── PermissionDenied               PERMISSION_DENIED
    │   ├── ResourceExhausted              RESOURCE_EXHAUSTED
    │   ├── FailedPrecondition             FAILED_PRECONDITION
    │   ├── Unavailable                    UNAVAILABLE (names the node that is unavailable)
    │   ├── DeadlineExceeded               DEADLINE_EXCEEDED
    │   └── Internal                       INTERNAL (fixed message; details only in the log)
    └── Fault                              where it is caught:
        ├── AuditError       audit.writer  the audit log failed
        │   ├── AuditWriteError audit.writer  not durable: the call is refused
        │   │   └── AuditStoreUnavailable audit.writer  its database is out of reach: UNAVAILABLE
        │   └── AuditReadError audit.writer   could not be read
        ├── PeerFailure      partial       a peer's part of a read: its province's state
        ├── TableFull        shm           a shared counter table has no free row
        ├── QuotaTableFull   sharing.quota no room for a new quota window: RESOURCE_EXHAUSTED
        ├── UnmappedValue    crosswalk     a word the vocabulary lacks (also a ValueError)
        ├── PostgresMissing  pgcluster     no PostgreSQL server to start (a setup step is missing)
        ├── _OutOfTime       peers.policy  no budget left before a peer call could start
        └── _Failure         exchange.backends.http  an upstream failure (worker thread)

One interceptor (``gateway.server.interceptors``) turns a ``GatewayError`` into a status with
``google.rpc.ErrorInfo`` details naming the refusing node; anything else that reaches it is logged
and answers INTERNAL with a fixed message. ``tests/test_errors.py`` holds this drawing to the code.
"""

from __future__ import annotations

import grpc

ERROR_DOMAIN = "yrd-gateway"


class ConfigError(Exception):
    """A configuration file is wrong: names the file, the key and what was expected."""

    def __init__(self, path: object, key: str, expected: str) -> None:
        self.path = str(path)
        self.key = key
        self.expected = expected
        super().__init__(f"{self.path}: {key}: {expected}")


class SchemaTooNew(ConfigError):
    """A store's schema is at a version newer than this node knows (a newer node migrated it):
    the node refuses to start rather than write an older layout into it."""

    def __init__(self, component: str, found: int, known: int, *, where: str) -> None:
        self.component, self.found, self.known = component, found, known
        super().__init__(
            where,
            f"schema_migrations.{component}",
            f"a {component} schema this node knows (version {known} at most); the database is "
            f"at version {found}, written by a newer node: upgrade this node",
        )


class Fault(Exception):
    """A failure inside the node, caught where it is expected and turned into a refusal, a
    partial answer or a log line; the subclasses live beside the code that raises them."""


class GatewayError(Exception):
    """An expected refusal: a gRPC status, a stable reason and a message safe to show a caller."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason: str = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field: str | None = None,
        node: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field
        #: The node that refused. Filled in by the translation interceptor when left empty.
        self.node = node
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason}: {self.message})"

    @staticmethod
    def relayed(
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str,
        node: str,
        field: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> GatewayError:
        """Another node's refusal, passed on unchanged: same status, reason and refusing node."""
        cls = next((c for c in ALL_ERRORS if c.code == code), Internal)
        err = GatewayError.__new__(cls)  # bypass InvalidArgument's (field, message) signature
        GatewayError.__init__(
            err, message, reason=reason, field=field, node=node, metadata=metadata
        )
        return err


class InvalidArgument(GatewayError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str, *, reason: str | None = None, **kw) -> None:
        super().__init__(f"{field}: {message}", reason=reason, field=field, **kw)


class NotFound(GatewayError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class Unauthenticated(GatewayError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(GatewayError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class ResourceExhausted(GatewayError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class FailedPrecondition(GatewayError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Unavailable(GatewayError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(GatewayError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class Internal(GatewayError):
    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"

    def __init__(self, message: str = "internal error", **kw) -> None:
        super().__init__(message, **kw)


ALL_ERRORS: tuple[type[GatewayError], ...] = (
    InvalidArgument,
    NotFound,
    Unauthenticated,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Unavailable,
    DeadlineExceeded,
    Internal,
)
