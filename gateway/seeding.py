"""A node's first-start data, by one path for a starting node and for ``yrdgw seed``: the
catalog (generated entries plus the node's own interfaces published as resources) and the
node-local dataset behind its sqlite backends.

It sits above both ``catalog`` and ``exchange`` because the catalog it fills holds entries of
both: ``catalog.loader`` cannot ask ``exchange`` for them without an import circle.
"""

from __future__ import annotations

from gateway.catalog.loader import ensure_seeded
from gateway.catalog.store import AnyCatalogStore
from gateway.config import Province
from gateway.exchange.dataset import dataset_path, ensure_dataset
from gateway.exchange.published import entries_digest, interface_entries

__all__ = ["seed_catalog", "seed_dataset"]


def seed_catalog(
    store: AnyCatalogStore, province: Province, *, entries: int | None = None, force: bool = False
) -> float | None:
    """Seed unless ``store`` already holds this catalog; seconds taken, or None.

    ``entries`` overrides node.yaml's ``seed.entries``; ``force`` reseeds regardless.
    """
    settings = province.config.seed
    published = interface_entries(province.interfaces.values(), province.standard)
    return ensure_seeded(
        store,
        province=province.id,
        entries=settings.entries if entries is None else entries,
        seed=settings.seed,
        standard=province.standard,
        crosswalk=province.crosswalk,
        departments=province.departments,
        published=published,
        published_digest=entries_digest(published),
        force=force,
    )


def seed_dataset(province: Province, *, people: int | None = None) -> None:
    """Create the node-local dataset unless it already holds this one; ``people`` overrides
    node.yaml's ``seed.people``."""
    cfg = province.config
    ensure_dataset(
        dataset_path(cfg.data_dir),
        province.id,
        people=cfg.seed.people if people is None else people,
        seed=cfg.seed.seed,
    )
