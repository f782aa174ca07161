"""Bulk idempotent writes (ledger/repository.py) on SQLite and PostgreSQL, through both of
PostgreSQL's paths: multi-row VALUES below COPY_MIN_ROWS rows, COPY into a staging table from there."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select

from ledger import schema
from ledger.db import create_ledger_engine, open_ledger
from ledger.domain import bank_credit
from ledger.repository import COPY_MIN_ROWS, existing_keys, insert_ignore, insert_new_keys, post_entries, upsert
from tests.conftest import fresh_postgres_url

SMALL, LARGE = 10, COPY_MIN_ROWS + 150  # below and above the COPY threshold
STAMP = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
#: SQLite keeps money as integer ten-thousandths in a signed 64-bit integer.
MONEY_LIMIT = Decimal(2**63 - 1).scaleb(-4)


@pytest.fixture
def engine(database_url):
    engine = open_ledger(database_url)
    with engine.begin() as conn:
        conn.execute(insert(schema.organizations), [{"org_id": f"o{n}", "name": f"o{n}", "currency": "UAH"} for n in range(3)])
        conn.execute(insert(schema.raw_files).values(sha256="f" * 64, storage_key="k", original_name="s.xml", size=1,
                                                     status="loaded", received_at=STAMP))
    return engine


def _invoice(number: int, amount: Decimal = Decimal("100.00"), status: str = "open") -> dict:
    return {"invoice_number": f"2026-{number:05d}", "org_id": f"o{number % 3}", "issued_on": date(2026, 11, 1),
            "due_on": None, "currency": "UAH", "amount": amount, "status": status}


def _line(number: int) -> dict:
    return {"line_id": f"line-{number:06d}", "raw_file_sha256": "f" * 64, "record_type": "bank_line", "source_format": "camt",
            "account": "UA213052990000026007233566001", "booking_date": date(2026, 11, 20), "value_date": None,
            "amount": Decimal(number).scaleb(-2), "currency": "UAH", "counterparty_name": "ТОВ «Ромашка»",
            "counterparty_account": None, "counterparty_tax_id": "12345678", "remittance": f"Оплата за рахунком № {number}\tз\\н",
            "end_to_end_id": None, "bank_ref": None, "extra": '{"batch": "B1"}', "loaded_at": STAMP}


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_insert_ignore_adds_exactly_the_new_rows_and_counts_them(engine, size):
    first = [_line(n) for n in range(size)]
    with engine.begin() as conn:
        assert insert_ignore(conn, schema.normalized_lines, first) == size
    # Half of the next batch exists, one new key is repeated inside the batch; stored rows are not touched.
    changed = [{**_line(n), "remittance": "changed"} for n in range(size // 2, size)]
    fresh = [_line(n) for n in range(size, size + size // 2)]
    with engine.begin() as conn:
        assert insert_ignore(conn, schema.normalized_lines, changed + fresh + [{**fresh[0], "remittance": "a repeat"}]) == len(fresh)
    assert _count(engine, schema.normalized_lines) == size + size // 2
    with engine.connect() as conn:
        stored = {r.line_id: r for r in conn.execute(select(schema.normalized_lines))}
    assert stored[changed[0]["line_id"]].remittance == first[size // 2]["remittance"]  # tabs and backslashes survive COPY
    assert stored[fresh[0]["line_id"]].remittance == fresh[0]["remittance"]  # the first of two copies in a batch wins
    assert stored[fresh[-1]["line_id"]].counterparty_name == "ТОВ «Ромашка»"
    assert stored[fresh[-1]["line_id"]].extra == '{"batch": "B1"}' and stored[fresh[-1]["line_id"]].value_date is None
    with engine.begin() as conn:
        assert insert_ignore(conn, schema.normalized_lines, first) == 0


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_insert_new_keys_returns_the_keys_it_inserted(engine, size):
    with engine.begin() as conn:
        insert_ignore(conn, schema.invoices, [_invoice(n) for n in range(0, size, 2)])
        new = insert_new_keys(conn, schema.invoices, [_invoice(n) for n in range(size)])
    assert sorted(new) == [(f"2026-{n:05d}",) for n in range(1, size, 2)]


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_upsert_updates_existing_rows_inserts_new_ones_and_the_last_repeat_wins(engine, size):
    with engine.begin() as conn:
        assert upsert(conn, schema.invoices, [_invoice(n) for n in range(size)], ["invoice_number"]) == size
    rows = [_invoice(n, Decimal("250.5"), "paid") for n in range(size // 2, size + 5)] + [_invoice(size + 4, Decimal("7"), "open")]
    with engine.begin() as conn:
        assert upsert(conn, schema.invoices, rows, ["invoice_number"]) == size - size // 2 + 5
    with engine.connect() as conn:
        stored = {r.invoice_number: r for r in conn.execute(select(schema.invoices))}
    assert len(stored) == size + 5
    assert stored[f"2026-{0:05d}"].amount == Decimal("100.00") and stored[f"2026-{0:05d}"].status == "open"
    assert stored[f"2026-{size - 1:05d}"].amount == Decimal("250.5") and stored[f"2026-{size - 1:05d}"].status == "paid"
    assert stored[f"2026-{size + 4:05d}"].amount == Decimal("7")


money = st.decimals(min_value=-MONEY_LIMIT, max_value=MONEY_LIMIT, places=4, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_money_round_trips_exactly_through_bulk_writes(engine, size):
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(money, min_size=1, max_size=size).map(lambda amounts: (amounts * size)[:size]))
    def check(amounts):
        with engine.begin() as conn:
            conn.execute(delete(schema.invoices))
            assert insert_ignore(conn, schema.invoices, [_invoice(n, a) for n, a in enumerate(amounts)]) == size
            stored = conn.execute(select(schema.invoices.c.amount).order_by(schema.invoices.c.invoice_number)).scalars().all()
        assert stored == amounts
        # Both backends give the amount back at the column's scale, as the same Decimal text.
        assert [str(s) for s in stored] == [str(a.quantize(Decimal("0.0001"))) for a in amounts]

    check()


@pytest.mark.parametrize("size", [SMALL, LARGE])
@pytest.mark.parametrize(("bad", "error"), [(1.5, TypeError), (Decimal("0.00001"), ValueError),  # float-ok: the refusal under test
                                             (Decimal("1E16"), ValueError), (-Decimal("1E16"), ValueError)])
def test_bulk_writes_refuse_float_and_too_precise_money(engine, size, bad, error):
    rows = [_invoice(n) for n in range(size - 1)] + [_invoice(size, bad)]
    with pytest.raises(Exception) as info, engine.begin() as conn:
        insert_ignore(conn, schema.invoices, rows)
    assert isinstance(info.value, error) or isinstance(info.value.__cause__, error) or error.__name__ in str(info.value)
    assert _count(engine, schema.invoices) == 0


def test_money_past_sqlite_integers_is_a_clear_error_there_and_stored_on_postgresql(engine):
    past = MONEY_LIMIT + Decimal("0.0001")
    if engine.dialect.name == "sqlite":
        with pytest.raises(Exception) as info, engine.begin() as conn:
            insert_ignore(conn, schema.invoices, [_invoice(1, past)])
        assert "beyond what a money column holds" in str(info.value)
        assert _count(engine, schema.invoices) == 0
    else:
        with engine.begin() as conn:
            insert_ignore(conn, schema.invoices, [_invoice(1, past)])
            assert conn.execute(select(schema.invoices.c.amount)).scalar_one() == past


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_post_entries_counts_each_new_entry_once(engine, size):
    entries = [bank_credit(line_id=f"l{n}", org_id=f"o{n % 3}", account="UA1", currency="UAH", amount=Decimal(n + 1),
                           booked_on=date(2026, 11, 20), description="t") for n in range(size)]
    with engine.begin() as conn:
        assert post_entries(conn, entries[: size // 2]) == size // 2
    with engine.begin() as conn:
        assert post_entries(conn, entries + entries[:3]) == size - size // 2
    assert _count(engine, schema.journal_entries) == size and _count(engine, schema.postings) == 2 * size


@pytest.mark.postgres
def test_two_writers_of_the_same_keys_count_each_row_once():
    """PostgreSQL: a writer meeting keys another transaction holds waits for it, then skips what it
    committed: between them every row is inserted and counted exactly once."""
    database_url = fresh_postgres_url()
    open_ledger(database_url)
    engines = [create_ledger_engine(database_url) for _ in range(2)]
    with engines[0].begin() as conn:
        conn.execute(insert(schema.organizations), [{"org_id": f"o{n}", "name": f"o{n}", "currency": "UAH"} for n in range(3)])
    counts: dict[str, int] = {}
    held = threading.Event()
    try:
        with engines[0].begin() as first:
            counts["first"] = insert_ignore(first, schema.invoices, [_invoice(n) for n in range(0, LARGE, 2)])

            def second() -> None:
                with engines[1].begin() as conn:
                    held.set()
                    counts["second"] = insert_ignore(conn, schema.invoices, [_invoice(n) for n in range(LARGE)])

            worker = threading.Thread(target=second)
            worker.start()
            held.wait(10)
            worker.join(0.5)
            assert worker.is_alive(), "the second writer must wait for the keys the first one holds"
        worker.join(10)
        assert counts == {"first": (LARGE + 1) // 2, "second": LARGE // 2}
        assert _count(engines[0], schema.invoices) == LARGE
    finally:
        for engine in engines:
            engine.dispose()


def test_existing_keys_finds_exactly_the_stored_keys(engine):
    with engine.begin() as conn:
        insert_ignore(conn, schema.invoices, [_invoice(n) for n in range(0, LARGE, 3)])
    asked = [f"2026-{n:05d}" for n in range(LARGE)] + ["2026-00000", "no-such-invoice"]
    with engine.connect() as conn:
        found = existing_keys(conn, schema.invoices.c.invoice_number, asked)
    assert found == {f"2026-{n:05d}" for n in range(0, LARGE, 3)}
    with engine.connect() as conn:
        assert existing_keys(conn, schema.invoices.c.invoice_number, []) == set()
