"""The whole 申请-审核-授权 workflow and authorized calls across two real nodes (js → sh)."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from gateway._pb.yrd.v1 import (
    exchange_pb2,
    exchange_pb2_grpc,
    federation_pb2,
    federation_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
)
from gateway.certs import tls_name
from gateway.config import load_federation
from gateway.peers import MD_HOPS, MD_NODE, MD_STANDARD
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET, MD_OPERATOR
from gateway.tls import NodeTLS, channel_options_for
from tests.support.cluster import Cluster, grant_via_application, invoke, new_app, node, start
from tests.support.federation import HeldClock, write_federation
from tests.support.names import APP, PURPOSE, RESIDENT, ROSTER, UNTIL, VERIFY
from tests.support.nodes import stop_all
from tests.support.refusals import refused


@pytest_asyncio.fixture
async def cluster(tmp_path, certs_dir):
    fed = load_federation(write_federation(tmp_path, certs_dir, node_ids=("js", "sh")))
    clock = HeldClock()
    running = Cluster(fed, await start(fed, ("js", "sh"), clock), [])
    running.clock = clock
    yield running
    await stop_all(running)


async def test_whole_workflow_apply_approve_call_revoke(cluster: Cluster):
    creds = await new_app(cluster)
    person = cluster.samples("sh")
    params = {"id_number": person["id_number"]}
    await refused(
        invoke(cluster, creds, params), grpc.StatusCode.PERMISSION_DENIED, "NO_GRANT", node="sh"
    )

    grant = await grant_via_application(
        cluster,
        creds,
        ["id_number", "name", "gender", "birth_date", "household_type", "ethnicity"],
        narrow_fields=["id_number", "name", "gender", "household_type", "ethnicity"],
    )
    assert grant.grantee == APP and grant.state == "active"
    assert list(grant.fields) == ["id_number", "name", "gender", "household_type", "ethnicity"]

    listed = await cluster.stub("js", sharing_pb2_grpc.SharingStub).ListApplications(
        sharing_pb2.ListApplicationsRequest(), metadata=creds, timeout=5
    )
    assert [a.state for a in listed.applications] == ["approved"]

    reply = await invoke(cluster, creds, params)
    assert reply.served_by == "sh" and reply.record_count == 1
    record = dict(reply.records[0].fields)
    assert set(record) == {"id_number", "name", "gender", "household_type"}
    assert record["id_number"] != person["id_number"]
    assert record["id_number"][:6] == person["id_number"][:6]
    assert record["id_number"][-4:] == person["id_number"][-4:]
    assert "*" in record["id_number"] and "*" in record["name"]
    assert record["name"][0] == person["name"][0]
    assert {m.field for m in reply.masked_fields} == {"id_number", "name"}
    assert {d.field: d.reason for d in reply.dropped_fields} == {"ethnicity": "L4_NEVER_LEAVES"}
    assert reply.grade == "L3"

    await refused(
        invoke(cluster, creds, params, purpose="商业营销"),
        grpc.StatusCode.PERMISSION_DENIED,
        "PURPOSE_NOT_GRANTED",
        node="sh",
    )
    await refused(
        invoke(cluster, creds, params, fields=["mobile"]),
        grpc.StatusCode.PERMISSION_DENIED,
        "FIELD_NOT_GRANTED",
        node="sh",
    )
    await refused(
        invoke(cluster, creds, params, fields=["ethnicity"]),
        grpc.StatusCode.PERMISSION_DENIED,
        "L4_NOT_RELEASABLE",
        node="sh",
    )

    admin, md = cluster.operator("sh")
    await admin.RevokeGrant(
        sharing_pb2.RevokeGrantRequest(grant_id=grant.id, reason="到期清理"), metadata=md, timeout=5
    )
    await refused(
        invoke(cluster, creds, params),
        grpc.StatusCode.PERMISSION_DENIED,
        "GRANT_REVOKED",
        node="sh",
    )


async def test_rejection_needs_a_reason_and_ends_the_application(cluster: Cluster):
    creds = await new_app(cluster)
    application = await cluster.stub("js", sharing_pb2_grpc.SharingStub).Apply(
        sharing_pb2.ApplyRequest(
            interface_id=RESIDENT, fields=["gender"], purpose=PURPOSE, valid_until=UNTIL
        ),
        metadata=creds,
        timeout=5,
    )
    admin, md = cluster.operator("sh")
    await refused(
        admin.Reject(
            sharing_pb2.DecideRequest(application_id=application.id), metadata=md, timeout=5
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "MISSING_REASON",
    )
    rejected = await admin.Reject(
        sharing_pb2.DecideRequest(application_id=application.id, reason="用途与数据不相称"),
        metadata=md,
        timeout=5,
    )
    assert rejected.state == "rejected"
    await refused(
        admin.Approve(
            sharing_pb2.DecideRequest(application_id=application.id), metadata=md, timeout=5
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "APPLICATION_DECIDED",
    )


async def test_quota_exhaustion(cluster: Cluster):
    creds = await new_app(cluster)
    await grant_via_application(
        cluster, creds, ["gender"], quota=sharing_pb2.Quota(per_minute=2, per_day=100)
    )
    params = {"id_number": cluster.samples("sh")["id_number"]}
    assert cluster.clock is not None
    with cluster.clock.held():  # one minute window, however late in the minute this runs
        for _ in range(2):
            await invoke(cluster, creds, params)
        await refused(
            invoke(cluster, creds, params),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "QUOTA_MINUTE_EXCEEDED",
            node="sh",
        )


@pytest.mark.parametrize(
    "params, field, reason",
    [
        ({"id_number": "11010519491231003X"}, "params.id_number", "BAD_CHECK_DIGIT"),
        ({"id_number": "11010519491231002Y"}, "params.id_number", "BAD_FORMAT"),
        ({"id_number": "110105194912310021"}, "params.id_number", "BAD_CHECK_DIGIT"),
        ({}, "params.id_number", "MISSING_PARAM"),
        ({"id_number": "11010519491231002X", "sql": "1 OR 1=1"}, "params.sql", "UNKNOWN_PARAM"),
    ],
)
async def test_parameters_are_validated_by_the_owner(cluster: Cluster, params, field, reason):
    creds = await new_app(cluster)
    await grant_via_application(cluster, creds, ["gender"])
    failure = await refused(
        invoke(cluster, creds, params), grpc.StatusCode.INVALID_ARGUMENT, reason, node="sh"
    )
    assert failure.metadata.get("field") == field


async def test_verify_only_interface_answers_match_and_nothing_else(cluster: Cluster):
    creds = await new_app(cluster)
    await grant_via_application(cluster, creds, [], interface=VERIFY)
    person = cluster.samples("sh")
    yes = await invoke(
        cluster, creds, {"id_number": person["id_number"], "name": person["name"]}, interface=VERIFY
    )
    assert yes.verify_only and yes.match and not yes.records
    no = await invoke(
        cluster, creds, {"id_number": person["id_number"], "name": "张冒名"}, interface=VERIFY
    )
    assert no.verify_only and not no.match and not no.records


async def test_bad_app_credential_is_unauthenticated(cluster: Cluster):
    await new_app(cluster)
    bad = ((MD_APP_ID, APP), (MD_APP_SECRET, "not-the-secret"))
    await refused(
        invoke(cluster, bad, {"id_number": "11010519491231002X"}),
        grpc.StatusCode.UNAUTHENTICATED,
        "BAD_CREDENTIAL",
        node="js",
    )
    await refused(
        invoke(cluster, (), {"id_number": "11010519491231002X"}),
        grpc.StatusCode.UNAUTHENTICATED,
        "MISSING_CREDENTIAL",
        node="js",
    )


async def test_app_secret_is_not_an_operator_token(cluster: Cluster):
    creds = await new_app(cluster)
    admin = cluster.stub("js", sharing_pb2_grpc.AdminStub)
    await refused(
        admin.ListGrants(
            sharing_pb2.ListGrantsRequest(), metadata=((MD_OPERATOR, creds[1][1]),), timeout=5
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "BAD_CREDENTIAL",
    )


async def test_peer_may_only_assert_apps_of_its_own_namespace(cluster: Cluster):
    """A js node forwarding an app of zj (or sh) is refused by the owner."""
    fed = cluster.fed
    tls = NodeTLS.load(fed.certs_dir, "js")
    channel = aio.secure_channel(
        fed.node("sh").peer, tls.channel_credentials(), options=channel_options_for("sh")
    )
    cluster.channels.append(channel)
    stub = federation_pb2_grpc.FederationStub(channel)
    standard = cluster.nodes["sh"].standard.fingerprint
    for spoofed in ("zj/rsj/pension-transfer", "sh/gaj/insider"):
        await refused(
            stub.Invoke(
                federation_pb2.ForwardedInvoke(
                    app=spoofed,
                    call=exchange_pb2.InvokeRequest(
                        interface_id=RESIDENT,
                        params={"id_number": "11010519491231002X"},
                        purpose=PURPOSE,
                    ),
                ),
                metadata=((MD_NODE, "js"), (MD_STANDARD, standard), (MD_HOPS, "1")),
                timeout=5,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "NAMESPACE_VIOLATION",
            node="sh",
        )
    # Claiming to be another node than the certificate says is refused too.
    await refused(
        stub.Invoke(
            federation_pb2.ForwardedInvoke(
                app="zj/rsj/x", call=exchange_pb2.InvokeRequest(interface_id=RESIDENT)
            ),
            metadata=((MD_NODE, "zj"), (MD_STANDARD, standard)),
            timeout=5,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_IDENTITY_MISMATCH",
        node="sh",
    )
    assert tls_name("sh") == "sh.yrd"


async def test_grant_survives_an_owner_restart(cluster: Cluster):
    creds = await new_app(cluster)
    await grant_via_application(cluster, creds, ["gender", "household_type"])
    await cluster.nodes["sh"].stop(0)
    assert cluster.clock is not None
    cluster.nodes["sh"] = node(cluster.fed, "sh", cluster.clock)
    await cluster.nodes["sh"].start()
    reply = await invoke(cluster, creds, {"id_number": cluster.samples("sh")["id_number"]})
    assert set(reply.records[0].fields) == {"gender", "household_type"}


async def test_local_interface_goes_through_the_same_pipeline(cluster: Cluster):
    creds = await new_app(cluster, "sh/rsj/local-app")
    exchange = cluster.stub("sh", exchange_pb2_grpc.ExchangeStub)
    params = {"id_number": cluster.samples("sh")["id_number"]}
    request = exchange_pb2.InvokeRequest(interface_id=RESIDENT, params=params, purpose=PURPOSE)
    await refused(
        exchange.Invoke(request, metadata=creds, timeout=5),
        grpc.StatusCode.PERMISSION_DENIED,
        "NO_GRANT",
        node="sh",
    )


async def test_interrupted_bulk_stream_resumes_without_loss_or_duplicates(cluster: Cluster):
    creds = await new_app(cluster)
    await grant_via_application(cluster, creds, ["record_id", "name", "district"], interface=ROSTER)
    district = cluster.samples("sh")["district"]
    exchange = cluster.stub("js", exchange_pb2_grpc.ExchangeStub)
    request = exchange_pb2.InvokeStreamRequest(
        call=exchange_pb2.InvokeRequest(
            interface_id=ROSTER, params={"district": district}, purpose=PURPOSE
        ),
        batch_size=7,
    )

    whole = []
    async for batch in exchange.InvokeStream(request, metadata=creds, timeout=30):
        whole += [dict(r.fields)["record_id"] for r in batch.records]
    assert len(whole) > 14 and len(set(whole)) == len(whole)

    got, token = [], ""
    call = exchange.InvokeStream(request, metadata=creds, timeout=30)
    async for batch in call:
        got += [dict(r.fields)["record_id"] for r in batch.records]
        token = batch.resume_token
        if len(got) >= 14:
            call.cancel()  # the transfer is interrupted mid-way
            break
    resumed = exchange_pb2.InvokeStreamRequest()
    resumed.CopyFrom(request)
    resumed.resume_token = token
    async for batch in exchange.InvokeStream(resumed, metadata=creds, timeout=30):
        got += [dict(r.fields)["record_id"] for r in batch.records]
    assert got == whole


async def test_the_catalog_lists_the_resource_each_interface_serves(cluster: Cluster):
    from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc

    iface = cluster.nodes["sh"].interfaces[VERIFY]
    catalog = cluster.stub("js", catalog_pb2_grpc.CatalogStub)
    got = await catalog.Get(catalog_pb2.GetRequest(code=iface.resource_code), timeout=5)
    assert (got.entry.name, got.entry.province, got.entry.format) == (iface.name, "sh", "interface")
    # The resource's grade is its items' highest (each item graded once, in the standard).
    top = max(f.grade for f in iface.fields)
    assert got.entry.grade == top and "核验" in got.entry.share_conditions
    found = await catalog.Search(catalog_pb2.SearchRequest(query=iface.name), timeout=5)
    assert iface.resource_code in [r.entry.code for r in found.results]
