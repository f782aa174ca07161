"""Double-entry bookkeeping, as plain data. No SQLAlchemy here.

Sign convention: a posting's amount is positive for a debit and negative for a credit. Every entry
balances to zero per currency. A customer's prepaid balance is a liability: a top-up credits
`customer:<org>`, usage debits it, so the balance an organization sees is minus the account's sum.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable, Sequence

_ENTRY_NAMESPACE = uuid.UUID("6f1c1b7e-3a7e-4d3e-9a57-70617972636f")
_NAMESPACE_SHA1 = hashlib.sha1(_ENTRY_NAMESPACE.bytes)
#: uuid5's variant bits (10xx) applied to the hex digit they share with the hash
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def entry_ids(keys: Iterable[str]) -> list[str]:
    """`str(uuid.uuid5(namespace, key))` for many keys, without a UUID object each (3x faster):
    the SHA-1 of the namespace and the key, version 5 and the RFC 4122 variant written into its hex."""
    copy, variant, ids = _NAMESPACE_SHA1.copy, _VARIANT, []
    append = ids.append
    for key in keys:
        digest = copy()
        digest.update(key.encode("utf-8"))
        x = digest.hexdigest()
        append(f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{variant[x[16]]}{x[17:20]}-{x[20:32]}")
    return ids


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


@dataclass(frozen=True)
class Transfers:
    """Many two-legged, confirmed journal entries as columns (row i is the entry `transfer` would
    make from the i-th values): what the nightly posts by the million (card payments, provider
    fees, bank credits, usage, payouts), without a JournalEntry and two Posting objects each.
    Leg 0 debits `debit` with `amount`, leg 1 credits `credit` with `-amount`; the entry ids are
    the same uuid5 of the key as `JournalEntry.entry_id`. Built by the plural functions below,
    which check what the singular ones check."""

    idempotency_key: Sequence[str]
    kind: Sequence[str]
    org_id: Sequence[str | None]
    effective_date: Sequence[date]
    evidence: Sequence[str]
    description: Sequence[str]
    debit: Sequence[str]
    credit: Sequence[str]
    currency: Sequence[str]
    amount: Sequence[Decimal]

    def __post_init__(self) -> None:
        n = len(self.idempotency_key)
        for name in ("kind", "org_id", "effective_date", "evidence", "description", "debit", "credit", "currency", "amount"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"transfers: {name} has {len(getattr(self, name))} values for {n} keys")
        for key, amount in zip(self.idempotency_key, self.amount):
            if not isinstance(amount, Decimal):
                raise TypeError(f"{key}: posting amounts must be Decimal")
            if not amount.is_finite():  # NaN or infinity: amount and -amount would not sum to zero
                raise UnbalancedEntry(f"{key}: postings do not balance: {amount}")

    def __len__(self) -> int:
        return len(self.idempotency_key)

    @staticmethod
    def empty() -> "Transfers":
        return Transfers((), (), (), (), (), (), (), (), (), ())

    @staticmethod
    def concat(parts: Sequence["Transfers"]) -> "Transfers":
        names = ("idempotency_key", "kind", "org_id", "effective_date", "evidence", "description", "debit", "credit", "currency", "amount")
        return Transfers(*([v for part in parts for v in getattr(part, name)] for name in names))

    def entries(self) -> list[JournalEntry]:
        """The same entries as JournalEntry objects (small batches, tests)."""
        return [
            transfer(key=key, kind=kind, org_id=org, on=on, evidence=evidence, description=description, debit=debit,
                     credit=credit, currency=currency, amount=amount)
            for key, kind, org, on, evidence, description, debit, credit, currency, amount in zip(
                self.idempotency_key, self.kind, self.org_id, self.effective_date, self.evidence, self.description,
                self.debit, self.credit, self.currency, self.amount)
        ]


def _same(value, n: int) -> list:
    return [value] * n


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


def bank_credit_key(line_id: str) -> str:
    return f"credit:bank_line:{line_id}"


def card_credit_key(payment_id: str) -> str:
    return f"credit:card_payment:{payment_id}"


def usage_key(day: date, org_id: str, channel: str, currency: str) -> str:
    return f"usage:{day.isoformat()}:{org_id}:{channel}:{currency}"


def fee_key(line_id: str) -> str:
    return f"fee:{line_id}"


def payout_key(payout_line_id: str) -> str:
    return f"payout:{payout_line_id}"


def chargeback_key(kind: str, line_id: str) -> str:
    return f"{kind}:{line_id}"


def bank_credit(
    *, line_id: str, org_id: str, account: str, currency: str, amount: Decimal, booked_on: date, description: str
) -> JournalEntry:
    """Money received on our bank account for an organization: debit the bank, credit the customer."""
    if amount <= 0:
        raise ValueError(f"line {line_id}: a credit needs a positive amount, got {amount}")
    return transfer(key=bank_credit_key(line_id), kind="credit", org_id=org_id, on=booked_on, evidence=line_id,
                    description=description, debit=bank_account(account), credit=customer_account(org_id),
                    currency=currency, amount=amount)


def card_credit(
    *, payment_id: str, org_id: str, provider: str, currency: str, amount: Decimal, paid_on: date
) -> JournalEntry:
    """A top-up the platform's card or PayPal integration credited: the provider owes us the money."""
    return transfer(key=card_credit_key(payment_id), kind="card", org_id=org_id, on=paid_on, evidence=payment_id,
                    description=f"{provider} payment {payment_id}", debit=clearing_account(provider),
                    credit=customer_account(org_id), currency=currency, amount=amount)


def usage_debit(*, day: date, org_id: str, channel: str, currency: str, amount: Decimal) -> JournalEntry:
    """A day's usage of one channel, debited from the prepaid balance."""
    return transfer(key=usage_key(day, org_id, channel, currency), kind="usage", org_id=org_id, on=day,
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
    return transfer(key=fee_key(line_id), kind="fee", org_id=None, on=booked_on, evidence=line_id, description=description,
                    debit=fee_account(provider), credit=clearing_account(provider), currency=currency, amount=-amount)


def chargeback(*, line_id: str, org_id: str, provider: str, currency: str, amount: Decimal, booked_on: date, description: str,
               kind: str = "chargeback") -> JournalEntry:
    """A chargeback (or a refund) takes the money back from the organization's balance (negative
    amount); a chargeback's reversal (positive) gives it back."""
    return transfer(key=chargeback_key(kind, line_id), kind=kind, org_id=org_id, on=booked_on, evidence=line_id,
                    description=description, debit=customer_account(org_id), credit=clearing_account(provider),
                    currency=currency, amount=-amount)


def payout_received(*, payout_line_id: str, bank_line_id: str, provider: str, account: str, currency: str, amount: Decimal, booked_on: date) -> JournalEntry:
    """A provider payout arriving on our bank account clears the provider's balance."""
    return transfer(key=payout_key(payout_line_id), kind="payout", org_id=None, on=booked_on, evidence=bank_line_id,
                    description=f"{provider} payout {payout_line_id} received", debit=bank_account(account),
                    credit=clearing_account(provider), currency=currency, amount=amount)


# --- the same entries by the million, as columns (Transfers) -------------------------------------------
# Each plural function makes, from sequences of equal length, exactly the entries its singular
# namesake makes value by value (tests/unit/test_domain_transfers.py compares them).


def bank_credits(*, line_id: Sequence[str], org_id: Sequence[str], account: Sequence[str], currency: Sequence[str],
                 amount: Sequence[Decimal], booked_on: Sequence[date], description: Sequence[str]) -> Transfers:
    for line, value in zip(line_id, amount):
        if value <= 0:
            raise ValueError(f"line {line}: a credit needs a positive amount, got {value}")
    n = len(line_id)
    return Transfers([f"credit:bank_line:{x}" for x in line_id], _same("credit", n), list(org_id), list(booked_on), list(line_id),
                     list(description), [f"bank:{a}" for a in account], [f"customer:{o}" for o in org_id], list(currency), list(amount))


def card_credits(*, payment_id: Sequence[str], org_id: Sequence[str], provider: Sequence[str], currency: Sequence[str],
                 amount: Sequence[Decimal], paid_on: Sequence[date]) -> Transfers:
    n = len(payment_id)
    return Transfers([f"credit:card_payment:{p}" for p in payment_id], _same("card", n), list(org_id), list(paid_on), list(payment_id),
                     [f"{v} payment {p}" for v, p in zip(provider, payment_id)], [f"clearing:{v}" for v in provider],
                     [f"customer:{o}" for o in org_id], list(currency), list(amount))


def usage_debits(*, day: Sequence[date], org_id: Sequence[str], channel: Sequence[str], currency: Sequence[str],
                 amount: Sequence[Decimal]) -> Transfers:
    n = len(day)
    days = [d.isoformat() for d in day]
    return Transfers([f"usage:{d}:{o}:{c}:{k}" for d, o, c, k in zip(days, org_id, channel, currency)], _same("usage", n),
                     list(org_id), list(day), [f"{d}/{o}/{c}" for d, o, c in zip(days, org_id, channel)],
                     [f"{c} usage on {d}" for c, d in zip(channel, days)], [f"customer:{o}" for o in org_id],
                     [f"revenue:{c}" for c in channel], list(currency), list(amount))


def provider_fees(*, line_id: Sequence[str], provider: Sequence[str], currency: Sequence[str], amount: Sequence[Decimal],
                  booked_on: Sequence[date], description: Sequence[str]) -> Transfers:
    _decimals(line_id, amount)
    n = len(line_id)
    return Transfers([f"fee:{x}" for x in line_id], _same("fee", n), _same(None, n), list(booked_on), list(line_id), list(description),
                     [f"fees:{p}" for p in provider], [f"clearing:{p}" for p in provider], list(currency), [-a for a in amount])


def chargebacks(*, line_id: Sequence[str], org_id: Sequence[str], provider: Sequence[str], currency: Sequence[str],
                amount: Sequence[Decimal], booked_on: Sequence[date], description: Sequence[str], kind: Sequence[str]) -> Transfers:
    _decimals(line_id, amount)
    return Transfers([f"{k}:{x}" for k, x in zip(kind, line_id)], list(kind), list(org_id), list(booked_on), list(line_id),
                     list(description), [f"customer:{o}" for o in org_id], [f"clearing:{p}" for p in provider], list(currency),
                     [-a for a in amount])


def payouts_received(*, payout_line_id: Sequence[str], bank_line_id: Sequence[str], provider: Sequence[str], account: Sequence[str],
                     currency: Sequence[str], amount: Sequence[Decimal], booked_on: Sequence[date]) -> Transfers:
    n = len(payout_line_id)
    return Transfers([f"payout:{x}" for x in payout_line_id], _same("payout", n), _same(None, n), list(booked_on), list(bank_line_id),
                     [f"{p} payout {x} received" for p, x in zip(provider, payout_line_id)], [f"bank:{a}" for a in account],
                     [f"clearing:{p}" for p in provider], list(currency), list(amount))


def _decimals(keys: Sequence[str], amounts: Sequence[Decimal]) -> None:
    """Negating a float would pass it on as a float: refuse it first, as JournalEntry would."""
    for key, amount in zip(keys, amounts):
        if not isinstance(amount, Decimal):
            raise TypeError(f"{key}: posting amounts must be Decimal")
