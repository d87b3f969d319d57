"""The release decision: grade × grant × field, explicit selections, L4, masking, grant checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.config import load_standard
from gateway.errors import InvalidArgument, PermissionDenied
from gateway.exchange.model import BackendSpec, Field, Interface, Param
from gateway.exchange.policy import (
    FieldAction,
    ReleasePlan,
    apply_plan,
    check_grant,
    plan_release,
)
from gateway.sharing.model import Grant, Quota
from gateway.standard import Standard
from tests.support.federation import ROOT
from tests.support.names import APP, PURPOSE

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)

# One field per interesting (grade, kind, mask flag) combination, in interface order.
FIELDS = (
    Field("name", "姓名", "name", "L3"),
    Field("gender", "性别", "plain", "L1"),
    Field("birth_date", "出生日期", "birth_date", "L3"),
    Field("id_number", "公民身份号码", "id_number", "L3"),
    Field("mobile", "手机号码", "mobile", "L2", mask=True),
    Field("district", "户籍所在区", "plain", "L2"),
    Field("bank_card", "社保卡银行账号", "bank_card", "L4"),
    Field("passport", "护照号码", "passport", "L3"),  # a kind the standard has no rule for
    Field("employer_code", "单位统一社会信用代码", "credit_code", "L3"),  # rule: keep whole
)
ALL = tuple(f.name for f in FIELDS)

QUERY = Interface(
    id="sh/rsj/insured-person/v1",
    province="sh",
    department="rsj",
    department_name="上海市人力资源和社会保障局",
    name="参保人员信息查询",
    resource_code="203001/000001",
    mode="query",
    params=(Param("id_number", "resident_id"),),
    fields=FIELDS,
    backend=BackendSpec("sqlite"),
)
VERIFY = Interface(
    id="sh/gaj/hukou-verify/v1",
    province="sh",
    department="gaj",
    department_name="上海市公安局",
    name="户籍信息核验",
    resource_code="101001/000123",
    mode="verify",
    params=(Param("id_number", "resident_id"), Param("name", "name")),
    fields=(
        Field("id_number", "公民身份号码", "id_number", "L4"),
        Field("name", "姓名", "name", "L4"),
    ),
    backend=BackendSpec("sqlite"),
)


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")


def grant(
    *,
    blanket: bool = False,
    max_grade: str = "L3",
    fields: tuple[str, ...] = ALL,
    interface_id: str = QUERY.id,
    state: str = "active",
    valid_from: datetime = NOW - timedelta(days=1),
    valid_until: datetime = NOW + timedelta(days=30),
    purposes: tuple[str, ...] = (PURPOSE,),
    grantee: str | None = None,
) -> Grant:
    return Grant(
        id="grant-TEST",
        grantee=grantee or ("js" if blanket else APP),
        blanket=blanket,
        interface_id=interface_id,
        fields=fields,
        purposes=purposes,
        max_grade=max_grade,
        valid_from=valid_from,
        valid_until=valid_until,
        quota=Quota(60, 1000),
        state=state,
        application_id="" if blanket else "app-TEST",
        revoked_reason="",
        created_at=NOW - timedelta(days=1),
    )


GRANTS = {
    "app-L3": grant(max_grade="L3"),
    "app-L2": grant(max_grade="L2"),
    "app-L1": grant(max_grade="L1"),
    "blanket-L3": grant(blanket=True, max_grade="L3"),
    "blanket-L2": grant(blanket=True, max_grade="L2"),
    "app-partial": grant(fields=("name", "gender", "bank_card")),
}

MASK3 = "mask:GRADE_REQUIRES_MASKING"
CLEAR = "clear:GRANTED"
L4 = "drop:L4_NEVER_LEAVES"
ABOVE = "drop:ABOVE_GRANT_GRADE"
APP_ONLY = "drop:NEEDS_APP_GRANT"

# grant -> field -> "action:reason", or None when the field is not even a candidate (outside
# the grant and not asked for). Written out in full: this table is the promise.
MATRIX: dict[str, dict[str, str | None]] = {
    "app-L3": {
        "name": MASK3,
        "gender": CLEAR,
        "birth_date": MASK3,
        "id_number": MASK3,
        "mobile": "mask:FIELD_MASKED",
        "district": CLEAR,
        "bank_card": L4,
        "passport": "drop:NO_MASK_RULE",
        "employer_code": "clear:MASK_RULE_NONE",
    },
    "app-L2": {
        "name": ABOVE,
        "gender": CLEAR,
        "birth_date": ABOVE,
        "id_number": ABOVE,
        "mobile": "mask:FIELD_MASKED",
        "district": CLEAR,
        "bank_card": L4,
        "passport": ABOVE,
        "employer_code": ABOVE,
    },
    "app-L1": {
        "name": ABOVE,
        "gender": CLEAR,
        "birth_date": ABOVE,
        "id_number": ABOVE,
        "mobile": ABOVE,
        "district": ABOVE,
        "bank_card": L4,
        "passport": ABOVE,
        "employer_code": ABOVE,
    },
    "blanket-L3": {
        "name": APP_ONLY,
        "gender": CLEAR,
        "birth_date": APP_ONLY,
        "id_number": APP_ONLY,
        "mobile": "mask:FIELD_MASKED",
        "district": CLEAR,
        "bank_card": L4,
        "passport": APP_ONLY,
        "employer_code": APP_ONLY,
    },
    "blanket-L2": {
        "name": ABOVE,
        "gender": CLEAR,
        "birth_date": ABOVE,
        "id_number": ABOVE,
        "mobile": "mask:FIELD_MASKED",
        "district": CLEAR,
        "bank_card": L4,
        "passport": ABOVE,
        "employer_code": ABOVE,
    },
    "app-partial": {
        "name": MASK3,
        "gender": CLEAR,
        "birth_date": None,
        "id_number": None,
        "mobile": None,
        "district": None,
        "bank_card": L4,
        "passport": None,
        "employer_code": None,
    },
}

GRADES = {f.name: f.grade for f in FIELDS}


def outcome(plan: ReleasePlan, field: str) -> str | None:
    for a in plan.released + plan.dropped:
        if a.field == field:
            return f"{a.action}:{a.reason}"
    return None


@pytest.mark.parametrize(
    ("grant_name", "field"),
    [(g, f) for g in MATRIX for f in ALL],
    ids=[f"{g}-{GRADES[f]}-{f}" for g in MATRIX for f in ALL],
)
def test_matrix_without_selection(standard: Standard, grant_name: str, field: str) -> None:
    plan = plan_release(QUERY, GRANTS[grant_name], (), standard)
    assert outcome(plan, field) == MATRIX[grant_name][field]


@pytest.mark.parametrize("grant_name", list(MATRIX))
def test_plan_shape(standard: Standard, grant_name: str) -> None:
    plan = plan_release(QUERY, GRANTS[grant_name], (), standard)
    order = [f.name for f in FIELDS]
    assert all(a.action in ("clear", "mask") for a in plan.released)
    assert all(a.action == "drop" for a in plan.dropped)
    for part in (plan.released, plan.dropped):
        assert [a.field for a in part] == sorted((a.field for a in part), key=order.index)
    # Nothing at L4 is ever released, whatever the grant says.
    assert "L4" not in {a.grade for a in plan.released}
    expected = {a.grade for a in plan.released}
    assert plan.grade == (max(expected) if expected else "")


def test_action_carries_grade_and_kind(standard: Standard) -> None:
    plan = plan_release(QUERY, GRANTS["app-L3"], ("id_number",), standard)
    assert plan == ReleasePlan(
        released=(FieldAction("id_number", "mask", "GRADE_REQUIRES_MASKING", "L3", "id_number"),),
        dropped=(),
        grade="L3",
    )
    assert plan.fields == ("id_number",)
    assert plan.masked == plan.released


# --------------------------------------------------------------------------- explicit selection


@pytest.mark.parametrize(
    ("grant_name", "requested", "released", "dropped", "grade"),
    [
        # Released in interface order, not request order; duplicates collapse.
        (
            "app-L3",
            ("id_number", "gender", "gender"),
            [("gender", CLEAR), ("id_number", MASK3)],
            [],
            "L3",
        ),
        ("app-L3", ("mobile",), [("mobile", "mask:FIELD_MASKED")], [], "L2"),
        ("app-L3", ("gender", "district"), [("gender", CLEAR), ("district", CLEAR)], [], "L2"),
        # Above the grant's grade: dropped with its reason, never released.
        ("app-L2", ("name", "gender"), [("gender", CLEAR)], [("name", ABOVE)], "L1"),
        ("app-L1", ("district",), [], [("district", ABOVE)], ""),
        # A blanket grant never releases a grade that needs an app grant.
        (
            "blanket-L3",
            ("name", "mobile"),
            [("mobile", "mask:FIELD_MASKED")],
            [("name", APP_ONLY)],
            "L2",
        ),
        ("app-L3", ("passport",), [], [("passport", "drop:NO_MASK_RULE")], ""),
    ],
)
def test_explicit_selection(
    standard: Standard,
    grant_name: str,
    requested: tuple[str, ...],
    released: list[tuple[str, str]],
    dropped: list[tuple[str, str]],
    grade: str,
) -> None:
    plan = plan_release(QUERY, GRANTS[grant_name], requested, standard)
    assert [(a.field, f"{a.action}:{a.reason}") for a in plan.released] == released
    assert [(a.field, f"{a.action}:{a.reason}") for a in plan.dropped] == dropped
    assert plan.grade == grade


@pytest.mark.parametrize(
    ("grant_name", "requested", "reason", "where"),
    [
        ("app-L3", ("bank_card",), "L4_NOT_RELEASABLE", "fields[0]"),
        ("app-partial", ("gender", "bank_card"), "L4_NOT_RELEASABLE", "fields[1]"),
        ("blanket-L3", ("bank_card",), "L4_NOT_RELEASABLE", "fields[0]"),
        ("app-partial", ("name", "mobile"), "FIELD_NOT_GRANTED", "fields[1]"),
        ("app-partial", ("id_number",), "FIELD_NOT_GRANTED", "fields[0]"),
    ],
)
def test_explicit_refusals(
    standard: Standard, grant_name: str, requested: tuple[str, ...], reason: str, where: str
) -> None:
    with pytest.raises(PermissionDenied) as info:
        plan_release(QUERY, GRANTS[grant_name], requested, standard)
    assert info.value.reason == reason
    assert info.value.message.startswith(where)
    if reason == "L4_NOT_RELEASABLE":
        assert "never leaves the province" in info.value.message
        assert "verify interface" in info.value.message


@pytest.mark.parametrize(
    ("requested", "field"),
    [(("nope",), "fields[0]"), (("gender", "Name"), "fields[1]"), (("",), "fields[0]")],
)
def test_unknown_field(standard: Standard, requested: tuple[str, ...], field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        plan_release(QUERY, GRANTS["app-L3"], requested, standard)
    assert (info.value.reason, info.value.field) == ("UNKNOWN_FIELD", field)


def test_empty_grant_releases_nothing(standard: Standard) -> None:
    plan = plan_release(QUERY, grant(fields=()), (), standard)
    assert plan == ReleasePlan((), (), "")


# --------------------------------------------------------------------------- verify-only


def test_verify_interface_releases_nothing(standard: Standard) -> None:
    g = grant(interface_id=VERIFY.id, fields=("id_number", "name"))
    assert plan_release(VERIFY, g, (), standard) == ReleasePlan((), (), "")
    plan = plan_release(VERIFY, g, ("name",), standard)
    assert plan.released == ()
    assert [(a.field, a.action, a.reason) for a in plan.dropped] == [
        ("name", "drop", "VERIFY_ONLY")
    ]
    with pytest.raises(InvalidArgument) as info:
        plan_release(VERIFY, g, ("photo",), standard)
    assert info.value.reason == "UNKNOWN_FIELD"


# --------------------------------------------------------------------------- applying a plan


RECORD = {
    "name": "张三丰",
    "gender": "男",
    "birth_date": "1949-12-31",
    "id_number": "11010519491231002X",
    "mobile": "13812345678",
    "district": "浦东新区",
    "bank_card": "6222021234567890123",
    "passport": "E12345678",
    "employer_code": "91350100M000100Y43",
    "internal_note": "never declared, never released",
}


def test_apply_plan_masks_by_kind(standard: Standard) -> None:
    plan = plan_release(QUERY, GRANTS["app-L3"], (), standard)
    assert apply_plan(plan, RECORD, standard) == {
        "name": "张**",
        "gender": "男",
        "birth_date": "1949",
        "id_number": "110105********002X",
        "mobile": "138****5678",
        "district": "浦东新区",
        "employer_code": "91350100M000100Y43",
    }


@pytest.mark.parametrize("grant_name", list(MATRIX))
def test_apply_plan_returns_only_released(standard: Standard, grant_name: str) -> None:
    plan = plan_release(QUERY, GRANTS[grant_name], (), standard)
    out = apply_plan(plan, RECORD, standard)
    assert list(out) == [a.field for a in plan.released]
    assert "bank_card" not in out and "internal_note" not in out
    for a in plan.masked:
        assert out[a.field] != RECORD[a.field]
    # No masked value carries the whole original anywhere.
    assert RECORD["id_number"] not in out.values() and RECORD["mobile"] not in out.values()


def test_apply_plan_skips_missing_and_blanks_null(standard: Standard) -> None:
    plan = plan_release(QUERY, GRANTS["app-L3"], ("gender", "district", "name"), standard)
    assert apply_plan(plan, {"gender": None, "name": "李四"}, standard) == {  # type: ignore[dict-item]
        "name": "李*",
        "gender": "",
    }


# --------------------------------------------------------------------------- the grant check


def check(g: Grant | None, *, purpose: str = PURPOSE, app: str = APP, now: datetime = NOW):
    return check_grant(g, app_id=app, iface=QUERY, purpose=purpose, now=now)


@pytest.mark.parametrize(
    ("g", "kwargs", "reason"),
    [
        (None, {}, "NO_GRANT"),
        (grant(state="revoked"), {}, "GRANT_REVOKED"),
        # Revoked and expired: revocation is the reason that matters.
        (grant(state="revoked", valid_until=NOW - timedelta(seconds=1)), {}, "GRANT_REVOKED"),
        (grant(valid_until=NOW), {}, "GRANT_EXPIRED"),  # valid_until is exclusive
        (grant(valid_until=NOW - timedelta(days=1)), {}, "GRANT_EXPIRED"),
        (grant(valid_from=NOW + timedelta(seconds=1)), {}, "GRANT_NOT_YET_VALID"),
        (grant(), {"purpose": "商业营销"}, "PURPOSE_NOT_GRANTED"),
        (grant(), {"app": "js/rsj/other-app"}, "NO_GRANT"),  # someone else's grant
        (grant(interface_id="sh/rsj/other/v1"), {}, "NO_GRANT"),
        (grant(blanket=True), {"app": "zj/rsj/pension-transfer"}, "NO_GRANT"),  # other province
    ],
)
def test_check_grant_refusals(g: Grant | None, kwargs: dict, reason: str) -> None:
    with pytest.raises(PermissionDenied) as info:
        check(g, **kwargs)
    assert info.value.reason == reason


@pytest.mark.parametrize("purpose", ["", "   ", "\u3000\n"])
def test_check_grant_missing_purpose(purpose: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        check(grant(), purpose=purpose)
    assert (info.value.reason, info.value.field) == ("MISSING_PURPOSE", "purpose")


@pytest.mark.parametrize(
    ("granted", "declared"),
    [
        (PURPOSE, f"  {PURPOSE}\n"),
        ("pension transfer", "ｐｅｎｓｉｏｎ\u3000 \t transfer"),  # full-width letters and spaces
        ("跨省 通办", "跨省　　通办"),
    ],
)
def test_check_grant_normalises_purpose(granted: str, declared: str) -> None:
    g = grant(purposes=("other", granted))
    assert check(g, purpose=declared) is g


def test_check_grant_blanket_covers_the_province() -> None:
    g = grant(blanket=True)
    assert check(g, app="js/gaj/any-app") is g


@pytest.mark.parametrize("mark", ["important", "core"])
def test_marked_data_needs_an_app_grant_naming_it(mark: str) -> None:
    # 重要数据/核心数据 (GB/T 43697): a blanket grant never covers the interface, even one that
    # covers the caller's province; the app's own grant naming the interface does.
    marked = replace(QUERY, data_mark=mark)
    with pytest.raises(PermissionDenied) as info:
        check_grant(grant(blanket=True), app_id=APP, iface=marked, purpose=PURPOSE, now=NOW)
    assert info.value.reason == "MARKED_DATA_NEEDS_APP_GRANT"
    g = grant()
    assert check_grant(g, app_id=APP, iface=marked, purpose=PURPOSE, now=NOW) is g
