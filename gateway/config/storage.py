"""``storage`` in ``node.yaml``: where a node keeps its catalog, sharing state, audit chain and
spans.

``storage: sqlite`` (the default) keeps one SQLite file per store under the node's data
directory. ``storage: postgresql://user@host:port/db`` puts a province's sharing state, audit
chain and spans in one PostgreSQL database that all its replicas share. ``storage:
env:NAME`` reads that DSN from the environment variable ``NAME`` at start-up, so no password
ever lives in a file: a DSN written in the file with a password in it is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.config.reader import ConfigNode

__all__ = ["SQLITE", "POSTGRESQL", "Storage", "read_storage"]

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

_ENV_RE = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_EXPECTED = (
    "'sqlite', a DSN 'postgresql://user@host:port/database' (no password), or 'env:NAME' naming "
    "an environment variable that holds the DSN"
)


@dataclass(frozen=True, slots=True)
class Storage:
    backend: str = SQLITE
    """``sqlite`` or ``postgresql``."""
    dsn: str = ""
    """The PostgreSQL DSN (resolved from the environment when given as ``env:NAME``)."""
    source: str = ""
    """Where the DSN came from, safe to show: ``env:NAME`` or the DSN itself."""

    @property
    def postgresql(self) -> bool:
        return self.backend == POSTGRESQL


def read_storage(node: ConfigNode | None, env: Mapping[str, str] | None = None) -> Storage:
    """The ``storage`` value of a node.yaml (absent: SQLite)."""
    if node is None or node.value is None:
        return Storage()
    text = node.text().strip()
    if text == SQLITE:
        return Storage()
    environ = os.environ if env is None else env
    match = _ENV_RE.match(text)
    if match:
        name = match.group(1)
        dsn = environ.get(name, "")
        if not dsn:
            raise node.fail(f"{_EXPECTED}; the environment variable {name} is not set")
        if not _is_dsn(dsn):
            raise node.fail(f"{_EXPECTED}; {name} does not hold a postgresql:// DSN")
        return Storage(POSTGRESQL, dsn, text)
    if not _is_dsn(text):
        raise node.fail(_EXPECTED)
    if urlsplit(text).password is not None:
        raise node.fail(f"{_EXPECTED}: a password belongs in an environment variable (env:NAME)")
    return Storage(POSTGRESQL, text, text)


def _is_dsn(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("postgresql", "postgres") and bool(parts.hostname)
