"""The ledger: schema (created only by Alembic migrations), the unit of work, postings, balances.

It knows nothing of file formats. The domain (`ledger.domain`) is plain dataclasses and never
imports SQLAlchemy; `ledger.schema` and `ledger.repository` map it onto tables.
"""
