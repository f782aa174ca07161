"""The migrations build exactly what ledger/schema.py describes, index for index, on SQLite and
PostgreSQL (queries are written against schema.py; the indexes they rely on must exist)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ledger.db import create_ledger_engine, upgrade
from ledger.schema import metadata


def test_migrations_and_schema_agree_on_every_table_column_and_index(database_url):
    engine = create_ledger_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert differences == []
        indexes = {i["name"] for i in inspect(engine).get_indexes("normalized_lines")}
        assert "ix_normalized_lines_type_date" in indexes
    finally:
        engine.dispose()
