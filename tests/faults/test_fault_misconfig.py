"""A misconfigured federation, against four real node processes: a peer entry that points at
the wrong node is refused, naming the identity expected and the one presented, and forwarded calls
that would loop or land on a non-owner fail fast with FAILED_PRECONDITION."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from gateway._pb.yrd.v1 import (
    exchange_pb2,
    federation_pb2,
    federation_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
)
from gateway.config import load_standard
from gateway.peers import MD_HOPS, MD_NODE, MD_STANDARD
from gateway.status import failure_of
from gateway.tls import NodeTLS, channel_options_for
from tests.support.names import PURPOSE, RESIDENT
from yrdtools.faults import BIG_QUOTA, Federation, states

APP = "js/rsj/misconfig-probe"


@pytest.fixture(scope="module")
def federation(tmp_path_factory, certs_dir):
    fed = Federation(tmp_path_factory.mktemp("faults-misconfig"), certs_dir=certs_dir)
    # js's federation file sends everything meant for sh to zj's peer port.
    fed.misconfigure("js", {"sh": fed.address("zj", "peer")})
    try:
        fed.start()
        yield fed
    finally:
        fed.close()


@pytest_asyncio.fixture
async def fed(federation):
    yield federation
    await federation.aclose()


async def blanket_grant_to_js(fed: Federation) -> None:
    admin = sharing_pb2_grpc.AdminStub(fed.channel("sh"))
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
    await admin.GrantProvince(
        sharing_pb2.BlanketGrantRequest(
            province="js",
            interface_id=RESIDENT,
            fields=["gender", "household_type"],
            purposes=[PURPOSE],
            max_grade="L3",
            valid_until=until,
            quota=BIG_QUOTA,
        ),
        metadata=fed.operator_metadata("sh"),
        timeout=10,
    )


@pytest.mark.timeout(90)
async def test_peer_entry_pointing_at_another_node_is_refused_not_followed(fed: Federation):
    await blanket_grant_to_js(fed)
    app = await fed.create_app(APP)
    params = {"id_number": fed.samples("sh")["id_number"]}
    for attempt in range(5):
        out = await fed.call(app, RESIDENT, params, PURPOSE, timeout=3.0)
        # Refused at once, not waited on: a call that waited would end DEADLINE_EXCEEDED.
        assert out.code == grpc.StatusCode.UNAVAILABLE, str(out)
        assert out.node == "sh" and out.reason == "OWNER_UNAVAILABLE" and "sh" in out.message
        # The mismatch is named: which identity was expected, which one was presented (once
        # sh's breaker opens, a call is refused without trying, and says so).
        named = "presents the certificate of node zj (zj.yrd), not sh.yrd" in out.message
        assert named or "circuit open" in out.message, str(out)
        assert named or attempt > 0, str(out)
    applied = await fed.apply(app, RESIDENT, ["gender"], PURPOSE, timeout=3.0)
    assert applied.code == grpc.StatusCode.UNAVAILABLE, str(applied)

    searched = await fed.search("js", "户籍", timeout=3.0)
    assert searched.ok, str(searched)
    by = states(searched.reply)
    assert by["sh"][0] in ("FAILED", "SKIPPED"), by
    assert all(by[p][0] == "ANSWERED" for p in ("js", "zj", "ah")), by
    assert "sh" not in {r.entry.province for r in searched.reply.results}
    message = next(p.message for p in searched.reply.provinces if p.province == "sh")
    if by["sh"][0] == "FAILED":  # a skipped province (breaker open) names only the breaker
        assert message.startswith("sh is unreachable: its address presents the certificate of"), (
            message
        )
        assert "of node zj (zj.yrd), not sh.yrd" in message, message
    else:
        assert "sh" in message and "zj" not in message, message

    # zj, the node behind the wrong address, never acted for js's app: no loop, no side effect.
    assert not [r for r in fed.audit_rows("zj") if r.app == APP]
    assert not fed.sharing_rows("zj", "applications")
    assert not [r for r in fed.audit_rows("sh") if r.app == APP]

    # The same call works once js's file is right again: the refusal was the misconfiguration.
    fed.misconfigure("js", {})
    fed.restart("js")
    out = await fed.call(app, RESIDENT, params, PURPOSE, timeout=5.0)
    assert out.ok, str(out)
    assert set(out.reply.records[0].fields) == {"gender", "household_type"}


async def forwarded(fed: Federation, interface: str, hops: str) -> aio.AioRpcError:
    """Federation.Invoke straight at sh's peer port, with js's certificate."""
    tls = NodeTLS.load(fed.certs_dir, "js")
    async with aio.secure_channel(
        fed.address("sh", "peer"), tls.channel_credentials(), options=channel_options_for("sh")
    ) as channel:
        stub = federation_pb2_grpc.FederationStub(channel)
        standard = load_standard(fed.fed.standard_path).fingerprint
        with pytest.raises(aio.AioRpcError) as info:
            await stub.Invoke(
                federation_pb2.ForwardedInvoke(
                    app=APP,
                    call=exchange_pb2.InvokeRequest(
                        interface_id=interface,
                        params={"id_number": "11010519491231002X"},
                        purpose=PURPOSE,
                    ),
                ),
                metadata=((MD_NODE, "js"), (MD_STANDARD, standard), (MD_HOPS, hops)),
                timeout=5,
            )
        return info.value


@pytest.mark.parametrize(
    "interface, hops, reason",
    [
        (RESIDENT, "2", "HOP_LIMIT_EXCEEDED"),
        (RESIDENT, "9", "HOP_LIMIT_EXCEEDED"),
        ("zj/gat/resident-basic/v1", "1", "NOT_OWNER"),
    ],
)
@pytest.mark.timeout(30)
async def test_forwarded_call_that_would_loop_is_refused(fed: Federation, interface, hops, reason):
    def served() -> int:
        return sum(1 for r in fed.audit_rows("sh") if r.app == APP and r.decision == "allow")

    before = served()
    failure = failure_of(await forwarded(fed, interface, hops))
    assert failure.code == grpc.StatusCode.FAILED_PRECONDITION, failure
    assert (failure.reason, failure.node) == (reason, "sh"), failure
    assert served() == before  # refused before anything was authorized or served
