"""PostgreSQL checks the nightly's hot references once per statement (migration 0012): the rows a
foreign key refused are still refused, on every path that writes them (single rows, multi-row
statements, COPY), and a parent that rows still name cannot be deleted or re-keyed. Identifier
columns compare as bytes."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ledger import schema
from ledger.db import MIGRATIONS, open_ledger
from ledger.domain import bank_credit, bank_credits
from ledger.repository import insert_columns, post_entries, post_transfers

STAMP = datetime(2026, 11, 26, tzinfo=timezone.utc)


def _migration():
    path = next((MIGRATIONS / "versions").glob("0012_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def engine():
    from tests.conftest import fresh_postgres_url

    engine = open_ledger(fresh_postgres_url())
    with engine.begin() as conn:
        conn.execute(insert(schema.organizations), [{"org_id": o, "name": o, "currency": "UAH"} for o in ("o1", "o2")])
    return engine


def _credit(line_id="l1", org_id="o1"):
    return bank_credit(line_id=line_id, org_id=org_id, account="UA1", currency="UAH", amount=Decimal("100.00"),
                       booked_on=date(2026, 11, 20), description="t")


def test_the_triggers_replace_exactly_the_listed_foreign_keys(engine):
    references = _migration().REFERENCES
    assert {(child, column) for child, column, *_ in references} == schema.STATEMENT_CHECKED_REFERENCES
    with engine.connect() as conn:
        foreign_keys = set(conn.execute(text(
            "SELECT conrelid::regclass::text, a.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f'")).all())
        triggers = set(conn.execute(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'payrecon_ref_%'")).scalars())
    for child, column, parent, parent_column, _ in references:
        assert (child, column) not in foreign_keys
        assert {f"payrecon_ref_{child}_{column}_{event}" for event in ("ins", "upd", "pdel", "pupd")} <= triggers
        # The schema still describes the relation (SQLite enforces it as a foreign key).
        assert schema.metadata.tables[child].c[column].references(schema.metadata.tables[parent].c[parent_column])
    # The references no night writes in bulk stay foreign keys.
    assert ("receipts", "org_id") in foreign_keys and ("statements", "raw_file_sha256") in foreign_keys


def test_a_posting_of_a_missing_entry_is_refused_on_every_write_path(engine):
    with pytest.raises(IntegrityError, match=r"postings\.entry_id -> journal_entries\.entry_id"), engine.begin() as conn:
        conn.execute(insert(schema.postings).values(entry_id="no-such-entry", leg=0, account="a", currency="UAH", amount=Decimal(1)))
    # The COPY path of insert_columns, 200 rows, one of them naming a missing entry.
    with engine.begin() as conn:
        post_entries(conn, [_credit()])
        entry_id = conn.execute(select(schema.journal_entries.c.entry_id)).scalar_one()
    rows = {"entry_id": [entry_id] * 199 + ["missing"], "leg": list(range(2, 202)), "account": ["a"] * 200,
            "currency": ["UAH"] * 200, "amount": [Decimal("0.01")] * 200}
    with pytest.raises(IntegrityError, match=r"Key \(entry_id\)=\(missing\) is not present"), engine.begin() as conn:
        insert_columns(conn, schema.postings, rows)
    with engine.connect() as conn:
        assert conn.execute(select(schema.postings)).all().__len__() == 2  # nothing of the refused statement stayed


def test_an_entry_of_an_unknown_organization_is_refused_and_one_of_none_is_not(engine):
    many = bank_credits(line_id=[f"l{n}" for n in range(150)], org_id=["o1"] * 149 + ["ghost"], account=["UA1"] * 150,
                        currency=["UAH"] * 150, amount=[Decimal("1.00")] * 150, booked_on=[date(2026, 11, 20)] * 150,
                        description=["t"] * 150)
    with pytest.raises(IntegrityError, match=r"journal_entries\.org_id -> organizations\.org_id"), engine.begin() as conn:
        post_transfers(conn, many)  # the COPY path
    with engine.begin() as conn:
        assert conn.execute(select(schema.journal_entries)).all() == []  # the whole statement was refused
        conn.execute(insert(schema.journal_entries).values(
            entry_id="e-none", idempotency_key="k-none", kind="fee", status="confirmed", org_id=None,
            effective_date=date(2026, 11, 20), evidence=None, description="no organization", created_at=STAMP))


def test_a_parent_still_named_cannot_be_deleted_or_rekeyed(engine):
    with engine.begin() as conn:
        post_entries(conn, [_credit()])
    with pytest.raises(IntegrityError, match=r"still referenced from table \"postings\""), engine.begin() as conn:
        conn.execute(delete(schema.journal_entries))
    with pytest.raises(IntegrityError, match=r"still referenced from table \"journal_entries\""), engine.begin() as conn:
        conn.execute(update(schema.organizations).where(schema.organizations.c.org_id == "o1").values(org_id="o9"))
    with pytest.raises(IntegrityError, match=r"postings\.entry_id"), engine.begin() as conn:
        conn.execute(update(schema.postings).values(entry_id="elsewhere"))
    with engine.begin() as conn:
        # A parent nothing names may go, and updates that keep the key are free.
        conn.execute(update(schema.organizations).values(notify_emails="x@example.com"))
        conn.execute(delete(schema.organizations).where(schema.organizations.c.org_id == "o2"))
        assert conn.execute(select(schema.journal_entries)).all().__len__() == 1


def test_a_normalized_line_of_an_unknown_raw_file_is_refused(engine):
    line = {"line_id": "l1", "raw_file_sha256": "0" * 64, "record_type": "bank_line", "source_format": "camt",
            "account": "UA1", "booking_date": date(2026, 11, 20), "amount": Decimal("1.00"), "currency": "UAH",
            "loaded_at": STAMP}
    with pytest.raises(IntegrityError, match=r"normalized_lines\.raw_file_sha256 -> raw_files\.sha256"), engine.begin() as conn:
        conn.execute(insert(schema.normalized_lines).values(**line))


def test_identifiers_compare_as_bytes(engine):
    identifiers = _migration().IDENTIFIERS
    with engine.connect() as conn:
        collations = dict(((t, c), n) for t, c, n in conn.execute(text(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns WHERE table_schema = 'public'")).all())
        assert all(collations[(table, column)] == "C" for table, column, _ in identifiers)
        assert collations[("normalized_lines", "counterparty_name")] is None  # names keep the database's collation
        # Every identifier column the migration lists exists with that type in the schema.
        for table, column, _ in identifiers:
            assert column in schema.metadata.tables[table].c
