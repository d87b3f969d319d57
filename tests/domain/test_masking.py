"""Masking by kind per the standard's rules, including short and malformed values."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import load_standard
from gateway.masking import COMPOUND_SURNAMES, Masker, mask
from gateway.standard import MASK_METHODS, MaskRule, Standard

ROOT = Path(__file__).resolve().parents[2]


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
        # Name: the surname stays, one * per other character.
        ("name", "张三", "张*"),
        ("name", "王小明", "王**"),
        ("name", "欧阳娜娜", "欧阳**"),
        ("name", "司马相如", "司马**"),
        ("name", "诸葛亮", "诸葛*"),
        ("name", "上官婉儿", "上官**"),
        ("name", "欧阳", "欧*"),  # two characters: surname 欧 + given name 阳
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
        ("email", "a@gov.cn", "a@gov.cn"),
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
        # Address: the first six characters (province and city) stay.
        ("address", "江苏省南京市玄武区北京东路41号", "江苏省南京市**********"),
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
    keep = 2 if len(name) > 2 and name[:2] in COMPOUND_SURNAMES else 1
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
        if kind == "email" and len(stripped.rpartition("@")[0]) == 1:
            continue  # x@domain keeps its one character and the domain by rule
        # Anything long enough to matter comes back changed (a bare year is the rule's output).
        if len(stripped) > 4 and "*" not in stripped:
            assert out != stripped, (kind, value)
