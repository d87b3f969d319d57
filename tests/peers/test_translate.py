"""The one translation of a failed peer call: every grpc status, relayed or not, becomes a
GatewayError of the tree; none escapes as a grpc.RpcError or anything else."""

from __future__ import annotations

import grpc
import pytest

from gateway.errors import (
    ALL_ERRORS,
    DeadlineExceeded,
    GatewayError,
    Internal,
    PermissionDenied,
    Unavailable,
)
from gateway.peers.translate import OWNER, READ, Role, translate
from gateway.status import to_status
from tests.support.rpc import FakeRpcError


def relayed_error(code: grpc.StatusCode) -> FakeRpcError:
    """A refusal the peer sh itself sent: ErrorInfo naming sh, as the server interceptor builds."""
    refusal = GatewayError("no such thing", reason="SOME_REASON", metadata={"k": "v"})
    refusal.code = code
    status = to_status(refusal, "sh")
    return FakeRpcError(code, status.details, status.trailing_metadata)


BY_CODE = {cls.code: cls for cls in ALL_ERRORS}
ROLES = pytest.mark.parametrize("role", [READ, OWNER], ids=["read", "owner"])


@ROLES
@pytest.mark.parametrize("code", list(grpc.StatusCode), ids=lambda c: c.name)
def test_every_transport_status_is_translated(code: grpc.StatusCode, role: Role) -> None:
    err = translate(FakeRpcError(code, "ipv4:127.0.0.1:50532: Connection refused"), "sh", role=role)
    assert isinstance(err, GatewayError)
    assert err.node == "sh" and "127.0.0.1" not in err.message and "sh" in err.message
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        assert isinstance(err, DeadlineExceeded)
        assert err.reason == ("OWNER_TIMEOUT" if role is OWNER else "DEADLINE_EXCEEDED")
    else:
        assert isinstance(err, Unavailable)
        assert err.reason == ("OWNER_UNAVAILABLE" if role is OWNER else code.name)


@ROLES
@pytest.mark.parametrize(
    "code", [c for c in grpc.StatusCode if c != grpc.StatusCode.OK], ids=lambda c: c.name
)
def test_every_relayed_status_keeps_code_reason_and_node(code: grpc.StatusCode, role: Role) -> None:
    err = translate(relayed_error(code), "sh", role=role)
    assert isinstance(err, GatewayError)
    assert type(err) is BY_CODE.get(code, Internal)
    assert (err.reason, err.node, err.message) == ("SOME_REASON", "sh", "no such thing")
    assert err.metadata == {"k": "v"}


def test_a_relayed_refusal_names_the_node_that_refused_not_the_peer_asked() -> None:
    refusal = PermissionDenied("not yours", reason="NAMESPACE_VIOLATION", node="zj")
    status = to_status(refusal, "sh")
    err = translate(
        FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, status.details, status.trailing_metadata),
        "sh",
    )
    assert isinstance(err, PermissionDenied) and err.node == "zj"


def test_messages_name_the_peer_by_role() -> None:
    unreachable = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused")
    assert translate(unreachable, "sh", role=OWNER).message == "owner node sh is unreachable"
    assert translate(unreachable, "sh").message == "sh is unreachable"
    slow = FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline")
    assert translate(slow, "sh", timeout=0.25).message == "sh did not answer within 250 ms"
    assert translate(slow, "sh", role=OWNER).message == "owner node sh did not answer in time"


@ROLES
def test_a_peer_address_behind_which_another_node_answers_is_named(role: Role) -> None:
    grpc_says = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:50441: Custom"
        " verification check failed with error: UNAUTHENTICATED: Hostname Verification Check"
        " failed."
    )
    err = translate(
        FakeRpcError(grpc.StatusCode.UNAVAILABLE, grpc_says), "sh", role=role, presented="zj"
    )
    assert isinstance(err, Unavailable) and err.node == "sh"
    assert err.reason == ("OWNER_UNAVAILABLE" if role is OWNER else "UNAVAILABLE")
    assert "presents the certificate of node zj (zj.yrd), not sh.yrd" in err.message
    assert "federation.yaml" in err.message and "127.0.0.1" not in err.message
    assert err.metadata["expected_identity"] == "sh.yrd"
    assert err.metadata["presented_identity"] == "zj.yrd"
