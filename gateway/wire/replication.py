"""The catalog's change feed on the wire (the peer port's ``FollowChanges``): pages of changes
<-> ``ChangePage`` records. An entry travels without display names (the follower's own
``EntryWire`` adds them when it serves the entry); a withdrawal is a change without an entry."""

from __future__ import annotations

from gateway._pb.yrd.v1 import federation_pb2
from gateway.catalog.store.feed import Change, ChangePage
from gateway.wire.catalog import entry_from_pb, fill_entry

__all__ = ["follow_request", "page_from_pb", "page_to_pb"]


def follow_request(since: int, page_size: int, wait: float) -> federation_pb2.FollowChangesRequest:
    return federation_pb2.FollowChangesRequest(
        since=since, page_size=page_size, wait_ms=round(wait * 1000)
    )


def page_to_pb(page: ChangePage) -> federation_pb2.ChangePage:
    """Each change built in place in the page (``fill_entry``), not made apart and copied in."""
    m = federation_pb2.ChangePage(
        feed_id=page.feed_id, head=page.head, head_changed_at=page.head_changed_at
    )
    add = m.changes.add
    for c in page.changes:
        change = add(seq=c.seq, code=c.code, changed_at=c.changed_at)
        if c.entry is not None:
            fill_entry(change.entry, c.entry)
    return m


def page_from_pb(m: federation_pb2.ChangePage) -> ChangePage:
    return ChangePage(
        feed_id=m.feed_id,
        changes=tuple(
            Change(
                seq=c.seq,
                code=c.code,
                entry=entry_from_pb(c.entry) if c.HasField("entry") else None,
                changed_at=c.changed_at,
            )
            for c in m.changes
        ),
        head=m.head,
        head_changed_at=m.head_changed_at,
    )
