"""Deterministic synthetic rows for one province's node-local dataset.

People, enterprises, electronic licences (电子证照), social-insurance records and credit records,
linked to each other the way the real registers are: a legal representative is a person, an
insured person works for an enterprise, a licence belongs to an enterprise or a person. Every
resident ID and credit code carries a valid check digit and a real county code of the province.
The same (province, people, seed) always gives the same rows: dates are relative to a fixed
``REFERENCE_DATE``, never to today.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from gateway.checkdigits import CREDIT_CODE_ALPHABET, credit_code_check_char, resident_id_check_char
from gateway.exchange import vocabulary as v

__all__ = ["REFERENCE_DATE", "Rows", "generate", "luhn_check_digit", "org_code_check_char"]

#: "Today" for the synthetic world, fixed so that the dataset never changes with the calendar.
REFERENCE_DATE = date(2024, 6, 30)

_MOBILE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 155 157 158 159 166 176 177 180 181 182 "
    "185 186 187 188 189 191 198 199".split()
)
# 社保缴费基数 ranges (yuan per month) of 2024; they differ by province.
_BASE_RANGE = {"sh": (7310, 36549), "js": (4250, 24042), "zj": (4462, 24060), "ah": (4227, 21000)}
_INSURANCE = (
    ("企业职工基本养老保险", 1.0),
    ("职工基本医疗保险", 0.9),
    ("失业保险", 0.7),
    ("工伤保险", 0.6),
)
_PENALTIES = (
    "未按规定公示年度报告",
    "销售不合格产品",
    "超出核准登记的经营范围从事经营活动",
    "发布虚假广告",
    "未按规定明码标价",
    "未取得许可从事经营活动",
)
_PERMITS = {
    "餐饮管理": "食品经营许可",
    "商贸": "食品经营许可",
    "建筑工程": "建筑业企业资质许可",
    "生物医药": "药品经营许可",
    "物流": "道路货物运输经营许可",
    "环保科技": "排污许可",
}
_HONOURS = ("纳税信用A级纳税人", "守合同重信用企业", "劳动保障守法诚信单位")
_ABNORMAL = ("通过登记的住所或者经营场所无法联系", "未按规定期限公示年度报告")


@dataclass
class Rows:
    """Rows per table, each a dict keyed by column name (``dataset.SCHEMA`` gives the order)."""

    person: list[dict[str, object]] = field(default_factory=list)
    enterprise: list[dict[str, object]] = field(default_factory=list)
    licence: list[dict[str, object]] = field(default_factory=list)
    social_insurance: list[dict[str, object]] = field(default_factory=list)
    credit_record: list[dict[str, object]] = field(default_factory=list)
    samples: dict[str, str] = field(default_factory=dict)
    """Well-known values that exist in the rows, keyed by the shipped interfaces' param names."""


class _Weighted:
    """Draws from (value, weight) pairs with one bisect instead of random.choices' setup."""

    def __init__(self, pairs: Sequence[tuple[str, float]]) -> None:
        self.values = [p[0] for p in pairs]
        self.cum = list(accumulate(p[1] for p in pairs))

    def draw(self, rng: random.Random) -> str:
        return self.values[bisect(self.cum, rng.random() * self.cum[-1])]


_ENTERPRISE_STATUS = _Weighted((("存续", 85), ("在业", 5), ("注销", 6), ("吊销", 4)))
_INSURED_STATUS = _Weighted((("参保缴费", 85), ("暂停缴费", 10), ("终止参保", 5)))
_CREDIT_KINDS = _Weighted(
    (
        ("行政许可", 40),
        ("行政处罚", 30),
        ("守信激励", 15),
        ("经营异常名录", 12),
        ("严重失信主体名单", 3),
    )
)


def luhn_check_digit(body: str) -> str:
    """The Luhn (ISO/IEC 7812) digit that completes a bank card number."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these sit in odd positions once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(body8, weights, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


class _Generator:
    def __init__(self, province: str, people: int, seed: int) -> None:
        if province not in v.PROVINCES:
            raise ValueError(
                f"unknown province {province!r}; expected one of {sorted(v.PROVINCES)}"
            )
        self.province = province
        self.region, self.province_name, self.short = v.PROVINCES[province]
        self.rng = random.Random(f"yrd-dataset:{province}:{people}:{seed}")
        self.people = people
        # (city, county code, county name), so a place is drawn with one choice().
        self.places = [
            (city, code, name)
            for city, pairs in v.COUNTIES[province].items()
            for code, name in pairs
        ]
        surnames = dict(v.SURNAMES)
        for s, extra in v.REGIONAL_SURNAMES.items():
            surnames[s] = surnames.get(s, 0) + extra
        self.surnames = _Weighted(list(surnames.items()))
        self.ethnicities = _Weighted(v.ETHNICITIES)
        self.rows = Rows()

    # -- small draws -------------------------------------------------------------------------

    def _date_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange(max(1, (end - start).days)))

    def _street_address(self, place: tuple[str, str, str]) -> str:
        city, _, county = place
        prefix = (
            f"{self.province_name}{county}"
            if city == county
            else (f"{self.province_name}{city}{county}")
        )
        return f"{prefix}{self.rng.choice(v.STREETS)}{self.rng.randrange(1, 999)}号"

    def _name(self, male: bool) -> str:
        rng = self.rng
        pool = (v.GIVEN_MALE if male else v.GIVEN_FEMALE) + v.GIVEN_NEUTRAL
        given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.65 else "")
        return self.surnames.draw(rng) + given

    def _mobile(self) -> str:
        return self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def _bank_card(self) -> str:
        body = self.rng.choice(v.BANK_BINS) + "".join(
            str(self.rng.randrange(10)) for _ in range(12 if self.rng.random() < 0.7 else 9)
        )
        return body + luhn_check_digit(body)

    # -- people ------------------------------------------------------------------------------

    def make_people(self) -> None:
        rng, seen = self.rng, set()
        for _ in range(self.people):
            place = rng.choice(self.places)
            male = rng.random() < 0.51
            age = int(rng.triangular(0, 96, 40))
            birth = REFERENCE_DATE - timedelta(days=age * 365 + rng.randrange(365))
            while True:
                # The 17th digit is odd for men, even for women (GB 11643).
                seq = rng.randrange(500) * 2 + (1 if male else 0) or 2
                body = f"{place[1]}{birth:%Y%m%d}{seq:03d}"
                if body not in seen:
                    seen.add(body)
                    break
            hukou = place if rng.random() < 0.8 else rng.choice(self.places)
            hukou_address = self._street_address(hukou)
            lives = hukou if rng.random() < 0.7 else rng.choice(self.places)
            address = (hukou_address if lives is hukou else self._street_address(lives)) + (
                f"{rng.randrange(1, 30)}幢{rng.randrange(1, 33)}0{rng.randrange(1, 5)}室"
            )
            adult = age >= 18
            self.rows.person.append(
                {
                    "id_number": body + resident_id_check_char(body),
                    "name": self._name(male),
                    "gender": "男" if male else "女",
                    "birth_date": birth.isoformat(),
                    "ethnicity": self.ethnicities.draw(rng),
                    "marital_status": _marital(rng, age),
                    "education": _education(rng, age),
                    "mobile": self._mobile() if age >= 14 else "",
                    "email": f"{_letters(rng)}{rng.randrange(100, 9999)}@example.cn"
                    if adult and rng.random() < 0.4
                    else "",
                    "hukou_county_code": hukou[1],
                    "hukou_city": hukou[0],
                    "hukou_address": hukou_address,
                    "address": address,
                    "city": lives[0],
                    "household_type": "家庭户" if rng.random() < 0.88 else "集体户",
                    "registered_on": self._date_between(
                        birth, min(REFERENCE_DATE, birth + timedelta(days=60))
                    ).isoformat(),
                }
            )

    # -- enterprises -------------------------------------------------------------------------

    def _credit_code(self, place: tuple[str, str, str], individual: bool) -> str:
        rng, letters = self.rng, CREDIT_CODE_ALPHABET
        if rng.random() < 0.6:  # codes issued since 2015 mostly start with MA
            org = "MA" + str(rng.randrange(10)) + "".join(rng.choice(letters) for _ in range(5))
        else:
            org = f"{rng.randrange(10**8):08d}"
        first17 = ("92" if individual else "91") + place[1] + org + org_code_check_char(org)
        return first17 + credit_code_check_char(first17)

    def make_enterprises(self) -> None:
        rng = self.rng
        adults = [p for p in self.rows.person if _age(p) >= 22]
        names: set[str] = set()
        codes: set[str] = set()
        for _ in range(max(1, self.people // 4)):
            place = rng.choice(self.places)
            rep = rng.choice(adults) if adults else self.rows.person[0]
            individual = rng.random() < 0.15
            industry, scope = rng.choice(v.INDUSTRIES)
            while True:
                trade = "".join(rng.sample(v.TRADE_NAME_CHARS, 2))
                if individual:
                    name = f"{place[2]}{trade}{industry}经营部"
                    kind = "个体工商户"
                else:
                    form, kind = rng.choice(
                        (
                            ("有限公司", "有限责任公司(自然人投资或控股)"),
                            ("有限公司", "有限责任公司(自然人独资)"),
                            ("股份有限公司", "股份有限公司(非上市、自然人投资或控股)"),
                        )
                    )
                    city = "上海" if self.province == "sh" else place[0].removesuffix("市")
                    name = f"{city}{trade}{industry}{form}"
                code = self._credit_code(place, individual)
                if name not in names and code not in codes:
                    names.add(name)
                    codes.add(code)
                    break
            established = self._date_between(date(1995, 1, 1), REFERENCE_DATE)
            authority = (
                f"{self.province_name}{place[0]}市场监督管理局"
                if self.province == "sh"
                else f"{place[0]}{place[2]}市场监督管理局"
            )
            self.rows.enterprise.append(
                {
                    "credit_code": code,
                    "name": name,
                    "enterprise_type": kind,
                    "legal_rep_name": rep["name"],
                    "legal_rep_id": rep["id_number"],
                    "registered_capital": str(
                        int(10 ** rng.uniform(1, 4 if not individual else 2))
                    ),
                    "established_on": established.isoformat(),
                    "status": _ENTERPRISE_STATUS.draw(rng),
                    "address": self._street_address(place),
                    "business_scope": scope,
                    "industry": industry,
                    "registration_authority": authority,
                    "city": place[0],
                    "county_code": place[1],
                }
            )

    # -- licences ----------------------------------------------------------------------------

    def _licence(
        self,
        kind: str,
        no: str,
        holder: dict[str, object],
        holder_kind: str,
        issuer: str,
        issued: date,
        valid_until: str,
        status: str,
        city: object,
    ) -> None:
        rows = self.rows.licence
        rows.append(
            {
                "licence_id": f"EL{self.region[:2]}{len(rows) + 1:08d}",
                "licence_type": kind,
                "licence_no": no,
                "holder_kind": holder_kind,
                "holder_id": holder["credit_code" if holder_kind == "法人" else "id_number"],
                "holder_name": holder["name"],
                "issuer": issuer,
                "issued_on": issued.isoformat(),
                "valid_until": valid_until,
                "status": status,
                "city": city,
            }
        )

    def make_licences(self) -> None:
        rng = self.rng
        for e in self.rows.enterprise:
            alive = e["status"] in ("存续", "在业")
            issued = date.fromisoformat(str(e["established_on"]))
            status = "有效" if alive else "已注销"
            # Since 三证合一 the business licence number is the credit code itself.
            self._licence(
                "营业执照",
                str(e["credit_code"]),
                e,
                "法人",
                str(e["registration_authority"]),
                issued,
                "长期",
                status,
                e["city"],
            )
            extra = _extra_licence(self, e)
            if extra is not None:
                kind, no, issuer = extra
                got = self._date_between(issued, REFERENCE_DATE)
                until = got + timedelta(days=5 * 365 + 1)
                self._licence(
                    kind,
                    no,
                    e,
                    "法人",
                    issuer,
                    got,
                    until.isoformat(),
                    status if until > REFERENCE_DATE else "已过期",
                    e["city"],
                )
        for p in self.rows.person:
            age = _age(p)
            if age >= 18 and rng.random() < 0.45:
                got = self._date_between(
                    REFERENCE_DATE - timedelta(days=(age - 18) * 365), REFERENCE_DATE
                )
                until = got + timedelta(days=rng.choice((6, 10)) * 365)
                self._licence(
                    "机动车驾驶证",
                    str(p["id_number"]),
                    p,
                    "自然人",
                    f"{p['hukou_city']}公安局交通警察支队",
                    got,
                    until.isoformat() if age < 60 else "长期",
                    "有效",
                    p["hukou_city"],
                )
            if p["marital_status"] == "已婚" and rng.random() < 0.5:
                got = self._date_between(
                    date.fromisoformat(str(p["birth_date"])) + timedelta(days=22 * 365),
                    REFERENCE_DATE,
                )
                no = f"J{p['hukou_county_code']}-{got.year}-{rng.randrange(10**6):06d}"
                self._licence(
                    "结婚证",
                    no,
                    p,
                    "自然人",
                    f"{p['hukou_city']}民政局婚姻登记处",
                    got,
                    "长期",
                    "有效",
                    p["hukou_city"],
                )

    # -- social insurance ------------------------------------------------------------------------

    def make_social_insurance(self) -> None:
        rng = self.rng
        employers = [e for e in self.rows.enterprise if e["status"] in ("存续", "在业")]
        employers = employers or self.rows.enterprise
        lo, hi = _BASE_RANGE[self.province]
        for p in self.rows.person:
            age = _age(p)
            if not 18 <= age <= 65 or rng.random() > 0.75:
                continue
            self._insure(p, rng.choice(employers), lo, hi)

    def _insure(self, p: dict[str, object], employer: dict[str, object], lo: int, hi: int) -> None:
        rng, rows = self.rng, self.rows.social_insurance
        card = self._bank_card()
        base = min(hi, max(lo, int(rng.lognormvariate(9.0, 0.45))))
        adult_from = date.fromisoformat(str(p["birth_date"])) + timedelta(days=18 * 366)
        start = self._date_between(max(adult_from, date(1993, 1, 1)), REFERENCE_DATE)
        span = (REFERENCE_DATE.year - start.year) * 12 + REFERENCE_DATE.month - start.month + 1
        status = _INSURED_STATUS.draw(rng)
        for kind, share in _INSURANCE:
            if rng.random() > share:
                continue
            rows.append(
                {
                    "record_id": f"SI{self.region[:2]}{len(rows) + 1:08d}",
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

    # -- credit records ----------------------------------------------------------------------

    def make_credit_records(self) -> None:
        rng = self.rng
        for e in self.rows.enterprise:
            if rng.random() < 0.35:
                for _ in range(rng.randrange(1, 4)):
                    self._credit_record(e)

    def _credit_record(self, e: dict[str, object]) -> None:
        rng, rows = self.rng, self.rows.credit_record
        decided = self._date_between(date.fromisoformat(str(e["established_on"])), REFERENCE_DATE)
        kind = _CREDIT_KINDS.draw(rng)
        n = rng.randrange(1, 3000)
        authority = str(e["registration_authority"])
        if kind == "行政许可":
            title = _PERMITS.get(str(e["industry"]), "企业变更登记")
            no = f"{self.short}市监许〔{decided.year}〕{n}号"
        elif kind == "行政处罚":
            title, no = rng.choice(_PENALTIES), f"{self.short}市监处〔{decided.year}〕{n}号"
        elif kind == "守信激励":
            title, no = rng.choice(_HONOURS), f"{self.short}信〔{decided.year}〕{n}号"
            authority = f"{self.province_name}发展和改革委员会"
        else:
            title, no = rng.choice(_ABNORMAL), f"{self.short}市监异〔{decided.year}〕{n}号"
        until = decided + timedelta(days=365 * rng.choice((1, 2, 3)))
        status = "有效" if until > REFERENCE_DATE else rng.choice(("已失效", "已修复"))
        rows.append(
            {
                "record_id": f"CR{self.region[:2]}{len(rows) + 1:08d}",
                "credit_code": e["credit_code"],
                "subject_name": e["name"],
                "record_type": kind,
                "title": title,
                "decision_no": no,
                "authority": authority,
                "decided_on": decided.isoformat(),
                "valid_until": until.isoformat(),
                "status": status,
            }
        )

    # -- samples -----------------------------------------------------------------------------

    def pick_samples(self) -> None:
        """A person who is insured and the legal representative of a live enterprise with credit
        records: one set of values that exercises every shipped interface."""
        rows = self.rows
        credited = {str(r["credit_code"]) for r in rows.credit_record}
        insured = {str(r["id_number"]) for r in rows.social_insurance}
        people = {str(p["id_number"]): p for p in rows.person}
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
        if chosen is None:  # tiny datasets: make the first enterprise fit
            chosen = rows.enterprise[0]
            chosen["status"] = "存续"
            rep = people[str(chosen["legal_rep_id"])]
            if str(rep["id_number"]) not in insured:
                lo, hi = _BASE_RANGE[self.province]
                self._insure(rep, chosen, lo, hi)
            if str(chosen["credit_code"]) not in credited:
                self._credit_record(chosen)
        rep = people[str(chosen["legal_rep_id"])]
        district = next(
            str(r["district"]) for r in rows.social_insurance if r["id_number"] == rep["id_number"]
        )
        rows.samples = {
            "id_number": str(rep["id_number"]),
            "name": str(rep["name"]),
            "hukou_address": str(rep["hukou_address"]),
            "credit_code": str(chosen["credit_code"]),
            "enterprise_name": str(chosen["name"]),
            "district": district,
        }


def generate(province: str, *, people: int, seed: int) -> Rows:
    """All rows of one province's dataset; deterministic in (province, people, seed)."""
    if people < 1:
        raise ValueError("people must be at least 1")
    g = _Generator(province, people, seed)
    g.make_people()
    g.make_enterprises()
    g.make_licences()
    g.make_social_insurance()
    g.make_credit_records()
    g.pick_samples()
    return g.rows


def _extra_licence(g: _Generator, e: dict[str, object]) -> tuple[str, str, str] | None:
    """A sector licence for industries that need one: (type, number, issuer)."""
    rng, county = g.rng, str(e["county_code"])
    industry = e["industry"]
    if industry in ("餐饮管理", "商贸"):
        return (
            "食品经营许可证",
            f"JY1{county}{rng.randrange(10**7):07d}",
            str(e["registration_authority"]),
        )
    if industry == "建筑工程":
        issuer = (
            "上海市住房和城乡建设管理委员会"
            if g.province == "sh"
            else f"{g.province_name}住房和城乡建设厅"
        )
        return "建筑业企业资质证书", f"D{county[:2]}{rng.randrange(10**7):07d}", issuer
    if industry == "生物医药":
        return (
            "药品经营许可证",
            f"{g.short}AA{county[2:4]}{rng.randrange(10**5):05d}",
            f"{g.province_name}药品监督管理局",
        )
    if industry in ("环保科技", "新材料", "纺织", "机械制造"):
        return (
            "排污许可证",
            f"{e['credit_code']}001{rng.choice('PUVQ')}",
            f"{e['city']}生态环境局",
        )
    return None


def _age(p: dict[str, object]) -> int:
    born = date.fromisoformat(str(p["birth_date"]))
    return (
        REFERENCE_DATE.year
        - born.year
        - ((REFERENCE_DATE.month, REFERENCE_DATE.day) < (born.month, born.day))
    )


def _marital(rng: random.Random, age: int) -> str:
    if age < 22:
        return "未婚"
    widowed = 2 if age < 60 else 15
    return _Weighted(
        (("已婚", 72), ("未婚", 18 if age < 35 else 4), ("离婚", 6), ("丧偶", widowed))
    ).draw(rng)


def _education(rng: random.Random, age: int) -> str:
    if age < 7:
        return "学龄前"
    if age < 13:
        return "小学"
    if age < 16:
        return "初中"
    young = age < 45
    return _Weighted(
        (
            ("小学", 5 if young else 20),
            ("初中", 25 if young else 35),
            ("高中", 22),
            ("大学专科", 18),
            ("大学本科", 24 if young else 10),
            ("研究生", 6 if young else 2),
        )
    ).draw(rng)


def _letters(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghjkmnpqrstwxyz") for _ in range(rng.randrange(3, 7)))
