"""PostgreSQL for the stores (issue 14): one connection pool per node replica, forward-only
schema migrations taken once across replicas, and the store-unavailable refusal."""

from gateway.postgres.database import Postgres, SqlConn
from gateway.postgres.migrate import migrate

__all__ = ["Postgres", "SqlConn", "migrate"]
