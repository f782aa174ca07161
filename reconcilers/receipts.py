"""What a receipt scan earns: a provisional credit, or a wait for review with the reason.

Pure decisions over plain data (no database, no Prefect). A receipt earns a provisional credit only
when every check passes (PRODUCT.md: a wrong-organization credit is the worst failure; when in
doubt, ask):

1. it was read: an image needs OCR, and the amount and an invoice number must be legible;
2. its purpose names exactly one of our invoices, still open, and it is not older than the invoice;
3. its amount and currency are the invoice's (within the tolerance);
4. the payer is the invoice's organization: its ЄДРПОУ/РНОКПП, a known IBAN or its name, and no
   identifier of another organization (another organization's invoice is a forgery or a mistake);
5. the payee account, when the receipt shows one, is one of ours;
6. it came from an address the organization lists (notify_emails) or from a sales address, and
   the sender's domain did not fail SPF/DKIM/DMARC;
7. limits: at most one provisional credit per invoice, and the organization's unconfirmed receipt
   credits stay within the cap for the currency.

A receipt whose bank line already credited the organization earns nothing more: it is confirmed
by that line at once. `confirming_line` answers the other direction: which open provisional credit
a newly matched bank line confirms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

from reconcilers.names import fold, name_key, similarity
from sources.receipt_fields import ReceiptFields

_TOKEN = re.compile(r"[0-9A-Za-zА-Яа-яІіЇїЄєҐґ]+(?:[-/][0-9A-Za-zА-Яа-яІіЇїЄєҐґ]+)*")
#: a name at least this similar (thousandths, Indel on folded keys) is the organization's name
NAME_SIMILARITY = 900
#: a receipt dated more than this before it reached us is too old to credit without a person
MAX_AGE_DAYS = 30


@dataclass(frozen=True)
class Organization:
    org_id: str
    name: str
    legal_name: str | None = None
    tax_id: str | None = None
    ibans: frozenset[str] = frozenset()
    notify_emails: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Invoice:
    invoice_number: str
    org_id: str
    issued_on: date
    currency: str
    amount: Decimal
    status: str  # open | partially_paid | paid | cancelled


@dataclass(frozen=True)
class ReceiptPolicy:
    sales_addresses: frozenset[str] = frozenset()
    caps: dict[str, Decimal] = field(default_factory=dict)  # currency -> cap of unconfirmed receipt credits per organization
    min_confidence: float = 0.80  # float-ok: field confidence 0..1
    amount_tolerance: Decimal = Decimal("0.00")
    our_accounts: frozenset[str] = frozenset()  # our IBANs; a receipt paying another account is not ours


@dataclass(frozen=True)
class BankCredit:
    """A bank line credited to an organization (and not linked to a receipt yet)."""

    line_id: str
    org_id: str
    currency: str
    amount: Decimal
    booking_date: date
    invoice_numbers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OpenProvisional:
    receipt_id: str
    org_id: str
    invoice_number: str | None
    currency: str
    amount: Decimal
    paid_on: date | None


@dataclass(frozen=True)
class Ledger:
    """What the ledger holds that decides a receipt: open provisional credits and recent bank credits."""

    provisional: tuple[OpenProvisional, ...] = ()
    invoices_with_receipt: frozenset[str] = frozenset()  # invoices with a provisional or confirmed receipt credit
    bank_credits: tuple[BankCredit, ...] = ()

    def open_total(self, org_id: str, currency: str) -> Decimal:
        return sum((p.amount for p in self.provisional if p.org_id == org_id and p.currency == currency), Decimal(0))


@dataclass(frozen=True)
class ReceiptCase:
    receipt_id: str
    fields: ReceiptFields
    sender: str
    received_on: date
    method: str  # text | ocr | none
    unreadable: str | None = None  # why the receipt could not be read (OCR missing), else None
    authentication: str | None = None


@dataclass(frozen=True)
class ReceiptDecision:
    receipt_id: str
    status: str  # provisional | review | confirmed (a bank line credited it already)
    org_id: str | None
    invoice_number: str | None
    currency: str | None
    amount: Decimal | None
    rule: str
    confidence: Decimal
    reason: str
    line_id: str | None = None


def decide_receipts(cases: Iterable[ReceiptCase], organizations: dict[str, Organization], invoices: dict[str, Invoice],
                    policy: ReceiptPolicy, ledger: Ledger) -> list[ReceiptDecision]:
    """Decide in order; each provisional credit counts against the cap and the invoice for the next."""
    decisions = []
    for case in cases:
        decision = decide_receipt(case, organizations, invoices, policy, ledger)
        decisions.append(decision)
        if decision.status == "provisional":
            ledger = replace(
                ledger,
                provisional=ledger.provisional + (OpenProvisional(case.receipt_id, decision.org_id, decision.invoice_number,
                                                                  decision.currency, decision.amount, case.fields.paid_on()),),
                invoices_with_receipt=ledger.invoices_with_receipt | {decision.invoice_number},
            )
        elif decision.status == "confirmed":
            ledger = replace(ledger, bank_credits=tuple(b for b in ledger.bank_credits if b.line_id != decision.line_id),
                             invoices_with_receipt=ledger.invoices_with_receipt | {decision.invoice_number})
    return decisions


def decide_receipt(case: ReceiptCase, organizations: dict[str, Organization], invoices: dict[str, Invoice],
                   policy: ReceiptPolicy, ledger: Ledger) -> ReceiptDecision:
    f = case.fields
    sure = policy.min_confidence

    def review(reason: str, org: str | None = None, invoice: Invoice | None = None) -> ReceiptDecision:
        return ReceiptDecision(case.receipt_id, "review", org, invoice.invoice_number if invoice else None,
                               f.value("currency"), f.amount(), "receipt_review", _confidence(f), reason)

    if case.unreadable:
        return review(case.unreadable)
    amount = f.amount()
    if amount is None or f.confidence("amount") < sure:
        return review("the amount cannot be read" + (f" with confidence (read {_m(amount)}, confidence {f.confidence('amount'):.2f})" if amount else ""))
    if amount <= 0:
        return review(f"the amount {amount} is not positive")
    named = _named_invoices(f, invoices)
    if not named:
        purpose = f.value("purpose")
        return review(f"the purpose names none of our invoices ({purpose!r})" if purpose else "no payment purpose found on the receipt")
    if len({invoices[n].org_id for n in named}) > 1:
        return review(f"the purpose names invoices of different organizations: {', '.join(sorted(named))}")
    if len(named) > 1:
        return review(f"the purpose names several invoices ({', '.join(sorted(named))}); one receipt, one invoice for a provisional credit")
    invoice = invoices[named[0]]
    org = organizations.get(invoice.org_id)
    if org is None:
        return review(f"invoice {invoice.invoice_number} belongs to unknown organization {invoice.org_id}")
    if f.confidence("purpose") < sure and f.confidence("invoice_number") < sure:
        return review(f"the invoice number is not legible enough (confidence {f.confidence('purpose'):.2f})", org.org_id, invoice)
    if invoice.status == "cancelled":
        return review(f"invoice {invoice.invoice_number} is cancelled", org.org_id, invoice)
    currency = f.value("currency") if f.confidence("currency") >= sure else None
    if currency and currency != invoice.currency:
        return review(f"the receipt is in {currency}, invoice {invoice.invoice_number} in {invoice.currency}", org.org_id, invoice)
    currency = invoice.currency
    if abs(amount - invoice.amount) > policy.amount_tolerance:
        return review(f"the receipt's {_m(amount)} {currency} is not invoice {invoice.invoice_number}'s {_m(invoice.amount)} {currency}",
                      org.org_id, invoice)
    paid_on = f.paid_on()
    if paid_on is None or f.confidence("paid_on") < sure:
        return review("the payment date cannot be read", org.org_id, invoice)
    if paid_on > case.received_on + timedelta(days=1):
        return review(f"the receipt is dated {paid_on}, after it reached us ({case.received_on})", org.org_id, invoice)
    if paid_on < invoice.issued_on:
        return review(f"the receipt ({paid_on}) is older than invoice {invoice.invoice_number} ({invoice.issued_on})", org.org_id, invoice)
    if paid_on < case.received_on - timedelta(days=MAX_AGE_DAYS):
        return review(f"the receipt is dated {paid_on}, more than {MAX_AGE_DAYS} days before it reached us", org.org_id, invoice)
    payer = _payer_problem(f, org, organizations, sure)
    if payer:
        return review(payer, org.org_id, invoice)
    payee_iban = f.value("payee_iban") if f.confidence("payee_iban") >= sure else None
    if payee_iban and policy.our_accounts and payee_iban not in policy.our_accounts:
        return review(f"the money went to {payee_iban}, which is not one of our accounts", org.org_id, invoice)
    if case.authentication:
        return review(case.authentication, org.org_id, invoice)
    if case.sender not in org.notify_emails and case.sender not in policy.sales_addresses:
        return review(f"sent from {case.sender}, which is neither an address of {org.org_id} nor a sales address", org.org_id, invoice)
    line = confirming_bank_credit(org.org_id, currency, amount, invoice.invoice_number, paid_on, ledger.bank_credits, policy)
    if line is not None:
        return ReceiptDecision(case.receipt_id, "confirmed", org.org_id, invoice.invoice_number, currency, amount,
                               "receipt_bank_first", _confidence(f),
                               f"bank line {line.line_id} already credited {org.org_id} for invoice {invoice.invoice_number}; nothing more to credit",
                               line.line_id)
    if invoice.status == "paid":
        return review(f"invoice {invoice.invoice_number} is paid already (by another payment)", org.org_id, invoice)
    if invoice.invoice_number in ledger.invoices_with_receipt:
        return review(f"invoice {invoice.invoice_number} already has a receipt credit; one per invoice", org.org_id, invoice)
    cap = policy.caps.get(currency, Decimal(0))
    open_total = ledger.open_total(org.org_id, currency)
    if open_total + amount > cap:
        return review(f"{org.org_id}'s unconfirmed receipt credits would reach {_m(open_total + amount)} {currency}, "
                      f"over the cap of {_m(cap)} {currency}",
                      org.org_id, invoice)
    return ReceiptDecision(case.receipt_id, "provisional", org.org_id, invoice.invoice_number, currency, amount,
                           "receipt_provisional", _confidence(f),
                           f"receipt for invoice {invoice.invoice_number} from {case.sender}: payer {_payer_evidence(f, org, sure)}")


def _named_invoices(f: ReceiptFields, invoices: dict[str, Invoice]) -> list[str]:
    tokens = {t.upper() for t in _TOKEN.findall(f.value("purpose") or "")}
    if f.value("invoice_number"):
        tokens.add(f.value("invoice_number").upper())
    return sorted(t for t in tokens if t in invoices)


def _payer_problem(f: ReceiptFields, org: Organization, organizations: dict[str, Organization], sure: float) -> str | None:  # float-ok
    tax_id = f.value("payer_tax_id") if f.confidence("payer_tax_id") >= sure else None
    iban = f.value("payer_iban") if f.confidence("payer_iban") >= sure else None
    for other in organizations.values():
        if other.org_id == org.org_id:
            continue
        if tax_id and other.tax_id == tax_id:
            return f"the payer's tax ID {tax_id} is {other.org_id}'s, but invoice is {org.org_id}'s"
        if iban and iban in other.ibans:
            return f"the payer's IBAN {iban} is {other.org_id}'s, but the invoice is {org.org_id}'s"
    if tax_id and org.tax_id and tax_id != org.tax_id:
        return f"the payer's tax ID {tax_id} is not {org.org_id}'s ({org.tax_id})"
    if _payer_evidence(f, org, sure) is None:
        name = f.value("payer_name")
        return f"nothing ties the payer ({name or 'no name'}) to {org.org_id}: no matching tax ID, IBAN or name"
    return None


def _payer_evidence(f: ReceiptFields, org: Organization, sure: float) -> str | None:  # float-ok
    if f.confidence("payer_tax_id") >= sure and org.tax_id and f.value("payer_tax_id") == org.tax_id:
        return f"tax ID {org.tax_id}"
    if f.confidence("payer_iban") >= sure and f.value("payer_iban") in org.ibans:
        return f"IBAN {f.value('payer_iban')}"
    if f.confidence("payer_name") >= sure and names_agree(f.value("payer_name"), org):
        return f"name {f.value('payer_name')}"
    return None


def names_agree(name: str | None, org: Organization) -> bool:
    payer = fold(name_key(name))
    if not payer:
        return False
    for own in (org.name, org.legal_name):
        key = fold(name_key(own))
        if key and (key == payer or similarity(key, payer) >= NAME_SIMILARITY):
            return True
    return False


def confirming_bank_credit(org_id: str, currency: str, amount: Decimal, invoice_number: str | None, paid_on: date | None,
                           credits: Iterable[BankCredit], policy: ReceiptPolicy) -> BankCredit | None:
    """The bank credit that proves this receipt: same organization and currency, booked no earlier than the
    day before the receipt's date, the amount within the tolerance, and not naming another invoice."""
    found = [
        c for c in credits
        if c.org_id == org_id and c.currency == currency and abs(c.amount - amount) <= policy.amount_tolerance
        and (paid_on is None or c.booking_date >= paid_on - timedelta(days=1))
        and (not c.invoice_numbers or invoice_number in c.invoice_numbers)
    ]
    found.sort(key=lambda c: (invoice_number not in c.invoice_numbers, c.booking_date, c.line_id))
    return found[0] if found else None


def confirmations(lines: Iterable[BankCredit], provisional: Iterable[OpenProvisional], policy: ReceiptPolicy) -> dict[str, OpenProvisional]:
    """line_id -> the open provisional credit the newly matched bank line confirms (each at most once).

    A line confirms a receipt of its organization in its currency, booked no earlier than the day
    before the receipt's date, naming the receipt's invoice (or no invoice), the amount within the
    tolerance. Lines naming the invoice are served first, then by booking date.
    """
    waiting = sorted(provisional, key=lambda p: (p.paid_on or date.min, p.receipt_id))
    lines = sorted(lines, key=lambda c: (not any(p.invoice_number in c.invoice_numbers for p in waiting), c.booking_date, c.line_id))
    found: dict[str, OpenProvisional] = {}
    for line in lines:
        candidates = [p for p in waiting
                      if confirming_bank_credit(p.org_id, p.currency, p.amount, p.invoice_number, p.paid_on, [line], policy)]
        if candidates:
            candidates.sort(key=lambda p: (p.invoice_number not in line.invoice_numbers, p.paid_on or date.min, p.receipt_id))
            chosen = candidates[0]
            found[line.line_id] = chosen
            waiting.remove(chosen)
    return found


def _m(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def _confidence(f: ReceiptFields) -> Decimal:
    names = ("amount", "invoice_number", "paid_on")
    lowest = min((f.confidence(n) for n in names), default=0.0)
    return Decimal(str(round(lowest, 3)))
