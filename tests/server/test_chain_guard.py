"""The chain guard: while the node's audit chain is broken, exactly the calls that release data
are refused, on either port; everything else (search, sharing, operator reads, the witness
API, health) goes on, so an operator can look and acknowledge."""

from __future__ import annotations

import grpc
import pytest

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    exchange_pb2,
    federation_pb2,
    ops_pb2,
    sharing_pb2,
)
from gateway.audit import AuditLog
from gateway.audit.integrity import CHECKPOINT_FILE, ChainIntegrity, ChainState
from gateway.errors import GatewayError
from gateway.server.guards import DATA_METHODS, ChainGuard

SERVICES = (
    catalog_pb2.DESCRIPTOR.services_by_name["Catalog"],
    exchange_pb2.DESCRIPTOR.services_by_name["Exchange"],
    sharing_pb2.DESCRIPTOR.services_by_name["Sharing"],
    sharing_pb2.DESCRIPTOR.services_by_name["Admin"],
    ops_pb2.DESCRIPTOR.services_by_name["Ops"],
    federation_pb2.DESCRIPTOR.services_by_name["Federation"],
)
METHODS = [f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods]
RELEASING = {m for m in METHODS if m.rsplit("/", 1)[1] in ("Invoke", "InvokeStream")}


def test_the_data_methods_are_every_invoke_of_both_ports() -> None:
    assert DATA_METHODS == RELEASING
    assert len(RELEASING) == 4


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("state", ["ok", "broken", "acknowledged"])
def test_only_data_calls_are_refused_and_only_while_broken(tmp_path, method, state) -> None:
    with AuditLog(tmp_path / "audit.db", "sh") as log:
        integrity = ChainIntegrity(log, tmp_path / CHECKPOINT_FILE)
        integrity.current = ChainState(state, 7, "entry 7: hash mismatch (row modified)")
        guard = ChainGuard(integrity)
        if state == "broken" and method in RELEASING:
            with pytest.raises(GatewayError) as refused:
                guard(method, None)
            assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
            assert refused.value.reason == "AUDIT_CHAIN_BROKEN"
            assert refused.value.metadata == {"first_bad_seq": "7"}
        else:
            guard(method, None)
