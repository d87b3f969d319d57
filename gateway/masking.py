"""Masking (脱敏) of data-item values by kind, following the shared standard's rules.

Every rule degrades gracefully: a value too short or malformed for its rule is masked except for
its first character, never returned whole and never a crash. Values are NFKC-normalised first, so
full-width digits (１９４９－１２－３１) meet the same rule as ASCII ones.
"""

from __future__ import annotations

import re
import unicodedata

from gateway.standard import MaskRule, Standard

__all__ = ["AMBIGUOUS_COMPOUNDS", "COMPOUND_SURNAMES", "MUNICIPALITIES", "Masker", "mask"]

#: Two-character surnames (复姓) whose both characters are kept: masking 欧阳娜娜 as 欧***
#: would reveal part of the given name's length and misrepresent the surname.
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 慕容 尉迟 公孙 司徒 司空 长孙 宇文 夏侯 令狐 澹台 "
    "轩辕 呼延 端木 独孤 南宫 西门 万俟 闻人 赫连 钟离 太史 申屠 公羊 濮阳 淳于 单于".split()
)

#: Compound surnames whose first character is itself a common single surname (单 Shàn, 钟, 夏,
#: 万, 申, 闻) while the compound is rare today. A three-character name starting with one reads as
#: single surname + two-character given name (单于洋 is 单 + 于洋), so only one character is kept;
#: from four characters on (单于洋洋) the compound is kept. When the reading is ambiguous the
#: shorter surname is kept, so a given-name character never shows.
AMBIGUOUS_COMPOUNDS: frozenset[str] = frozenset("单于 钟离 夏侯 万俟 申屠 闻人".split())

#: 直辖市: an address in one keeps the municipality and its district (上海市黄浦区); elsewhere
#: the province and the prefecture-level city (安徽省马鞍山市) are kept.
MUNICIPALITIES: tuple[str, ...] = ("北京市", "天津市", "上海市", "重庆市")

# Kinds without a rule that may pass through untouched; any other unknown kind is a wiring bug.
_PASS_THROUGH_KINDS = frozenset({"plain", ""})

# Separators people type inside numbers (138-1234-5678, 6222 0212 ...); they carry no data.
_NUMBER_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
# A mobile written with its country code (+86 138 1234 5678, 0086...): the code is kept and the
# national number masked by the rule, so the prefix 138 is what shows, not "+86".
_COUNTRY_CODE = re.compile(r"(\+86|0086)(1[0-9]{10})")
# Separators inside names (买买提·艾力, John Smith) stay visible; only letters are masked.
_NAME_SEPARATORS = frozenset("·• .")
_YEAR_RE = re.compile(r"^\s*(\d{4})(?:$|[-/.年]|\d{4}$)")
# 二〇〇〇年一月一日: a year written in Chinese numerals, digit by digit.
_CN_DIGITS = "〇一二三四五六七八九"
_CN_YEAR_RE = re.compile(rf"^\s*([{_CN_DIGITS}零]{{4}})年")
# Administrative units at the head of an address. A unit name is 1..8 Han characters, none of
# them a digit or a street word (路 街 道 巷 弄 号 ...), so a street never reads as a unit, ending
# in its level's suffix; 市 is tried before 州 so that 徐州市 is not cut after 徐州.
_UNIT = r"[^\W\d_a-zA-Z路街道巷弄号楼栋室村组幢]"
_PROVINCE_RE = re.compile(rf"{_UNIT}{{2,8}}?(?:省|自治区|特别行政区)")
_CITY_RE = re.compile(rf"{_UNIT}{{2,4}}?市|{_UNIT}{{2,8}}?(?:自治州|地区|盟)|{_UNIT}{{1,3}}?州")
_DISTRICT_RE = re.compile(rf"{_UNIT}{{1,6}}?(?:新区|区|县)")


def mask(kind: str, value: object, rule: MaskRule | None) -> str:
    """Mask ``value`` of data-item ``kind`` with ``rule``.

    ``rule`` is ``None`` only for kinds that need no masking (``plain``); any other kind without
    a rule is a ValueError, as is a rule written for a different kind.
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if rule is None:
        if kind in _PASS_THROUGH_KINDS:
            return text
        raise ValueError(f"no masking rule for data-item kind {kind!r}")
    if rule.kind != kind:
        raise ValueError(f"masking rule for {rule.kind!r} applied to kind {kind!r}")
    method = _METHODS.get(rule.method)
    if method is None:
        raise ValueError(f"unknown masking method {rule.method!r} for kind {kind!r}")
    if method is _none:
        return text
    # Full-width digits and letters become ASCII, so no rule is dodged by the input's width.
    return method(unicodedata.normalize("NFKC", text), rule)


class Masker:
    """Masks values by kind with the rules of one loaded standard."""

    def __init__(self, standard: Standard) -> None:
        self._rules = dict(standard.masking)
        self.fingerprint = standard.fingerprint

    def rule_for(self, kind: str) -> MaskRule | None:
        return self._rules.get(kind)

    def mask(self, kind: str, value: object) -> str:
        return mask(kind, value, self._rules.get(kind))


def _all_but_first(text: str, char: str) -> str:
    # A single character would be revealed whole by "all but the first", so mask it too.
    if len(text) <= 1:
        return char * len(text)
    return text[0] + char * (len(text) - 1)


def _keep_ends(text: str, rule: MaskRule) -> str:
    text = _NUMBER_SEPARATORS.sub("", text)
    country = _COUNTRY_CODE.fullmatch(text) if rule.kind == "mobile" else None
    if country is not None:
        return country[1] + " " + _keep_ends(country[2], rule)
    kept = rule.keep_first + rule.keep_last
    # A value no longer than what the rule keeps would come back unmasked, and one shorter than
    # the full form would show part of what the rule hides (13812345 -> 138*2345).
    if len(text) - kept < max(1, rule.hide_at_least):
        return _all_but_first(text, rule.mask_char)
    tail = text[len(text) - rule.keep_last :] if rule.keep_last else ""
    middle = len(text) - kept
    return text[: rule.keep_first] + rule.mask_char * middle + tail


def _surname(text: str, rule: MaskRule) -> str:
    text = text.strip()
    if not text:
        return ""
    # A two-character name is surname + given name even when it looks like a compound surname.
    keep = _surname_length(text)
    if len(text) <= keep:
        return rule.mask_char * len(text)
    rest = "".join(c if c in _NAME_SEPARATORS else rule.mask_char for c in text[keep:])
    if rule.mask_char not in rest:
        # Only separators after the surname: not a name, so keep nothing but the first char.
        return _all_but_first(text, rule.mask_char)
    return text[:keep] + rest


def _surname_length(name: str) -> int:
    """How many leading characters are the surname: 2 for a compound surname, else 1.

    A two-character name is surname + given name even when it looks like a compound surname, and
    a three-character name starting with an ``AMBIGUOUS_COMPOUNDS`` pair keeps one character.
    """
    head = name[:2]
    if len(name) <= 2 or head not in COMPOUND_SURNAMES:
        return 1
    if head in AMBIGUOUS_COMPOUNDS and len(name) == 3:
        return 1
    return 2


def _email(text: str, rule: MaskRule) -> str:
    text = text.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "." not in domain:
        return _all_but_first(text, rule.mask_char)
    # A one-character local part would be kept whole by "keep the first": hide it.
    head = local[0] if len(local) > 1 else rule.mask_char
    return head + rule.mask_char * (len(local) - 1) + "@" + domain


def _year(text: str, rule: MaskRule) -> str:
    match = _YEAR_RE.match(text)
    if match is not None:
        return match.group(1)
    chinese = _CN_YEAR_RE.match(text)
    if chinese is not None:
        return "".join(str(_CN_DIGITS.index(c)) if c in _CN_DIGITS else "0" for c in chinese[1])
    return _all_but_first(text.strip(), rule.mask_char)


def _region(text: str, rule: MaskRule) -> str:
    """Keep the address's first two administrative units, mask everything after them.

    Two units are province + prefecture-level city (江苏省南京市, 安徽省马鞍山市) or, in a
    直辖市, municipality + district (上海市黄浦区). An address that starts with a city
    (南京市玄武区) keeps the city only; one that starts with no recognisable unit keeps its first
    character.
    """
    text = text.strip()
    kept = _admin_prefix(text)
    if len(kept) == len(text):
        # Nothing but units (上海市黄浦区): keep the first one, so something is always hidden.
        first = _admin_prefix(text[: len(kept) - 1]) if kept else ""
        kept = first if len(first) < len(text) else ""
    if not kept:
        return _all_but_first(text, rule.mask_char)
    return kept + rule.mask_char * (len(text) - len(kept))


def _admin_prefix(text: str) -> str:
    for municipality in MUNICIPALITIES:
        if text.startswith(municipality):
            district = _DISTRICT_RE.match(text, len(municipality))
            return municipality + (district[0] if district else "")
    province = _PROVINCE_RE.match(text)
    if province is None:
        city = _CITY_RE.match(text)
        return city[0] if city and len(city[0]) < len(text) else ""
    city = _CITY_RE.match(text, province.end())
    return province[0] + (city[0] if city else "")


def _none(text: str, rule: MaskRule) -> str:
    return text


_METHODS = {
    "keep_ends": _keep_ends,
    "surname": _surname,
    "email": _email,
    "year": _year,
    "region": _region,
    "none": _none,
}
