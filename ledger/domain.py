"""Double-entry bookkeeping, as plain data. No SQLAlchemy here.

Sign convention: a posting's amount is positive for a debit and negative for a credit. Every entry
balances to zero per currency. A customer's prepaid balance is a liability: a top-up credits
`customer:<org>`, usage debits it, so the balance an organization sees is minus the account's sum.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

_ENTRY_NAMESPACE = uuid.UUID("6f1c1b7e-3a7e-4d3e-9a57-70617972636f")


class UnbalancedEntry(ValueError):
    """A journal entry whose postings do not sum to zero in some currency."""


def customer_account(org_id: str) -> str:
    return f"customer:{org_id}"


def bank_account(account: str) -> str:
    return f"bank:{account}"


def revenue_account(channel: str) -> str:
    return f"revenue:{channel}"


def clearing_account(provider: str) -> str:
    return f"clearing:{provider}"


@dataclass(frozen=True)
class Posting:
    account: str
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class JournalEntry:
    idempotency_key: str
    kind: str  # credit | usage | card
    status: str  # provisional | confirmed | reversed
    org_id: str | None
    effective_date: date
    evidence: str
    description: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise UnbalancedEntry(f"{self.idempotency_key}: an entry needs at least two postings")
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for posting in self.postings:
            if not isinstance(posting.amount, Decimal):
                raise TypeError(f"{self.idempotency_key}: posting amounts must be Decimal")
            totals[posting.currency] += posting.amount
        unbalanced = {c: t for c, t in totals.items() if t != 0}
        if unbalanced:
            raise UnbalancedEntry(f"{self.idempotency_key}: postings do not balance: {unbalanced}")

    @property
    def entry_id(self) -> str:
        """Derived from the idempotency key, so every run that decides the same entry writes the
        same rows, and the database's keys refuse the second copy."""
        return str(uuid.uuid5(_ENTRY_NAMESPACE, self.idempotency_key))


def transfer(*, key: str, kind: str, org_id: str | None, on: date, evidence: str, description: str,
             debit: str, credit: str, currency: str, amount: Decimal) -> JournalEntry:
    """The common two-legged entry: `amount` moves from `credit` to `debit` (signed as given)."""
    return JournalEntry(
        idempotency_key=key,
        kind=kind,
        status="confirmed",
        org_id=org_id,
        effective_date=on,
        evidence=evidence,
        description=description,
        postings=(Posting(debit, currency, amount), Posting(credit, currency, -amount)),
    )


def bank_credit(
    *, line_id: str, org_id: str, account: str, currency: str, amount: Decimal, booked_on: date, description: str
) -> JournalEntry:
    """Money received on our bank account for an organization: debit the bank, credit the customer."""
    if amount <= 0:
        raise ValueError(f"line {line_id}: a credit needs a positive amount, got {amount}")
    return transfer(key=f"credit:bank_line:{line_id}", kind="credit", org_id=org_id, on=booked_on, evidence=line_id,
                    description=description, debit=bank_account(account), credit=customer_account(org_id),
                    currency=currency, amount=amount)


def card_credit(
    *, payment_id: str, org_id: str, provider: str, currency: str, amount: Decimal, paid_on: date
) -> JournalEntry:
    """A top-up the platform's card or PayPal integration credited: the provider owes us the money."""
    return transfer(key=f"credit:card_payment:{payment_id}", kind="card", org_id=org_id, on=paid_on, evidence=payment_id,
                    description=f"{provider} payment {payment_id}", debit=clearing_account(provider),
                    credit=customer_account(org_id), currency=currency, amount=amount)


def usage_debit(*, day: date, org_id: str, channel: str, currency: str, amount: Decimal) -> JournalEntry:
    """A day's usage of one channel, debited from the prepaid balance."""
    return transfer(key=f"usage:{day.isoformat()}:{org_id}:{channel}:{currency}", kind="usage", org_id=org_id, on=day,
                    evidence=f"{day.isoformat()}/{org_id}/{channel}", description=f"{channel} usage on {day.isoformat()}",
                    debit=customer_account(org_id), credit=revenue_account(channel), currency=currency, amount=amount)


def subscription_key(org_id: str, plan: str, period_start: date) -> str:
    return f"subscription:{org_id}:{plan}:{period_start.isoformat()}"


def subscription_fee(*, org_id: str, plan: str, period_start: date, activated_on: date, currency: str, amount: Decimal) -> JournalEntry:
    """A plan's monthly fee, debited from the prepaid balance when the period's plan activates."""
    return transfer(key=subscription_key(org_id, plan, period_start), kind="subscription", org_id=org_id, on=activated_on,
                    evidence=f"{org_id}/{plan}/{period_start.isoformat()}",
                    description=f"{plan} monthly fee for the period from {period_start.isoformat()}",
                    debit=customer_account(org_id), credit=revenue_account("subscription"), currency=currency, amount=amount)


def fee_account(provider: str) -> str:
    return f"fees:{provider}"


def provider_fee(*, line_id: str, provider: str, currency: str, amount: Decimal, booked_on: date, description: str) -> JournalEntry:
    """A provider's fee (amount negative as written: money taken from our provider balance)."""
    return transfer(key=f"fee:{line_id}", kind="fee", org_id=None, on=booked_on, evidence=line_id, description=description,
                    debit=fee_account(provider), credit=clearing_account(provider), currency=currency, amount=-amount)


def chargeback(*, line_id: str, org_id: str, provider: str, currency: str, amount: Decimal, booked_on: date, description: str,
               kind: str = "chargeback") -> JournalEntry:
    """A chargeback (or a refund) takes the money back from the organization's balance (negative
    amount); a chargeback's reversal (positive) gives it back."""
    return transfer(key=f"{kind}:{line_id}", kind=kind, org_id=org_id, on=booked_on, evidence=line_id,
                    description=description, debit=customer_account(org_id), credit=clearing_account(provider),
                    currency=currency, amount=-amount)


def payout_received(*, payout_line_id: str, bank_line_id: str, provider: str, account: str, currency: str, amount: Decimal, booked_on: date) -> JournalEntry:
    """A provider payout arriving on our bank account clears the provider's balance."""
    return transfer(key=f"payout:{payout_line_id}", kind="payout", org_id=None, on=booked_on, evidence=bank_line_id,
                    description=f"{provider} payout {payout_line_id} received", debit=bank_account(account),
                    credit=clearing_account(provider), currency=currency, amount=amount)
