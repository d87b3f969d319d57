"""The grade matrix at its edges: a grant capped at L4, a field of a grade the standard does not
know, a grant of a grade the standard does not know. Deny by default: whatever is unknown stays
home, with its reason, and L4 stays home whatever the grant says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.config import load_standard
from gateway.errors import PermissionDenied
from gateway.exchange.model import BackendSpec, Field, Interface, Param
from gateway.exchange.policy import plan_release
from gateway.sharing.model import Grant, Quota
from gateway.standard import Standard
from tests.support.federation import ROOT

NOW = datetime(2025, 6, 1, tzinfo=UTC)

EDGE_FIELDS = (
    Field("gender", "性别", "plain", "L1"),
    Field("district", "户籍所在区", "plain", "L2"),
    Field("mobile", "手机号码", "mobile", "L2", mask=True),
    Field("id_number", "公民身份号码", "id_number", "L3"),
    Field("bank_card", "社保卡银行账号", "bank_card", "L4"),
    Field("secret", "未定级数据项", "plain", "L5"),  # a grade the standard does not define
    Field("lower", "小写等级", "plain", "l1"),  # grades are ids, not case-insensitive names
    Field("blank", "空等级", "plain", ""),
)
NAMES = tuple(f.name for f in EDGE_FIELDS)
IFACE = Interface(
    id="zj/rsj/edge-person/v1",
    province="zj",
    department="rsj",
    department_name="浙江省人力资源和社会保障厅",
    name="边界等级测试接口",
    resource_code="203001/000009",
    mode="query",
    params=(Param("id_number", "resident_id"),),
    fields=EDGE_FIELDS,
    backend=BackendSpec("sqlite"),
)


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")


def edge_grant(max_grade: str, *, blanket: bool = False) -> Grant:
    return Grant(
        id=f"grant-{max_grade or 'blank'}",
        grantee="js" if blanket else "js/rsj/pension-transfer",
        blanket=blanket,
        interface_id=IFACE.id,
        fields=NAMES,
        purposes=("边界测试",),
        max_grade=max_grade,
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=1),
        quota=Quota(10, 100),
        state="active",
        application_id="" if blanket else "app-EDGE",
        revoked_reason="",
        created_at=NOW - timedelta(days=1),
    )


CLEAR = "clear:GRANTED"
MASKED = "mask:FIELD_MASKED"
MASK3 = "mask:GRADE_REQUIRES_MASKING"
ABOVE = "drop:ABOVE_GRANT_GRADE"
HOME = "drop:L4_NEVER_LEAVES"
UNKNOWN = "drop:UNKNOWN_GRADE"

# grant (max grade, blanket) -> what each field gets, written out in full.
EDGE_MATRIX: dict[tuple[str, bool], dict[str, str]] = {
    # Capped at L4: no more than L3 leaves. L4 data stays home whatever the grant says.
    ("L4", False): {
        "gender": CLEAR,
        "district": CLEAR,
        "mobile": MASKED,
        "id_number": MASK3,
        "bank_card": HOME,
        "secret": UNKNOWN,
        "lower": UNKNOWN,
        "blank": UNKNOWN,
    },
    ("L4", True): {
        "gender": CLEAR,
        "district": CLEAR,
        "mobile": MASKED,
        "id_number": "drop:NEEDS_APP_GRANT",
        "bank_card": HOME,
        "secret": UNKNOWN,
        "lower": UNKNOWN,
        "blank": UNKNOWN,
    },
    # A grant of a grade the standard does not know releases nothing at all.
    **{
        (unknown, blanket): {
            "gender": ABOVE,
            "district": ABOVE,
            "mobile": ABOVE,
            "id_number": ABOVE,
            "bank_card": HOME,
            "secret": UNKNOWN,
            "lower": UNKNOWN,
            "blank": UNKNOWN,
        }
        for unknown in ("L5", "L0", "l3", "")
        for blanket in (False, True)
    },
}


@pytest.mark.parametrize(
    ("max_grade", "blanket", "field"),
    [(g, b, f) for (g, b) in EDGE_MATRIX for f in NAMES],
    ids=[
        f"{g or 'blank'}-{'blanket' if b else 'app'}-{f}" for (g, b) in EDGE_MATRIX for f in NAMES
    ],
)
def test_edge_matrix(standard: Standard, max_grade: str, blanket: bool, field: str) -> None:
    plan = plan_release(IFACE, edge_grant(max_grade, blanket=blanket), (), standard)
    outcomes = {a.field: f"{a.action}:{a.reason}" for a in plan.released + plan.dropped}
    assert outcomes[field] == EDGE_MATRIX[(max_grade, blanket)][field]


@pytest.mark.parametrize("key", list(EDGE_MATRIX), ids=lambda k: f"{k[0] or 'blank'}-{k[1]}")
def test_edge_plan_grade_is_the_highest_released(standard: Standard, key) -> None:
    plan = plan_release(IFACE, edge_grant(key[0], blanket=key[1]), (), standard)
    released = {a.grade for a in plan.released}
    assert released <= {"L1", "L2", "L3"}
    assert plan.grade == (max(released) if released else "")


@pytest.mark.parametrize("max_grade", ["L4", "L5", ""])
def test_asking_for_l4_by_name_is_refused_under_any_grant(standard: Standard, max_grade: str):
    with pytest.raises(PermissionDenied) as info:
        plan_release(IFACE, edge_grant(max_grade), ("gender", "bank_card"), standard)
    assert info.value.reason == "L4_NOT_RELEASABLE"
    assert info.value.message.startswith("fields[1]")


@pytest.mark.parametrize("field", ["secret", "lower", "blank"])
def test_asking_for_an_unknown_grade_by_name_drops_it_with_its_reason(
    standard: Standard, field: str
):
    # Not refused (the caller cannot know the owner's declaration is faulty), never released.
    plan = plan_release(IFACE, edge_grant("L4"), (field, "gender"), standard)
    assert [(a.field, a.action, a.reason) for a in plan.dropped] == [
        (field, "drop", "UNKNOWN_GRADE")
    ]
    assert plan.fields == ("gender",) and plan.grade == "L1"
