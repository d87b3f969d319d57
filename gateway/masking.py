"""Masking (脱敏) of data-item values by kind, following the shared standard's rules.

Every rule degrades gracefully: a value too short or malformed for its rule is masked except for
its first character, never returned whole and never a crash.
"""

from __future__ import annotations

import re

from gateway.standard import MaskRule, Standard

__all__ = ["COMPOUND_SURNAMES", "Masker", "mask"]

#: Two-character surnames (复姓) whose both characters are kept: masking 欧阳娜娜 as 欧***
#: would reveal part of the given name's length and misrepresent the surname.
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 慕容 尉迟 公孙 司徒 司空 长孙 宇文 夏侯 令狐 澹台 "
    "轩辕 呼延 端木 独孤 南宫 西门 万俟 闻人 赫连 钟离 太史 申屠 公羊 濮阳 淳于 单于".split()
)

# Kinds without a rule that may pass through untouched; any other unknown kind is a wiring bug.
_PASS_THROUGH_KINDS = frozenset({"plain", ""})

# Separators people type inside numbers (138-1234-5678, 6222 0212 ...); they carry no data.
_NUMBER_SEPARATORS = re.compile(r"[\s-]+")
# Separators inside names (买买提·艾力, John Smith) stay visible; only letters are masked.
_NAME_SEPARATORS = frozenset("·• .")
_YEAR_RE = re.compile(r"^\s*(\d{4})(?:$|[-/.年]|\d{4}$)")


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
    return method(text, rule)


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
    keep = 2 if len(text) > 2 and text[:2] in COMPOUND_SURNAMES else 1
    if len(text) <= keep:
        return rule.mask_char * len(text)
    rest = "".join(c if c in _NAME_SEPARATORS else rule.mask_char for c in text[keep:])
    if rule.mask_char not in rest:
        # Only separators after the surname: not a name, so keep nothing but the first char.
        return _all_but_first(text, rule.mask_char)
    return text[:keep] + rest


def _email(text: str, rule: MaskRule) -> str:
    text = text.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "." not in domain:
        return _all_but_first(text, rule.mask_char)
    return local[0] + rule.mask_char * (len(local) - 1) + "@" + domain


def _year(text: str, rule: MaskRule) -> str:
    match = _YEAR_RE.match(text)
    if match is None:
        return _all_but_first(text.strip(), rule.mask_char)
    return match.group(1)


def _none(text: str, rule: MaskRule) -> str:
    return text


_METHODS = {
    "keep_ends": _keep_ends,
    "surname": _surname,
    "email": _email,
    "year": _year,
    "none": _none,
}
