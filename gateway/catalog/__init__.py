"""The catalog: entries, their SQLite store with Chinese full-text search, the seed generator,
and federated search across the provinces."""
