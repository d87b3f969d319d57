"""Check digits of the two identifiers every cross-province call carries.

GB 11643 resident ID numbers (ISO 7064 MOD 11-2) and GB 32100 unified social credit codes
(MOD 31). The ``explain_*`` functions return a short English reason, or ``None`` when valid, so
callers can put the reason into an INVALID_ARGUMENT message.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "credit_code_check_char",
    "explain_credit_code",
    "explain_resident_id",
    "is_valid_credit_code",
    "is_valid_resident_id",
    "resident_id_check_char",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"

#: GB 32100 alphabet: digits and capitals without I, O, Z, S, V (easily confused).
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}
_CREDIT_SET = frozenset(CREDIT_CODE_ALPHABET)
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

# GB/T 2260 province-level prefixes; a number outside them cannot have been issued.
_PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
_EARLIEST_BIRTH_YEAR = 1900


def resident_id_check_char(first17: str) -> str:
    """The 18th character for the first 17 digits of a resident ID number."""
    # isascii(): str.isdigit() also accepts full-width and other Unicode digits.
    if not (
        isinstance(first17, str) and len(first17) == 17 and first17.isascii() and first17.isdigit()
    ):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def explain_resident_id(value: str, *, today: date | None = None) -> str | None:
    """Why ``value`` is not a valid resident ID number, or ``None`` if it is.

    A lower-case ``x`` is accepted as the check character: people type it that way.
    """
    if not isinstance(value, str):
        return "must be a string"
    if len(value) != 18:
        return f"must be 18 characters, got {len(value)}"
    body, check = value[:17], value[17].upper()
    if not (body.isascii() and body.isdigit()):
        return "first 17 characters must be digits"
    if check not in _ID_CHECK_CHARS:
        return "last character must be a digit or X"
    if body[:2] not in _PROVINCE_PREFIXES:
        return f"unknown province code {body[:2]}"
    birth = _parse_birth(body[6:14])
    if birth is None:
        return f"invalid birth date {body[6:14]}"
    if birth.year < _EARLIEST_BIRTH_YEAR or birth > (today or date.today()):
        return f"implausible birth date {body[6:14]}"
    expected = resident_id_check_char(body)
    if check != expected:
        return f"check digit mismatch: expected {expected}"
    return None


def is_valid_resident_id(value: str, *, today: date | None = None) -> bool:
    return explain_resident_id(value, today=today) is None


def _parse_birth(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def credit_code_check_char(first17: str) -> str:
    """The 18th character for the first 17 characters of a unified social credit code."""
    if not isinstance(first17, str) or len(first17) != 17 or not set(first17) <= _CREDIT_SET:
        raise ValueError(f"expected 17 characters of {CREDIT_CODE_ALPHABET}, got {first17!r}")
    total = sum(_CREDIT_VALUES[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def explain_credit_code(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code, or ``None`` if it is.

    Checks the shape (18 characters of the GB 32100 alphabet, a 6-digit region code at
    positions 3-8) and the MOD 31 check character. Lower case is not accepted: the code is
    printed in capitals on every licence, so lower case means it was retyped or altered.
    """
    if not isinstance(value, str):
        return "must be a string"
    if len(value) != 18:
        return f"must be 18 characters, got {len(value)}"
    for pos, c in enumerate(value, start=1):
        if c not in _CREDIT_VALUES:
            return f"invalid character {c!r} at position {pos}"
    if not value[2:8].isdigit():
        return "positions 3-8 must be a 6-digit region code"
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        return f"check digit mismatch: expected {expected}"
    return None


def is_valid_credit_code(value: str) -> bool:
    return explain_credit_code(value) is None
