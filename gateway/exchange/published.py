"""Catalog entries that publish a node's own interfaces (共享接口 as 信息资源): a search finds the
resource an interface serves, and ``yrdgw get`` of its resource code answers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from gateway.catalog.model import CatalogEntry, DataItem
from gateway.exchange.model import Interface
from gateway.standard import Standard

PUBLISHED_ON = "2024-01-01"


def interface_entries(interfaces: Iterable[Interface], standard: Standard) -> list[CatalogEntry]:
    out = []
    for iface in interfaces:
        grade = standard.max_grade(f.grade for f in iface.fields) if iface.fields else "L1"
        verify = iface.verify_only
        conditions = (
            f"仅提供核验服务，数据不出省域；通过 {iface.id} 调用"
            if verify
            else f"凭授权通过共享接口 {iface.id} 调用，按用途和字段授权"
        )
        if iface.data_mark:
            mark = standard.data_marks[iface.data_mark].name
            conditions += f"；{mark}，仅凭点名本接口的应用授权调用，整体授权不适用"
        out.append(
            CatalogEntry(
                code=iface.resource_code,
                name=iface.name,
                province=iface.province,
                department_code=iface.department,
                department=iface.department_name,
                category=iface.resource_code[:3],
                abstract=iface.description
                or f"{iface.department_name}提供的{iface.name}共享接口"
                f"（{'核验' if verify else '查询'}）。",
                format="interface",
                share_type="conditional",
                share_conditions=conditions,
                open_attribute="closed",
                update_cycle="realtime",
                publish_date=PUBLISHED_ON,
                grade=grade,
                items=tuple(
                    DataItem(
                        name=f.label,
                        type="string",
                        length=64,
                        grade=f.grade,
                        kind=f.kind if f.kind != "plain" else "",
                    )
                    for f in iface.fields
                ),
                data_mark=iface.data_mark,
            )
        )
    return out


def entries_digest(entries: Iterable[CatalogEntry]) -> str:
    """Changes when the published interfaces change, so the catalog is refreshed."""
    h = hashlib.sha256()
    for e in entries:
        h.update(repr(e).encode())
    return h.hexdigest()[:12]
