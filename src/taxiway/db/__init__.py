"""Persistence: tables, the async engine and Alembic migrations (SQLite by default, Postgres by URL)."""
