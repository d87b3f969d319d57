"""Catalog entries built by hand for the store and wire tests: ``entry`` fills every field a
test does not name, and the named entries each match a search in one documented way."""

from __future__ import annotations

from gateway.catalog.model import CatalogEntry, DataItem

_seq = iter(range(500_000, 1_000_000))  # clear of the hand-written codes below


def entry(
    name: str,
    *,
    code: str | None = None,
    abstract: str = "",
    department: str = "江苏省大数据管理中心",
    department_code: str = "dsj",
    items: tuple[str, ...] = (),
    category: str = "101",
    grade: str = "L1",
    share_type: str = "unconditional",
    update_cycle: str = "daily",
    data_mark: str = "",
) -> CatalogEntry:
    return CatalogEntry(
        code=f"{category}001/{next(_seq):06d}" if code is None else code,
        name=name,
        province="js",
        department_code=department_code,
        department=department,
        category=category,
        abstract=abstract,
        format="database",
        share_type=share_type,
        share_conditions="",
        open_attribute="closed",
        update_cycle=update_cycle,
        publish_date="2022-07-07",
        grade=grade,
        items=tuple(DataItem(n, "string", 50, grade) for n in items),
        local_grade="三级",
        local_category="A01",
        data_mark=data_mark,
    )


HUJI_NAME = entry("南京2021年度户籍人口迁入登记信息", code="101001/000001")
HUJI_ABSTRACT = entry("居民身份证办理信息", code="101001/000002", abstract="核验申请人户籍所在地")
HUKOU_JIGUAN = entry("户口簿信息", code="101001/000003", abstract="记录籍贯与出生地")
HUJI_ITEM = entry("婚姻登记信息", code="101001/000004", items=("户籍地址", "姓名"))
HUJI_DEPT = entry("办事指南", code="101001/000005", department="户籍管理处")
SHEBAO_NAME = entry("社保卡申领信息", code="202001/000006")
SHEBAO_ABSTRACT = entry("社会保险参保缴费信息", code="202001/000007", abstract="俗称社保缴费")
GJJ_NAME = entry("住房公积金缴存明细", code="203001/000008", items=("缴存金额",))
GJJ_ABSTRACT = entry("个人贷款信息", code="203001/000009", abstract="住房公积金贷款")
GONGJI_APART = entry("公共积分信息", code="203001/000010")
LICENCE = entry("企业营业执照登记信息", code="104001/000011", items=("统一社会信用代码",))
LICENCE_SPLIT = entry("营业场所执照信息", code="104001/000012")
GB = entry("GB11643校验规则", code="105001/000013", abstract="ISO 7064 MOD 11-2")
FULLWIDTH = entry("ＧＢ／Ｔ\u3000２２６０行政区划", code="105001/000014")

ALL = [
    HUJI_NAME,
    HUJI_ABSTRACT,
    HUKOU_JIGUAN,
    HUJI_ITEM,
    HUJI_DEPT,
    SHEBAO_NAME,
    SHEBAO_ABSTRACT,
    GJJ_NAME,
    GJJ_ABSTRACT,
    GONGJI_APART,
    LICENCE,
    LICENCE_SPLIT,
    GB,
    FULLWIDTH,
]
