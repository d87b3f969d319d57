"""Every refusal we can trigger, one by one: the exact status, reason, refusing node and field,
ErrorInfo in the ``yrd-gateway`` domain, and a message that betrays nothing internal.

The inputs here never contain a leak marker, so the scan is strict (nothing may be excused as an
echo of the caller's own text). Cases that once exposed bugs stay at the end of the table.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import pytest
from grpc import aio

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    exchange_pb2,
    federation_pb2,
    federation_pb2_grpc,
    ops_pb2,
    ops_pb2_grpc,
    sharing_pb2,
)
from gateway.catalog.query import FederatedQuery, Filters, encode_token
from gateway.peers import MD_HOPS, MD_NODE, MD_STANDARD
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET, MD_OPERATOR
from tests.support.hostile import (
    APP,
    BIG_QUOTA,
    LICENSE,
    LOCAL_ROSTER,
    NODES,
    PURPOSE,
    RESIDENT,
    ROSTER,
    VALID_CREDIT,
    VALID_ID,
    Harness,
    check_refusal,
    collect,
    healthy,
    until,
)
from tests.support.names import VERIFY

pytestmark = pytest.mark.asyncio(loop_scope="module")

T = 10
IA = grpc.StatusCode.INVALID_ARGUMENT
NF = grpc.StatusCode.NOT_FOUND
PD = grpc.StatusCode.PERMISSION_DENIED
UA = grpc.StatusCode.UNAUTHENTICATED
RE = grpc.StatusCode.RESOURCE_EXHAUSTED
FP = grpc.StatusCode.FAILED_PRECONDITION


@dataclass(frozen=True)
class Expect:
    code: grpc.StatusCode | tuple[grpc.StatusCode, ...]
    reason: str | None
    """None: any stable reason (bug rows, where the fix may choose)."""
    node: str
    field: str | None = None


Build = Callable[[Harness], Awaitable[object]]

# --------------------------------------------------------------------------- call helpers


def search(**kw) -> Build:
    return lambda h: h.catalog().Search(catalog_pb2.SearchRequest(**kw), timeout=T)


def get(code: str) -> Build:
    return lambda h: h.catalog().Get(catalog_pb2.GetRequest(code=code), timeout=T)


def invoke(creds=None, **kw) -> Build:
    async def build(h):
        fields = {
            "interface_id": RESIDENT,
            "params": {"id_number": h.samples["id_number"]},
            "purpose": PURPOSE,
            **kw,
        }
        md = h.app_md if creds is None else creds(h)
        return await h.exchange().Invoke(
            exchange_pb2.InvokeRequest(**fields), metadata=md, timeout=T
        )

    return build


def stream(resume_token: str = "", batch_size: int = 0, **kw) -> Build:
    async def build(h):
        fields = {
            "interface_id": ROSTER,
            "params": {"district": h.samples["district"]},
            "purpose": PURPOSE,
            **kw,
        }
        request = exchange_pb2.InvokeStreamRequest(
            call=exchange_pb2.InvokeRequest(**fields),
            resume_token=resume_token,
            batch_size=batch_size,
        )
        return await collect(h.exchange().InvokeStream(request, metadata=h.app_md, timeout=T))

    return build


def apply(**kw) -> Build:
    fields = {
        "interface_id": RESIDENT,
        "fields": ["gender"],
        "purpose": PURPOSE,
        "valid_until": until(),
        **kw,
    }
    return lambda h: h.sharing().Apply(
        sharing_pb2.ApplyRequest(**fields), metadata=h.app_md, timeout=T
    )


def admin(method: str, request, node: str = "sh", md=None) -> Build:
    def build(h):
        metadata = h.op_md(node) if md is None else md(h)
        return getattr(h.admin(node), method)(request, metadata=metadata, timeout=T)

    return build


def approve(**kw) -> Build:
    """Approve a fresh pending application (fields gender and name) with ``kw``."""

    async def build(h):
        pending = await h.pending_application()
        request = sharing_pb2.DecideRequest(application_id=pending.id, **kw)
        return await h.admin("sh").Approve(request, metadata=h.op_md("sh"), timeout=T)

    return build


def blanket(**kw) -> Build:
    fields = {
        "province": "js",
        "interface_id": RESIDENT,
        "fields": ["gender"],
        "purposes": ["整体授权"],
        "max_grade": "L2",
        "valid_until": until(),
        "quota": BIG_QUOTA,
        **kw,
    }
    return admin("GrantProvince", sharing_pb2.BlanketGrantRequest(**fields))


def ops(method: str, request, md=None) -> Build:
    def build(h):
        metadata = h.op_md("js") if md is None else md(h)
        return getattr(ops_pb2_grpc.OpsStub(h.client("js")), method)(
            request, metadata=metadata, timeout=T
        )

    return build


def peer(method: str, request, *, as_node: str = "js", md=None, stream_: bool = False) -> Build:
    def build(h):
        stub = federation_pb2_grpc.FederationStub(h.peer("sh", as_node))
        metadata = h.fed_md("js") if md is None else md(h)
        call = getattr(stub, method)(request, metadata=metadata, timeout=T)
        return collect(call) if stream_ else call

    return build


def fwd(app: str = APP, **kw) -> federation_pb2.ForwardedInvoke:
    fields = {"interface_id": RESIDENT, "params": {"id_number": VALID_ID}, "purpose": PURPOSE}
    return federation_pb2.ForwardedInvoke(app=app, call=exchange_pb2.InvokeRequest(**fields | kw))


def creds(app_id: str, secret: str | None = None):
    return lambda h: ((MD_APP_ID, app_id), (MD_APP_SECRET, secret or h.app_md[1][1]))


# --------------------------------------------------------------------------- stateful builders


async def other_query_token(h):
    first = await h.catalog().Search(
        catalog_pb2.SearchRequest(query="人口", page_size=1), timeout=T
    )
    assert first.next_page_token
    return await h.catalog().Search(
        catalog_pb2.SearchRequest(query="户籍", page_token=first.next_page_token), timeout=T
    )


async def too_deep_token(h):
    fingerprint = FederatedQuery("人口", Filters(), 1, 0, NODES).fingerprint()
    request = catalog_pb2.SearchRequest(
        query="人口", page_size=1, page_token=encode_token(5000, fingerprint)
    )
    return await h.catalog().Search(request, timeout=T)


async def revoked_app(h):
    md = await h.new_app("js/rsj/revoked")
    await h.admin("js").RevokeApp(
        sharing_pb2.RevokeAppRequest(app="js/rsj/revoked"), metadata=h.op_md("js"), timeout=T
    )
    return await invoke(lambda _: md)(h)


async def revoked_grant(h):
    md = await h.new_app("js/rsj/revoked-grant")
    grant = await h.granted(md, RESIDENT, ["gender"])
    await h.admin("sh").RevokeGrant(
        sharing_pb2.RevokeGrantRequest(grant_id=grant.id, reason="用途终止"),
        metadata=h.op_md("sh"),
        timeout=T,
    )
    return await invoke(lambda _: md)(h)


async def quota_used_up(h):
    md = await h.new_app("js/rsj/one-a-minute")
    await h.granted(md, RESIDENT, ["gender"], quota=sharing_pb2.Quota(per_minute=1, per_day=10))
    with h.clock.held():  # both calls in one minute window, however late in the minute
        await invoke(lambda _: md)(h)
        return await invoke(lambda _: md)(h)


async def resume_token_of_another_call(h):
    batches = await stream(batch_size=2)(h)
    return await stream(resume_token=batches[0].resume_token, purpose="社会保险待遇核发")(h)


async def decided_application(h):
    listed = await h.admin("sh").ListApplications(
        sharing_pb2.ListApplicationsRequest(state="approved"), metadata=h.op_md("sh"), timeout=T
    )
    request = sharing_pb2.DecideRequest(application_id=listed.applications[0].id)
    return await h.admin("sh").Approve(request, metadata=h.op_md("sh"), timeout=T)


async def revoked_twice(h):
    grant = await h.blanket_grant()
    request = sharing_pb2.RevokeGrantRequest(grant_id=grant.id, reason="清理")
    await h.admin("sh").RevokeGrant(request, metadata=h.op_md("sh"), timeout=T)
    return await h.admin("sh").RevokeGrant(request, metadata=h.op_md("sh"), timeout=T)


async def app_exists(h):
    request = sharing_pb2.CreateAppRequest(app=APP, name="重复")
    return await h.admin("js").CreateApp(request, metadata=h.op_md("js"), timeout=T)


async def purpose_not_granted_under_many_purposes(h):
    purposes = [f"用途{i:04d}" + "说明" * 40 for i in range(200)]
    await blanket(interface_id=SOCIAL, fields=["district"], purposes=purposes)(h)
    return await invoke(interface_id=SOCIAL, purpose="别的用途")(h)


def deep_json_token() -> str:
    return base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=")


def sh_md(h):
    return h.fed_md("sh")


def BAD_STANDARD(h):
    return ((MD_NODE, "js"), (MD_STANDARD, "yrd@0.0.1#beef"), (MD_HOPS, "1"))


def ZJ_CLAIM(h):
    return ((MD_NODE, "zj"), *h.fed_md("js")[1:])


def TWO_HOPS(h):
    return h.fed_md("js", hops="2")


OTHER = "sh/gaj/insider"
SOCIAL = "sh/rsj/social-insurance/v1"

# --------------------------------------------------------------------------- the table

CASES: dict[str, tuple[Build, Expect]] = {
    # Catalog, on js
    "search/query-too-long": (
        search(query="人" * 300),
        Expect(IA, "QUERY_TOO_LONG", "js", "query"),
    ),
    "search/empty-query": (search(query=" \u3000 "), Expect(IA, "EMPTY_QUERY", "js", "query")),
    "search/control-chars": (search(query="人口\x07"), Expect(IA, "BAD_QUERY_TEXT", "js", "query")),
    "search/punctuation-only": (
        search(query="。*\U0001f600"),
        Expect(IA, "NO_SEARCHABLE_TEXT", "js", "query"),
    ),
    "search/page-size": (
        search(query="人口", page_size=101),
        Expect(IA, "PAGE_SIZE_OUT_OF_RANGE", "js", "page_size"),
    ),
    "search/category": (
        search(query="人口", filters=catalog_pb2.SearchFilters(categories=["999"])),
        Expect(IA, "UNKNOWN_FILTER_VALUE", "js", "filters.categories[0]"),
    ),
    "search/grade": (
        search(query="人口", filters=catalog_pb2.SearchFilters(grades=["L1", "L7"])),
        Expect(IA, "UNKNOWN_FILTER_VALUE", "js", "filters.grades[1]"),
    ),
    "search/share-type": (
        search(query="人口", filters=catalog_pb2.SearchFilters(share_types=["maybe"])),
        Expect(IA, "UNKNOWN_FILTER_VALUE", "js", "filters.share_types[0]"),
    ),
    "search/update-cycle": (
        search(query="人口", filters=catalog_pb2.SearchFilters(update_cycles=["hourly?"])),
        Expect(IA, "UNKNOWN_FILTER_VALUE", "js", "filters.update_cycles[0]"),
    ),
    "search/department": (
        search(query="人口", filters=catalog_pb2.SearchFilters(departments=["gaj;drop"])),
        Expect(IA, "UNKNOWN_FILTER_VALUE", "js", "filters.departments[0]"),
    ),
    "search/filter-province": (
        search(query="人口", filters=catalog_pb2.SearchFilters(provinces=["xx"])),
        Expect(IA, "UNKNOWN_PROVINCE", "js", "filters.provinces[0]"),
    ),
    "search/scope": (search(query="人口", scope=9), Expect(IA, "UNKNOWN_SCOPE", "js", "scope")),
    "search/scope-province": (
        search(query="人口", scope=catalog_pb2.SCOPE_PROVINCES, provinces=["zz"]),
        Expect(IA, "UNKNOWN_PROVINCE", "js", "provinces[0]"),
    ),
    "search/empty-scope": (
        search(query="人口", scope=catalog_pb2.SCOPE_PROVINCES),
        Expect(IA, "EMPTY_SCOPE", "js", "provinces"),
    ),
    "search/malformed-token": (
        search(query="人口", page_token="%%%"),
        Expect(IA, "BAD_PAGE_TOKEN", "js", "page_token"),
    ),
    "search/token-of-another-query": (
        other_query_token,
        Expect(IA, "BAD_PAGE_TOKEN", "js", "page_token"),
    ),
    "search/page-too-deep": (too_deep_token, Expect(IA, "PAGE_TOO_DEEP", "js", "page_token")),
    "get/bad-code": (get("../../etc/passwd"), Expect(IA, "BAD_RESOURCE_CODE", "js", "code")),
    "get/not-found": (get("101001/999999"), Expect(NF, "RESOURCE_NOT_FOUND", "js")),
    # Exchange: credentials, on js
    "invoke/no-credential": (invoke(lambda h: ()), Expect(UA, "MISSING_CREDENTIAL", "js")),
    "invoke/wrong-secret": (
        invoke(creds(APP, "not-the-secret")),
        Expect(UA, "BAD_CREDENTIAL", "js"),
    ),
    "invoke/malformed-app-id": (invoke(creds("js/RSJ/x y")), Expect(UA, "BAD_CREDENTIAL", "js")),
    "invoke/secret-too-long": (invoke(creds(APP, "s" * 300)), Expect(UA, "BAD_CREDENTIAL", "js")),
    "invoke/revoked-app": (revoked_app, Expect(UA, "BAD_CREDENTIAL", "js")),
    "invoke/not-home-node": (invoke(creds(OTHER)), Expect(PD, "NOT_HOME_NODE", "js")),
    # Exchange: routing and limits, on js
    "invoke/bad-interface-id": (
        invoke(interface_id="sh/gaj/../../v1"),
        Expect(IA, "BAD_INTERFACE_ID", "js", "interface_id"),
    ),
    "invoke/unknown-province": (
        invoke(interface_id="zj/gaj/resident-basic/v1"),
        Expect(NF, "UNKNOWN_PROVINCE", "js"),
    ),
    "invoke/too-many-params": (
        invoke(params={f"p{i}": "1" for i in range(17)}),
        Expect(IA, "TOO_MANY_PARAMS", "js", "params"),
    ),
    "invoke/too-many-fields": (
        invoke(fields=["gender"] * 65),
        Expect(IA, "TOO_MANY_FIELDS", "js", "fields"),
    ),
    "invoke/purpose-too-long": (
        invoke(purpose="用" * 201),
        Expect(IA, "PURPOSE_TOO_LONG", "js", "purpose"),
    ),
    # Exchange: the owner's decisions, relayed by js naming sh
    "invoke/unknown-interface": (
        invoke(interface_id="sh/gaj/nope/v1"),
        Expect(NF, "UNKNOWN_INTERFACE", "sh"),
    ),
    "invoke/missing-purpose": (invoke(purpose=" "), Expect(IA, "MISSING_PURPOSE", "sh", "purpose")),
    "invoke/no-grant": (
        invoke(interface_id=LICENSE, params={"credit_code": VALID_CREDIT}),
        Expect(PD, "NO_GRANT", "sh"),
    ),
    "invoke/purpose-not-granted": (
        invoke(purpose="商业营销"),
        Expect(PD, "PURPOSE_NOT_GRANTED", "sh"),
    ),
    "invoke/field-not-granted": (
        invoke(fields=["address"]),
        Expect(PD, "FIELD_NOT_GRANTED", "sh"),
    ),
    "invoke/l4-field": (invoke(fields=["ethnicity"]), Expect(PD, "L4_NOT_RELEASABLE", "sh")),
    "invoke/unknown-field": (
        invoke(fields=["shoe_size"]),
        Expect(IA, "UNKNOWN_FIELD", "sh", "fields[0]"),
    ),
    "invoke/missing-param": (
        invoke(params={}),
        Expect(IA, "MISSING_PARAM", "sh", "params.id_number"),
    ),
    "invoke/unknown-param": (
        invoke(params={"id_number": VALID_ID, "sql": "1 OR 1=1"}),
        Expect(IA, "UNKNOWN_PARAM", "sh", "params.sql"),
    ),
    "invoke/bad-format": (
        invoke(params={"id_number": "11010519491231002Y"}),
        Expect(IA, "BAD_FORMAT", "sh", "params.id_number"),
    ),
    "invoke/bad-check-digit": (
        invoke(params={"id_number": "11010519491231003X"}),
        Expect(IA, "BAD_CHECK_DIGIT", "sh", "params.id_number"),
    ),
    "invoke/grant-revoked": (revoked_grant, Expect(PD, "GRANT_REVOKED", "sh")),
    "invoke/quota": (quota_used_up, Expect(RE, "QUOTA_MINUTE_EXCEEDED", "sh")),
    "stream/not-streamable": (
        stream(interface_id=RESIDENT, params={"id_number": VALID_ID}),
        Expect(IA, "NOT_STREAMABLE", "sh", "interface_id"),
    ),
    "stream/batch-size": (
        stream(batch_size=2001),
        Expect(IA, "BATCH_SIZE_OUT_OF_RANGE", "sh", "batch_size"),
    ),
    "stream/malformed-resume-token": (
        stream(resume_token="!!"),
        Expect(IA, "BAD_RESUME_TOKEN", "sh", "resume_token"),
    ),
    "stream/resume-token-of-another-call": (
        resume_token_of_another_call,
        Expect(IA, "BAD_RESUME_TOKEN", "sh", "resume_token"),
    ),
    "list-interfaces/province": (
        lambda h: h.exchange().ListInterfaces(
            exchange_pb2.ListInterfacesRequest(provinces=["sh", "xx"]), metadata=h.app_md, timeout=T
        ),
        Expect(IA, "UNKNOWN_PROVINCE", "js", "provinces[1]"),
    ),
    # Sharing: the app side on js, the owner's checks on sh
    "apply/bad-interface-id": (
        apply(interface_id="人口"),
        Expect(IA, "BAD_INTERFACE_ID", "js", "interface_id"),
    ),
    "apply/unknown-province": (
        apply(interface_id="zj/gaj/resident-basic/v1"),
        Expect(NF, "UNKNOWN_PROVINCE", "js"),
    ),
    "apply/unknown-interface": (
        apply(interface_id="sh/gaj/nope/v1"),
        Expect(NF, "UNKNOWN_INTERFACE", "sh"),
    ),
    "apply/missing-purpose": (apply(purpose=""), Expect(IA, "MISSING_PURPOSE", "sh", "purpose")),
    "apply/purpose-too-long": (
        apply(purpose="用" * 201),
        Expect(IA, "PURPOSE_TOO_LONG", "sh", "purpose"),
    ),
    "apply/no-fields": (apply(fields=[]), Expect(IA, "NO_FIELDS", "sh", "fields")),
    "apply/unknown-field": (
        apply(fields=["gender", "shoe_size"]),
        Expect(IA, "UNKNOWN_FIELD", "sh", "fields[1]"),
    ),
    "apply/bad-time": (
        apply(valid_until="tomorrow"),
        Expect(IA, "BAD_TIME", "sh", "valid_until"),
    ),
    "apply/naive-time": (
        apply(valid_until="2030-01-01T00:00:00"),
        Expect(IA, "BAD_TIME", "sh", "valid_until"),
    ),
    "apply/missing-until": (
        apply(valid_until=""),
        Expect(IA, "MISSING_FIELD", "sh", "valid_until"),
    ),
    "apply/until-before-from": (
        apply(valid_from=until(30), valid_until=until(10)),
        Expect(IA, "BAD_VALIDITY", "sh", "valid_until"),
    ),
    "apply/too-long": (
        apply(valid_until=until(5 * 365)),
        Expect(IA, "BAD_VALIDITY", "sh", "valid_until"),
    ),
    "apply/negative-quota": (
        apply(quota=sharing_pb2.Quota(per_minute=-1)),
        Expect(IA, "BAD_QUOTA", "sh", "quota"),
    ),
    "list-applications/state": (
        lambda h: h.sharing().ListApplications(
            sharing_pb2.ListApplicationsRequest(state="maybe"), metadata=h.app_md, timeout=T
        ),
        Expect(IA, "BAD_STATE", "js", "state"),
    ),
    # Admin: operator credentials
    "admin/no-token": (
        admin("ListGrants", sharing_pb2.ListGrantsRequest(), md=lambda h: ()),
        Expect(UA, "MISSING_CREDENTIAL", "sh"),
    ),
    "admin/wrong-token": (
        admin("ListGrants", sharing_pb2.ListGrantsRequest(), md=lambda h: ((MD_OPERATOR, "x"),)),
        Expect(UA, "BAD_CREDENTIAL", "sh"),
    ),
    "admin/app-secret-as-token": (
        admin(
            "ListGrants",
            sharing_pb2.ListGrantsRequest(),
            md=lambda h: ((MD_OPERATOR, h.app_md[1][1]),),
        ),
        Expect(UA, "BAD_CREDENTIAL", "sh"),
    ),
    "admin/other-nodes-token": (
        admin("ListGrants", sharing_pb2.ListGrantsRequest(), md=lambda h: h.op_md("js")),
        Expect(UA, "BAD_CREDENTIAL", "sh"),
    ),
    "admin/token-too-long": (
        admin(
            "ListGrants",
            sharing_pb2.ListGrantsRequest(),
            md=lambda h: ((MD_OPERATOR, h.operator_token("sh") * 7),),
        ),
        Expect(UA, "BAD_CREDENTIAL", "sh"),
    ),
    # Admin: apps, on js
    "create-app/other-namespace": (
        admin("CreateApp", sharing_pb2.CreateAppRequest(app="sh/gaj/x", name="x"), node="js"),
        Expect(IA, "BAD_APP_ID", "js", "app"),
    ),
    "create-app/name-too-long": (
        admin("CreateApp", sharing_pb2.CreateAppRequest(app="js/a/b", name="名" * 101), node="js"),
        Expect(IA, "NAME_TOO_LONG", "js", "name"),
    ),
    "create-app/exists": (app_exists, Expect(FP, "APP_EXISTS", "js")),
    "revoke-app/not-found": (
        admin("RevokeApp", sharing_pb2.RevokeAppRequest(app="js/rsj/nobody"), node="js"),
        Expect(NF, "APP_NOT_FOUND", "js"),
    ),
    # Admin: decisions, on sh
    "admin-list/state": (
        admin("ListApplications", sharing_pb2.ListApplicationsRequest(state="maybe")),
        Expect(IA, "BAD_STATE", "sh", "state"),
    ),
    "approve/not-found": (
        admin("Approve", sharing_pb2.DecideRequest(application_id="app-nope")),
        Expect(NF, "APPLICATION_NOT_FOUND", "sh"),
    ),
    "approve/decided": (decided_application, Expect(FP, "APPLICATION_DECIDED", "sh")),
    "approve/grade": (approve(max_grade="L7"), Expect(IA, "UNKNOWN_GRADE", "sh", "max_grade")),
    "approve/quota": (
        approve(quota=sharing_pb2.Quota(per_minute=-5)),
        Expect(IA, "BAD_QUOTA", "sh", "quota"),
    ),
    "approve/time": (approve(valid_until="soon"), Expect(IA, "BAD_TIME", "sh", "valid_until")),
    "approve/wider-fields": (
        approve(fields=["mobile"]),
        Expect(IA, "NOT_A_NARROWING", "sh", "fields[0]"),
    ),
    "approve/wider-quota": (
        approve(quota=sharing_pb2.Quota(per_minute=101)),
        Expect(IA, "NOT_A_NARROWING", "sh", "quota.per_minute"),
    ),
    "approve/longer-validity": (
        approve(valid_until=until(900)),
        Expect(IA, "NOT_A_NARROWING", "sh", "valid_until"),
    ),
    "approve/bad-field-name": (
        approve(fields=["gender name"]),
        Expect(IA, "BAD_FIELD", "sh", "fields[0]"),
    ),
    "approve/duplicate-field": (
        approve(fields=["gender", "gender"]),
        Expect(IA, "DUPLICATE_FIELD", "sh", "fields[1]"),
    ),
    "reject/no-reason": (
        admin("Reject", sharing_pb2.DecideRequest(application_id="app-nope", reason=" ")),
        Expect(IA, "MISSING_REASON", "sh", "reason"),
    ),
    "reject/reason-too-long": (
        admin("Reject", sharing_pb2.DecideRequest(application_id="app-nope", reason="理" * 501)),
        Expect(IA, "TOO_LONG", "sh", "reason"),
    ),
    "reject/not-found": (
        admin("Reject", sharing_pb2.DecideRequest(application_id="app-nope", reason="不")),
        Expect(NF, "APPLICATION_NOT_FOUND", "sh"),
    ),
    "revoke-grant/not-found": (
        admin("RevokeGrant", sharing_pb2.RevokeGrantRequest(grant_id="grant-nope")),
        Expect(NF, "GRANT_NOT_FOUND", "sh"),
    ),
    "revoke-grant/twice": (revoked_twice, Expect(FP, "GRANT_ALREADY_REVOKED", "sh")),
    "revoke-grant/reason-too-long": (
        admin("RevokeGrant", sharing_pb2.RevokeGrantRequest(grant_id="g", reason="理" * 501)),
        Expect(IA, "TOO_LONG", "sh", "reason"),
    ),
    "grant-province/own-province": (
        blanket(province="sh"),
        Expect(IA, "UNKNOWN_PROVINCE", "sh", "province"),
    ),
    "grant-province/bad-interface-id": (
        blanket(interface_id="resident"),
        Expect(IA, "BAD_INTERFACE_ID", "sh", "interface_id"),
    ),
    "grant-province/unknown-interface": (
        blanket(interface_id="sh/gaj/nope/v1"),
        Expect(NF, "UNKNOWN_INTERFACE", "sh"),
    ),
    "grant-province/unknown-field": (
        blanket(fields=["shoe_size"]),
        Expect(IA, "UNKNOWN_FIELD", "sh", "fields[0]"),
    ),
    "grant-province/no-purpose": (
        blanket(purposes=[]),
        Expect(IA, "MISSING_PURPOSE", "sh", "purposes"),
    ),
    "grant-province/grade": (
        blanket(max_grade="L5"),
        Expect(IA, "UNKNOWN_GRADE", "sh", "max_grade"),
    ),
    # 重要数据: a blanket grant would never cover a marked interface; refused when created.
    "grant-province/marked-interface": (
        blanket(interface_id=VERIFY, fields=[]),
        Expect(FP, "MARKED_DATA_NEEDS_APP_GRANT", "sh", "interface_id"),
    ),
    # L4 never leaves the province: neither a ceiling of L4 nor a list of only L4 fields.
    "grant-province/l4-ceiling": (
        blanket(max_grade="L4"),
        Expect(IA, "GRADE_NEVER_LEAVES", "sh", "max_grade"),
    ),
    "grant-province/only-l4-fields": (
        blanket(fields=["ethnicity"]),
        Expect(IA, "GRADE_NEVER_LEAVES", "sh", "fields[0]"),
    ),
    "grant-province/quota": (
        blanket(quota=sharing_pb2.Quota(per_day=-1)),
        Expect(IA, "BAD_QUOTA", "sh", "quota"),
    ),
    "grant-province/no-until": (
        blanket(valid_until=""),
        Expect(IA, "MISSING_FIELD", "sh", "valid_until"),
    ),
    "grant-province/past": (
        blanket(valid_until="2020-01-01T00:00:00Z"),
        Expect(IA, "BAD_VALIDITY", "sh", "valid_until"),
    ),
    # Ops, on js
    "ops/no-token": (
        ops("VerifyAudit", ops_pb2.VerifyAuditRequest(), md=lambda h: ()),
        Expect(UA, "MISSING_CREDENTIAL", "js"),
    ),
    "ops/trace-id": (
        ops("GetTrace", ops_pb2.GetTraceRequest(trace_id="not-a-trace")),
        Expect(IA, "BAD_TRACE_ID", "js", "trace_id"),
    ),
    "ops/list-limit": (
        ops("ListTraces", ops_pb2.ListTracesRequest(limit=201)),
        Expect(IA, "LIMIT_OUT_OF_RANGE", "js", "limit"),
    ),
    "ops/list-status": (
        ops("ListTraces", ops_pb2.ListTracesRequest(status="FINE")),
        Expect(IA, "UNKNOWN_STATUS", "js", "status"),
    ),
    "ops/list-negative": (
        ops("ListTraces", ops_pb2.ListTracesRequest(min_duration_ms=-1)),
        Expect(IA, "NEGATIVE_VALUE", "js", "min_duration_ms"),
    ),
    "ops/audit-limit": (
        ops("QueryAudit", ops_pb2.QueryAuditRequest(limit=1001)),
        Expect(IA, "LIMIT_OUT_OF_RANGE", "js", "limit"),
    ),
    "ops/audit-decision": (
        ops("QueryAudit", ops_pb2.QueryAuditRequest(decision="maybe")),
        Expect(IA, "UNKNOWN_DECISION", "js", "decision"),
    ),
    "ops/audit-trace-id": (
        ops("QueryAudit", ops_pb2.QueryAuditRequest(trace_id="0" * 32)),
        Expect(IA, "BAD_TRACE_ID", "js", "trace_id"),
    ),
    # Federation: the peer port of sh, mutual TLS
    "peer/own-certificate": (
        peer("GetLocal", catalog_pb2.GetRequest(code="101001/310001"), as_node="sh", md=sh_md),
        Expect(PD, "UNKNOWN_PEER", "sh"),
    ),
    "peer/outside-the-federation": (
        peer("GetLocal", catalog_pb2.GetRequest(code="101001/310001"), as_node="zj", md=ZJ_CLAIM),
        Expect(PD, "UNKNOWN_PEER", "sh"),
    ),
    "peer/identity-mismatch": (
        peer("GetLocal", catalog_pb2.GetRequest(code="101001/310001"), md=ZJ_CLAIM),
        Expect(PD, "PEER_IDENTITY_MISMATCH", "sh"),
    ),
    "peer/standard-mismatch": (
        peer("GetLocal", catalog_pb2.GetRequest(code="101001/310001"), md=BAD_STANDARD),
        Expect(FP, "STANDARD_MISMATCH", "sh"),
    ),
    "peer/hop-limit": (peer("Invoke", fwd(), md=TWO_HOPS), Expect(FP, "HOP_LIMIT_EXCEEDED", "sh")),
    "peer/negative-hops": (
        peer("Invoke", fwd(), md=lambda h: h.fed_md("js", hops="-1")),
        Expect(FP, "BAD_HOP_COUNT", "sh"),
    ),
    "peer/garbled-hops": (
        peer("Invoke", fwd(), md=lambda h: h.fed_md("js", hops="one")),
        Expect(FP, "BAD_HOP_COUNT", "sh"),
    ),
    "peer/invoke-namespace": (peer("Invoke", fwd(OTHER)), Expect(PD, "NAMESPACE_VIOLATION", "sh")),
    "peer/stream-namespace": (
        peer(
            "InvokeStream",
            federation_pb2.ForwardedInvokeStream(
                app=OTHER, call=exchange_pb2.InvokeStreamRequest(call=fwd().call)
            ),
            stream_=True,
        ),
        Expect(PD, "NAMESPACE_VIOLATION", "sh"),
    ),
    "peer/apply-namespace": (
        peer(
            "SubmitApplication",
            federation_pb2.ForwardedApplication(
                app=OTHER,
                application=sharing_pb2.ApplyRequest(
                    interface_id=RESIDENT, fields=["gender"], purpose=PURPOSE, valid_until=until()
                ),
            ),
        ),
        Expect(PD, "NAMESPACE_VIOLATION", "sh"),
    ),
    "peer/list-namespace": (
        peer("ListApplications", federation_pb2.ForwardedListApplications(apps=[APP, "zj/a/b"])),
        Expect(PD, "NAMESPACE_VIOLATION", "sh"),
    ),
    "peer/interfaces-namespace": (
        peer("ListInterfaces", federation_pb2.ForwardedListInterfaces(app="zj/a/b")),
        Expect(PD, "NAMESPACE_VIOLATION", "sh"),
    ),
    "peer/not-owner": (
        peer("Invoke", fwd(interface_id=LOCAL_ROSTER)),
        Expect(FP, "NOT_OWNER", "sh"),
    ),
    "peer/search-query": (
        peer("SearchLocal", federation_pb2.LocalSearchRequest(query="", limit=5)),
        Expect(IA, "EMPTY_QUERY", "sh", "query"),
    ),
    "peer/search-nul": (  # refused on the peer port as on the client port (one validator)
        peer("SearchLocal", federation_pb2.LocalSearchRequest(query="人口\x00", limit=5)),
        Expect(IA, "BAD_QUERY_TEXT", "sh", "query"),
    ),
    "peer/search-nul-only": (
        peer("SearchLocal", federation_pb2.LocalSearchRequest(query="\x00", limit=5)),
        Expect(IA, "NO_SEARCHABLE_TEXT", "sh", "query"),
    ),
    "peer/search-limit": (
        peer("SearchLocal", federation_pb2.LocalSearchRequest(query="人口", limit=0)),
        Expect(IA, "LIMIT_OUT_OF_RANGE", "sh", "limit"),
    ),
    "peer/get-not-found": (
        peer("GetLocal", catalog_pb2.GetRequest(code="101001/999999")),
        Expect(NF, "RESOURCE_NOT_FOUND", "sh"),
    ),
    "peer/spans-trace-id": (
        peer("GetSpans", ops_pb2.GetTraceRequest(trace_id="xyz")),
        Expect(IA, "BAD_TRACE_ID", "sh", "trace_id"),
    ),
    "peer/no-grant": (
        peer("Invoke", fwd(interface_id=LICENSE, params={"credit_code": VALID_CREDIT})),
        Expect(PD, "NO_GRANT", "sh"),
    ),
}


def _bug(reason: str):
    """Marks a case that once exposed a bug (the reason says which); all are fixed now, so the
    case runs as an ordinary regression test."""
    del reason
    return ()


OVERFLOW = _bug(
    "an aware time whose UTC form leaves years 1..9999 raises OverflowError -> INTERNAL: "
    "gateway/sharing/validation.py aware() (astimezone) after service.parse_time accepted it"
)
DEEP_JSON = _bug(
    "a token of deeply nested JSON raises RecursionError -> INTERNAL: json.loads in "
    "catalog/query.py decode_token and exchange/calls.py decode_resume catch only ValueError etc."
)
ECHO = _bug(
    "refusal echoes the caller's id/value whole; past ~8 KB the status overflows the client's "
    "16 KiB metadata limit -> RESOURCE_EXHAUSTED with no ErrorInfo: sharing/store.py "
    "_load_app/_load_application/_load_grant, catalog/query.py category/department messages"
)
PURPOSES = _bug(
    "PURPOSE_NOT_GRANTED lists every granted purpose (exchange/policy.py check_grant); a blanket "
    "grant with many purposes makes sh's status too big for js, which relays UNAVAILABLE "
    "OWNER_UNAVAILABLE 'owner node sh is unreachable' (peers/translate.py translate)"
)
SECONDS = _bug(
    "ListTraces since_unix/until_unix * 1e9 overflows SQLite INTEGER -> INTERNAL: "
    "gateway/servicers/ops.py ListTraces checks only for negative values"
)
HUGE = "x" * 20_000

BUGS: list = [
    pytest.param(
        "apply/valid-from-year-1",
        apply(valid_from="0001-01-01T00:00:00+14:00", valid_until="0001-01-02T00:00:00+14:00"),
        Expect(IA, None, "sh", "valid_from"),
        marks=OVERFLOW,
    ),
    pytest.param(
        "approve/until-year-10000",
        approve(valid_until="9999-12-31T23:59:59-10:00"),
        Expect(IA, None, "sh", "valid_until"),
        marks=OVERFLOW,
    ),
    pytest.param(
        "grant-province/until-year-10000",
        blanket(valid_until="9999-12-31T23:59:59-10:00"),
        Expect(IA, None, "sh", "valid_until"),
        marks=OVERFLOW,
    ),
    pytest.param(
        "search/deep-json-token",
        search(query="人口", page_token=deep_json_token()),
        Expect(IA, "BAD_PAGE_TOKEN", "js", "page_token"),
        marks=DEEP_JSON,
    ),
    pytest.param(
        "stream/deep-json-resume-token",
        stream(resume_token=deep_json_token()),
        Expect(IA, "BAD_RESUME_TOKEN", "sh", "resume_token"),
        marks=DEEP_JSON,
    ),
    pytest.param(
        "stream/deep-json-resume-token-local",
        stream(resume_token=deep_json_token(), interface_id=LOCAL_ROSTER),
        Expect(IA, "BAD_RESUME_TOKEN", "js", "resume_token"),
        marks=DEEP_JSON,
    ),
    pytest.param(
        "revoke-app/huge-id",
        admin("RevokeApp", sharing_pb2.RevokeAppRequest(app=HUGE), node="js"),
        Expect((NF, IA), None, "js"),
        marks=ECHO,
    ),
    pytest.param(
        "approve/huge-id",
        admin("Approve", sharing_pb2.DecideRequest(application_id=HUGE)),
        Expect((NF, IA), None, "sh"),
        marks=ECHO,
    ),
    pytest.param(
        "reject/huge-id",
        admin("Reject", sharing_pb2.DecideRequest(application_id=HUGE, reason="不")),
        Expect((NF, IA), None, "sh"),
        marks=ECHO,
    ),
    pytest.param(
        "revoke-grant/huge-id",
        admin("RevokeGrant", sharing_pb2.RevokeGrantRequest(grant_id=HUGE)),
        Expect((NF, IA), None, "sh"),
        marks=ECHO,
    ),
    pytest.param(
        "search/huge-category",
        search(query="人口", filters=catalog_pb2.SearchFilters(categories=[HUGE])),
        Expect(IA, "UNKNOWN_FILTER_VALUE", "js", "filters.categories[0]"),
        marks=ECHO,
    ),
    pytest.param(
        "search/huge-department",
        search(query="人口", filters=catalog_pb2.SearchFilters(departments=["人" * 2000])),
        Expect(IA, "UNKNOWN_FILTER_VALUE", "js", "filters.departments[0]"),
        marks=ECHO,
    ),
    pytest.param(
        "invoke/purpose-not-granted-among-many",
        purpose_not_granted_under_many_purposes,
        Expect(PD, "PURPOSE_NOT_GRANTED", "sh"),
        marks=PURPOSES,
    ),
    pytest.param(
        "ops/list-since-far-future",
        ops("ListTraces", ops_pb2.ListTracesRequest(since_unix=2**62)),
        Expect(IA, None, "js", "since_unix"),
        marks=SECONDS,
    ),
]


async def expect_refusal(h: Harness, build: Build, expect: Expect):
    with pytest.raises(aio.AioRpcError) as info:
        await build(h)
    refusal = check_refusal(info.value)  # strict: our inputs carry no leak marker
    codes = expect.code if isinstance(expect.code, tuple) else (expect.code,)
    assert refusal.code in codes, refusal
    if expect.reason is not None:
        assert refusal.reason == expect.reason, refusal
    assert refusal.node == expect.node, refusal
    if expect.field is not None:
        assert refusal.field == expect.field, refusal
    assert len(refusal.message) < 1000, refusal  # a refusal says why, it doesn't echo pages
    await healthy(h)
    return refusal


@pytest.mark.parametrize(
    "name, build, expect",
    [pytest.param(name, *case, id=name) for name, case in CASES.items()]
    + [pytest.param(*p.values, marks=p.marks, id=p.values[0]) for p in BUGS],
)
async def test_refusal(harness, name, build, expect):
    await expect_refusal(harness, build, expect)


async def test_in_flight_bound_refusal_is_proper(bounded):
    """Overlap one app's calls past its bound (1 at js): the home node says
    RESOURCE_EXHAUSTED, properly, and serves the app again once its calls are done."""
    md = await bounded.new_app("js/rsj/flood")
    await bounded.granted(md, RESIDENT, ["gender"])
    # Each call waits on sh while it holds js's one slot for the app, so the others that js
    # receives meanwhile (all of them are sent at once) meet the bound.
    outcomes = await asyncio.gather(
        *(invoke(lambda _: md)(bounded) for _ in range(8)), return_exceptions=True
    )
    refusals = [o for o in outcomes if isinstance(o, aio.AioRpcError)]
    assert refusals, "no call met the bound of one call in flight"
    assert len(refusals) < len(outcomes), "the bound refused every call"
    for exc in refusals:
        refusal = check_refusal(exc)
        assert (refusal.code, refusal.reason, refusal.node) == (RE, "TOO_MANY_IN_FLIGHT", "js")
    await invoke(lambda _: md)(bounded)  # the slot is free again
    await healthy(bounded)


async def test_audit_chains_still_verify(harness):
    for node in harness.nodes.values():
        report = node._audit.verify()
        assert report.ok, (node.id, report)
