"""A province's seeded catalog entries, generated as its node seeds them: from the shipped
standard and the province's own crosswalk and departments."""

from __future__ import annotations

from gateway.catalog.model import CatalogEntry
from gateway.catalog.seed import generate_entries
from gateway.config import load_crosswalk, load_departments, load_standard
from tests.support.federation import ROOT

STANDARD = ROOT / "config" / "standard" / "yrd-standard.yaml"


def seeded_entries(province: str, count: int) -> list[CatalogEntry]:
    standard = load_standard(STANDARD)
    node = ROOT / "nodes" / province
    return list(
        generate_entries(
            province,
            count,
            standard=standard,
            crosswalk=load_crosswalk(node / "crosswalk.yaml", standard),
            departments=load_departments(node / "departments.yaml", standard),
        )
    )
