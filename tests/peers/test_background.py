"""Background traffic (witnessed heads) judges no peer: failures of it never open a peer's
breaker, and it is not sent while the breaker is open."""

from __future__ import annotations

import pytest

from gateway.audit.heads import HeadSigner
from gateway.certs import key_file
from gateway.config import load_federation, load_province
from gateway.errors import GatewayError
from gateway.peers import Peers
from gateway.peers.breaker import CLOSED, OPEN
from gateway.peers.witness import WitnessClient
from gateway.tls import NodeTLS
from tests.support.federation import write_federation


async def test_a_witness_that_is_down_never_opens_the_breaker(tmp_path, certs_dir) -> None:
    # js is never started: its peer port refuses every connection.
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=["js", "sh"]))
    peers = Peers(fed, "sh", load_province(fed, "sh").standard, NodeTLS.load(certs_dir, "sh"))
    head = HeadSigner("sh", key_file(certs_dir, "sh").read_bytes()).sign(1, "ab" * 32, "t")
    js = peers.get("js")
    try:
        for _ in range(5):  # more than the breaker's failure threshold
            with pytest.raises(GatewayError):
                await WitnessClient(js).witness(head)
        assert js.breaker.state == CLOSED
        for _ in range(3):
            js.breaker.failure()  # callers' failures do open it
        assert js.breaker.state == OPEN
        with pytest.raises(GatewayError) as skipped:
            await WitnessClient(js).witness(head)
        assert "circuit open" in str(skipped.value)
        assert js.breaker.state == OPEN  # not taken as the probe
    finally:
        await peers.close()
