"""Reading and writing the ledger with bulk statements (never per-row ORM inserts).

Every insert here is idempotent: a key that exists is left alone, so re-runs, overlapping
statements and concurrent runs add nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Iterable, Sequence

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger import schema
from ledger.domain import JournalEntry

_BATCH = 5000


def now() -> datetime:
    return datetime.now(timezone.utc)


def _insert(conn: Connection, table: Table):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict]) -> None:
    """Insert rows; rows whose primary or unique key exists already are skipped."""
    for start in range(0, len(rows), _BATCH):
        conn.execute(_insert(conn, table).on_conflict_do_nothing(), list(rows[start : start + _BATCH]))


def upsert(conn: Connection, table: Table, rows: Sequence[dict], key: Sequence[str]) -> None:
    """Insert rows, or update the non-key columns of rows whose key exists."""
    if not rows:
        return
    statement = _insert(conn, table)
    updates = {c: statement.excluded[c] for c in rows[0] if c not in key}
    statement = statement.on_conflict_do_update(index_elements=list(key), set_=updates)
    for start in range(0, len(rows), _BATCH):
        conn.execute(statement, list(rows[start : start + _BATCH]))


def existing_keys(conn: Connection, column, keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    found: set[str] = set()
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def post_entries(conn: Connection, entries: Sequence[JournalEntry]) -> int:
    """Write journal entries and their postings; returns how many were new.

    The unique idempotency key and the (entry_id, leg) key make a second copy impossible, whoever
    writes it; the count of new entries is for the run summary only.
    """
    if not entries:
        return 0
    already = existing_keys(conn, schema.journal_entries.c.idempotency_key, (e.idempotency_key for e in entries))
    created = now()
    insert_ignore(
        conn,
        schema.journal_entries,
        [
            {
                "entry_id": e.entry_id,
                "idempotency_key": e.idempotency_key,
                "kind": e.kind,
                "status": e.status,
                "org_id": e.org_id,
                "effective_date": e.effective_date,
                "evidence": e.evidence,
                "description": e.description,
                "created_at": created,
            }
            for e in entries
        ],
    )
    insert_ignore(
        conn,
        schema.postings,
        [
            {"entry_id": e.entry_id, "leg": leg, "account": p.account, "currency": p.currency, "amount": p.amount}
            for e in entries
            for leg, p in enumerate(e.postings)
        ],
    )
    return len({e.idempotency_key for e in entries} - already)


def account_balances(conn: Connection, as_of: date | None = None) -> list[dict]:
    """Sum of postings per account and currency, up to an effective date. Balances are derived,
    never stored."""
    j, p = schema.journal_entries, schema.postings
    query = (
        select(p.c.account, p.c.currency, func.sum(p.c.amount).label("total"))
        .join(j, j.c.entry_id == p.c.entry_id)
        .group_by(p.c.account, p.c.currency)
        .order_by(p.c.account, p.c.currency)
    )
    if as_of is not None:
        query = query.where(j.c.effective_date <= as_of)
    return [dict(r._mapping) for r in conn.execute(query)]
