"""The catalog's domain records: one government information resource (政务信息资源) entry.

Every value here speaks the shared YRD standard; a province's local vocabulary is mapped onto it by
its crosswalk before an entry is built (see ``gateway.standard``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: 信息资源代码: 类(1) 项(2) 目(3) [细目(2..3)] "/" 顺序码(6). Example: ``101001/320123``.
RESOURCE_CODE_RE = re.compile(r"^[1-3]\d{2}\d{3}(?:\d{2,3})?/\d{6}$")

#: The fields a catalog search counts facets over, in the order they are reported. An empty value
#: is no value (an entry without a ``data_mark``): it is never counted nor reported.
FACET_FIELDS = ("category", "grade", "share_type", "department", "update_cycle", "data_mark")


@dataclass(frozen=True, slots=True)
class DataItem:
    """One data item (信息项) of a resource."""

    name: str
    """Chinese name, e.g. ``公民身份号码``."""
    type: str
    """Data-item type code from the standard (``string``, ``integer``, ``date`` ...)."""
    length: int
    grade: str
    """Shared grade id, ``L1`` .. ``L4``."""
    kind: str = ""
    """Standard data-item kind used for masking (``id_number``, ``mobile`` ...); empty if none."""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One catalog resource as the shared YRD standard describes it."""

    code: str
    """信息资源代码, unique across the federation."""
    name: str
    province: str
    """Owning node id: ``js``, ``sh``, ``zj`` or ``ah``."""
    department_code: str
    """Department code inside the province, e.g. ``gaj``."""
    department: str
    """Department's Chinese name, e.g. ``上海市公安局``."""
    category: str
    """Shared category code 类+项, three digits, e.g. ``101`` (基础/人口)."""
    abstract: str
    format: str
    """Resource format id from the standard (``database``, ``file`` ...)."""
    share_type: str
    """``unconditional`` | ``conditional`` | ``none`` (无条件/有条件/不予共享)."""
    share_conditions: str
    open_attribute: str
    """``open`` | ``conditional`` | ``closed`` (无条件开放/有条件开放/不予开放)."""
    update_cycle: str
    """Update-cycle id from the standard (``realtime``, ``daily`` ...)."""
    publish_date: str
    """ISO date ``YYYY-MM-DD``."""
    grade: str
    """Shared grade of the resource as a whole: the highest grade of its items."""
    items: tuple[DataItem, ...] = field(default_factory=tuple)
    local_grade: str = ""
    """The province's own name for the grade, kept for display."""
    local_category: str = ""
    """The province's own category code, kept for display."""
    data_mark: str = ""
    """A GB/T 43697 mark of the standard (``important`` 重要数据, ``core`` 核心数据) or empty
    (一般数据): the seed marks entries by ``seed.data_mark``'s rule."""

    @property
    def category_class(self) -> str:
        """类: ``1`` 基础, ``2`` 主题, ``3`` 部门."""
        return self.code[0]
