"""A replica brought level with its owner in one process, as a follower does over gRPC."""

from __future__ import annotations

from gateway.catalog.store import CatalogStore


def follow(owner: CatalogStore, replica: CatalogStore, page_size: int = 500) -> None:
    """Bring ``replica`` level with ``owner`` through the change feed, page by page, and note
    the contact (connected, at the owner's head)."""
    state = replica.reset_replica(owner.changes_since(0, 1).feed_id)
    while True:
        page = owner.changes_since(state.seq, page_size)
        state = replica.apply_changes(page)
        if state.seq >= page.head:
            replica.note_replica(connected=True, head=page.head)
            return
