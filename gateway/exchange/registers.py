"""Registers hung on the synthetic people and enterprises: electronic licences (电子证照),
social-insurance records (社保) and public credit records (信用), plus the sample values.

Each record links back the way the real registers do: a licence belongs to an enterprise or a
person, an insured person works for an enterprise, a credit record names an enterprise.
Functions draw from a ``synthetic.World`` in a fixed order, so the rows stay deterministic.
"""

from __future__ import annotations

from datetime import date, timedelta

from gateway.exchange.synthetic import REFERENCE_DATE, Row, Weighted, World, age_of

__all__ = ["add_credit_records", "add_licences", "add_social_insurance", "pick_samples"]

# 社保缴费基数 ranges (yuan per month) of 2024; they differ by province.
_BASE_RANGE = {"sh": (7310, 36549), "js": (4250, 24042), "zj": (4462, 24060), "ah": (4227, 21000)}
#: 险种 and the share of insured people who have it.
_INSURANCE = (
    ("企业职工基本养老保险", 1.0),
    ("职工基本医疗保险", 0.9),
    ("失业保险", 0.7),
    ("工伤保险", 0.6),
)
_INSURED_STATUS = Weighted((("参保缴费", 85), ("暂停缴费", 10), ("终止参保", 5)))
_CREDIT_KINDS = Weighted(
    (
        ("行政许可", 40),
        ("行政处罚", 30),
        ("守信激励", 15),
        ("经营异常名录", 12),
        ("严重失信主体名单", 3),
    )
)
_PERMITS = {
    "餐饮管理": "食品经营许可",
    "商贸": "食品经营许可",
    "建筑工程": "建筑业企业资质许可",
    "生物医药": "药品经营许可",
    "物流": "道路货物运输经营许可",
    "环保科技": "排污许可",
}
_PENALTIES = (
    "未按规定公示年度报告",
    "销售不合格产品",
    "超出核准登记的经营范围从事经营活动",
    "发布虚假广告",
    "未按规定明码标价",
    "未取得许可从事经营活动",
)
_HONOURS = ("纳税信用A级纳税人", "守合同重信用企业", "劳动保障守法诚信单位")
_ABNORMAL = ("通过登记的住所或者经营场所无法联系", "未按规定期限公示年度报告")
_ALIVE = ("存续", "在业")


# --------------------------------------------------------------------------- licences


def add_licences(w: World) -> None:
    """Every enterprise's business licence and a sector licence where its industry needs one;
    driving licences and marriage certificates for some of the people."""
    rng = w.rng
    for e in w.rows.enterprise:
        status = "有效" if e["status"] in _ALIVE else "已注销"
        issued = date.fromisoformat(str(e["established_on"]))
        # Since 三证合一 the business licence number is the credit code itself.
        _licence(
            w,
            e,
            "营业执照",
            str(e["credit_code"]),
            str(e["registration_authority"]),
            issued,
            "长期",
            status,
        )
        extra = _sector_licence(w, e)
        if extra is not None:
            kind, no, issuer = extra
            got = w.date_between(issued, REFERENCE_DATE)
            until = got + timedelta(days=5 * 365 + 1)
            _licence(
                w,
                e,
                kind,
                no,
                issuer,
                got,
                until.isoformat(),
                status if until > REFERENCE_DATE else "已过期",
            )
    for p in w.rows.person:
        age = age_of(p)
        if age >= 18 and rng.random() < 0.45:
            got = w.date_between(REFERENCE_DATE - timedelta(days=(age - 18) * 365), REFERENCE_DATE)
            until = got + timedelta(days=rng.choice((6, 10)) * 365)
            _licence(
                w,
                p,
                "机动车驾驶证",
                str(p["id_number"]),
                f"{p['hukou_city']}公安局交通警察支队",
                got,
                until.isoformat() if age < 60 else "长期",
                "有效",
            )
        if p["marital_status"] == "已婚" and rng.random() < 0.5:
            born = date.fromisoformat(str(p["birth_date"]))
            got = w.date_between(born + timedelta(days=22 * 365), REFERENCE_DATE)
            no = f"J{p['hukou_county_code']}-{got.year}-{rng.randrange(10**6):06d}"
            _licence(w, p, "结婚证", no, f"{p['hukou_city']}民政局婚姻登记处", got, "长期", "有效")


def _licence(
    w: World,
    holder: Row,
    kind: str,
    no: str,
    issuer: str,
    issued: date,
    valid_until: str,
    status: str,
) -> None:
    rows = w.rows.licence
    legal_person = "credit_code" in holder
    rows.append(
        {
            "licence_id": f"EL{w.region[:2]}{len(rows) + 1:08d}",
            "licence_type": kind,
            "licence_no": no,
            "holder_kind": "法人" if legal_person else "自然人",
            "holder_id": holder["credit_code" if legal_person else "id_number"],
            "holder_name": holder["name"],
            "issuer": issuer,
            "issued_on": issued.isoformat(),
            "valid_until": valid_until,
            "status": status,
            "city": holder["city"] if legal_person else holder["hukou_city"],
        }
    )


def _sector_licence(w: World, e: Row) -> tuple[str, str, str] | None:
    """A sector licence for industries that need one: (type, number, issuer)."""
    rng, county, industry = w.rng, str(e["county_code"]), e["industry"]
    if industry in ("餐饮管理", "商贸"):
        return (
            "食品经营许可证",
            f"JY1{county}{rng.randrange(10**7):07d}",
            str(e["registration_authority"]),
        )
    if industry == "建筑工程":
        issuer = (
            "上海市住房和城乡建设管理委员会"
            if w.province == "sh"
            else f"{w.province_name}住房和城乡建设厅"
        )
        return "建筑业企业资质证书", f"D{county[:2]}{rng.randrange(10**7):07d}", issuer
    if industry == "生物医药":
        return (
            "药品经营许可证",
            f"{w.short}AA{county[2:4]}{rng.randrange(10**5):05d}",
            f"{w.province_name}药品监督管理局",
        )
    if industry in ("环保科技", "新材料", "纺织", "机械制造"):
        # 排污许可证编号: the credit code, a sequence number and the management category.
        return (
            "排污许可证",
            f"{e['credit_code']}001{rng.choice('PUVQ')}",
            f"{e['city']}生态环境局",
        )
    return None


# --------------------------------------------------------------------------- social insurance


def add_social_insurance(w: World) -> None:
    """About three in four people of working age insured through a live enterprise."""
    rng = w.rng
    employers = [e for e in w.rows.enterprise if e["status"] in _ALIVE] or w.rows.enterprise
    for p in w.rows.person:
        if 18 <= age_of(p) <= 65 and rng.random() <= 0.75:
            _insure(w, p, rng.choice(employers))


def _insure(w: World, p: Row, employer: Row) -> None:
    """One record per 险种, sharing the person's card, base and start month."""
    rng, rows = w.rng, w.rows.social_insurance
    lo, hi = _BASE_RANGE[w.province]
    card = w.bank_card()
    base = min(hi, max(lo, int(rng.lognormvariate(9.0, 0.45))))
    adult_from = date.fromisoformat(str(p["birth_date"])) + timedelta(days=18 * 366)
    start = w.date_between(max(adult_from, date(1993, 1, 1)), REFERENCE_DATE)
    span = (REFERENCE_DATE.year - start.year) * 12 + REFERENCE_DATE.month - start.month + 1
    status = _INSURED_STATUS.draw(rng)
    for kind, share in _INSURANCE:
        if rng.random() > share:
            continue
        rows.append(
            {
                "record_id": f"SI{w.region[:2]}{len(rows) + 1:08d}",
                "id_number": p["id_number"],
                "name": p["name"],
                "insurance_type": kind,
                "status": status,
                "employer_name": employer["name"],
                "employer_credit_code": employer["credit_code"],
                "monthly_base": base,
                "start_month": f"{start:%Y-%m}",
                "months_paid": max(1, span - rng.randrange(0, 1 + span // 10)),
                "bank_card": card,
                "mobile": p["mobile"],
                "district": employer["city"],
                "county_code": employer["county_code"],
            }
        )


# --------------------------------------------------------------------------- credit records


def add_credit_records(w: World) -> None:
    """One to three records for about a third of the enterprises."""
    rng = w.rng
    for e in w.rows.enterprise:
        if rng.random() < 0.35:
            for _ in range(rng.randrange(1, 4)):
                _credit_record(w, e)


def _credit_record(w: World, e: Row) -> None:
    rng, rows = w.rng, w.rows.credit_record
    decided = w.date_between(date.fromisoformat(str(e["established_on"])), REFERENCE_DATE)
    kind = _CREDIT_KINDS.draw(rng)
    n = rng.randrange(1, 3000)
    authority = str(e["registration_authority"])
    if kind == "行政许可":
        title = _PERMITS.get(str(e["industry"]), "企业变更登记")
        no = f"{w.short}市监许〔{decided.year}〕{n}号"
    elif kind == "行政处罚":
        title, no = rng.choice(_PENALTIES), f"{w.short}市监处〔{decided.year}〕{n}号"
    elif kind == "守信激励":
        title, no = rng.choice(_HONOURS), f"{w.short}信〔{decided.year}〕{n}号"
        authority = f"{w.province_name}发展和改革委员会"
    else:
        title, no = rng.choice(_ABNORMAL), f"{w.short}市监异〔{decided.year}〕{n}号"
    until = decided + timedelta(days=365 * rng.choice((1, 2, 3)))
    rows.append(
        {
            "record_id": f"CR{w.region[:2]}{len(rows) + 1:08d}",
            "credit_code": e["credit_code"],
            "subject_name": e["name"],
            "record_type": kind,
            "title": title,
            "decision_no": no,
            "authority": authority,
            "decided_on": decided.isoformat(),
            "valid_until": until.isoformat(),
            "status": "有效" if until > REFERENCE_DATE else rng.choice(("已失效", "已修复")),
        }
    )


# --------------------------------------------------------------------------- samples


def pick_samples(w: World) -> None:
    """A person who is insured and the legal representative of a live enterprise with credit
    records: one set of values that exercises every shipped interface."""
    rows = w.rows
    credited = {r["credit_code"] for r in rows.credit_record}
    insured = {r["id_number"] for r in rows.social_insurance}
    people = {p["id_number"]: p for p in rows.person}
    chosen = next(
        (
            e
            for e in rows.enterprise
            if e["status"] == "存续"
            and e["credit_code"] in credited
            and e["legal_rep_id"] in insured
        ),
        None,
    )
    if chosen is None:  # tiny datasets: make a live enterprise fit
        chosen = next((e for e in rows.enterprise if e["status"] in _ALIVE), rows.enterprise[0])
        if chosen["legal_rep_id"] not in insured:
            _insure(w, people[chosen["legal_rep_id"]], chosen)
        if chosen["credit_code"] not in credited:
            _credit_record(w, chosen)
    rep = people[chosen["legal_rep_id"]]
    district = next(
        r["district"] for r in rows.social_insurance if r["id_number"] == rep["id_number"]
    )
    rows.samples = {
        "id_number": str(rep["id_number"]),
        "name": str(rep["name"]),
        "hukou_address": str(rep["hukou_address"]),
        "credit_code": str(chosen["credit_code"]),
        "enterprise_name": str(chosen["name"]),
        "district": str(district),
    }
