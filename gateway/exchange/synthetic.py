"""The synthetic world behind a node-local dataset: people and enterprises of one province.

``World`` holds the seeded random source and the draws everything else shares (dates, places,
names, mobiles, bank cards); ``make_people`` and ``make_enterprises`` fill its rows. Every resident
ID and credit code carries a valid check digit and a real county code of the province, and a
legal representative is one of the people. ``gateway.exchange.registers`` hangs licences,
social-insurance and credit records on them. The same (province, people, seed) always gives the
same rows: dates are relative to a fixed ``REFERENCE_DATE``, never to today.
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

__all__ = [
    "REFERENCE_DATE",
    "Row",
    "Rows",
    "Weighted",
    "World",
    "age_of",
    "luhn_check_digit",
    "org_code_check_char",
]

#: "Today" for the synthetic world, fixed so that the dataset never changes with the calendar.
REFERENCE_DATE = date(2024, 6, 30)

Row = dict[str, object]

_MOBILE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 155 157 158 159 166 176 177 180 181 182 "
    "185 186 187 188 189 191 198 199".split()
)


@dataclass
class Rows:
    """Rows per table, each a dict keyed by column name (``dataset.SCHEMA`` gives the order)."""

    person: list[Row] = field(default_factory=list)
    enterprise: list[Row] = field(default_factory=list)
    licence: list[Row] = field(default_factory=list)
    social_insurance: list[Row] = field(default_factory=list)
    credit_record: list[Row] = field(default_factory=list)
    samples: dict[str, str] = field(default_factory=dict)
    """Well-known values that exist in the rows, keyed by the shipped interfaces' param names."""


class Weighted:
    """Draws from (value, weight) pairs with one bisect instead of random.choices' setup."""

    def __init__(self, pairs: Sequence[tuple[str, float]]) -> None:
        self.values = [p[0] for p in pairs]
        self.cum = list(accumulate(p[1] for p in pairs))

    def draw(self, rng: random.Random) -> str:
        return self.values[bisect(self.cum, rng.random() * self.cum[-1])]


_ENTERPRISE_STATUS = Weighted((("存续", 85), ("在业", 5), ("注销", 6), ("吊销", 4)))


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


class World:
    """The seeded random source, the province's places and the rows drawn so far."""

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
        self.surnames = Weighted(list(surnames.items()))
        self.ethnicities = Weighted(v.ETHNICITIES)
        self.rows = Rows()

    # -- small draws -------------------------------------------------------------------------

    def date_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange(max(1, (end - start).days)))

    def street_address(self, place: tuple[str, str, str]) -> str:
        city, _, county = place
        prefix = (
            f"{self.province_name}{county}"
            if city == county
            else (f"{self.province_name}{city}{county}")
        )
        return f"{prefix}{self.rng.choice(v.STREETS)}{self.rng.randrange(1, 999)}号"

    def name(self, male: bool) -> str:
        rng = self.rng
        pool = (v.GIVEN_MALE if male else v.GIVEN_FEMALE) + v.GIVEN_NEUTRAL
        given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.65 else "")
        return self.surnames.draw(rng) + given

    def mobile(self) -> str:
        return self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def bank_card(self) -> str:
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
            hukou_address = self.street_address(hukou)
            lives = hukou if rng.random() < 0.7 else rng.choice(self.places)
            address = (hukou_address if lives is hukou else self.street_address(lives)) + (
                f"{rng.randrange(1, 30)}幢{rng.randrange(1, 33)}0{rng.randrange(1, 5)}室"
            )
            adult = age >= 18
            self.rows.person.append(
                {
                    "id_number": body + resident_id_check_char(body),
                    "name": self.name(male),
                    "gender": "男" if male else "女",
                    "birth_date": birth.isoformat(),
                    "ethnicity": self.ethnicities.draw(rng),
                    "marital_status": _marital(rng, age),
                    "education": _education(rng, age),
                    "mobile": self.mobile() if age >= 14 else "",
                    "email": f"{_letters(rng)}{rng.randrange(100, 9999)}@example.cn"
                    if adult and rng.random() < 0.4
                    else "",
                    "hukou_county_code": hukou[1],
                    "hukou_city": hukou[0],
                    "hukou_address": hukou_address,
                    "address": address,
                    "city": lives[0],
                    "household_type": "家庭户" if rng.random() < 0.88 else "集体户",
                    "registered_on": self.date_between(
                        birth, min(REFERENCE_DATE, birth + timedelta(days=60))
                    ).isoformat(),
                }
            )

    # -- enterprises -------------------------------------------------------------------------

    def credit_code(self, place: tuple[str, str, str], individual: bool) -> str:
        rng, letters = self.rng, CREDIT_CODE_ALPHABET
        if rng.random() < 0.6:  # codes issued since 2015 mostly start with MA
            org = "MA" + str(rng.randrange(10)) + "".join(rng.choice(letters) for _ in range(5))
        else:
            org = f"{rng.randrange(10**8):08d}"
        first17 = ("92" if individual else "91") + place[1] + org + org_code_check_char(org)
        return first17 + credit_code_check_char(first17)

    def make_enterprises(self) -> None:
        rng = self.rng
        adults = [p for p in self.rows.person if age_of(p) >= 22]
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
                code = self.credit_code(place, individual)
                if name not in names and code not in codes:
                    names.add(name)
                    codes.add(code)
                    break
            established = self.date_between(date(1995, 1, 1), REFERENCE_DATE)
            # A county-level city (溧阳市) is its own registration authority, not prefixed by
            # its prefecture; a district or county is (常州市武进区).
            if self.province == "sh":
                authority = f"{self.province_name}{place[0]}市场监督管理局"
            elif place[2].endswith("市") or place[0] == place[2]:
                authority = f"{place[2]}市场监督管理局"
            else:
                authority = f"{place[0]}{place[2]}市场监督管理局"
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
                    "address": self.street_address(place),
                    "business_scope": scope,
                    "industry": industry,
                    "registration_authority": authority,
                    "city": place[0],
                    "county_code": place[1],
                }
            )


def age_of(p: dict[str, object]) -> int:
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
    return Weighted(
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
    return Weighted(
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
