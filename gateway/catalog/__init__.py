"""The catalog: entries, their SQLite store with Chinese full-text search, and the seed generator."""
