"""The migrations build exactly what ledger/schema.py describes, index for index, on SQLite and
PostgreSQL (queries are written against schema.py; the indexes they rely on must exist)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ledger.db import create_ledger_engine, upgrade
from ledger.schema import STATEMENT_CHECKED_REFERENCES, metadata


def _described(conn):
    """On PostgreSQL the statement-checked references are triggers, not foreign keys
    (tests/integration/test_reference_checks.py checks them)."""
    def include(obj, name, type_, reflected, compare_to):
        if type_ == "foreign_key_constraint" and conn.dialect.name == "postgresql":
            return (obj.parent.name, obj.column_keys[0]) not in STATEMENT_CHECKED_REFERENCES
        return True
    return include


def test_migrations_and_schema_agree_on_every_table_column_and_index(database_url):
    engine = create_ledger_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _described(conn)}), metadata)
        assert differences == []
        indexes = {i["name"] for i in inspect(engine).get_indexes("normalized_lines")}
        assert "ix_normalized_lines_type_date" in indexes
    finally:
        engine.dispose()
