"""What the measurement scripts seed: a province's generated catalog, from the shipped standard,
crosswalk and department list, as its node seeds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gateway.catalog.model import CatalogEntry
from gateway.catalog.seed import generate_entries
from gateway.config import load_crosswalk, load_departments, load_standard

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "config" / "standard" / "yrd-standard.yaml"


def province_entries(province: str, count: int) -> Iterator[CatalogEntry]:
    """``count`` entries of ``province``, generated as they are consumed."""
    standard = load_standard(STANDARD)
    node = ROOT / "nodes" / province
    return generate_entries(
        province,
        count,
        standard=standard,
        crosswalk=load_crosswalk(node / "crosswalk.yaml", standard),
        departments=load_departments(node / "departments.yaml", standard),
    )
