"""The ledger on SQLite and PostgreSQL: migrations, exact money, exactly-once entries."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import inspect, insert, select
from sqlalchemy.exc import IntegrityError

from ledger import schema
from ledger.db import create_ledger_engine, open_ledger, upgrade
from ledger.domain import bank_credit, usage_debit
from ledger.repository import account_balances, post_entries


@pytest.fixture
def engine(database_url):
    return open_ledger(database_url)


def _org(conn, org_id="o1"):
    conn.execute(insert(schema.organizations).values(org_id=org_id, name=org_id, currency="UAH"))


def test_migrations_create_exactly_the_described_schema(engine):
    tables = set(inspect(engine).get_table_names())
    assert tables == set(schema.metadata.tables) | {"alembic_version"}
    for name, table in schema.metadata.tables.items():
        columns = {c["name"] for c in inspect(engine).get_columns(name)}
        assert columns == set(table.columns.keys()), name
    upgrade(engine)  # a second upgrade is a no-op


def test_money_round_trips_exactly(engine):
    amounts = [Decimal("0.0001"), Decimal("1500.50"), Decimal("9999999999999.9999"), Decimal("-0.01")]
    with engine.begin() as conn:
        _org(conn)
        conn.execute(
            insert(schema.invoices),
            [
                {"invoice_number": f"i{n}", "org_id": "o1", "issued_on": date(2026, 1, 1), "currency": "UAH", "amount": a, "status": "open"}
                for n, a in enumerate(amounts)
            ],
        )
        stored = conn.execute(select(schema.invoices.c.amount).order_by(schema.invoices.c.invoice_number)).scalars().all()
    assert stored == amounts
    assert all(isinstance(a, Decimal) for a in stored)


def test_float_and_too_precise_money_are_refused(engine):
    with engine.begin() as conn:
        _org(conn)
    for bad, error in ((1.5, TypeError), (Decimal("0.00001"), ValueError)):  # float-ok: the refusal under test
        with pytest.raises(Exception) as info, engine.begin() as conn:
            conn.execute(insert(schema.invoices).values(invoice_number="x", org_id="o1", issued_on=date(2026, 1, 1), currency="UAH", amount=bad, status="open"))
        assert isinstance(info.value.__cause__ or info.value, error) or error.__name__ in str(info.value)


def test_entries_are_written_once_whoever_writes_them(engine):
    entry = bank_credit(line_id="l1", org_id="o1", account="UA1", currency="UAH", amount=Decimal("100.00"),
                        booked_on=date(2026, 11, 20), description="t")
    with engine.begin() as conn:
        _org(conn)
        assert post_entries(conn, [entry]) == 1
    with engine.begin() as conn:
        assert post_entries(conn, [entry, entry]) == 0
    with engine.begin() as conn:
        assert conn.execute(select(schema.postings)).all().__len__() == 2
    # The database itself refuses a second entry with the same idempotency key.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            insert(schema.journal_entries).values(
                entry_id="another-id", idempotency_key=entry.idempotency_key, kind="credit", status="confirmed",
                org_id="o1", effective_date=date(2026, 11, 20), evidence="l1", description="dup",
                created_at=schema.journal_entries.c.created_at.type.python_type(2026, 11, 20),
            )
        )


def test_balances_are_the_sum_of_postings(engine):
    with engine.begin() as conn:
        _org(conn)
        post_entries(
            conn,
            [
                bank_credit(line_id="l1", org_id="o1", account="UA1", currency="UAH", amount=Decimal("100.10"), booked_on=date(2026, 11, 19), description=""),
                bank_credit(line_id="l2", org_id="o1", account="UA1", currency="UAH", amount=Decimal("0.20"), booked_on=date(2026, 11, 20), description=""),
                usage_debit(day=date(2026, 11, 20), org_id="o1", channel="sms", currency="UAH", amount=Decimal("30.05")),
            ],
        )
        balances = {(b["account"], b["currency"]): b["total"] for b in account_balances(conn)}
        earlier = {(b["account"], b["currency"]): b["total"] for b in account_balances(conn, date(2026, 11, 19))}
    assert balances[("customer:o1", "UAH")] == Decimal("-70.25")
    assert balances[("bank:UA1", "UAH")] == Decimal("100.30")
    assert balances[("revenue:sms", "UAH")] == Decimal("-30.05")
    assert sum(balances.values()) == 0
    assert earlier[("customer:o1", "UAH")] == Decimal("-100.10")


def test_a_fresh_engine_on_a_migrated_database_does_nothing(database_url):
    open_ledger(database_url)
    engine = create_ledger_engine(database_url)
    upgrade(engine)
    assert "postings" in inspect(engine).get_table_names()
    engine.dispose()
