"""The seed catalog's vocabulary: resource subjects with their owners, the year each began and
their data items, name parts, abstracts, and the share bases and weights that make generated
catalogs read like real provincial ones (used by ``seed.py``).

Data items are named here only: their type, length, grade and kind are defined once, in the
standard's ``data_items`` (``config/standard/yrd-standard.yaml``), which the interfaces read too.
"""


# --------------------------------------------------------------------------- vocabulary
#
# Subjects are written "subject:profile[:suffix/suffix]@kind,kind[^year][=item,item][+group]".
# Profiles: P a person, O an organisation, S statistics, F a facility, D a directory of things
# (事项, 线路, 规划 ...). "@kind" names the lines of work (departments.yaml's kind) that own the
# subject by function (三定): only departments of those kinds publish it. "^year" is the year the
# subject first existed (新冠 2020); no entry of it is dated earlier. "=items" are the subject's own
# data items, always present; "+group" adds a group of optional items (``_GROUPS``).
#
# Per category: (subjects, optional items of the category, "name#profiles" limiting an item to
# subjects of those profiles). A record carries its profile's core items, its subject's items and a
# draw from the optional ones: the profile's generic items, its groups and the category's items.

_CORE = {
    "P": "姓名 公民身份号码",
    "O": "统一社会信用代码 主体名称",
    "S": "统计年度 行政区划代码",
    "F": "机构名称 地址",
    "D": "名称 编码",
}

# Optional items that fit every subject of a profile.
_GENERIC = {
    "P": "性别 出生日期 手机号码 行政区划代码 登记日期 更新时间",
    "O": "住所 行业代码 行政区划代码 更新时间",
    "S": "行政区划名称 统计月份 指标名称 指标值 计量单位 统计口径 数据来源 同比增长率 环比增长率 "
    "初步核算值 备注",
    "F": "统一社会信用代码 服务电话 经度 纬度 服务时间 机构等级 所属区域 运营状态 服务内容 "
    "更新时间",
    "D": "类别 描述 主管部门 设立依据 状态 生效日期 版本号 所属区域 空间位置 备注 更新时间",
}

# Optional item groups a subject takes by name: the population register's demographic items and
# the enterprise register's registration items belong to those registers, not to every record.
_GROUPS = {
    "人口": "民族 户籍地址 现住址 国籍 文化程度 婚姻状况 职业 工作单位 曾用名 照片 人口类型",
    "登记": "法定代表人 注册资本 成立日期 登记机关 经营范围 企业类型 登记状态 核准日期 营业期限 "
    "联系人 联系电话 纳税人识别号 从业人数",
}

_SUFFIXES = {
    "P": ("信息", "信息", "数据", "明细", "登记信息"),
    "O": ("信息", "信息", "数据", "名录", "名单"),
    "S": ("统计数据", "统计信息", "数据", "汇总数据", "统计表"),
    "F": ("目录", "名录", "信息", "分布信息", "基本信息"),
    "D": ("目录", "清单", "信息", "数据", "基本信息"),
}
# Inserted before the suffix; the empty ones keep most names plain. A person's records are not
# published by year (年度核酸检测结果信息 reads wrong), statistics are.
_QUALIFIERS = {
    "P": ("", "", "", "", "", "历史", "新增"),
    "O": ("", "", "", "", "历史", "新增", "年度"),
    "S": ("", "", "", "月度", "季度", "年度", "分区县", "分行业"),
    "F": ("", "", "", "", "新增", "年度"),
    "D": ("", "", "", "", "新增", "调整"),
}


# Shared id -> weight; converted to the province's local labels once per generator. A person's or
# an organisation's records change as business happens: they are not refreshed once a year.
_FACILITY_CYCLES = {"daily": 10, "weekly": 5, "monthly": 20, "quarterly": 15, "yearly": 20}
_UPDATE_CYCLES = {
    "P": {"realtime": 35, "daily": 40, "weekly": 5, "monthly": 10, "irregular": 10},
    "O": {
        "realtime": 20,
        "daily": 30,
        "weekly": 10,
        "monthly": 15,
        "quarterly": 5,
        "irregular": 15,
    },
    "S": {"monthly": 30, "quarterly": 25, "yearly": 35, "irregular": 10},
    "F": {**_FACILITY_CYCLES, "irregular": 30},
    "D": {**_FACILITY_CYCLES, "irregular": 40},
}
# Personal or sensitive data (L3 and up) is never shared without conditions nor opened
# unconditionally.
_SHARE_BY_GRADE = {
    "L1": {"unconditional": 80, "conditional": 18, "none": 2},
    "L2": {"unconditional": 45, "conditional": 50, "none": 5},
    "L3": {"conditional": 85, "none": 15},
    "L4": {"conditional": 45, "none": 55},
}
#: The 人口 and 法人 base databases (基础信息资源): their basic items are shared, never refused
#: (《政务信息资源共享管理暂行办法》第八条).
BASE_CATEGORIES = frozenset({"101", "102"})
_OPEN_BY_GRADE = {
    "L1": {"open": 60, "conditional": 25, "closed": 15},
    "L2": {"open": 15, "conditional": 45, "closed": 40},
    "L3": {"conditional": 15, "closed": 85},
    "L4": {"closed": 1},
}
_FORMATS = {"database": 55, "interface": 25, "file": 8, "spreadsheet": 8, "image": 2, "other": 2}

#: 有条件共享 conditions: what a requesting department must do. Verification (核验) fits only
#: records about one person or organisation that hold sensitive items (L3 and up).
CONDITIONS = (
    "仅限政务服务事项办理使用，需经提供部门审核同意。",
    "需提交共享申请并说明用途，限于授权范围内使用。",
    "按最小必要原则提供，敏感信息项脱敏后共享。",
    "限长三角区域政务部门依申请共享，不得用于其他用途。",
)
VERIFY_CONDITION = "以数据核验方式提供，不提供原始数据。"

#: 不予共享 bases, each a real legal ground (《政务信息资源共享管理暂行办法》第九条: 不予共享
#: must name its basis): basis -> the profiles it may be given for. 商业秘密 is for organisations
#: only; 个人隐私 names its article.
NONE_BASES: dict[str, str] = {
    "涉及敏感个人信息，依据《中华人民共和国个人信息保护法》第二十八条不予共享。": "P",
    "涉及个人隐私，依据《中华人民共和国民法典》第一千零三十二条不予共享。": "P",
    "涉及商业秘密，依据《中华人民共和国反不正当竞争法》第九条不予共享。": "O",
    "涉及国家秘密，依据《中华人民共和国保守国家秘密法》不予共享。": "SDF",
    "依据《中华人民共和国统计法》第三十九条，能够识别单个统计调查对象的资料不予共享。": "S",
}
#: A person's record holding sensitive personal information (an L4 item: 诊断结果, 残疾类别 ...) is
#: refused on the article that names such information.
SENSITIVE_BASIS = "涉及敏感个人信息，依据《中华人民共和国个人信息保护法》第二十八条不予共享。"
#: 税务 refuses by its own law: taxpayers' secrets are kept (税收征收管理法第八条).
TAX_BASIS = "依据《中华人民共和国税收征收管理法》第八条，纳税人的商业秘密及个人隐私予以保密。"
#: Every basis a 不予共享 entry may carry.
SHARE_BASES: frozenset[str] = frozenset({*NONE_BASES, TAX_BASIS})
_VERIFY_ONLY_CONDITION = "仅提供核验服务，数据不出省域。"
# share type -> {open attribute it forbids: the one to use instead}.
_OPEN_CAP = {
    "unconditional": {},
    "conditional": {"open": "conditional"},
    "none": {"open": "closed", "conditional": "closed"},
}
_VERBS = ("汇集", "归集", "采集", "登记", "维护", "管理")
_USES = {
    "P": (
        "仅限授权部门在办理相关政务服务事项时使用",
        "可用于跨省通办业务中的身份和资格核验",
        "支撑长三角“一网通办”相关事项办理",
    ),
    "O": (
        "可用于市场主体监管和跨省通办业务核验",
        "支撑长三角区域市场主体信息互认",
        "服务于事中事后监管和信用监管",
    ),
    "S": ("用于宏观分析和辅助决策", "可用于统计分析和政策评估", "服务于区域协同发展监测"),
    "F": (
        "可为公众和企业查询办事提供参考",
        "支撑长三角公共服务资源共享",
        "用于公共服务设施布局和管理",
    ),
    "D": (
        "可为公众和企业查询办事提供参考",
        "支撑长三角公共数据资源一体化编目",
        "用于规划管理和业务协同",
    ),
}

# --------------------------------------------------------------------------- data marks
#
# 重要数据 after GB/T 43697-2024 附录G (重要数据识别指南): data of a domain the guide names, at a
# coverage that makes it important. A record is 重要数据 when it covers the whole province (no city
# in its scope) and is one of:
# - the whole-province population or legal-person base register: the records of persons or
#   organisations of the 人口 or 法人 base database (``BASE_CATEGORIES``) holding items that are not
#   public (L3 and up: identity numbers, a legal representative's ID ...); what is published
#   already (企业信息公示, L1-L2) is not important data;
# - large-scale geographic data: spatial base data (自然资源和空间地理) locating what it lists;
# - persons' health data at province scale: a person's health record holding a sensitive item
#   (L4, such as 诊断结果 or 病历号) in 健康保障 or 卫生健康.
# Statistics never are: aggregates name no person and locate nothing. 核心数据 is designated by the
# national data-security coordination mechanism (《数据安全法》第二十一条), not by a province's
# catalog, so the seed marks none.

#: Items that locate what a record lists (what makes spatial data geographic data).
SPATIAL_ITEMS = frozenset({"空间位置", "空间范围", "坐标系", "比例尺", "经度", "纬度"})
#: 健康保障 and 卫生健康: where persons' health records are catalogued.
HEALTH_CATEGORIES = frozenset({"202", "304"})
SPATIAL_CATEGORY = "103"


def data_mark(category: str, profile: str, item_names: set[str], rank: int, whole: bool) -> str:
    """The GB/T 43697 mark of a record of ``category`` and subject ``profile`` holding items
    ``item_names`` (the highest of grade rank ``rank``: 3 is L3), ``whole`` when it covers the
    whole province: ``important`` by the rule above, else empty."""
    if not whole:
        return ""
    if category in BASE_CATEGORIES and profile in ("P", "O") and rank >= 3:
        return "important"
    if category == SPATIAL_CATEGORY and profile == "D" and item_names & SPATIAL_ITEMS:
        return "important"
    if category in HEALTH_CATEGORIES and profile == "P" and rank >= 4:
        return "important"
    return ""
