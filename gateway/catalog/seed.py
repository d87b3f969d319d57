"""Deterministic, realistic seed catalogs for one province, and its department list.

Owns ``nodes/<province>/departments.yaml`` and the vocabulary of resource names, abstracts and
data items. A record is drawn in the province's local vocabulary (local grade label, category code,
share type, open attribute and update cycle) and every local value is mapped through the crosswalk
onto the shared standard, so the seed exercises the crosswalk on every entry.
"""

from __future__ import annotations

import random
import re
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Generic, TypeVar

from gateway.catalog.model import CatalogEntry, DataItem
from gateway.crosswalk import Crosswalk
from gateway.standard import Standard, load_yaml

__all__ = [
    "MAX_SEQUENCE",
    "Department",
    "Departments",
    "capacity",
    "generate_entries",
    "load_departments",
]

#: 顺序码 is the 2-digit region prefix plus 4 digits, so one 类项目 prefix holds at most 9999.
MAX_SEQUENCE = 9999

T = TypeVar("T")

_REGION_RE = re.compile(r"^[1-9]\d0000$")
_DEPT_CODE_RE = re.compile(r"^[a-z][a-z0-9]*$")


# --------------------------------------------------------------------------- departments


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    """Short code inside the province, e.g. ``gaj``."""
    name: str
    categories: tuple[str, ...]
    """Shared category codes it publishes in, its main one first."""
    kind: str = ""
    """Line of work (公安, 人社, 公积金 ...): picks the resource subjects it owns."""
    weight: int = 1
    """Relative share of the province's catalog."""
    index: int = 0
    """1-based position in the list: the 目 of its resource codes."""


@dataclass(frozen=True, slots=True)
class Departments:
    province: str
    name: str
    """The province's Chinese name, e.g. ``江苏省``."""
    region_code: str
    """GB/T 2260 code, e.g. ``320000``."""
    cities: tuple[str, ...]
    """Prefecture-level cities (Shanghai: districts), for generated names."""
    departments: tuple[Department, ...]

    @property
    def region_prefix(self) -> str:
        return self.region_code[:2]

    def get(self, code: str) -> Department:
        for dept in self.departments:
            if dept.code == code:
                return dept
        raise ValueError(f"{self.province}: unknown department {code!r}")


def load_departments(path: str | Path, standard: Standard | None = None) -> Departments:
    """Load a province's departments and cities; with ``standard``, check the categories too."""
    root = load_yaml(path)
    root.only("province", "name", "region_code", "cities", "departments")
    region = root["region_code"].text(_REGION_RE, 'a quoted GB/T 2260 code such as "320000"')
    cities = tuple(c.text() for c in root["cities"].items())
    depts: list[Department] = []
    seen: set[str] = set()
    nodes = root["departments"].items()
    if len(nodes) > 999:
        raise root["departments"].fail("at most 999 departments (目 has three digits)")
    for i, node in enumerate(nodes, start=1):
        node.only("code", "name", "kind", "weight", "categories")
        code = node["code"].text(_DEPT_CODE_RE, "a lower-case code such as gaj")
        if code in seen:
            raise node["code"].fail(f"a unique department code, {code!r} appears twice")
        seen.add(code)
        cats: list[str] = []
        for cat in node["categories"].items():
            value = cat.text()
            if standard is not None and not standard.is_category(value):
                raise cat.fail(f"a category code of {standard.fingerprint}, got {value!r}")
            if value in cats:
                raise cat.fail(f"each category once, {value!r} appears twice")
            cats.append(value)
        weight = node["weight"].integer(minimum=1) if node.has("weight") else 1
        kind = node.text_or("kind", "")
        depts.append(Department(code, node["name"].text(), tuple(cats), kind, weight, i))
    return Departments(
        province=root["province"].text(),
        name=root["name"].text(),
        region_code=region,
        cities=cities,
        departments=tuple(depts),
    )


def capacity(departments: Departments) -> int:
    """How many entries fit: every (department, category) prefix holds ``MAX_SEQUENCE``."""
    return sum(len(d.categories) for d in departments.departments) * MAX_SEQUENCE


# --------------------------------------------------------------------------- vocabulary
#
# Data items are written "name/type/length/grade[/kind][#profiles][~keyword|keyword]": types are
# s string, i integer, n decimal, d date, t datetime, b boolean, x binary; "#PO" limits an item
# to subjects of those profiles and "~公积金" to subjects whose name contains a keyword, so a
# 失业保险金 record never carries a 公积金账号.
#
# Subjects are written "subject:profile[:suffix/suffix][@kind,kind]". Profiles: P a person,
# O an organisation, S statistics, F a facility, D a directory of things (事项, 线路, 规划 ...).
# "@kind" gives the subject only to departments of that kind (see departments.yaml); subjects
# without one may come from any department publishing in the category.

_TYPES = {
    "s": "string",
    "i": "integer",
    "n": "decimal",
    "d": "date",
    "t": "datetime",
    "b": "boolean",
    "x": "binary",
}

_CORE = {
    "P": "姓名/s/50/L3/name 公民身份号码/s/18/L3/id_number",
    "O": "统一社会信用代码/s/18/L1/credit_code 企业名称/s/200/L1",
    "S": "统计年度/i/4/L1 行政区划代码/s/6/L1",
    "F": "机构名称/s/200/L1 地址/s/200/L1",
    "D": "名称/s/200/L1 编码/s/50/L1",
}
# Identity data held by the police and the population register is the most sensitive copy.
_CORE_L4_ID = "姓名/s/50/L3/name 公民身份号码/s/18/L4/id_number"
_L4_ID_CATEGORIES = frozenset({"101", "301"})

_GENERIC = {
    "P": "性别/s/1/L2 民族/s/2/L2 出生日期/d/8/L3/birth_date 手机号码/s/11/L3/mobile "
    "户籍地址/s/200/L3/address 现住址/s/200/L3/address 电子邮箱/s/100/L3/email 国籍/s/3/L1 "
    "文化程度/s/2/L2 婚姻状况/s/2/L3 职业/s/50/L2 工作单位/s/200/L2 行政区划代码/s/6/L1 "
    "登记日期/d/8/L1 更新时间/t/14/L1",
    "O": "法定代表人/s/50/L1/name 注册资本/n/18/L1 成立日期/d/8/L1 登记机关/s/100/L1 "
    "住所/s/200/L1 经营范围/s/2000/L1 企业类型/s/50/L1 登记状态/s/20/L1 核准日期/d/8/L1 "
    "联系人/s/50/L2/name 联系电话/s/20/L2/mobile 纳税人识别号/s/20/L2 行业代码/s/5/L1 "
    "从业人数/i/8/L2",
    "S": "行政区划名称/s/50/L1 统计月份/i/2/L1 指标名称/s/100/L1 指标值/n/18/L1 "
    "计量单位/s/20/L1 统计口径/s/200/L1 数据来源/s/100/L1 同比增长率/n/8/L1 环比增长率/n/8/L1 "
    "初步核算值/n/18/L2 备注/s/500/L1",
    "F": "统一社会信用代码/s/18/L1/credit_code 联系电话/s/20/L1 经度/n/12/L1 纬度/n/12/L1 "
    "服务时间/s/100/L1 机构等级/s/20/L1 所属区域/s/50/L1 负责人/s/50/L2/name 运营状态/s/10/L1 "
    "服务内容/s/1000/L1 更新时间/t/14/L1",
    "D": "类别/s/50/L1 描述/s/1000/L1 主管部门/s/100/L1 设立依据/s/500/L1 状态/s/10/L1 "
    "生效日期/d/8/L1 版本号/s/20/L1 所属区域/s/50/L1 空间位置/s/200/L1 备注/s/500/L1 "
    "更新时间/t/14/L1",
}

_SUFFIXES = {
    "P": ("信息", "信息", "数据", "明细", "登记信息"),
    "O": ("信息", "信息", "数据", "名录", "名单"),
    "S": ("统计数据", "统计信息", "数据", "汇总数据", "统计表"),
    "F": ("目录", "名录", "信息", "分布信息", "基本信息"),
    "D": ("目录", "清单", "信息", "数据", "基本信息"),
}
# Inserted before the suffix; the empty ones keep most names plain.
_QUALIFIERS = {
    "P": ("", "", "", "", "", "历史", "新增", "年度"),
    "O": ("", "", "", "", "历史", "新增", "年度"),
    "S": ("", "", "", "月度", "季度", "年度", "分区县", "分行业"),
    "F": ("", "", "", "", "新增", "年度"),
    "D": ("", "", "", "", "新增", "调整"),
}

# Per shared category: (subjects, extra data items).
_CATEGORIES: dict[str, tuple[str, str]] = {
    "101": (
        "户籍人口迁入登记:P@公安 户籍人口迁出登记:P@公安 户籍人口变更登记:P@公安 "
        "户籍人口基本:P@公安 户籍家庭户:P@公安 常住人口:P 流动人口居住登记:P@公安 "
        "居住证办理:P@公安 人口出生登记:P@公安,卫健 户籍人口死亡注销:P@公安 新生儿户籍申报:P@公安 "
        "户籍人口年龄结构:S 户籍人口数量:S 人口自然变动:S 育龄妇女:P@卫健 独生子女父母:P@卫健 "
        "户籍老年人口:P 残疾人基本:P 港澳台居民居住登记:P@公安 外籍人员居留登记:P@公安 "
        "退役军人基本:P@退役军人 人口普查汇总:S@统计 人口抽样调查:S@统计",
        "户号/s/9/L3#P~户籍 与户主关系/s/2/L3#P~户籍 迁入日期/d/8/L2#P~迁|户籍 "
        "迁出地/s/200/L2#P~迁 居住证编号/s/20/L3#P~居住 人口类型/s/2/L2#P "
        "曾用名/s/50/L3/name#P 照片/x/0/L4#P 人口数/i/10/L1#S 户数/i/10/L1#S",
    ),
    "102": (
        "企业法人基本:O@市场监管 企业营业执照登记:O@市场监管 个体工商户登记:O@市场监管 "
        "事业单位法人登记:O 社会团体登记:O@民政 民办非企业单位登记:O@民政 "
        "企业年度报告公示:O@市场监管 企业股东及出资:O@市场监管 企业变更登记:O@市场监管 "
        "企业注销登记:O@市场监管 农民专业合作社登记:O@市场监管 外商投资企业:O@市场监管,商务 "
        "法人单位数量:S 机关法人:O 纳税人基本:O@税务 规模以上工业企业:O@工信 "
        "专精特新企业:O@工信 对外贸易经营者备案:O@商务 旅行社:O@文旅 基本单位名录库:O@统计",
        "股东名称/s/200/L1#O~股东|出资 认缴出资额/n/18/L1#O~股东|出资 实缴出资额/n/18/L2#O~出资 "
        "变更事项/s/200/L1#O~变更 注销日期/d/8/L1#O~注销 营业期限/s/50/L1#O 单位数/i/10/L1#S",
    ),
    "103": (
        "基础地理:D@自然资源 土地利用现状:S@自然资源 不动产登记单元:D@自然资源,房管 "
        "地名地址:D@自然资源 行政区划界线:D@自然资源 永久基本农田:D@自然资源,农业 "
        "矿产资源储量:S@自然资源 遥感影像:D:成果目录/数据@自然资源 水资源公报:S@水利 "
        "河湖:F:名录/基本信息@水利 水利工程:F@水利 地表水功能区:D@生态环境,水利 "
        "森林资源清查:S@林业 古树名木:D@林业 自然保护地:D@林业,生态环境 农用地分等定级:D@农业",
        "宗地编号/s/19/L1#D 地块面积/n/18/L1#D,S 土地用途/s/50/L1#D 坐标系/s/50/L1#D "
        "图层名称/s/100/L1#D 空间范围/x/0/L2#D 比例尺/s/20/L1#D",
    ),
    "104": (
        "行政许可信息公示:O 行政处罚信息公示:O 失信被执行人:P@法院 限制高消费人员:P@法院 "
        "重大税收违法失信主体:O 企业信用评价:O@发改 守信激励对象:O@发改 信用承诺:O "
        "严重失信主体:O:名单/名单信息 自然人公共信用:P@数据,发改 司法行政处罚:O@司法",
        "失信行为/s/500/L2#O,P 认定机关/s/100/L1 认定日期/d/8/L1 信用等级/s/10/L2#O "
        "处罚决定书文号/s/100/L1#O~处罚 处罚事由/s/1000/L1#O~处罚 处罚结果/s/1000/L1#O~处罚 "
        "执行法院/s/100/L1#P 执行标的/n/14/L2#P 案号/s/50/L1#P",
    ),
    "105": (
        "居民身份证电子证照:P@公安,数据 营业执照电子证照:O@市场监管,数据 "
        "户口簿电子证照:P@公安,数据 结婚证电子证照:P@数据 "
        "不动产权证书电子证照:P@自然资源,住建,数据 "
        "社会保障卡电子证照:P@人社,数据 机动车驾驶证电子证照:P@公安 出生医学证明电子证照:P@数据 "
        "食品经营许可证电子证照:O@市场监管 建筑业企业资质证书电子证照:O@住建 "
        "教师资格证书电子证照:P@教育 道路运输经营许可证电子证照:O@交通 "
        "律师执业证电子证照:P@司法 公证书电子证照:P@司法 职业资格证书电子证照:P@人社 "
        "电子证照共享调用:S@数据 电子证照签发:S@数据",
        "证照编号/s/50/L2#P,O 证照名称/s/100/L1 发证机关/s/100/L1#P,O 发证日期/d/8/L1#P,O "
        "有效期起/d/8/L1#P,O 有效期止/d/8/L1#P,O 证照文件/x/0/L3#P,O 证照状态/s/10/L1#P,O "
        "调用次数/i/12/L1#S",
    ),
    "201": (
        "政务服务事项:D:目录/清单@数据 政务服务办件:P@数据 跨省通办事项:D:清单/目录@数据 "
        "一网通办办件评价:P@数据 12345热线工单:P@数据 户籍业务跨省通办办件:P@数据 "
        "便民服务网点:F 养老服务机构:F 公共图书馆:F@文旅 公共文化场馆:F@文旅 旅游景区:F@文旅 "
        "中小学校:F@教育 幼儿园:F@教育 体育场馆:F@体育 公共就业服务机构:F@人社 "
        "人力资源市场招聘岗位:D@人社 社区卫生服务中心:F@卫健 高速公路服务区:F@交通 "
        "公共法律服务站点:F@司法 政府采购项目:D@财政 财政专项资金:S@财政 外资项目:D@商务",
        "事项名称/s/200/L1#D,P 办理地点/s/200/L1#D,F 办理时限/s/50/L1#D~事项 "
        "受理部门/s/100/L1#D,P 办件编号/s/50/L2#P~办件|工单 办结日期/d/8/L2#P~办件|工单 "
        "评价结果/s/10/L2#P~评价 实施依据/s/1000/L1#D~事项",
    ),
    "202": (
        "新冠疫苗接种:P@卫健 疫苗预防接种:P@卫健 核酸检测结果:P@卫健 核酸采样点:F@卫健 "
        "医疗机构执业登记:F@卫健 电子健康档案:P@卫健 居民就诊:P@卫健 传染病报告:P@卫健 "
        "妇幼保健:P@卫健 家庭医生签约:P@卫健 出生医学证明签发:P@卫健 新冠疫苗接种人数:S@卫健 "
        "医保定点医疗机构:F:目录/名录@医保 医保结算:P@医保 异地就医直接结算:P@医保 "
        "药品集中带量采购:S@医保 药品不良反应监测:D@药监 疫苗流通追溯:D@药监 "
        "医疗器械不良事件:D@药监",
        "疫苗名称/s/100/L2~疫苗 接种日期/d/8/L3#P~疫苗|接种 接种单位/s/200/L2#P~疫苗|接种 "
        "核酸检测结果/s/10/L3#P~核酸 采样时间/t/14/L3#P~核酸 诊断结果/s/500/L4#P~就诊|传染病 "
        "就诊医院/s/200/L3#P~就诊|就医 病历号/s/50/L4#P~就诊 医保结算金额/n/12/L3#P~结算 "
        "药品名称/s/200/L1#D,S~药品 批号/s/50/L1#D",
    ),
    "203": (
        "社会保险参保缴费:P@人社 养老保险待遇发放:P@人社 失业保险金申领:P@人社 "
        "工伤保险认定:P@人社 企业职工基本养老保险:P@人社 城乡居民基本养老保险:P@人社 "
        "社保卡申领:P@人社 社保关系转移接续:P@人社 企业社会保险登记:O@人社 "
        "社会保险基金收支:S@人社,医保 住房公积金缴存:P@公积金 住房公积金提取:P@公积金 "
        "住房公积金贷款:P@公积金 住房公积金缴存单位:O@公积金 最低生活保障对象:P@民政 "
        "特困人员救助供养:P@民政 临时救助对象:P@民政 医保参保登记:P@医保 "
        "城乡居民医保缴费:P@医保 退役军人优待抚恤:P@退役军人 退役士兵安置:P@退役军人",
        "社会保障号码/s/18/L3#P~保险|社保|养老|医保 参保险种/s/20/L2#P~保险|社保|养老 "
        "缴费基数/n/12/L3#P~保险|缴费 缴费月数/i/4/L3#P~保险|养老 "
        "待遇发放金额/n/12/L3#P~待遇|保险金|抚恤|救助|保障 个人账户余额/n/12/L4#P~养老 "
        "公积金账号/s/20/L3#P~公积金 月缴存额/n/12/L3#P~公积金 "
        "银行卡号/s/19/L4/bank_card#P~发放|待遇|提取|贷款|救助 参保人数/i/10/L2#O,S "
        "基金收入/n/18/L2#S 基金支出/n/18/L2#S",
    ),
    "204": (
        "食品生产许可:O@市场监管 食品经营许可:O@市场监管 食品安全监督抽检:O@市场监管 "
        "进口冷链食品追溯:O@市场监管 学校食堂:F@市场监管 药品注册批件:O@药监 "
        "药品生产许可:O@药监 药品经营许可:O@药监 医疗器械注册:O@药监 化妆品备案:O@药监 "
        "疫苗批签发:O@药监 农产品质量安全检测:O@农业 农药残留监测:S@农业 "
        "粮食质量安全监测:S@粮储 地方储备粮:S@粮储",
        "产品名称/s/200/L1#O,S 批准文号/s/50/L1#O~药|器械|化妆品|疫苗 生产企业/s/200/L1#O "
        "抽检结果/s/10/L1~抽检|检测|监测 抽检日期/d/8/L1~抽检|检测|监测 "
        "不合格项目/s/200/L1~抽检|检测 许可证编号/s/50/L1#O~许可",
    ),
    "205": (
        "安全生产许可证:O@应急 危险化学品经营许可:O@应急 生产安全事故:S@应急 "
        "重大危险源企业:O@应急 特种作业人员操作证:P@应急 非煤矿山安全:O@应急 安全隐患排查:O "
        "营运车辆动态监控:O@交通 道路运输安全:O@交通 工业企业安全生产:O@工信 "
        "电力安全:O@能源 消防安全重点单位:O@消防 火灾事故:S@消防",
        "隐患描述/s/1000/L2#O~隐患|监控|安全 事故类型/s/50/L2#S 死亡人数/i/4/L2#S "
        "整改期限/d/8/L2#O~隐患 检查日期/d/8/L1#O 风险等级/s/10/L2#O",
    ),
    "206": (
        "重要商品价格监测:S@发改 农产品批发价格:S@发改,商务 成品油价格:S@发改 "
        "居民生活用水价格:S@发改 商品零售价格:S@商务 医疗服务价格:D:目录/清单 "
        "药品挂网价格:D:目录/清单 行政事业性收费:D:目录清单/清单@财政,发改 "
        "机动车停放服务收费标准:D:信息/清单 价格违法案件:O@市场监管 明码标价检查:O@市场监管",
        "商品名称/s/200/L1#S 规格型号/s/100/L1#S 价格/n/12/L1#S,D 采价日期/d/8/L1#S "
        "采价点/s/200/L1#S 计价单位/s/20/L1#S,D 收费标准/s/200/L1#D 违法事实/s/1000/L1#O",
    ),
    "207": (
        "能源消费:S 重点用能单位:O@发改,工信 电力供应:S@能源,发改 天然气供应:S@能源,发改 "
        "煤炭储备:S@能源,粮储 充电设施:F@能源 光伏项目备案:O@能源,发改 企业用电量:O@工信,能源 "
        "规模以上工业能耗:S@统计,工信 成品粮油储备:S@粮储",
        "用电量/n/18/L2#O,S~电 用气量/n/18/L2#S~气|能源 能耗总量/n/18/L2#O,S~能 "
        "煤炭库存/n/18/L2#S~煤炭 装机容量/n/12/L1#O,F~光伏|电",
    ),
    "208": (
        "企业公共信用评价:O@发改 信用修复:O@发改 个人公共信用报告:P@发改 "
        "联合惩戒对象:O:名单/名单信息 海关信用认证企业:O 信用承诺履约:O "
        "纳税信用等级:O@税务 纳税信用A级纳税人:O:名单/名录@税务 "
        "失信被执行人:P:名单/名单信息@法院 企业信用风险分类:O@市场监管 "
        "市场监管严重违法失信:O:名单/名单信息@市场监管",
        "信用评价结果/s/10/L2 名单类型/s/10/L1~名单 列入日期/d/8/L1~名单|惩戒|失信 "
        "列入原因/s/500/L1~名单|惩戒|失信 移出日期/d/8/L1~修复 执行标的/n/14/L2#P",
    ),
    "209": (
        "建设工程规划许可:O@自然资源 建筑工程施工许可证核发:O@住建 商品房预售许可:O@住建,房管 "
        "不动产登记证明:P@自然资源,房管 不动产抵押登记:P@自然资源,房管 房屋网签备案:P@住建,房管 "
        "城市道路:D@住建,城管 老旧小区改造项目:D@住建,房管 保障性住房申请:P@住建,房管 "
        "建筑业企业资质:O@住建 物业服务企业:O@住建,房管 城市更新项目:D "
        "城市管理综合执法案件:O@城管 户外广告设施设置:O@城管,绿化市容 城市绿地:D@绿化市容 "
        "人防工程:D@人防",
        "项目名称/s/200/L1#O,D~项目|许可 项目代码/s/24/L1#O,D~项目|许可 建设单位/s/200/L1#O,D "
        "施工许可证号/s/50/L1#O~施工 建筑面积/n/12/L1#O,D,P 竣工日期/d/8/L1#O,D "
        "房屋坐落/s/200/L3/address#P 不动产权证号/s/50/L3#P~不动产",
    ),
    "210": (
        "社区网格:D 网格事件处置:P 社区工作者:P@民政 居民委员会:F@民政 村民委员会:F@民政 "
        "社区志愿者:P@民政 重点人群关爱:P@民政 社区服务中心:F@民政 小区物业管理:F@城管,民政 "
        "社区警务室:F@公安 实有人口:P@公安 实有房屋:D@公安 城市管理网格案件:O@城管",
        "网格编号/s/20/L1 网格员/s/50/L2/name 事件类型/s/50/L2#P,O~事件|案件 "
        "上报时间/t/14/L2#P,O~事件|案件 处置状态/s/10/L1#P,O~事件|案件 社区名称/s/100/L1",
    ),
    "211": (
        "环境空气质量监测:S@生态环境 地表水水质监测:S@生态环境,水利 排污许可证核发:O@生态环境 "
        "重点排污单位:O@生态环境 环境影响评价审批:O@生态环境 生态环境行政处罚:O@生态环境 "
        "固体废物产生:O@生态环境 声环境监测:S@生态环境 碳排放配额分配:O@生态环境 "
        "土壤污染状况调查:S@生态环境 水土保持方案审批:O@水利 河道采砂许可:O@水利 "
        "森林覆盖率:S@林业 生态公益林:D@林业 生活垃圾分类:S@绿化市容",
        "监测点位/s/100/L1#S~监测 监测时间/t/14/L1#S~监测 PM2.5浓度/n/8/L1#S~空气 "
        "水质类别/s/10/L1#S~水 排污许可证编号/s/50/L1#O~排污 排放量/n/18/L2#O,S~排污|废物|碳",
    ),
    "212": (
        "突发事件预警:D:信息/发布信息@应急 应急避难场所:F@应急,人防 应急物资储备:S@应急 "
        "应急救援队伍:F@应急,消防 森林防火:D@应急 防汛抗旱:S@水利,应急 水情雨情:S@水利 "
        "核酸检测机构:F 疫苗储备:S 信访事项:P 疫情防控重点人员:P@公安 "
        "重点场所视频监控点位:D@公安 消防救援站:F@消防 火灾隐患举报:P@消防 人防警报设施:D@人防",
        "预警级别/s/10/L1#D 事件类型/s/50/L2#D,P 发生地点/s/200/L2#D,P "
        "处置措施/s/1000/L2#D~预警|防火 物资名称/s/100/L2#S~物资|储备 储备数量/i/12/L2#S~物资|储备",
    ),
    "301": (
        "户籍人口登记:P 户籍迁移审批:P 户籍业务办理:P 户籍证明开具:P 户籍注销:P 户籍人口变动:P "
        "居民身份证办理:P "
        "户口簿补领:P 机动车登记:P 机动车驾驶人:P 道路交通违法:P 出入境证件办理:P "
        "旅馆业住宿登记:P 流动人口管理:P 治安管理处罚:P 无犯罪记录证明开具:P 犬只登记:P "
        "保安员证:P 户籍人口数量:S 机动车保有量:S 道路交通事故:S",
        "户号/s/9/L3#P~户籍|户口 照片/x/0/L4#P~身份证|出入境|驾驶|保安 "
        "违法行为/s/500/L3#P~违法|处罚 驾驶证号/s/18/L3/id_number#P~驾驶 "
        "机动车号牌/s/10/L2#P~机动车|交通 出入境证件号码/s/20/L4#P~出入境 "
        "办理派出所/s/100/L1#P~户籍|户口|身份证|流动|旅馆 统计数量/i/12/L1#S",
    ),
    "302": (
        "就业登记:P 失业登记:P 就业困难人员认定:P 社会保险个人权益:P 社保卡发放:P "
        "职业资格证书:P 职业技能等级证书:P 专业技术职称评审:P 劳动用工备案:O 劳动合同备案:P "
        "劳动人事争议仲裁:P 劳动保障监察案件:O 农民工工资保证金:O 人力资源服务机构:F "
        "技工院校:F 养老保险待遇资格认证:P 工伤认定:P 人才引进落户:P",
        "社会保障卡号/s/20/L3#P~社保|保险|养老|工伤 就业状态/s/10/L2#P~就业|失业 "
        "证书编号/s/50/L2#P~证书|职称 劳动合同期限/s/50/L3#P~劳动 月工资/n/12/L3#P~劳动|就业 "
        "参保险种/s/20/L2#P~保险|社保 用工人数/i/8/L2#O",
    ),
    "303": (
        "企业营业执照核发:O@市场监管 营业执照变更登记:O@市场监管 个体工商户营业执照:O@市场监管 "
        "市场主体登记:O@市场监管 企业经营异常:O:名录/名录信息@市场监管 "
        "食品经营许可证核发:O@市场监管 特种设备使用登记:O@市场监管 计量器具检定:O@市场监管 "
        "商标质押登记:O@市场监管 消费者投诉举报:P@市场监管 产品质量监督抽查:O@市场监管 "
        "广告监测:O@市场监管 药品零售企业:O@药监 医疗器械经营备案:O@药监 药品检查:O@药监",
        "许可证编号/s/50/L1#O~许可 列入经营异常原因/s/500/L1#O~异常 检定结果/s/10/L1#O~检定 "
        "投诉内容/s/2000/L3#P 抽查结果/s/10/L1#O~抽查|检查 执照副本数/i/2/L1#O~营业执照",
    ),
    "304": (
        "医疗机构执业许可:F 医师执业注册:P 护士执业注册:P 出生医学证明签发:P 预防接种:P "
        "新冠疫苗接种:P 核酸检测:P 健康码核验:P 传染病监测:P 职业病诊断:P 120急救:P "
        "无偿献血:P 卫生监督执法:O 母婴保健技术服务许可:O",
        "出生医学证明编号/s/20/L3#P~出生 执业证书编号/s/50/L2#P~执业 "
        "医疗机构名称/s/200/L1 诊疗科目/s/200/L1#F 疫苗名称/s/100/L2#P~疫苗|接种 "
        "接种日期/d/8/L3#P~疫苗|接种 核酸检测结果/s/10/L3#P~核酸 "
        "诊断结果/s/500/L4#P~诊断|监测|急救",
    ),
    "305": (
        "住房公积金缴存:P@公积金,住建 住房公积金贷款:P@公积金,住建 住房公积金提取:P@公积金,住建 "
        "住房公积金缴存单位:O@公积金 商品房网签:P@住建,房管 存量房交易:P@住建,房管 "
        "不动产权属:P@房管,住建 房屋租赁登记备案:P@房管,住建 住房保障资格审核:P@住建,房管 "
        "住宅专项维修资金:P@房管,住建 建筑工程施工许可:O@住建 建筑业企业资质:O@住建 "
        "房地产开发企业资质:O@住建,房管 工程建设项目审批:O@住建",
        "公积金账号/s/20/L3#P~公积金 缴存基数/n/12/L3#P~公积金 月缴存额/n/12/L3#P~公积金 "
        "贷款金额/n/14/L4#P~贷款 不动产权证号/s/50/L3#P~房|不动产 "
        "房屋坐落/s/200/L3/address#P~房|不动产 建筑面积/n/12/L2#P~房 资质等级/s/10/L1#O~资质",
    ),
    "306": (
        "婚姻登记:P 收养登记:P 最低生活保障:P 特困人员供养:P 临时救助:P 残疾人两项补贴:P "
        "高龄津贴发放:P 殡葬服务:P 留守儿童关爱:P 社会组织登记:O 慈善组织:O 养老机构:F "
        "标准地名:D",
        "婚姻登记日期/d/8/L3#P~婚姻 登记类型/s/10/L3#P~婚姻|收养 "
        "救助金额/n/12/L3#P~救助|保障|供养|补贴|津贴 低保证号/s/30/L3#P~最低生活 "
        "养老机构名称/s/200/L1#F 社会组织名称/s/200/L1#O 地名类别/s/20/L1#D",
    ),
    "307": (
        "不动产登记:P 不动产抵押权登记:P 不动产查封登记:P 宅基地使用权:P 建设用地规划许可:O "
        "国有土地使用权出让:O 测绘资质:O 矿业权:O 国土空间规划:D 地籍调查:D 土地储备:D "
        "耕地占补平衡:S",
        "不动产单元号/s/28/L2#P,D 权利人/s/200/L3/name#P 不动产权证号/s/50/L3#P~不动产 "
        "宗地面积/n/12/L1 用途/s/50/L1 抵押金额/n/14/L4#P~抵押",
    ),
    "308": (
        "纳税人登记:O 税款征收:O 增值税发票开具:O 纳税信用评价:O 欠税公告:O 出口退税:O "
        "社会保险费征收:O 个人所得税申报:P 房产税缴纳:P 契税缴纳:P 完税证明开具:P 税收收入:S",
        "纳税人识别号/s/20/L2#O,P 纳税人名称/s/200/L1#O 税种/s/50/L1 应纳税额/n/14/L3#O,P "
        "实缴税额/n/14/L3#O,P 纳税信用等级/s/2/L2#O~信用 发票代码/s/12/L2#O~发票 "
        "收入金额/n/18/L1#S",
    ),
    "309": (
        "医保参保:P 医保缴费:P 医保结算:P 异地就医备案:P 医保电子凭证:P 门诊慢特病待遇认定:P "
        "长期护理保险:P 医保基金监管:O 医保定点医药机构:F:目录/名录 医保药品:D:目录/目录信息 "
        "医疗服务项目:D:目录/目录信息 医保基金收支:S",
        "医保卡号/s/20/L3#P 参保类型/s/20/L2#P 医疗费用总额/n/12/L3#P~结算|就医 "
        "统筹支付金额/n/12/L3#P~结算|就医 定点机构编码/s/20/L1#F 结算日期/d/8/L3#P~结算 "
        "银行卡号/s/19/L4/bank_card#P~缴费 药品编码/s/30/L1#D~药品",
    ),
    "310": (
        "学籍:P 学位证书:P 学历证书:P 教师资格认定:P 高等学校招生录取:P 学生资助:P "
        "义务教育入学报名:P 中小学校基本情况:F 校外培训机构:F 幼儿园:F 普通高校:F 教育经费:S",
        "学籍号/s/20/L3#P~学籍|入学|资助 学校名称/s/200/L1#P,S 入学年份/i/4/L2#P "
        "毕业证书编号/s/30/L3#P~学历|学位 学历层次/s/10/L2#P 专业名称/s/100/L1#P "
        "在校生数/i/8/L1#F,S",
    ),
    "311": (
        "道路运输经营许可:O 道路运输车辆:O 网约车平台公司:O 普通货运车辆:O 交通运输行政处罚:O "
        "营运驾驶员从业资格:P 网约车驾驶员证:P 公交线路:D 客运班线:D 公交站点:F 港口码头:F "
        "高速公路通行:S",
        "车牌号码/s/10/L2#O,P~车 道路运输证号/s/20/L1#O~运输|车辆 线路名称/s/100/L1#D "
        "站点名称/s/100/L1#F,D 营运状态/s/10/L1#O 从业资格证号/s/30/L3#P 车流量/i/12/L1#S",
    ),
    "312": (
        "排污许可:O 建设项目环评审批:O 危险废物经营许可:O 辐射安全许可:O 机动车环保检验:O "
        "环境违法案件:O 环境信访:P 生态环境监测:S 重点排污单位自动监控:S 环境监测站点:F",
        "排污单位名称/s/200/L1#O~排污 排放口编号/s/20/L1#O,S~排污 污染物名称/s/100/L1#O,S "
        "排放浓度/n/12/L1#S 环评批复文号/s/50/L1#O~环评 信访内容/s/2000/L3#P",
    ),
    "313": (
        "安全生产行政许可:O 危险化学品登记:O 应急预案备案:O 生产安全事故调查:O 安全评价机构:O "
        "应急救援物资:S 自然灾害灾情:S 应急管理专家:P 消防监督检查:O@消防 火灾统计:S@消防 "
        "消防产品:O@消防",
        "危险化学品名称/s/100/L2#O~化学品 储存量/n/12/L2#O~化学品 应急预案编号/s/50/L1#O~预案 "
        "事故等级/s/10/L2#O,S~事故 专业领域/s/50/L1#P",
    ),
    "314": (
        "农村土地承包经营权:P 耕地地力保护补贴发放:P 家庭农场:O 农民专业合作社:O "
        "农药经营许可:O 兽药生产许可:O 动物检疫证明:O 农产品质量追溯:O 农业机械:O "
        "渔业船舶:O 农村集体经济组织:O 高标准农田建设项目:D",
        "承包地面积/n/12/L2#P 补贴金额/n/12/L3#P~补贴 合作社名称/s/200/L1#O~合作社 "
        "农产品名称/s/100/L1#O~农产品 检测结果/s/10/L1#O~农产品|检疫",
    ),
    "315": (
        "律师执业:P 公证:P 法律援助:P 人民调解:P 社区矫正对象:P 基层法律服务工作者:P "
        "律师事务所:O 司法鉴定机构:O 公共法律服务中心:F 法治宣传教育基地:D",
        "律师执业证号/s/17/L1#P~律师 律师事务所名称/s/200/L1#P,O~律师 公证书编号/s/30/L3#P~公证 "
        "法律援助案件编号/s/30/L3#P~援助 调解结果/s/500/L3#P~调解 矫正类别/s/10/L4#P~矫正",
    ),
    "316": (
        "公共数据资源:S:目录统计/统计数据 数据接口调用:S 政务数据质量:S 数据回流:S "
        "公共数据开放:S 长三角数据共享交换:S 数据共享申请:O 数据异议处理:O "
        "电子证照:D:目录/目录信息 一网通办事项:D:清单/目录 政务云资源:D 数据需求:D:清单/目录",
        "数据资源名称/s/200/L1#D,O 接口名称/s/200/L1#S~接口 调用次数/i/12/L1#S "
        "共享申请编号/s/30/L1#O~申请 证照目录编码/s/30/L1#D~证照 回流数据量/i/12/L1#S~回流",
    ),
}

# Shared id -> weight; converted to the province's local labels once per generator.
_FACILITY_CYCLES = {"daily": 10, "weekly": 5, "monthly": 20, "quarterly": 15, "yearly": 20}
_UPDATE_CYCLES = {
    "P": {"realtime": 30, "daily": 35, "weekly": 5, "monthly": 10, "quarterly": 5, "yearly": 5},
    "O": {"realtime": 20, "daily": 30, "weekly": 10, "monthly": 15, "quarterly": 5, "yearly": 5},
    "S": {"monthly": 30, "quarterly": 25, "yearly": 35, "irregular": 10},
    "F": {**_FACILITY_CYCLES, "irregular": 30},
    "D": {**_FACILITY_CYCLES, "irregular": 40},
}
_UPDATE_CYCLES["P"]["irregular"] = 10
_UPDATE_CYCLES["O"]["irregular"] = 15
# Sensitive data is rarely shared without conditions and never opened unconditionally.
_SHARE_BY_GRADE = {
    "L1": {"unconditional": 80, "conditional": 18, "none": 2},
    "L2": {"unconditional": 45, "conditional": 50, "none": 5},
    "L3": {"unconditional": 5, "conditional": 80, "none": 15},
    "L4": {"conditional": 45, "none": 55},
}
_OPEN_BY_GRADE = {
    "L1": {"open": 60, "conditional": 25, "closed": 15},
    "L2": {"open": 15, "conditional": 45, "closed": 40},
    "L3": {"conditional": 15, "closed": 85},
    "L4": {"closed": 1},
}
_FORMATS = {"database": 55, "interface": 25, "file": 8, "spreadsheet": 8, "image": 2, "other": 2}

_CONDITIONS = {
    "unconditional": ("",),
    "conditional": (
        "仅限政务服务事项办理使用，需经提供部门审核同意。",
        "需提交共享申请并说明用途，限于授权范围内使用。",
        "按最小必要原则提供，敏感信息项脱敏后共享。",
        "限长三角区域政务部门依申请共享，不得用于其他用途。",
        "以数据核验方式提供，不提供原始数据。",
    ),
    "none": (
        "涉及个人隐私，依法不予共享。",
        "涉及商业秘密，不予共享。",
        "法律法规明确规定不予共享。",
        "数据尚在治理中，暂不共享。",
    ),
}
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
_FIRST_DAY = date(2016, 1, 1)
_DAYS = (date(2023, 12, 31) - _FIRST_DAY).days + 1


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True, slots=True)
class _ItemSpec:
    item: DataItem
    profiles: str
    """Profiles the item fits; empty means all."""
    keywords: tuple[str, ...]
    """The subject must contain one of these; empty means any subject."""

    def fits(self, subject: str, profile: str) -> bool:
        if self.profiles and profile not in self.profiles:
            return False
        return not self.keywords or any(k in subject for k in self.keywords)


@dataclass(frozen=True, slots=True)
class _Subject:
    text: str
    profile: str
    kinds: frozenset[str]
    """Department kinds that publish it; empty means any."""
    names: tuple[str, ...]
    """subject + qualifier + suffix, precomputed: names are drawn, not built."""
    items: tuple[DataItem, ...]
    """Core items first (always present), then the optional pool."""
    core: int


@dataclass(frozen=True, slots=True)
class _Slot:
    """One (department, category) pair: one 类项目 prefix with its own sequence."""

    department: Department
    category: str
    prefix: str
    local_categories: tuple[str, ...]
    subjects: tuple[_Subject, ...]


def _item_specs(spec: str, standard: Standard) -> list[_ItemSpec]:
    out = []
    for token in spec.split():
        body, _, keywords = token.partition("~")
        body, _, profiles = body.partition("#")
        parts = body.split("/")
        kind = parts[4] if len(parts) > 4 else "plain"
        item = DataItem(parts[0], _TYPES[parts[1]], int(parts[2]), parts[3], kind)
        # The seed's vocabulary is code, the standard is data: check they still agree.
        if (
            item.type not in standard.item_types
            or item.grade not in standard.grades
            or item.kind not in standard.item_kinds
        ):
            raise ValueError(f"seed data item {token!r} does not fit {standard.fingerprint}")
        out.append(
            _ItemSpec(item, profiles.replace(",", ""), tuple(filter(None, keywords.split("|"))))
        )
    return out


def _subjects(category: str, standard: Standard) -> tuple[_Subject, ...]:
    subjects_spec, extras_spec = _CATEGORIES.get(
        category, (f"{standard.category(category).name}业务:O", "")
    )
    extras = _item_specs(extras_spec, standard)
    generic = {p: _item_specs(spec, standard) for p, spec in _GENERIC.items()}
    out = []
    for token in subjects_spec.split():
        token, _, kinds = token.partition("@")
        text, profile, *rest = token.split(":")
        core_spec = _CORE_L4_ID if profile == "P" and category in _L4_ID_CATEGORIES else None
        items = [s.item for s in _item_specs(core_spec or _CORE[profile], standard)]
        core = len(items)
        seen = {i.name for i in items}
        for spec in generic[profile] + extras:
            if spec.item.name not in seen and spec.fits(text, profile):
                seen.add(spec.item.name)
                items.append(spec.item)
        suffixes = tuple(rest[0].split("/")) if rest else _SUFFIXES[profile]
        names = tuple(
            f"{text}{q}{s}"
            for q in _QUALIFIERS[profile]
            for s in suffixes
            # 婚姻登记 + 登记信息 would stutter.
            if q or not text.endswith(s[:2])
        )
        out.append(
            _Subject(
                text, profile, frozenset(filter(None, kinds.split(","))), names, tuple(items), core
            )
        )
    return tuple(out)


class _Weighted(Generic[T]):
    """A fixed weighted choice: one ``random()`` and a bisect, far cheaper than ``choices``."""

    __slots__ = ("values", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[T, int]]) -> None:
        self.values = [v for v, _ in pairs]
        self.cum = list(accumulate(w for _, w in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.cum, rng.random() * self.total)]


def _local(weights: dict[str, int], to_local: Callable[[str], str]) -> _Weighted[str]:
    """Weights over shared ids re-keyed by the province's preferred local label."""
    return _Weighted([(to_local(shared), w) for shared, w in weights.items()])


def generate_entries(
    province: str,
    n: int,
    *,
    standard: Standard,
    crosswalk: Crosswalk,
    departments: Departments,
    seed: int = 0,
) -> Iterator[CatalogEntry]:
    """``n`` catalog entries for ``province``; the same arguments always give the same entries.

    Entry *i* does not depend on ``n``, so a smaller catalog is a prefix of a larger one.
    Raises ValueError at once (not on first iteration) when the inputs disagree or ``n`` does
    not fit the department list's code space.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if crosswalk.province != province or departments.province != province:
        raise ValueError(
            f"province {province!r} given with crosswalk for {crosswalk.province!r} "
            f"and departments of {departments.province!r}"
        )
    if crosswalk.standard_fingerprint != standard.fingerprint:
        raise ValueError(
            f"crosswalk was validated against {crosswalk.standard_fingerprint}, "
            f"not {standard.fingerprint}"
        )
    limit = capacity(departments)
    if n > limit:
        raise ValueError(
            f"{province}: n={n} does not fit: {limit} entries at most "
            f"({limit // MAX_SEQUENCE} department/category prefixes of {MAX_SEQUENCE} each); "
            "add departments or categories"
        )
    slots, slot_pick = _slots(standard, crosswalk, departments)
    return _generate(province, n, seed, standard, crosswalk, departments, slots, slot_pick)


def _slots(
    standard: Standard, crosswalk: Crosswalk, departments: Departments
) -> tuple[list[_Slot], _Weighted[int]]:
    subjects_by_category: dict[str, tuple[_Subject, ...]] = {}
    slots: list[_Slot] = []
    weights: list[tuple[int, int]] = []
    for dept in departments.departments:
        for rank, category in enumerate(dept.categories):
            if not standard.is_category(category):
                raise ValueError(f"department {dept.code}: unknown category {category!r}")
            if category not in subjects_by_category:
                subjects_by_category[category] = _subjects(category, standard)
            every = subjects_by_category[category]
            # A department publishes its own line of work plus what anyone in the category may.
            own = tuple(s for s in every if not s.kinds or dept.kind in s.kinds)
            slot = _Slot(
                department=dept,
                category=category,
                prefix=f"{category}{dept.index:03d}",
                local_categories=crosswalk.categories.locals_for(category),
                subjects=own or every,
            )
            # The department's main category carries most of its catalog.
            weights.append((len(slots), dept.weight * (3 if rank == 0 else 1)))
            slots.append(slot)
    return slots, _Weighted(weights)


def _generate(
    province: str,
    n: int,
    seed: int,
    standard: Standard,
    cw: Crosswalk,
    departments: Departments,
    slots: list[_Slot],
    slot_pick: _Weighted[int],
) -> Iterator[CatalogEntry]:
    # String seeds hash with SHA-512, so the stream is stable across runs and PYTHONHASHSEED.
    rng = random.Random(f"yrd-seed:{province}:{seed}")
    randint, rand, choice = rng.randint, rng.random, rng.choice
    rank = {g: standard.grade_rank(g) for g in standard.grades}
    verify_only = {g.id: g.verify_only for g in standard.grades.values()}
    local_grade = {g: cw.grades.local(g) for g in standard.grades}
    cycles = {p: _local(w, cw.update_cycles.local) for p, w in _UPDATE_CYCLES.items()}
    shares = {g: _local(w, cw.share_types.local) for g, w in _SHARE_BY_GRADE.items()}
    opens = {g: _local(w, cw.open_attributes.local) for g, w in _OPEN_BY_GRADE.items()}
    formats = _Weighted(list(_FORMATS.items()))
    cycle_names = {c: t.name for c, t in standard.update_cycles.items()}
    cities, province_name = departments.cities, departments.name
    region = departments.region_prefix
    dates = [(_FIRST_DAY + timedelta(days=d)).isoformat() for d in range(_DAYS)]
    used = [0] * len(slots)

    for _ in range(n):
        i = slot_pick.pick(rng)
        # A full prefix hands its entry to the next one with room; capacity was checked.
        while used[i] >= MAX_SEQUENCE:
            i = (i + 1) % len(slots)
        used[i] += 1
        slot = slots[i]
        dept = slot.department
        subject = choice(slot.subjects)
        profile = subject.profile

        all_items, core = subject.items, subject.core
        optional = len(all_items) - core
        extra = min(randint(3, 12) - core, optional)
        if extra > 0:
            picked = sorted(rng.sample(range(optional), extra))
            items = all_items[:core] + tuple(all_items[core + j] for j in picked)
        else:
            items = all_items[:core]
        top = max(items, key=lambda it: rank[it.grade]).grade

        # The record in the province's own words ...
        local_category = choice(slot.local_categories)
        grade_label = local_grade[top]
        share_label = shares[top].pick(rng)
        open_label = opens[top].pick(rng)
        cycle_label = cycles[profile].pick(rng)
        # ... and as the shared standard says it. Nothing is opened to the public more freely
        # than it is shared between departments.
        share_type = cw.share_type(share_label)
        wanted = cw.open_attribute(open_label)
        open_attribute = _OPEN_CAP[share_type].get(wanted, wanted)
        update_cycle = cw.update_cycle(cycle_label)
        if share_type == "conditional" and verify_only[top]:
            conditions = _VERIFY_ONLY_CONDITION
        else:
            conditions = choice(_CONDITIONS[share_type])

        published = dates[int(rand() * _DAYS)]
        roll = rand()
        if roll < 0.45:
            scope = choice(cities)
        elif roll < 0.6:
            scope = province_name
        else:
            scope = ""
        # Statistics are named after the year they cover, the year before publication.
        if rand() < (0.5 if profile == "S" else 0.08):
            scope = f"{int(published[:4]) - 1}年{scope}"
        name = scope + choice(subject.names)

        shown = "、".join(it.name for it in items[:4])
        abstract = f"{dept.name}{choice(_VERBS)}的{name}，包括{shown}等{len(items)}个信息项。"
        if rand() < 0.6:
            abstract += f"数据{cycle_names[update_cycle]}更新，{choice(_USES[profile])}。"

        yield CatalogEntry(
            code=f"{slot.prefix}/{region}{used[i]:04d}",
            name=name,
            province=province,
            department_code=dept.code,
            department=dept.name,
            category=cw.category(local_category),
            abstract=abstract,
            format=formats.pick(rng),
            share_type=share_type,
            share_conditions=conditions,
            open_attribute=open_attribute,
            update_cycle=update_cycle,
            publish_date=published,
            grade=cw.grade(grade_label),
            items=items,
            local_grade=grade_label,
            local_category=local_category,
        )
