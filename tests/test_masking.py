"""Masking by kind per the standard's rules, including short and malformed values."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import load_standard
from gateway.masking import AMBIGUOUS_COMPOUNDS, COMPOUND_SURNAMES, Masker, mask
from gateway.standard import MASK_METHODS, MaskRule, Standard
from tests.support.federation import ROOT


@pytest.fixture(scope="module")
def standard() -> Standard:
    return load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")


@pytest.fixture(scope="module")
def masker(standard: Standard) -> Masker:
    return Masker(standard)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        # ID number: first 6 (region) and last 4 kept.
        ("id_number", "11010519491231002X", "110105********002X"),
        # Old 15-digit number: keeping its last 4 would show a digit of the birth date (YYMMDD).
        ("id_number", "110105491231002", "1**************"),
        ("id_number", "1101051949", "1*********"),  # too short to keep 6 + 4
        ("id_number", "11010519491", "1**********"),  # not 110105*9491
        ("id_number", " 110105 19491231 002X ", "110105********002X"),
        # Mobile: first 3 and last 4.
        ("mobile", "13812345678", "138****5678"),
        ("mobile", "138-1234-5678", "138****5678"),
        ("mobile", 13812345678, "138****5678"),
        ("mobile", "1381234", "1******"),
        ("mobile", "13812345", "1*******"),  # not 138*2345: the middle four stay hidden
        # A country code stays in front; the national number is masked by the same rule.
        ("mobile", "+86 138 1234 5678", "+86 138****5678"),
        ("mobile", "+8613812345678", "+86 138****5678"),
        ("mobile", "0086-138-1234-5678", "0086 138****5678"),
        # Full-width digits are normalised (NFKC) before masking.
        ("mobile", "１３８１２３４５６７８", "138****5678"),
        ("id_number", "１１０１０５１９４９１２３１００２Ｘ", "110105********002X"),
        # Name: the surname stays, one * per other character.
        ("name", "张三", "张*"),
        ("name", "王小明", "王**"),
        ("name", "欧阳娜娜", "欧阳**"),
        ("name", "司马相如", "司马**"),
        ("name", "诸葛亮", "诸葛*"),
        ("name", "上官婉儿", "上官**"),
        ("name", "欧阳", "欧*"),  # two characters: surname 欧 + given name 阳
        # 单 is the usual single surname and 单于 a rare compound: 单于洋 is 单 + 于洋.
        ("name", "单于洋", "单**"),
        ("name", "单于洋洋", "单于**"),
        ("name", "钟离春", "钟**"),
        ("name", "买买提·艾力", "买**·**"),
        ("name", "John Smith", "J*** *****"),
        ("name", " 李四 ", "李*"),
        ("name", "李", "*"),
        ("name", "A....", "A****"),  # nothing but separators after the first: mask them too
        # Bank card: first 6 and last 4.
        ("bank_card", "6222021234567890123", "622202*********0123"),
        ("bank_card", "6222 0212 3456 7890", "622202******7890"),
        ("bank_card", "62220212", "6*******"),
        ("bank_card", "622202123456789", "6**************"),  # 15 digits: middle under 6
        # Email: first character and domain.
        ("email", "zhangsan@example.com", "z*******@example.com"),
        ("email", "a@gov.cn", "*@gov.cn"),  # a one-character local part is hidden whole
        ("email", "a@b.cn", "*@b.cn"),
        ("email", "ab@b.cn", "a*@b.cn"),
        ("email", "ｚｈａｎｇ@ｅｘａｍｐｌｅ.ｃｏｍ", "z****@example.com"),
        ("email", "li.si@js.gov.cn", "l****@js.gov.cn"),
        ("email", "not-an-email", "n***********"),
        ("email", "@example.com", "@***********"),
        ("email", "user@localhost", "u*************"),
        # Birth date: generalised to the year.
        ("birth_date", "1990-05-17", "1990"),
        ("birth_date", "19900517", "1990"),
        ("birth_date", "1990/5/17", "1990"),
        ("birth_date", "1990年5月17日", "1990"),
        ("birth_date", "1990", "1990"),
        ("birth_date", "May 1990", "M*******"),
        ("birth_date", "19900", "1****"),
        ("birth_date", "１９４９－１２－３１", "1949"),
        ("birth_date", "二〇〇〇年一月一日", "2000"),
        ("birth_date", "一九四九年十月一日", "1949"),
        # Address: masked by administrative unit, province + city or municipality + district.
        ("address", "江苏省南京市玄武区北京东路41号", "江苏省南京市**********"),
        ("address", "上海市黄浦区南京东路100号", "上海市黄浦区********"),
        ("address", "安徽省马鞍山市花山区湖东路1号", "安徽省马鞍山市********"),
        ("address", "江苏省徐州市鼓楼区中山北路2号", "江苏省徐州市*********"),
        ("address", "浙江省杭州市西湖区", "浙江省杭州市***"),
        ("address", "上海市浦东新区世纪大道1号", "上海市浦东新区******"),
        ("address", "江苏省人民路市场8号", "江苏省*******"),  # a street is no city
        ("address", "上海市黄浦区", "上海市***"),  # nothing after the units: keep only one
        ("address", "南京市玄武区北京东路41号", "南京市**********"),
        ("address", "北京东路41号", "北******"),
        # Public kinds pass through.
        ("credit_code", "91350100M000100Y43", "91350100M000100Y43"),
        ("plain", "江苏省公安厅", "江苏省公安厅"),
    ],
)
def test_mask_table(masker: Masker, kind: str, value: object, expected: str) -> None:
    assert masker.mask(kind, value) == expected


@pytest.mark.parametrize(
    "kind", ["id_number", "mobile", "name", "bank_card", "email", "birth_date"]
)
@pytest.mark.parametrize("value", ["", None])
def test_empty_values(masker: Masker, kind: str, value: object) -> None:
    assert masker.mask(kind, value) == ""


@pytest.mark.parametrize("kind", ["id_number", "mobile", "bank_card", "email", "birth_date"])
def test_single_character_is_not_revealed(masker: Masker, kind: str) -> None:
    assert masker.mask(kind, "7") == "*"


def test_plain_without_rule_passes_through() -> None:
    assert mask("plain", "anything", None) == "anything"
    assert mask("", "anything", None) == "anything"


def test_unknown_kind_is_an_error(masker: Masker) -> None:
    with pytest.raises(ValueError, match="no masking rule for data-item kind 'passport'"):
        masker.mask("passport", "E12345678")


def test_rule_for_another_kind_is_an_error() -> None:
    rule = MaskRule("mobile", "keep_ends", 3, 4)
    with pytest.raises(ValueError, match="masking rule for 'mobile' applied to kind 'id_number'"):
        mask("id_number", "11010519491231002X", rule)


def test_unknown_method_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown masking method 'rot13'"):
        mask("mobile", "13812345678", MaskRule("mobile", "rot13"))


METHOD_OUTPUTS = [
    ("keep_ends", "138****5678"),
    ("surname", "1**********"),
    ("email", "1**********"),
    ("year", "1**********"),
    ("region", "1**********"),
    ("none", "13812345678"),
]


@pytest.mark.parametrize(("method", "expected"), METHOD_OUTPUTS)
def test_every_standard_method_is_implemented(method: str, expected: str) -> None:
    assert {m for m, _ in METHOD_OUTPUTS} == set(MASK_METHODS)
    assert mask("x", "13812345678", MaskRule("x", method, 3, 4)) == expected


def test_custom_mask_char() -> None:
    assert (
        mask("mobile", "13812345678", MaskRule("mobile", "keep_ends", 3, 4, "#")) == "138####5678"
    )


def test_compound_surnames_include_the_common_ones() -> None:
    assert {"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容"} <= COMPOUND_SURNAMES


STANDARD = load_standard(ROOT / "config" / "standard" / "yrd-standard.yaml")
MASKER = Masker(STANDARD)
MASK = "*"

# What each rule protects, as positions in a separator-free value of the kind's full form:
# a mobile's middle four digits, an ID number's birth date (YYYYMMDD in the 18-digit form, YYMMDD
# in the old 15-digit one), a bank card's digits between the issuer (6) and the last 4.
PROTECTED = {
    "mobile": lambda n: range(3, min(n, 7)),
    "id_number": lambda n: range(6, min(n, 12 if n == 15 else 14)),
    "bank_card": lambda n: range(6, max(6, n - 4)),
}

digits = st.text(alphabet="0123456789X", min_size=0, max_size=40)
separated = st.lists(st.tuples(digits, st.sampled_from(["", " ", "-", "\t", " - "])), max_size=6)


def _joined(parts: list[tuple[str, str]]) -> str:
    return "".join(chunk + sep for chunk, sep in parts)


@given(st.one_of(digits, separated.map(_joined)))
def test_keep_ends_never_shows_the_protected_part(value: str) -> None:
    bare = "".join(value.split()).replace("-", "")
    for kind, protected in PROTECTED.items():
        if kind == "mobile" and re.fullmatch(r"00861\d{10}", bare):
            continue  # a country code ahead of a mobile: see the test below
        out = MASKER.mask(kind, value)
        assert len(out) == len(bare), (kind, value, out)
        hidden = protected(len(bare))
        # Every protected position is masked, whatever the length (a truncated or over-long
        # value included), and nothing is kept beyond the rule's own ends.
        assert all(out[i] == MASK for i in hidden), (kind, value, out)
        rule = STANDARD.masking[kind]
        shown = [i for i, c in enumerate(out) if c != MASK]
        if len(bare) > 1:
            assert len(shown) <= rule.keep_first + rule.keep_last, (kind, value, out)
        assert all(i < rule.keep_first or i >= len(bare) - rule.keep_last for i in shown), (
            kind,
            value,
            out,
        )


names = st.text(
    alphabet=st.sampled_from(list("张王李欧阳司马诸葛上官买提艾力JohnSmith·• .\t")), max_size=12
)


@given(
    st.one_of(
        names,
        st.sampled_from(sorted(COMPOUND_SURNAMES)).flatmap(
            lambda s: names.map(lambda rest: s + rest)
        ),
    )
)
def test_name_never_shows_the_given_name(value: str) -> None:
    out = MASKER.mask("name", value)
    name = value.strip()
    compound = len(name) > 2 and name[:2] in COMPOUND_SURNAMES
    keep = 2 if compound and not (name[:2] in AMBIGUOUS_COMPOUNDS and len(name) == 3) else 1
    assert len(out) == len(name), (value, out)
    # The surname (one character, two for a compound surname) is all that shows; of the given
    # name only separators stay, and a lone character or a name of separators shows nothing more.
    for i, c in enumerate(out):
        if i >= keep:
            assert c == MASK or (c in "·• ." and c == name[i]), (value, out)
    if len(name) <= keep or all(c in "·• ." for c in name[keep:]):
        assert out[1:] == MASK * (len(name) - 1) and (len(name) > 1 or out == MASK * len(name))


@given(st.text(max_size=200))
def test_masking_never_crashes_and_never_reveals_long_values(value: str) -> None:
    for kind in ("id_number", "mobile", "name", "bank_card", "email", "birth_date", "address"):
        out = MASKER.mask(kind, value)
        assert isinstance(out, str)
        stripped = value.strip()
        # Anything long enough to matter comes back changed (a bare year is the rule's output).
        if len(stripped) > 4 and "*" not in stripped:
            assert out != stripped, (kind, value)


def _full_width(text: str) -> str:
    """ASCII digits, letters and punctuation as their full-width forms (１, Ａ, －)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@given(st.one_of(digits, separated.map(_joined)))
def test_width_never_changes_what_is_masked(value: str) -> None:
    # A full-width number is masked exactly as its ASCII form: no rule is dodged by the width.
    for kind in ("id_number", "mobile", "bank_card", "birth_date", "email"):
        assert MASKER.mask(kind, _full_width(value)) == MASKER.mask(kind, value), (kind, value)


national = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
country = st.sampled_from(["+86", "0086", "+86 ", "0086-", "＋８６", "+86-"])
spacing = st.sampled_from(["", " ", "-"])


@given(country, national, spacing, st.booleans())
def test_mobile_with_country_code_hides_the_middle_four(
    code: str, number: str, sep: str, wide: bool
) -> None:
    value = code + number[:3] + sep + number[3:7] + sep + number[7:]
    out = MASKER.mask("mobile", _full_width(value) if wide else value)
    # The national number's prefix and last four show; its middle four never do.
    assert out.endswith(" " + number[:3] + "****" + number[7:]), (value, out)
    assert number[3:7] not in out.replace(number[:3], "", 1)[: -len(number[7:])], (value, out)


@given(st.text(min_size=1, max_size=30), st.integers(1, 3))
def test_email_never_shows_more_than_the_first_character(local: str, _: int) -> None:
    local = local.strip().replace("@", "")
    value = f"{local}@example.com"
    out = MASKER.mask("email", value)
    # The masker normalises the whole value (NFKC), then strips it: a local part that begins
    # with a character NFKC turns into a space and a combining mark (¸, ´) loses that space.
    norm = unicodedata.normalize("NFKC", local).lstrip()
    if out.endswith("@example.com") and norm:
        shown = out[: -len("@example.com")]
        # One character is hidden whole; a longer local part keeps only its first character.
        assert shown == (MASK if len(norm) == 1 else norm[0] + MASK * (len(norm) - 1)), (
            value,
            out,
        )


CN = "〇一二三四五六七八九"


@given(st.dates(), st.booleans())
def test_a_date_keeps_only_its_year_in_any_script(day, chinese: bool) -> None:
    if chinese:
        year = "".join(CN[int(d)] for d in f"{day.year:04d}")
        value = f"{year}年{day.month}月{day.day}日"
    else:
        value = _full_width(day.isoformat())
    assert MASKER.mask("birth_date", value) == f"{day.year:04d}"


PLACES = [
    ("江苏省南京市", "玄武区"),
    ("江苏省徐州市", "鼓楼区"),
    ("安徽省马鞍山市", "花山区"),
    ("浙江省杭州市", "西湖区"),
    ("浙江省湖州市", "吴兴区"),
    ("上海市黄浦区", ""),
    ("上海市浦东新区", ""),
    ("安徽省六安市", "金安区"),
]
streets = st.text(
    alphabet=st.sampled_from(list("北京东路人民中山大道巷弄号栋室123456789")),
    min_size=1,
    max_size=20,
)


@given(st.sampled_from(PLACES), streets)
def test_address_keeps_two_units_and_hides_the_rest(place: tuple[str, str], street: str) -> None:
    units, county = place
    value = units + county + street
    out = MASKER.mask("address", value)
    # Province + city (or municipality + district) show; the county and the street never do.
    assert out == units + MASK * (len(value) - len(units)), (value, out)
