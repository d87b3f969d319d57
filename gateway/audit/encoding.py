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
import json
from collections.abc import Sequence
from math import isfinite
from typing import Any

from gateway.audit.chain import CANONICAL_JSON, AuditRecord, entry_hash

__all__ = ["JSON_COLUMNS", "RECORD_COLUMNS", "encode_entry", "stored_hash"]

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
    columns = [encode(values[n]) if n in JSON_COLUMNS else values[n] for n in RECORD_COLUMNS]
    # The hashed text from the columns (as the integrity check reads them back), not a second
    # encoding of the whole record: 13 -> 10 µs an entry.
    digest = stored_hash((seq, prev_hash, None, *columns))
    if digest is None:  # a value of a type the record's checks keep out: encode it whole
        text = encode({"seq": seq, "prev_hash": prev_hash, "record": values})
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digest, columns


def stored_hash(row: Sequence[Any]) -> str | None:
    """The chain hash of a stored row (``seq, prev_hash, hash`` then ``RECORD_COLUMNS``), from
    its columns as stored: the JSON columns' text goes into the hashed text as it is, the other
    columns encoded as canonical JSON encodes them. None for a value of a type no column holds,
    or a number canonical JSON refuses (not finite).

    For the integrity check that walks each new entry (issue 18: decoding the JSON columns to
    encode them again was two thirds of its 23 µs an entry). A match proves the row is intact:
    the text hashed is then the text its writer hashed, so decoding and encoding again, as
    ``entry_hash`` does, gives it too. A mismatch proves nothing (a JSON column stored in
    another spelling of the same value), so the caller decides with ``entry_hash``.
    """
    parts = ['{"prev_hash":', "", ',"record":{']
    prev_hash = row[1]
    if type(prev_hash) is not str:
        return None
    parts[1] = _encode_text(prev_hash)
    first = True
    for index, key, is_json in _SORTED:
        value = row[index]
        kind = type(value)
        if is_json:
            if kind is not str:
                return None
            text = value
        elif kind is str:
            text = _encode_text(value)
        elif kind is int or (kind is float and isfinite(value)):
            text = _NUMBER[kind](value)
        else:
            return None
        parts.append(key if first else "," + key)
        parts.append(text)
        first = False
    seq = row[0]
    if type(seq) is not int:
        return None
    parts.append('},"seq":')
    parts.append(int.__repr__(seq))
    parts.append("}")
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


#: ``(row index, '"name":', whether stored as JSON text)`` in the canonical (sorted) key order.
_SORTED = tuple(
    (3 + RECORD_COLUMNS.index(name), CANONICAL_JSON.encode(name) + ":", name in JSON_COLUMNS)
    for name in sorted(RECORD_COLUMNS)
)
#: What canonical JSON writes for a number (``json`` uses ``float.__repr__``; it refuses a float
#: that is not finite, and so does ``stored_hash``).
_NUMBER = {int: int.__repr__, float: float.__repr__}
#: The canonical encoder's own string encoding (``ensure_ascii=False``).
_encode_text = json.encoder.encode_basestring
