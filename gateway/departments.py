"""A province's departments and cities: who publishes its catalog and owns its interfaces.

``gateway.config`` reads ``nodes/<province>/departments.yaml`` into ``Departments``; the seed
generator draws catalog entries from them and interface declarations are checked against them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Department", "Departments"]


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    """Short code inside the province, e.g. ``gaj``."""
    name: str
    """Chinese name, e.g. ``上海市公安局``."""
    categories: tuple[str, ...]
    """Shared category codes it publishes in, its main one first."""
    kind: str = ""
    """Line of work (公安, 人社, 公积金 ...): picks the resource subjects it owns."""
    weight: int = 1
    """Relative share of the province's catalog."""
    index: int = 0
    """1-based position in the list: the 目 of its resource codes."""
    since: int = 0
    """The year the body was set up under its present functions (医保局 2018); 0 if older than
    any catalog. No catalog entry of it is dated earlier."""


@dataclass(frozen=True, slots=True)
class Departments:
    province: str
    """The node id, e.g. ``js``."""
    name: str
    """The province's Chinese name, e.g. ``江苏省``."""
    region_code: str
    """GB/T 2260 code, e.g. ``320000``."""
    cities: tuple[str, ...]
    """Prefecture-level cities (Shanghai: districts), for generated names."""
    departments: tuple[Department, ...]
    """In file order: a department's position is the 目 of its resource codes."""

    @property
    def region_prefix(self) -> str:
        return self.region_code[:2]

    def get(self, code: str) -> Department:
        for dept in self.departments:
            if dept.code == code:
                return dept
        raise ValueError(f"{self.province}: unknown department {code!r}")
