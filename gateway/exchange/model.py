"""Interfaces (共享接口) as a node declares them in ``nodes/<id>/interfaces.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Where the interface id format lives; re-exported for the interfaces file reader.
from gateway.ids import INTERFACE_ID_RE as INTERFACE_ID_RE

PARAM_KINDS = ("string", "resident_id", "credit_code", "date", "integer", "name", "mobile")
MODES = ("query", "verify")
BACKEND_TYPES = ("sqlite", "http")
#: More parameters than this in one call is refused before any is looked at.
MAX_PARAMS = 16
#: An http backend's timeout when its declaration names none.
DEFAULT_HTTP_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: str
    """One of ``PARAM_KINDS``; resident_id and credit_code are validated by check digit."""
    required: bool = True
    description: str = ""
    max_length: int = 64


@dataclass(frozen=True, slots=True)
class Field:
    """One returned data item."""

    name: str
    """ASCII field id, e.g. ``id_number``."""
    label: str
    """Chinese name, e.g. ``公民身份号码``."""
    kind: str
    """Data-item kind of the standard (``id_number``, ``mobile``, ``name``, ... or ``plain``)."""
    grade: str
    """L1..L4."""
    mask: bool = False
    """Mask by the standard's rule for ``kind`` even below the grade that requires masking."""


@dataclass(frozen=True, slots=True)
class BackendSpec:
    type: str
    """``sqlite`` or ``http``."""
    options: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Interface:
    id: str
    province: str
    department: str
    department_name: str
    name: str
    """Chinese name, e.g. ``户籍信息核验``."""
    resource_code: str
    mode: str
    """``query`` returns records; ``verify`` (核验) answers match / no-match only."""
    params: tuple[Param, ...]
    fields: tuple[Field, ...]
    backend: BackendSpec
    streamable: bool = False
    description: str = ""
    data_mark: str = ""
    """A GB/T 43697 mark of the standard (``important``, ``core``) or empty: marked data is
    served only under an app grant naming this interface, never a blanket one."""

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def verify_only(self) -> bool:
        return self.mode == "verify"
