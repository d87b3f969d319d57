"""``storage`` in node.yaml: SQLite by default, a PostgreSQL DSN without a password, or the
name of an environment variable holding the DSN; anything else stops the node naming the key."""

from __future__ import annotations

import pytest

from gateway.config.reader import ConfigNode
from gateway.config.storage import POSTGRESQL, SQLITE, Storage, read_storage
from gateway.errors import ConfigError

DSN = "postgresql://yrd@db.sh.internal:5432/yrd_sh"


def storage(value: object, env: dict[str, str] | None = None) -> Storage:
    return read_storage(ConfigNode("nodes/sh/node.yaml", "storage", value), env or {})


def test_absent_or_sqlite_is_sqlite() -> None:
    assert read_storage(None) == Storage() == storage("sqlite")
    assert Storage().backend == SQLITE and not Storage().postgresql


def test_a_dsn_in_the_file() -> None:
    assert storage(DSN) == Storage(POSTGRESQL, DSN, DSN)


def test_a_dsn_from_the_environment() -> None:
    secret = "postgresql://yrd:s3cret@db.sh.internal/yrd_sh"
    got = storage("env:YRD_SH_DSN", {"YRD_SH_DSN": secret})
    assert (got.backend, got.dsn, got.source) == (POSTGRESQL, secret, "env:YRD_SH_DSN")


@pytest.mark.parametrize(
    ("value", "env", "says"),
    [
        ("postgresql://yrd:s3cret@db/yrd", {}, "a password belongs in an environment variable"),
        ("env:YRD_SH_DSN", {}, "YRD_SH_DSN is not set"),
        ("env:YRD_SH_DSN", {"YRD_SH_DSN": "mysql://db/x"}, "does not hold a postgresql:// DSN"),
        ("mysql://db/yrd", {}, "'sqlite', a DSN"),
        ("postgresql:///yrd", {}, "'sqlite', a DSN"),
        ("env:1BAD", {}, "'sqlite', a DSN"),
        ("sqlite3", {}, "'sqlite', a DSN"),
        (5432, {}, "a non-empty string"),
    ],
)
def test_bad_values_name_the_file_and_key(value: object, env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as info:
        storage(value, env)
    assert (info.value.path, info.value.key) == ("nodes/sh/node.yaml", "storage")
    assert says in info.value.expected
