"""A record's chain hash and its stored columns, from one encoding of its fields.

The chain's format is ``gateway.audit.chain``'s and does not change here: the hash is exactly
``entry_hash(seq, prev_hash, record.to_dict())``. What changes is the work (issue 18: building and
hashing the audit record was ~8% of an owner's hop). ``to_dict`` copies every field and sends
``extra`` through a JSON round trip, which a record checked by its constructor does not need:
its fields already hold JSON's shapes (tuples encode as arrays, ``extra`` is a private
JSON-shaped copy). So the entry is encoded straight from the record's own attributes in one call
to the C encoder, and only the four JSON columns are encoded again for the row.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gateway.audit.chain import CANONICAL_JSON, AuditRecord, entry_hash

__all__ = ["JSON_COLUMNS", "RECORD_COLUMNS", "encode_entry"]

#: Record fields in column order; the table's columns are ``seq, prev_hash, hash`` then these.
RECORD_COLUMNS = tuple(AuditRecord.__dataclass_fields__)
#: Stored as canonical JSON text; every other column is a plain SQLite scalar.
JSON_COLUMNS = frozenset({"fields_returned", "fields_masked", "fields_dropped", "extra"})


def encode_entry(seq: int, prev_hash: str, record: AuditRecord) -> tuple[str, list[Any]]:
    """The entry's hash (as ``chain.entry_hash``) and the record's column values in
    ``RECORD_COLUMNS`` order (canonical JSON text for ``JSON_COLUMNS``).

    Raises TypeError or ValueError for a value canonical JSON cannot hold, as ``entry_hash``
    does.
    """
    values = vars(record)
    encode = CANONICAL_JSON.encode
    if len(values) != len(RECORD_COLUMNS):  # not a record as its class builds them
        plain = record.to_dict()
        return entry_hash(seq, prev_hash, plain), [
            encode(plain[n]) if n in JSON_COLUMNS else plain[n] for n in RECORD_COLUMNS
        ]
    text = encode({"seq": seq, "prev_hash": prev_hash, "record": values})
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digest, [encode(values[n]) if n in JSON_COLUMNS else values[n] for n in RECORD_COLUMNS]
