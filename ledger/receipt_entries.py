"""The three journal entries of a receipt's provisional credit, as plain data (no SQLAlchemy).

    provisional:  debit receipts:provisional          credit customer:<org>      (the balance goes up now)
    confirmation: debit bank:<account> (bank line)    credit receipts:provisional (the money arrived)
    reversal:     debit customer:<org>                credit receipts:provisional (it never arrived)

So the customer is credited once, by the provisional entry; the bank line clears the clearing
account instead of crediting the customer a second time. Should the bank line's amount differ from
the receipt's (within the tolerance), the difference is settled on the customer's account in the
confirmation, so the customer ends credited with exactly what the bank received. Each entry has its
own idempotency key under the journal's unique constraint.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ledger.domain import JournalEntry, Posting, bank_account, customer_account, transfer

PROVISIONAL_ACCOUNT = "receipts:provisional"


def provisional_key(receipt_id: str) -> str:
    return f"receipt:provisional:{receipt_id}"


def provisional_credit(*, receipt_id: str, org_id: str, currency: str, amount: Decimal, on: date, description: str) -> JournalEntry:
    if amount <= 0:
        raise ValueError(f"receipt {receipt_id}: a provisional credit needs a positive amount, got {amount}")
    entry = transfer(key=provisional_key(receipt_id), kind="receipt", org_id=org_id, on=on, evidence=receipt_id,
                     description=description, debit=PROVISIONAL_ACCOUNT, credit=customer_account(org_id),
                     currency=currency, amount=amount)
    return JournalEntry(**{**vars(entry), "status": "provisional"})


def confirmation(*, receipt_id: str, org_id: str, line_id: str, account: str, currency: str, line_amount: Decimal,
                 receipt_amount: Decimal, booked_on: date) -> JournalEntry:
    postings = [Posting(bank_account(account), currency, line_amount), Posting(PROVISIONAL_ACCOUNT, currency, -receipt_amount)]
    if line_amount != receipt_amount:
        postings.append(Posting(customer_account(org_id), currency, receipt_amount - line_amount))
    return JournalEntry(
        idempotency_key=f"receipt:confirm:{receipt_id}", kind="receipt_confirm", status="confirmed", org_id=org_id,
        effective_date=booked_on, evidence=line_id,
        description=f"bank line {line_id} confirms the provisional credit of receipt {receipt_id}", postings=tuple(postings),
    )


def reversal(*, receipt_id: str, org_id: str, currency: str, amount: Decimal, on: date, description: str) -> JournalEntry:
    return transfer(key=f"receipt:reversal:{receipt_id}", kind="receipt_reversal", org_id=org_id, on=on, evidence=receipt_id,
                    description=description, debit=customer_account(org_id), credit=PROVISIONAL_ACCOUNT,
                    currency=currency, amount=amount)
