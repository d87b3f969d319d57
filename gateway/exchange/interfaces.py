"""Validating a call's parameters against an interface declaration.

``gateway.config`` reads ``nodes/<id>/interfaces.yaml`` into ``Interface`` records; a bad call
parameter is an ``InvalidArgument`` naming ``params.<name>`` with a stable reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date

from gateway.checkdigits import explain_credit_code, explain_resident_id
from gateway.errors import InvalidArgument
from gateway.exchange.model import MAX_PARAMS, Interface, Param

__all__ = ["MAX_PARAMS", "ParamSchema", "validate_params"]


# --------------------------------------------------------------------------- call parameters

# ASCII only: \d would also accept other scripts' digits, which int() then quietly converts.
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_INTEGER_RE = re.compile(r"^[+-]?\d{1,18}$", re.ASCII)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_NUMBER_SEPARATORS = re.compile(r"[\s-]+")
_NAME_MARKS = frozenset("·•. ")


def validate_params(iface: Interface, params: Mapping[str, str]) -> dict[str, str]:
    """Check a call's parameters against ``iface``; returns the normalised values.

    Normalised: surrounding whitespace removed, a resident ID's ``x`` upper-cased, separators
    dropped from mobile numbers, integers canonical. Empty optional parameters are left out.
    Raises ``InvalidArgument`` with field ``params.<name>`` and one of the reasons
    ``TOO_MANY_PARAMS``, ``UNKNOWN_PARAM``, ``MISSING_PARAM``, ``BAD_FORMAT``, ``BAD_CHECK_DIGIT``.
    """
    return ParamSchema(iface).validate(params)


class ParamSchema:
    """``validate_params`` for one interface, with its declared parameters looked up once (an
    owner keeps one per interface: issue 18)."""

    __slots__ = ("_declared", "_id", "_params")

    def __init__(self, iface: Interface) -> None:
        self._id = iface.id
        self._params = iface.params
        self._declared = frozenset(p.name for p in iface.params)

    def validate(self, params: Mapping[str, str]) -> dict[str, str]:
        """As ``validate_params``."""
        if len(params) > MAX_PARAMS:
            raise InvalidArgument(
                "params",
                f"at most {MAX_PARAMS} parameters, got {len(params)}",
                reason="TOO_MANY_PARAMS",
            )
        declared = self._declared
        for name in params:
            if name not in declared:
                raise InvalidArgument(
                    f"params.{_printable(name)}",
                    f"not a parameter of {self._id}",
                    reason="UNKNOWN_PARAM",
                )
        out: dict[str, str] = {}
        for p in self._params:
            raw = params.get(p.name)
            if raw is not None and not isinstance(raw, str):
                raise InvalidArgument(f"params.{p.name}", "must be a string", reason="BAD_FORMAT")
            value = (raw or "").strip()
            if not value:
                if p.required:
                    raise InvalidArgument(f"params.{p.name}", "required", reason="MISSING_PARAM")
                continue
            out[p.name] = _check_value(p, value)
        return out


def _check_value(p: Param, value: str) -> str:
    field = f"params.{p.name}"
    # Length first so the checks below never run over something unreasonably long.
    if len(value) > p.max_length:
        raise InvalidArgument(field, f"at most {p.max_length} characters", reason="BAD_FORMAT")
    # Control, format (bidi overrides, zero-width) and surrogate characters never belong in a
    # parameter. Private-use and unassigned code points are let through: registers encode rare
    # name characters (生僻字) there, and refusing them would refuse real people.
    # (Printable ASCII, the usual case, holds none of them: checked without a look per character.)
    if not (value.isascii() and value.isprintable()) and any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value
    ):
        raise InvalidArgument(field, "contains control characters", reason="BAD_FORMAT")
    if p.kind == "resident_id":
        value = value.upper()
        problem = explain_resident_id(value)
        if problem is not None:
            reason = "BAD_CHECK_DIGIT" if problem.startswith("check digit") else "BAD_FORMAT"
            raise InvalidArgument(
                field, f"not a valid resident ID number: {problem}", reason=reason
            )
    elif p.kind == "credit_code":
        problem = explain_credit_code(value)
        if problem is not None:
            reason = "BAD_CHECK_DIGIT" if problem.startswith("check digit") else "BAD_FORMAT"
            raise InvalidArgument(
                field, f"not a valid unified social credit code: {problem}", reason=reason
            )
    elif p.kind == "date":
        if not _DATE_RE.match(value) or _date(value) is None:
            raise InvalidArgument(field, "expected a date YYYY-MM-DD", reason="BAD_FORMAT")
    elif p.kind == "integer":
        if not _INTEGER_RE.match(value):
            raise InvalidArgument(field, "expected an integer", reason="BAD_FORMAT")
        value = str(int(value))
    elif p.kind == "mobile":
        value = _NUMBER_SEPARATORS.sub("", value)
        if not _MOBILE_RE.match(value):
            raise InvalidArgument(field, "expected an 11-digit mobile number", reason="BAD_FORMAT")
    elif p.kind == "name":
        if not all(c.isalpha() or c in _NAME_MARKS or _rare_character(c) for c in value):
            raise InvalidArgument(field, "a name holds letters only", reason="BAD_FORMAT")
    return value


def _rare_character(c: str) -> bool:
    return unicodedata.category(c) in ("Co", "Cn")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _printable(name: str) -> str:
    # The name is caller text going back into an error message: keep it short and inert.
    shown = name[:32].encode("unicode_escape").decode("ascii")
    return shown + ("..." if len(name) > 32 else "")
