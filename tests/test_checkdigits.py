"""GB 11643 resident IDs and GB 32100 credit codes: valid values pass, every mutation is caught."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.checkdigits import (
    CREDIT_CODE_ALPHABET,
    credit_code_check_char,
    explain_credit_code,
    explain_resident_id,
    is_valid_credit_code,
    is_valid_resident_id,
    resident_id_check_char,
)

# The first values are the standard's test values; the others are pinned regression values,
# cross-checked against the independent reference formulation below.
VALID_IDS = ("11010519491231002X", "320102199003077710", "330106198511200044", "340104200002290036")
VALID_CODES = ("91350100M000100Y43", "91310000MA1FL4DX3L", "91320000134756102A")
TODAY = date(2024, 6, 1)


@pytest.mark.parametrize("value", VALID_IDS)
def test_valid_resident_ids(value: str) -> None:
    assert is_valid_resident_id(value, today=TODAY)
    assert explain_resident_id(value, today=TODAY) is None
    assert resident_id_check_char(value[:17]) == value[17]


def test_lower_case_x_is_accepted() -> None:
    assert is_valid_resident_id("11010519491231002x", today=TODAY)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("110105194912310021", "check digit mismatch: expected X"),
        ("11010519491231002", "must be 18 characters, got 17"),
        ("11010519491231002XX", "must be 18 characters, got 19"),
        ("1101051949123100AX", "first 17 characters must be digits"),
        ("11010519491231002Y", "last character must be a digit or X"),
        ("00010519491231002X", "unknown province code 00"),
        ("110105194913310028", "invalid birth date 19491331"),
        ("110105194902300028", "invalid birth date 19490230"),
        ("110105180001010028", "implausible birth date 18000101"),
        ("110105203001010028", "implausible birth date 20300101"),
        ("１１０１０５１９４９１２３１００２Ｘ", "first 17 characters must be digits"),
    ],
)
def test_invalid_resident_ids(value: str, reason: str) -> None:
    assert explain_resident_id(value, today=TODAY) == reason
    assert not is_valid_resident_id(value, today=TODAY)


@pytest.mark.parametrize("position", range(17))
def test_every_single_digit_change_is_caught(position: int) -> None:
    # MOD 11-2 detects every single substitution; the birth-date digits may fail earlier.
    value = VALID_IDS[0]
    for digit in "0123456789":
        if digit == value[position]:
            continue
        mutated = value[:position] + digit + value[position + 1 :]
        assert not is_valid_resident_id(mutated, today=TODAY), mutated


@pytest.mark.parametrize("value", VALID_IDS)
def test_every_adjacent_transposition_is_caught(value: str) -> None:
    for i in range(17):
        swapped = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
        if swapped.upper() != value.upper():
            assert not is_valid_resident_id(swapped, today=TODAY), swapped


def _reference_id_check(first17: str) -> str:
    # ISO 7064 MOD 11-2 as the ISO text states it: weights 2^(18-i) mod 11, check (12 - s) mod 11.
    s = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    check = (12 - s % 11) % 11
    return "X" if check == 10 else str(check)


def _reference_credit_check(first17: str) -> str:
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    s = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - s % 31) % 31]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_resident_check_char_matches_reference(first17: str) -> None:
    assert resident_id_check_char(first17) == _reference_id_check(first17)


@given(st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=17, max_size=17))
def test_credit_check_char_matches_reference(first17: str) -> None:
    assert credit_code_check_char(first17) == _reference_credit_check(first17)


@pytest.mark.parametrize("value", VALID_IDS + VALID_CODES)
def test_pinned_values_match_reference(value: str) -> None:
    reference = _reference_id_check if value in VALID_IDS else _reference_credit_check
    assert reference(value[:17]) == value[17]


@pytest.mark.parametrize("first17", ["1234", "1101051949123100A", 12345678901234567])
def test_resident_check_char_rejects_bad_input(first17: object) -> None:
    with pytest.raises(ValueError, match="expected 17 digits"):
        resident_id_check_char(first17)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", VALID_CODES)
def test_valid_credit_codes(value: str) -> None:
    assert is_valid_credit_code(value)
    assert explain_credit_code(value) is None
    assert credit_code_check_char(value[:17]) == value[17]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91350100M000100Y44", "check digit mismatch: expected 3"),
        ("91350100M000100Y4", "must be 18 characters, got 17"),
        ("91350100M000100I43", "invalid character 'I' at position 16"),
        ("91350100m000100Y43", "invalid character 'm' at position 9"),
        ("913501O0M000100Y43", "invalid character 'O' at position 7"),
        ("91A50100M000100Y43", "positions 3-8 must be a 6-digit region code"),
        (None, "must be a string"),
    ],
)
def test_invalid_credit_codes(value: str, reason: str) -> None:
    assert explain_credit_code(value) == reason
    assert not is_valid_credit_code(value)


@pytest.mark.parametrize("position", [0, 1, 8, 9, 12, 15, 16])
def test_every_single_credit_character_change_is_caught(position: int) -> None:
    value = VALID_CODES[0]
    for c in CREDIT_CODE_ALPHABET:
        if c == value[position]:
            continue
        mutated = value[:position] + c + value[position + 1 :]
        assert not is_valid_credit_code(mutated), mutated


def test_credit_check_char_covers_the_alphabet() -> None:
    # Every residue is reachable, including 0 (check = (31 - 0) mod 31 = "0").
    seen = {credit_code_check_char(f"9132010{i:010d}") for i in range(400)}
    assert seen == set(CREDIT_CODE_ALPHABET)


def test_credit_check_char_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="expected 17 characters"):
        credit_code_check_char("91350100M000100I4")
