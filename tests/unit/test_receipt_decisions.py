"""What a receipt earns (reconcilers/receipts.py): a provisional credit only when every check passes;
forgeries and doubts wait for a person. Also the confirmation rule and the receipt settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from ledger.receipt_entries import PROVISIONAL_ACCOUNT, confirmation, provisional_credit, reversal
from payrecon.errors import SettingsError
from payrecon.settings import Settings
from reconcilers.receipts import (BankCredit, Invoice, Ledger, OpenProvisional, Organization, ReceiptCase, ReceiptPolicy,
                                  confirmations, decide_receipt, decide_receipts)
from sources.receipt_fields import read_fields
from sources.receipt_text import TextLine
from tests.receipt_factory import BY_ID, INVOICES, OUR_IBAN, SALES, receipt_lines, spec_for

ORGS = {c.org_id: Organization(c.org_id, c.name, c.legal_name, c.tax_id, frozenset({c.iban}), frozenset({c.email}))
        for c in BY_ID.values()}
OPEN = {n: Invoice(n, org, date.fromisoformat(issued), cur, amount, "open") for n, (org, issued, cur, amount) in INVOICES.items()}
POLICY = ReceiptPolicy(sales_addresses=frozenset({SALES}), caps={"UAH": Decimal("50000"), "EUR": Decimal("1500")},
                       our_accounts=frozenset({OUR_IBAN}))
SUN, KYIV = BY_ID["org-sun"], BY_ID["org-kyiv"]
MONDAY = date(2026, 11, 16)


def case(spec, sender=SUN.email, **changes) -> ReceiptCase:
    fields = read_fields([TextLine(text, 1.0) for text, size in receipt_lines(spec) if size])
    return replace(ReceiptCase(f"r-{spec.doc_number}-{spec.amount}", fields, sender, MONDAY, "text"), **changes)


def decide(c, invoices=OPEN, ledger=Ledger(), policy=POLICY):
    return decide_receipt(c, ORGS, invoices, policy, ledger)


def test_a_genuine_receipt_from_the_organizations_address_earns_a_provisional_credit():
    d = decide(case(spec_for("2026-00101")))
    assert (d.status, d.org_id, d.invoice_number, d.currency, d.amount, d.rule) == (
        "provisional", "org-sun", "2026-00101", "UAH", Decimal("4800.99"), "receipt_provisional")
    assert "payer tax ID" in d.reason and d.confidence == Decimal("0.99")
    assert decide(case(spec_for("2026-00101"), sender=SALES)).status == "provisional"  # forwarded by sales


@pytest.mark.parametrize("label, make, reason", [
    ("another organization's invoice, paid by that other organization",
     lambda: case(spec_for("2026-00103").with_(payer_name=KYIV.name, payer_iban=KYIV.iban, payer_tax_id=KYIV.tax_id), sender=KYIV.email),
     "is org-kyiv's"),
    ("another organization's invoice, payer's IBAN only",
     lambda: case(spec_for("2026-00103").with_(payer_name="ТОВ «Хтось Інший»", payer_iban=KYIV.iban, payer_tax_id="")),
     "IBAN"),
    ("a payer nothing ties to the organization",
     lambda: case(spec_for("2026-00101").with_(payer_name="ФОП Шахрай Петро Петрович", payer_iban="", payer_tax_id="")),
     "nothing ties the payer"),
    ("a stranger's address", lambda: case(spec_for("2026-00101"), sender="pay@mail.example.net"), "neither an address"),
    ("another customer's address", lambda: case(spec_for("2026-00101"), sender=KYIV.email), "neither an address of org-sun"),
    ("over the cap", lambda: case(spec_for("2026-00104")), "over the cap of 50000.00 UAH"),
    ("an edited amount", lambda: case(spec_for("2026-00101", amount=Decimal("4900.99"))), "is not invoice 2026-00101's 4800.99 UAH"),
    ("another currency", lambda: case(spec_for("2026-00101", currency="USD")), "in USD"),
    ("no invoice of ours", lambda: case(spec_for("2026-00101", purpose="Поповнення балансу, без ПДВ")), "names none of our invoices"),
    ("dated after it reached us", lambda: case(spec_for("2026-00101", paid_at=spec_for("2026-00101").paid_at.replace(day=25))), "after it reached us"),
    ("older than the invoice", lambda: case(spec_for("2026-00101", paid_at=spec_for("2026-00101").paid_at.replace(day=2))), "older than invoice"),
    ("paid to someone else", lambda: case(spec_for("2026-00101", payee_iban="UA213223130000026007233566001")), "not one of our accounts"),
    ("a failed SPF/DKIM", lambda: case(spec_for("2026-00101"), authentication="the sender's address failed authentication (spf=fail)"), "spf=fail"),
    ("unreadable without OCR", lambda: case(spec_for("2026-00101"), unreadable="OCR is not available: Tesseract is not installed"), "Tesseract"),
])
def test_doubtful_and_forged_receipts_wait_for_review(label, make, reason):
    d = decide(make())
    assert d.status == "review" and d.rule == "receipt_review", label
    assert reason in d.reason, (label, d.reason)


def test_low_confidence_fields_are_not_trusted():
    c = case(spec_for("2026-00101"))
    fields = c.fields
    fields.fields["amount"] = replace(fields.fields["amount"], confidence=0.5)
    assert "amount cannot be read" in decide(c).reason


def test_one_provisional_credit_per_invoice_and_the_cap_counts_what_is_open():
    first, second = case(spec_for("2026-00101")), case(spec_for("2026-00101", doc_number="999"))
    decided = decide_receipts([first, second], ORGS, OPEN, POLICY, Ledger())
    assert [d.status for d in decided] == ["provisional", "review"] and "one per invoice" in decided[1].reason
    waiting = Ledger(provisional=(OpenProvisional("old", "org-sun", "2026-00103", "UAH", Decimal("46000"), MONDAY),))
    assert "would reach 50800.99 UAH" in decide(case(spec_for("2026-00101")), ledger=waiting).reason


def test_paid_or_cancelled_invoices_get_nothing_but_a_bank_line_first_confirms_at_once():
    paid = {**OPEN, "2026-00101": replace(OPEN["2026-00101"], status="paid")}
    assert "is paid already" in decide(case(spec_for("2026-00101")), invoices=paid).reason
    cancelled = {**OPEN, "2026-00101": replace(OPEN["2026-00101"], status="cancelled")}
    assert "is cancelled" in decide(case(spec_for("2026-00101")), invoices=cancelled).reason
    line = BankCredit("line-1", "org-sun", "UAH", Decimal("4800.99"), MONDAY, frozenset({"2026-00101"}))
    d = decide(case(spec_for("2026-00101")), invoices=paid, ledger=Ledger(bank_credits=(line,)))
    assert (d.status, d.line_id, d.rule) == ("confirmed", "line-1", "receipt_bank_first")


def test_a_bank_line_confirms_the_matching_open_credit_once():
    open_ = [OpenProvisional("r1", "org-sun", "2026-00101", "UAH", Decimal("4800.99"), MONDAY),
             OpenProvisional("r2", "org-kyiv", "2026-00102", "UAH", Decimal("7200.00"), MONDAY)]
    lines = [
        BankCredit("by-invoice", "org-sun", "UAH", Decimal("4800.99"), date(2026, 11, 17), frozenset({"2026-00101"})),
        BankCredit("again", "org-sun", "UAH", Decimal("4800.99"), date(2026, 11, 17), frozenset()),  # a second payment
        BankCredit("other-org", "org-media", "UAH", Decimal("7200.00"), date(2026, 11, 17)),
        BankCredit("by-amount", "org-kyiv", "UAH", Decimal("7200.00"), date(2026, 11, 18)),
        BankCredit("too-early", "org-kyiv", "UAH", Decimal("7200.00"), date(2026, 11, 10)),
    ]
    found = confirmations(lines, open_, POLICY)
    assert {line: p.receipt_id for line, p in found.items()} == {"by-invoice": "r1", "by-amount": "r2"}
    other_invoice = [BankCredit("x", "org-sun", "UAH", Decimal("4800.99"), date(2026, 11, 17), frozenset({"2026-00103"}))]
    assert confirmations(other_invoice, open_, POLICY) == {}
    off_by_fee = [BankCredit("fee", "org-sun", "UAH", Decimal("4795.99"), date(2026, 11, 17), frozenset({"2026-00101"}))]
    assert confirmations(off_by_fee, open_, POLICY) == {}
    assert set(confirmations(off_by_fee, open_, replace(POLICY, amount_tolerance=Decimal("5.00")))) == {"fee"}


def test_the_three_entries_balance_and_credit_the_customer_once():
    credit = provisional_credit(receipt_id="r1", org_id="org-sun", currency="UAH", amount=Decimal("100.00"), on=MONDAY, description="t")
    assert credit.status == "provisional" and credit.kind == "receipt"
    confirm = confirmation(receipt_id="r1", org_id="org-sun", line_id="l1", account="UA1", currency="UAH",
                           line_amount=Decimal("99.00"), receipt_amount=Decimal("100.00"), booked_on=MONDAY)
    back = reversal(receipt_id="r1", org_id="org-sun", currency="UAH", amount=Decimal("100.00"), on=MONDAY, description="t")
    totals: dict[str, Decimal] = {}
    for entry in (credit, confirm):
        for p in entry.postings:
            totals[p.account] = totals.get(p.account, Decimal(0)) + p.amount
    assert totals == {PROVISIONAL_ACCOUNT: 0, "customer:org-sun": Decimal("-99.00"), "bank:UA1": Decimal("99.00")}
    assert len({credit.idempotency_key, confirm.idempotency_key, back.idempotency_key}) == 3
    assert sum(p.amount for p in back.postings if p.account == "customer:org-sun") == Decimal("100.00")


def test_receipt_settings_defaults_and_refusals(tmp_path):
    settings = Settings.from_env({"PAYRECON_HOME": str(tmp_path)}).receipts
    assert settings.inbox == str((tmp_path / "receipts").resolve())
    assert (settings.confirm_days, settings.reverse_days, settings.reversal) == (3, 2, "reverse")
    assert settings.caps == {"UAH": Decimal("50000"), "USD": Decimal("1500"), "EUR": Decimal("1500")}
    assert (settings.min_confidence, settings.amount_tolerance, settings.sales_addresses) == (Decimal("0.80"), Decimal("0.00"), ())
    limits = settings.limits
    assert (limits.max_attachment_bytes, limits.max_pages, limits.max_pixels, limits.timeout_seconds, limits.ocr_languages) == (
        10 * 2**20, 5, 40_000_000, 60, "ukr+eng")
    custom = Settings.from_env({"PAYRECON_HOME": str(tmp_path), "PAYRECON_RECEIPTS_INBOX": "s3://mail/receipts/",
                                "PAYRECON_RECEIPTS_SALES_ADDRESSES": "Sales@Payrecon.test; olga@payrecon.test",
                                "PAYRECON_RECEIPTS_CAP": "UAH=20000;EUR=500", "PAYRECON_RECEIPTS_CONFIRM_DAYS": "1"}).receipts
    assert (custom.inbox, custom.sales_addresses, custom.caps, custom.confirm_days) == (
        "s3://mail/receipts", ("sales@payrecon.test", "olga@payrecon.test"), {"UAH": Decimal("20000"), "EUR": Decimal("500")}, 1)
    for name, value, message in [
        ("PAYRECON_RECEIPTS_CAP", "UAH:50000", "CUR=amount"), ("PAYRECON_RECEIPTS_CONFIRM_DAYS", "0", "1..60 business days"),
        ("PAYRECON_RECEIPTS_REVERSAL", "maybe", "reverse or keep"), ("PAYRECON_RECEIPTS_MIN_CONFIDENCE", "2", "0..1"),
        ("PAYRECON_RECEIPTS_SALES_ADDRESSES", "sales", "not an email address"), ("PAYRECON_RECEIPTS_MAX_PAGES", "lots", "whole number"),
        ("PAYRECON_RECEIPTS_INBOX", "ftp://x", "only a local folder or s3://"),
    ]:
        with pytest.raises(SettingsError, match=message):
            Settings.from_env({"PAYRECON_HOME": str(tmp_path), name: value})
