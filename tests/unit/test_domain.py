from datetime import date
from decimal import Decimal

import pytest

from ledger.domain import JournalEntry, Posting, UnbalancedEntry, bank_credit, usage_debit


def test_bank_credit_balances_and_has_a_stable_id():
    entry = bank_credit(line_id="l1", org_id="o1", account="UA1", currency="UAH", amount=Decimal("10.50"),
                        booked_on=date(2026, 11, 20), description="x")
    assert sum(p.amount for p in entry.postings) == 0
    again = bank_credit(line_id="l1", org_id="o1", account="UA1", currency="UAH", amount=Decimal("10.50"),
                        booked_on=date(2026, 11, 20), description="y")
    assert entry.entry_id == again.entry_id
    assert entry.postings[1] == Posting("customer:o1", "UAH", Decimal("-10.50"))


def test_unbalanced_and_float_entries_are_refused():
    with pytest.raises(UnbalancedEntry, match="do not balance"):
        JournalEntry("k", "credit", "confirmed", "o", date(2026, 1, 1), "e", "d",
                     (Posting("a", "UAH", Decimal("1")), Posting("b", "UAH", Decimal("-0.99"))))
    with pytest.raises(UnbalancedEntry):
        JournalEntry("k", "credit", "confirmed", "o", date(2026, 1, 1), "e", "d",
                     (Posting("a", "UAH", Decimal("1")), Posting("b", "USD", Decimal("-1"))))
    with pytest.raises(TypeError, match="Decimal"):
        JournalEntry("k", "credit", "confirmed", "o", date(2026, 1, 1), "e", "d",
                     (Posting("a", "UAH", 1.0), Posting("b", "UAH", Decimal("-1"))))  # float-ok: the refusal under test
    with pytest.raises(ValueError, match="positive amount"):
        bank_credit(line_id="l", org_id="o", account="a", currency="UAH", amount=Decimal("-1"), booked_on=date(2026, 1, 1), description="")


def test_usage_debits_the_customer():
    entry = usage_debit(day=date(2026, 11, 20), org_id="o1", channel="sms", currency="UAH", amount=Decimal("9.20"))
    assert entry.postings[0] == Posting("customer:o1", "UAH", Decimal("9.20"))
    assert entry.idempotency_key == "usage:2026-11-20:o1:sms:UAH"
