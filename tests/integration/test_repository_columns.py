"""The columnar bulk paths of ledger/repository.py write exactly what the row paths write:
`post_transfers` the rows `post_entries` writes for the same entries, `insert_columns` the rows
`insert_ignore` writes; both count new rows the same way, skip what exists, refuse float and
too-precise money; `fetch_columns`/`stream_columns` read back every row. SQLite and PostgreSQL,
below and above the COPY threshold."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from ledger import domain, schema
from ledger.db import open_ledger
from ledger.repository import COPY_MIN_ROWS, fetch_columns, insert_columns, insert_ignore, post_entries, post_transfers, stream_columns

SMALL, LARGE = 10, COPY_MIN_ROWS + 150
STAMP = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
TEXTS = ["", "ТОВ «Ромашка»", 'tab\there "quoted", comma', "new\nline\\back\r", "NULL", "\\N", "💸"]


@pytest.fixture
def engines(database_url, tmp_path):
    """Two empty ledgers of the same kind: one written by the row path, one by the columnar path."""
    if database_url.startswith("sqlite"):
        urls = [database_url, f"sqlite:///{tmp_path / 'other.db'}"]
    else:
        from tests.conftest import fresh_postgres_url

        urls = [database_url, fresh_postgres_url()]
    made = []
    for url in urls:
        engine = open_ledger(url)
        with engine.begin() as conn:
            conn.execute(insert(schema.organizations), [{"org_id": f"o{n}", "name": f"o{n}", "currency": "UAH"} for n in range(5)])
            conn.execute(insert(schema.raw_files).values(sha256="f" * 64, storage_key="k", original_name="s.xml", size=1,
                                                         status="loaded", received_at=STAMP))
        made.append(engine)
    return made


def _transfers(size: int, seed: int = 1) -> domain.Transfers:
    rng = random.Random(seed)
    day = date(2026, 11, 1)
    ids = [f"{rng.choice(TEXTS)}-{n}" for n in range(size)]
    amounts = [Decimal(rng.randrange(1, 10**9)).scaleb(-rng.choice([0, 2, 4])) for _ in range(size)]
    parts = [
        domain.card_credits(payment_id=ids, org_id=[f"o{n % 5}" for n in range(size)], provider=["adyen"] * size,
                            currency=["EUR"] * size, amount=amounts, paid_on=[day + timedelta(days=n % 30) for n in range(size)]),
        domain.provider_fees(line_id=ids, provider=["paypal"] * size, currency=["USD"] * size, amount=[-a for a in amounts],
                             booked_on=[day] * size, description=[rng.choice(TEXTS) for _ in range(size)]),
    ]
    return domain.Transfers.concat(parts)


def _ledger(engine) -> tuple[list, list]:
    j, p = schema.journal_entries, schema.postings
    with engine.connect() as conn:
        entries = [tuple(r) for r in conn.execute(select(*(c for c in j.c if c.name != "created_at")).order_by(j.c.entry_id))]
        postings = [tuple(r) for r in conn.execute(select(p).order_by(p.c.entry_id, p.c.leg))]
    return entries, postings


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_post_transfers_writes_what_post_entries_writes(engines, size):
    rows, columns = engines
    transfers = _transfers(size)
    half = domain.Transfers(*(getattr(transfers, f)[: len(transfers) // 2] for f in _FIELDS))
    with rows.begin() as conn:
        assert post_entries(conn, half.entries()) == len(half)
    with columns.begin() as conn:
        assert post_transfers(conn, half) == len(half)
    # A repeat inside the batch and entries that exist already are skipped by both, and not counted.
    again = domain.Transfers.concat([transfers, half, domain.Transfers(*(getattr(transfers, f)[:1] for f in _FIELDS))])
    with rows.begin() as conn:
        assert post_entries(conn, again.entries()) == len(transfers) - len(half)
    with columns.begin() as conn:
        assert post_transfers(conn, again) == len(transfers) - len(half)
    written = _ledger(columns)
    assert written == _ledger(rows)
    assert len(written[0]) == len(transfers) and len(written[1]) == 2 * len(transfers)
    with columns.begin() as conn:
        assert post_transfers(conn, transfers) == 0


_FIELDS = ("idempotency_key", "kind", "org_id", "effective_date", "evidence", "description", "debit", "credit", "currency", "amount")


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_post_transfers_refuses_too_precise_money(engines, size):
    _, engine = engines
    transfers = _transfers(size)
    amounts = list(transfers.amount)
    amounts[-1] = Decimal("0.00001")
    bad = domain.Transfers(*(getattr(transfers, f) for f in _FIELDS[:-1]), amounts)
    with pytest.raises(Exception) as info, engine.begin() as conn:
        post_transfers(conn, bad)
    assert isinstance(info.value, ValueError) or isinstance(info.value.__cause__, ValueError) or "ValueError" in str(info.value)
    assert _ledger(engine) == ([], [])


def _match(n: int, rng: random.Random) -> dict:
    return {"line_id": f"line-{n:06d}", "status": rng.choice(["matched", "review", "exception"]),
            "org_id": rng.choice([None, "o1", "o2"]), "invoice_numbers": rng.choice([None, "2026-1;2026-2", ""]),
            "rule": "tax_id", "confidence": Decimal(rng.randrange(1000)).scaleb(-3), "reason": rng.choice(TEXTS) + str(n),
            "suggestions": rng.choice([None, '[{"org_id": "o1"}]']), "decided_at": STAMP}


def _lines(engine, size: int) -> None:
    with engine.begin() as conn:
        insert_ignore(conn, schema.normalized_lines, [
            {"line_id": f"line-{n:06d}", "raw_file_sha256": "f" * 64, "record_type": "bank_line", "source_format": "camt",
             "account": "UA1", "booking_date": date(2026, 11, 20), "value_date": None, "amount": Decimal(n + 1).scaleb(-2),
             "currency": "UAH", "counterparty_name": None, "counterparty_account": None, "counterparty_tax_id": None,
             "remittance": TEXTS[n % len(TEXTS)], "end_to_end_id": None, "bank_ref": None, "extra": None, "loaded_at": STAMP}
            for n in range(size + 10)])


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_insert_columns_writes_what_insert_ignore_writes(engines, size):
    rows, columns = engines
    rng = random.Random(size)
    for engine in engines:
        _lines(engine, size)
    first = [_match(n, rng) for n in range(size)]
    more = [{**r, "reason": "changed"} for r in first[size // 2 :]] + [_match(n, rng) for n in range(size, size + 5)]
    more.append({**more[-1], "reason": "a repeat"})
    with rows.begin() as conn:
        assert insert_ignore(conn, schema.matches, first) == size
        assert insert_ignore(conn, schema.matches, more) == 5
    with columns.begin() as conn:
        assert insert_columns(conn, schema.matches, {k: [r[k] for r in first] for k in first[0]}) == size
        assert insert_columns(conn, schema.matches, {k: [r[k] for r in more] for k in more[0]}) == 5
    m = schema.matches
    with rows.connect() as a, columns.connect() as b:
        assert [tuple(r) for r in b.execute(select(m).order_by(m.c.line_id))] == [tuple(r) for r in a.execute(select(m).order_by(m.c.line_id))]
    # Money columns: as the Money type, a float or a fifth decimal place is refused.
    allocation = {"line_id": ["line-000001"] * size, "invoice_number": [f"i{n}" for n in range(size)], "settles": ["exact"] * size,
                  "allocated_at": [STAMP] * size}
    with columns.begin() as conn:
        conn.execute(insert(schema.invoices), [{"invoice_number": f"i{n}", "org_id": "o1", "issued_on": date(2026, 11, 1), "due_on": None,
                                                 "currency": "UAH", "amount": Decimal(1), "status": "open"} for n in range(size)])
    for bad, error in ((1.5, TypeError), (Decimal("0.00001"), ValueError)):  # float-ok: the refusal under test
        with pytest.raises(Exception) as info, columns.begin() as conn:
            insert_columns(conn, schema.invoice_allocations, {**allocation, "amount": [Decimal(1)] * (size - 1) + [bad]})
        assert isinstance(info.value, error) or isinstance(info.value.__cause__, error) or error.__name__ in str(info.value)


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_fetch_and_stream_columns_read_every_row(engines, size):
    engine = engines[0]
    _lines(engine, size)
    lines = schema.normalized_lines
    query = select(lines.c.line_id, lines.c.amount, lines.c.booking_date, lines.c.remittance).order_by(lines.c.line_id)
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(query)]
        names, columns = fetch_columns(conn, query)
        chunks = list(stream_columns(conn, query, chunk=7))
    assert names == ["line_id", "amount", "booking_date", "remittance"]
    assert list(zip(*columns)) == expected
    assert [row for chunk in chunks for row in zip(*chunk)] == expected
    assert all(isinstance(a, Decimal) for a in columns[1])
