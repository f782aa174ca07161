"""Alembic environment. Migrations are applied by ledger.db.open_ledger on first use, or by hand:
`alembic -c ledger/migrations/alembic.ini upgrade head` with PAYRECON_DATABASE_URL set."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from ledger.schema import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ["PAYRECON_DATABASE_URL"]
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
