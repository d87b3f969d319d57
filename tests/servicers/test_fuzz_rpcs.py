"""Hypothesis drives every public RPC of a two-node federation with hostile fields.

Each example must end in a reply or a proper refusal (an expected status with ErrorInfo naming
the refusing node and, for INVALID_ARGUMENT, the field), quickly, leaking nothing, and leave
every port of both nodes answering health checks. Bad credentials never get anything through.

The bugs this suite found are fixed and pinned as regression cases in test_error_leaks.py.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, timedelta, timezone

import grpc
import pytest
from grpc import aio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    exchange_pb2,
    federation_pb2,
    ops_pb2,
    ops_pb2_grpc,
    sharing_pb2,
)
from gateway.catalog.query import encode_token
from gateway.peers import MD_HOPS, MD_NODE, MD_STANDARD
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET, MD_OPERATOR
from tests.support.hostile import (
    APP,
    INTERFACES,
    PURPOSE,
    RESIDENT,
    RESIDENT_FIELDS,
    ROSTER,
    ROSTER_FIELDS,
    VALID_ID,
    Refusal,
    collect,
    exercise,
    int32,
    many,
    params,
    printable_md,
    small_text,
    text,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

FUZZ = settings(
    # YRD_FUZZ_EXAMPLES=500 for a long hunt; CI keeps the suite short.
    max_examples=int(os.environ.get("YRD_FUZZ_EXAMPLES", "50")),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)

UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED

# --------------------------------------------------------------------------- field strategies

FIELDS = RESIDENT_FIELDS + ROSTER_FIELDS + ("bank_card", "nope", "id_number ")
field_lists = many(*FIELDS)
interface_ids = text(*INTERFACES, "sh/gaj/nope/v1", "js/x/y/v999", "zj/gaj/a/v1")
purposes = text(PURPOSE, "商业营销", " 养老保险关系转移接续 ", "养老保险关系转移接续\u200b")
APPS = (APP, "js/rsj/other-app", "sh/gaj/insider", "zj/rsj/x")
apps = text(*APPS)

_zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=8)),
        timezone(timedelta(hours=-14)),
        timezone(timedelta(hours=14, minutes=0)),
    ]
)
good_times = st.sampled_from([until(1), until(30), until(400), until(1000)])
times = st.one_of(
    good_times,
    good_times,
    good_times,
    # Any year from 1 to 9999, in zones that push the UTC form past either end.
    st.datetimes(timezones=_zones).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.sampled_from(
        [
            "",
            "2027-01-01T00:00:00Z",
            "2027-13-45T00:00:00Z",
            "tomorrow",
            "0",
            "2027-02-30",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "2027-01-01T25:61:61+08:00",
            "２０２７-01-01T00:00:00Z",
        ]
    ),
    small_text,
)
quotas = st.builds(sharing_pb2.Quota, per_minute=int32, per_day=int32)
GRADES = ("L1", "L2", "L3", "L4", "L0", "L9", "l2")
grades = text(*GRADES)
tokens = st.one_of(
    text(huge=1_000_000),
    st.builds(lambda o, q: encode_token(o, q), st.integers(-(2**70), 2**70), small_text),
    st.binary(max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
)

filters = st.builds(
    catalog_pb2.SearchFilters,
    categories=many("101", "1", "2", "3", "999", "10", most=2000),
    grades=many(*GRADES, most=2000),
    share_types=many("unconditional", "conditional", "none", most=2000),
    provinces=many("js", "sh", "zj", "ah", most=2000),
    departments=many("gaj", "sh/gaj", "js/rst", "zj/x", "a-b_c", most=2000),
    update_cycles=many("realtime", "daily", "yearly", most=2000),
)
searches = st.builds(
    catalog_pb2.SearchRequest,
    query=text("人口", "户籍 社保", "population", "gb11643"),
    filters=st.one_of(st.just(catalog_pb2.SearchFilters()), filters),
    page_size=int32,
    page_token=st.one_of(st.just(""), tokens),
    scope=st.one_of(st.sampled_from([0, 1, 2, 3]), int32),
    provinces=many("js", "sh", "zj", most=2000),
)


def invoke_requests(valid_params):
    return st.builds(
        exchange_pb2.InvokeRequest,
        interface_id=interface_ids,
        params=params(*valid_params),
        purpose=purposes,
        fields=field_lists,
    )


def stream_requests(valid_params):
    return st.builds(
        exchange_pb2.InvokeStreamRequest,
        call=invoke_requests(valid_params),
        resume_token=st.one_of(st.just(""), tokens),
        batch_size=int32,
    )


applications = st.builds(
    sharing_pb2.ApplyRequest,
    interface_id=interface_ids,
    fields=field_lists,
    purpose=purposes,
    valid_from=st.one_of(st.just(""), times),
    valid_until=times,
    quota=quotas,
)

# --------------------------------------------------------------------------- credentials

APP_CREDS = st.sampled_from(
    ["valid"] * 12
    + ["missing", "only_id", "wrong_secret", "bad_id", "other_province", "long_secret", "bin"]
)
OP_CREDS = st.sampled_from(
    ["valid"] * 12 + ["missing", "junk", "app_secret", "other_node", "long", "bin"]
)
PEER = st.sampled_from(
    ["valid"] * 12 + ["self_cert", "claims_other", "bad_standard", "no_metadata", "bad_hops"]
)


def app_md(h, variant: str, junk: str):
    secret = h.app_md[1][1]
    return {
        "valid": h.app_md,
        "missing": (),
        "only_id": ((MD_APP_ID, APP),),
        "wrong_secret": ((MD_APP_ID, APP), (MD_APP_SECRET, junk or "x")),
        "bad_id": ((MD_APP_ID, "!" + junk), (MD_APP_SECRET, secret)),
        "other_province": ((MD_APP_ID, "sh/gaj/insider"), (MD_APP_SECRET, secret)),
        "long_secret": ((MD_APP_ID, APP), (MD_APP_SECRET, secret * 7)),
        "bin": ((MD_APP_ID + "-bin", APP.encode()), (MD_APP_SECRET + "-bin", b"\x00\xff")),
    }[variant]


def op_md(h, node: str, variant: str, junk: str):
    return {
        "valid": h.op_md(node),
        "missing": (),
        "junk": ((MD_OPERATOR, junk or "x"),),
        "app_secret": ((MD_OPERATOR, h.app_md[1][1]),),
        "other_node": h.op_md("js" if node == "sh" else "sh"),
        "long": ((MD_OPERATOR, h.operator_token(node) * 7),),
        "bin": ((MD_OPERATOR + "-bin", h.operator_token(node).encode()),),
    }[variant]


def check_app_denial(variant: str, outcome) -> None:
    """Deny by default: a call without a good app credential never gets through."""
    if variant == "valid":
        return
    assert isinstance(outcome, Refusal), f"{variant} credential was let through"
    expected = DENIED if variant == "other_province" else UNAUTH
    assert outcome.code == expected, (variant, outcome)
    assert outcome.node == "js"


def check_op_denial(variant: str, outcome) -> None:
    if variant == "valid":
        return
    assert isinstance(outcome, Refusal), f"{variant} operator token was let through"
    assert outcome.code == UNAUTH, (variant, outcome)


async def with_app(h, variant, junk, call, request):
    md = app_md(h, variant, junk)
    outcome = await exercise(h, lambda: call(request, metadata=md), request=request, metadata=md)
    check_app_denial(variant, outcome)
    return outcome


async def with_operator(h, node, variant, junk, call, request):
    md = op_md(h, node, variant, junk)
    outcome = await exercise(h, lambda: call(request, metadata=md), request=request, metadata=md)
    check_op_denial(variant, outcome)
    return outcome


# --------------------------------------------------------------------------- Catalog


@FUZZ
@given(request=searches)
async def test_catalog_search(harness, request):
    outcome = await exercise(
        harness, lambda: harness.catalog().Search(request, timeout=10), request=request
    )
    if not isinstance(outcome, Refusal):
        assert outcome.answered_by == "js"
        assert not outcome.partial, outcome.provinces  # both nodes are up: nobody failed
        assert len(outcome.results) <= 100


@FUZZ
@given(code=text("101001/320001", "101001/310001", "101001/999999", "101/1", "101001/32000"))
async def test_catalog_get(harness, code):
    request = catalog_pb2.GetRequest(code=code)
    outcome = await exercise(
        harness, lambda: harness.catalog().Get(request, timeout=10), request=request
    )
    if not isinstance(outcome, Refusal):
        assert outcome.entry.code == code


# --------------------------------------------------------------------------- Exchange


@FUZZ
@given(data=st.data(), creds=APP_CREDS, junk=printable_md)
async def test_exchange_invoke(harness, data, creds, junk):
    person = harness.samples
    request = data.draw(
        invoke_requests(
            [
                {"id_number": person["id_number"]},
                {"id_number": person["id_number"], "name": person["name"]},
                {"id_number": VALID_ID},
            ]
        )
    )
    outcome = await with_app(
        harness,
        creds,
        junk,
        lambda r, metadata: harness.exchange().Invoke(r, metadata=metadata, timeout=10),
        request,
    )
    if not isinstance(outcome, Refusal):
        assert outcome.served_by == request.interface_id[:2] and outcome.provider_audit_hash
        released = {f for record in outcome.records for f in record.fields}
        assert "ethnicity" not in released  # L4 never leaves the province


@FUZZ
@given(data=st.data(), creds=APP_CREDS, junk=printable_md)
async def test_exchange_invoke_stream(harness, data, creds, junk):
    district = harness.samples["district"]
    request = data.draw(
        stream_requests(
            [{"district": district}, {"district": district, "insurance_type": "养老保险"}]
        )
    )
    outcome = await with_app(
        harness,
        creds,
        junk,
        lambda r, metadata: collect(
            harness.exchange().InvokeStream(r, metadata=metadata, timeout=10)
        ),
        request,
    )
    if not isinstance(outcome, Refusal):
        for batch in outcome:
            assert batch.served_by == request.call.interface_id[:2]
            assert len(batch.records) <= (request.batch_size or 500)


@FUZZ
@given(provinces=many("js", "sh", "zj", "ah"), creds=APP_CREDS, junk=printable_md)
async def test_exchange_list_interfaces(harness, provinces, creds, junk):
    request = exchange_pb2.ListInterfacesRequest(provinces=provinces)
    outcome = await with_app(
        harness,
        creds,
        junk,
        lambda r, metadata: harness.exchange().ListInterfaces(r, metadata=metadata, timeout=10),
        request,
    )
    if not isinstance(outcome, Refusal):
        assert not outcome.unavailable


# --------------------------------------------------------------------------- Sharing


@FUZZ
@given(request=applications, creds=APP_CREDS, junk=printable_md)
async def test_sharing_apply(harness, request, creds, junk):
    outcome = await with_app(
        harness,
        creds,
        junk,
        lambda r, metadata: harness.sharing().Apply(r, metadata=metadata, timeout=10),
        request,
    )
    if not isinstance(outcome, Refusal):
        assert outcome.state == "pending" and outcome.app == APP
        assert outcome.owner == request.interface_id[:2]


@FUZZ
@given(
    state=text("pending", "approved", "rejected", ""), app=apps, creds=APP_CREDS, junk=printable_md
)
async def test_sharing_list_applications(harness, state, app, creds, junk):
    request = sharing_pb2.ListApplicationsRequest(state=state, app=app)
    outcome = await with_app(
        harness,
        creds,
        junk,
        lambda r, metadata: harness.sharing().ListApplications(r, metadata=metadata, timeout=10),
        request,
    )
    if not isinstance(outcome, Refusal):
        assert {a.app for a in outcome.applications} <= {APP}  # only the caller's own


# --------------------------------------------------------------------------- Admin

new_app_ids = st.one_of(
    st.from_regex(r"js/[a-z0-9-]{1,8}/[a-z0-9-]{1,12}", fullmatch=True),
    text(APP, "sh/gaj/x", "js/RSJ/x", "js//x", "js/rsj/x/y"),
)


@FUZZ
@given(app=new_app_ids, name=text("模糊测试应用"), creds=OP_CREDS, junk=printable_md)
async def test_admin_create_app(harness, app, name, creds, junk):
    request = sharing_pb2.CreateAppRequest(app=app, name=name)
    outcome = await with_operator(
        harness, "js", creds, junk, harness.admin("js").CreateApp, request
    )
    if not isinstance(outcome, Refusal):
        assert outcome.app == app and len(outcome.secret) >= 32


@FUZZ
@given(
    app=text("js/rsj/victim", "js/rsj/nobody", "sh/gaj/insider"),
    creds=OP_CREDS,
    junk=printable_md,
)
async def test_admin_revoke_app(harness, app, creds, junk):
    if creds == "valid" and app == "js/rsj/victim":
        try:
            await harness.new_app(app)
        except aio.AioRpcError:  # created by an earlier example
            pass
    request = sharing_pb2.RevokeAppRequest(app=app)
    await with_operator(harness, "js", creds, junk, harness.admin("js").RevokeApp, request)


@FUZZ
@given(
    state=text("pending", "approved", "rejected", ""), app=apps, creds=OP_CREDS, junk=printable_md
)
async def test_admin_list_applications(harness, state, app, creds, junk):
    request = sharing_pb2.ListApplicationsRequest(state=state, app=app)
    await with_operator(harness, "sh", creds, junk, harness.admin("sh").ListApplications, request)


async def application_id(harness, target: str, junk: str) -> str:
    if target == "fresh":
        return (await harness.pending_application()).id
    if target == "decided":
        listed = await harness.admin("sh").ListApplications(
            sharing_pb2.ListApplicationsRequest(state="approved"),
            metadata=harness.op_md("sh"),
            timeout=10,
        )
        return listed.applications[0].id
    return junk


decisions = st.builds(
    lambda fields, quota, until, grade, reason: sharing_pb2.DecideRequest(
        fields=fields,
        valid_until=until,
        max_grade=grade,
        reason=reason,
        **({"quota": quota} if quota is not None else {}),
    ),
    many("gender", "name", "mobile"),
    st.one_of(
        st.none(),
        st.none(),
        quotas,
        st.builds(sharing_pb2.Quota, per_minute=st.integers(0, 200), per_day=st.integers(0, 2000)),
    ),
    st.one_of(st.just(""), st.just(""), times),
    text("", "L1", "L2", "L3", "L4", "L9"),
    text("同意", "用途与数据不相称", ""),
)
targets = st.sampled_from(["fresh", "fresh", "random", "decided"])


@FUZZ
@given(
    request=decisions,
    target=targets,
    junk=text("app-x"),
    creds=OP_CREDS,
    token_junk=printable_md,
)
async def test_admin_approve(harness, request, target, junk, creds, token_junk):
    request.application_id = await application_id(harness, target, junk)
    outcome = await with_operator(
        harness, "sh", creds, token_junk, harness.admin("sh").Approve, request
    )
    if not isinstance(outcome, Refusal):
        assert outcome.state == "active" and outcome.grantee == APP
        assert set(outcome.fields) <= {"gender", "name"}  # approval only narrows
        assert outcome.max_grade in ("L1", "L2", "L3", "L4")


@FUZZ
@given(
    request=decisions,
    target=targets,
    junk=text("app-x"),
    creds=OP_CREDS,
    token_junk=printable_md,
)
async def test_admin_reject(harness, request, target, junk, creds, token_junk):
    request.application_id = await application_id(harness, target, junk)
    outcome = await with_operator(
        harness, "sh", creds, token_junk, harness.admin("sh").Reject, request
    )
    if not isinstance(outcome, Refusal):
        assert outcome.state == "rejected" and outcome.reason.strip()


@FUZZ
@given(
    target=st.sampled_from(["fresh", "random", "revoked"]),
    junk=text("grant-x"),
    reason=text("到期清理"),
    creds=OP_CREDS,
    token_junk=printable_md,
)
async def test_admin_revoke_grant(harness, target, junk, reason, creds, token_junk):
    grant_id = junk
    if target in ("fresh", "revoked"):
        grant = await harness.blanket_grant()
        grant_id = grant.id
        if target == "revoked":
            await harness.admin("sh").RevokeGrant(
                sharing_pb2.RevokeGrantRequest(grant_id=grant_id),
                metadata=harness.op_md("sh"),
                timeout=10,
            )
    request = sharing_pb2.RevokeGrantRequest(grant_id=grant_id, reason=reason)
    outcome = await with_operator(
        harness, "sh", creds, token_junk, harness.admin("sh").RevokeGrant, request
    )
    assert grant_id not in harness.grants.values()
    if not isinstance(outcome, Refusal):
        assert outcome.state == "revoked"


# A blanket grant's purposes, few or thousands, of any length: PURPOSE_NOT_GRANTED refusals
# under such a grant must stay small enough to relay (see test_error_leaks.py).
blanket_purposes = many(PURPOSE, "整体授权", most=3000)


@FUZZ
@given(
    request=st.builds(
        sharing_pb2.BlanketGrantRequest,
        province=text("js", "js", "js", "sh", "zj", "ah"),
        interface_id=interface_ids,
        fields=field_lists,
        purposes=blanket_purposes,
        max_grade=grades,
        valid_until=times,
        quota=quotas,
    ),
    creds=OP_CREDS,
    junk=printable_md,
)
async def test_admin_grant_province(harness, request, creds, junk):
    outcome = await with_operator(
        harness, "sh", creds, junk, harness.admin("sh").GrantProvince, request
    )
    if not isinstance(outcome, Refusal):
        assert outcome.blanket and outcome.grantee == "js"


@FUZZ
@given(
    interface_id=text(*INTERFACES),
    grantee=apps,
    inactive=st.booleans(),
    creds=OP_CREDS,
    junk=printable_md,
)
async def test_admin_list_grants(harness, interface_id, grantee, inactive, creds, junk):
    request = sharing_pb2.ListGrantsRequest(
        interface_id=interface_id, grantee=grantee, include_inactive=inactive
    )
    await with_operator(harness, "sh", creds, junk, harness.admin("sh").ListGrants, request)


# --------------------------------------------------------------------------- Ops

trace_ids = text("a" * 32, "0" * 32, "A" * 32 + " ", "g" * 32, "a" * 31, huge=1_000_000)
int64 = st.one_of(
    st.sampled_from([0, 1, -1, 1_700_000_000, 9_000_000_000, 2**62, -(2**63), 2**63 - 1]),
    st.integers(-(2**63), 2**63 - 1),
)


def ops(h):
    return ops_pb2_grpc.OpsStub(h.client("js"))


@FUZZ
@given(trace_id=trace_ids, creds=OP_CREDS, junk=printable_md)
async def test_ops_get_trace(harness, trace_id, creds, junk):
    request = ops_pb2.GetTraceRequest(trace_id=trace_id)
    outcome = await with_operator(harness, "js", creds, junk, ops(harness).GetTrace, request)
    if not isinstance(outcome, Refusal):
        assert not outcome.partial and {n.node for n in outcome.nodes} == {"js", "sh"}


@FUZZ
@given(
    request=st.builds(
        ops_pb2.ListTracesRequest,
        app=apps,
        interface=text(*INTERFACES),
        status=text("", "OK", "ERROR", "UNSET"),
        min_duration_ms=st.floats(allow_nan=True, allow_infinity=True),
        since_unix=int64,
        until_unix=int64,
        limit=int32,
    ),
    creds=OP_CREDS,
    junk=printable_md,
)
async def test_ops_list_traces(harness, request, creds, junk):
    outcome = await with_operator(harness, "js", creds, junk, ops(harness).ListTraces, request)
    if not isinstance(outcome, Refusal):
        assert len(outcome.traces) <= (request.limit or 20)


@FUZZ
@given(creds=OP_CREDS, junk=printable_md)
async def test_ops_verify_audit(harness, creds, junk):
    request = ops_pb2.VerifyAuditRequest()
    outcome = await with_operator(harness, "js", creds, junk, ops(harness).VerifyAudit, request)
    if not isinstance(outcome, Refusal):
        assert outcome.ok and outcome.node == "js"


@FUZZ
@given(
    request=st.builds(
        ops_pb2.QueryAuditRequest,
        trace_id=st.one_of(st.just(""), trace_ids),
        app=apps,
        interface=text(*INTERFACES),
        decision=text("", "allow", "deny"),
        limit=int32,
    ),
    creds=OP_CREDS,
    junk=printable_md,
)
async def test_ops_query_audit(harness, request, creds, junk):
    outcome = await with_operator(harness, "js", creds, junk, ops(harness).QueryAudit, request)
    if not isinstance(outcome, Refusal):
        assert len(outcome.entries) <= (request.limit or 50)


# --------------------------------------------------------------------------- Federation


def peer_call(h, variant: str, junk: str, method: str):
    """The stub method and metadata for one caller variant of the peer port of sh."""
    stub = h.federation("sh", "sh" if variant == "self_cert" else "js")
    md = {
        "valid": h.fed_md("js"),
        "self_cert": h.fed_md("sh"),
        "claims_other": h.fed_md("zj"),
        "bad_standard": ((MD_NODE, "js"), (MD_STANDARD, junk), (MD_HOPS, "1")),
        "no_metadata": (),
        "bad_hops": h.fed_md("js", hops=junk),
    }[variant]
    return getattr(stub, method), md


async def on_peer_port(h, method: str, request, variant: str, junk: str, *, stream=False):
    call, md = peer_call(h, variant, junk, method)
    if stream:
        outcome = await exercise(
            h, lambda: collect(call(request, metadata=md, timeout=10)), request=request, metadata=md
        )
    else:
        outcome = await exercise(
            h, lambda: call(request, metadata=md, timeout=10), request=request, metadata=md
        )
    # Deny by default: a caller that is not a peer, or lies about who it is, gets nothing.
    if variant in ("self_cert", "claims_other"):
        assert isinstance(outcome, Refusal) and outcome.code == DENIED, (variant, outcome)
        assert outcome.reason in ("UNKNOWN_PEER", "PEER_IDENTITY_MISMATCH"), outcome
    elif variant in ("bad_standard", "no_metadata") and method != "Hello":
        assert isinstance(outcome, Refusal), (variant, outcome)
        assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION, (variant, outcome)
        assert outcome.reason == "STANDARD_MISMATCH"
    if isinstance(outcome, Refusal):
        assert outcome.node == "sh"
    return outcome


@FUZZ
@given(
    request=st.builds(
        federation_pb2.HelloRequest,
        node=text("js", "sh"),
        standard=st.builds(federation_pb2.StandardRef, id=text(), version=text(), digest=text()),
    ),
    variant=PEER,
    junk=printable_md,
)
async def test_federation_hello(harness, request, variant, junk):
    outcome = await on_peer_port(harness, "Hello", request, variant, junk)
    if not isinstance(outcome, Refusal):
        assert outcome.node == "sh"


@FUZZ
@given(
    request=st.builds(
        federation_pb2.LocalSearchRequest,
        query=text("人口", "户籍", "population"),
        filters=st.one_of(st.just(catalog_pb2.SearchFilters()), filters),
        limit=int32,
        facets=st.booleans(),
    ),
    variant=PEER,
    junk=printable_md,
)
async def test_federation_search_local(harness, request, variant, junk):
    outcome = await on_peer_port(harness, "SearchLocal", request, variant, junk)
    if not isinstance(outcome, Refusal):
        assert outcome.node == "sh" and len(outcome.results) <= max(request.limit, 0)


@FUZZ
@given(code=text("101001/310001", "101001/999999", "x"), variant=PEER, junk=printable_md)
async def test_federation_get_local(harness, code, variant, junk):
    await on_peer_port(harness, "GetLocal", catalog_pb2.GetRequest(code=code), variant, junk)


@FUZZ
@given(data=st.data(), app=apps, variant=PEER, junk=printable_md)
async def test_federation_invoke(harness, data, app, variant, junk):
    call = data.draw(invoke_requests([{"id_number": harness.samples["id_number"]}]))
    request = federation_pb2.ForwardedInvoke(app=app, call=call)
    outcome = await on_peer_port(harness, "Invoke", request, variant, junk)
    if not isinstance(outcome, Refusal):
        assert app.startswith("js/") and call.interface_id.startswith("sh/")


@FUZZ
@given(data=st.data(), app=apps, variant=PEER, junk=printable_md)
async def test_federation_invoke_stream(harness, data, app, variant, junk):
    call = data.draw(stream_requests([{"district": harness.samples["district"]}]))
    request = federation_pb2.ForwardedInvokeStream(app=app, call=call)
    outcome = await on_peer_port(harness, "InvokeStream", request, variant, junk, stream=True)
    if not isinstance(outcome, Refusal):
        assert app.startswith("js/")


@FUZZ
@given(app=apps, application=applications, variant=PEER, junk=printable_md)
async def test_federation_submit_application(harness, app, application, variant, junk):
    request = federation_pb2.ForwardedApplication(app=app, application=application)
    outcome = await on_peer_port(harness, "SubmitApplication", request, variant, junk)
    if not isinstance(outcome, Refusal):
        assert outcome.app == app and app.startswith("js/") and outcome.owner == "sh"


@FUZZ
@given(
    listed=many(*APPS, most=3000),
    state=text("pending", "approved", ""),
    variant=PEER,
    junk=printable_md,
)
async def test_federation_list_applications(harness, listed, state, variant, junk):
    request = federation_pb2.ForwardedListApplications(apps=listed, state=state)
    outcome = await on_peer_port(harness, "ListApplications", request, variant, junk)
    if not isinstance(outcome, Refusal):
        assert all(a.app.startswith("js/") for a in outcome.applications)


@FUZZ
@given(app=st.one_of(st.just(""), apps), variant=PEER, junk=printable_md)
async def test_federation_list_interfaces(harness, app, variant, junk):
    request = federation_pb2.ForwardedListInterfaces(app=app)
    outcome = await on_peer_port(harness, "ListInterfaces", request, variant, junk)
    if not isinstance(outcome, Refusal):
        assert all(i.province == "sh" for i in outcome.interfaces)


@FUZZ
@given(trace_id=trace_ids, variant=PEER, junk=printable_md)
async def test_federation_get_spans(harness, trace_id, variant, junk):
    request = ops_pb2.GetTraceRequest(trace_id=trace_id)
    outcome = await on_peer_port(harness, "GetSpans", request, variant, junk)
    if not isinstance(outcome, Refusal):
        assert outcome.node == "sh"


# --------------------------------------------------------------------------- afterwards


async def test_message_over_the_size_limit_is_refused_by_grpc(harness):
    """One request over the 8 MiB limit: grpc's RESOURCE_EXHAUSTED, and the node carries on."""
    request = catalog_pb2.SearchRequest(query="人口", page_token="a" * (8 * 1024 * 1024 + 16))
    outcome = await exercise(
        harness, lambda: harness.catalog().Search(request, timeout=10), request=request
    )
    assert isinstance(outcome, Refusal) and outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert outcome.info is None and "larger than max" in outcome.message
    big = federation_pb2.LocalSearchRequest(query="a" * (8 * 1024 * 1024 + 16), limit=1)
    outcome = await exercise(
        harness,
        lambda: harness.federation().SearchLocal(big, metadata=harness.fed_md(), timeout=10),
        request=big,
    )
    assert isinstance(outcome, Refusal) and outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_huge_strings_just_under_the_limit_are_refused_by_validation(harness):
    request = catalog_pb2.SearchRequest(query="人" * 2_500_000)  # 7.5 MB of UTF-8
    outcome = await exercise(
        harness, lambda: harness.catalog().Search(request, timeout=10), request=request
    )
    assert isinstance(outcome, Refusal) and outcome.reason == "QUERY_TOO_LONG"


async def test_the_federation_still_works_after_the_fuzzing(harness):
    reply = await harness.catalog().Search(catalog_pb2.SearchRequest(query="人口"), timeout=10)
    assert not reply.partial and reply.total > 0
    reply = await harness.exchange().Invoke(
        exchange_pb2.InvokeRequest(
            interface_id=RESIDENT,
            params={"id_number": harness.samples["id_number"]},
            purpose=PURPOSE,
        ),
        metadata=harness.app_md,
        timeout=10,
    )
    assert reply.record_count == 1 and reply.served_by == "sh"
    batches = await collect(
        harness.exchange().InvokeStream(
            exchange_pb2.InvokeStreamRequest(
                call=exchange_pb2.InvokeRequest(
                    interface_id=ROSTER,
                    purpose=PURPOSE,
                    params={"district": harness.samples["district"]},
                ),
                batch_size=5,
            ),
            metadata=harness.app_md,
            timeout=10,
        ),
        max_batches=2,
    )
    assert batches and batches[0].records


async def test_audit_chains_still_verify(harness):
    for node in harness.nodes.values():
        report = node._audit.verify()
        assert report.ok, (node.id, report)
        assert report.checked > 0
