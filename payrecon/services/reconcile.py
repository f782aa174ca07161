"""Match new incoming bank lines, credit organizations exactly once, post usage and card top-ups.

Decisions come from `reconcilers` (pure DataFrame functions); this module only reads their inputs
from the ledger and writes their outcome, all in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, func, literal, select, update

from ledger import billing, domain, schema
from ledger.repository import existing_keys, insert_ignore, now, post_entries
from payrecon.services.settlements import SettlementSummary, reconcile_settlements
from reconcilers.first_match import decide


@dataclass
class ReconcileSummary:
    lines_decided: int = 0
    credits: int = 0
    credited: dict[str, Decimal] = field(default_factory=dict)  # currency -> total of new credits
    exceptions: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    usage_entries: int = 0
    card_entries: int = 0
    subscription_fees: int = 0
    settlements: SettlementSummary = field(default_factory=SettlementSummary)


def _frame(conn, query) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def reconcile(engine: Engine, auto_credit_threshold: Decimal, as_of: date | None = None) -> ReconcileSummary:
    """Decide new lines and credit them; post usage and card top-ups; then activate the plans whose
    fee the balance now covers, up to `as_of` (default: the newest effective date in the ledger)."""
    summary = ReconcileSummary()
    lines_t, m = schema.normalized_lines, schema.matches
    with engine.begin() as conn:
        # Provider payouts first: their bank lines are not customers' payments.
        summary.settlements = reconcile_settlements(conn)
        lines = _frame(
            conn,
            select(lines_t)
            .outerjoin(m, m.c.line_id == lines_t.c.line_id)
            .where(m.c.line_id.is_(None), lines_t.c.record_type == "bank_line", lines_t.c.amount > 0),
        )
        if not lines.empty:
            organizations = _frame(conn, select(schema.organizations))
            invoices = _frame(conn, select(schema.invoices))
            decisions = decide(lines, organizations, invoices, auto_credit_threshold)
            decided_at = now()
            insert_ignore(conn, m, [{**d, "decided_at": decided_at} for d in decisions.to_dict("records")])
            matched = decisions[decisions["status"] == "matched"].merge(lines, on="line_id")
            entries = [
                domain.bank_credit(
                    line_id=r.line_id,
                    org_id=r.org_id,
                    account=r.account,
                    currency=r.currency,
                    amount=r.amount,
                    booked_on=r.booking_date,
                    description=f"{r.rule}: {r.reason}",
                )
                for r in matched.itertuples()
            ]
            summary.credits = post_entries(conn, entries)
            for entry in entries:
                posting = entry.postings[0]
                summary.credited[posting.currency] = summary.credited.get(posting.currency, Decimal(0)) + posting.amount
            summary.lines_decided = len(decisions)
            summary.exceptions = int((decisions["status"] == "exception").sum())
            summary.by_rule = {str(k): int(v) for k, v in decisions["rule"].value_counts().items()}
            update_invoice_status(conn)
        summary.usage_entries = _post_usage(conn)
        summary.card_entries = _post_card_payments(conn)
        summary.subscription_fees = _post_subscription_fees(conn, as_of)
    return summary


def update_invoice_status(conn) -> None:
    """Mark invoices paid or partially paid from the credits that name them.

    A payment naming several invoices pays them in invoice-number order; what is left over stays on
    the prepaid balance (an over-payment still credits the organization).
    """
    credited = _frame(
        conn,
        select(schema.matches.c.invoice_numbers, schema.normalized_lines.c.amount)
        .join(schema.normalized_lines, schema.normalized_lines.c.line_id == schema.matches.c.line_id)
        .where(schema.matches.c.status == "matched", schema.matches.c.invoice_numbers.is_not(None)),
    )
    if credited.empty:
        return
    invoices = {r.invoice_number: r for r in conn.execute(select(schema.invoices)).all()}
    paid: dict[str, Decimal] = {}
    for numbers, amount in credited.itertuples(index=False):
        left = amount
        names = [n for n in sorted(numbers.split(";")) if n in invoices]
        for position, number in enumerate(names):
            share = left if position == len(names) - 1 else min(left, invoices[number].amount)
            paid[number] = paid.get(number, Decimal(0)) + share
            left -= share
    for number, total in paid.items():
        status = "paid" if total >= invoices[number].amount else "partially_paid"
        if invoices[number].status != status and invoices[number].status != "cancelled":
            conn.execute(update(schema.invoices).where(schema.invoices.c.invoice_number == number).values(status=status))


def _post_usage(conn) -> int:
    usage = conn.execute(select(schema.usage_debits).where(schema.usage_debits.c.amount > 0)).all()
    entries = [
        domain.usage_debit(day=u.date, org_id=u.org_id, channel=u.channel, currency=u.currency, amount=u.amount)
        for u in usage
    ]
    new = _unposted(conn, entries)
    return post_entries(conn, new)


def _post_card_payments(conn) -> int:
    payments = conn.execute(select(schema.card_payments)).all()
    entries = [
        domain.card_credit(
            payment_id=p.payment_id, org_id=p.org_id, provider=p.provider, currency=p.currency,
            amount=p.amount, paid_on=p.paid_at.date(),
        )
        for p in payments
    ]
    return post_entries(conn, _unposted(conn, entries))


def _unposted(conn, entries: list[domain.JournalEntry]) -> list[domain.JournalEntry]:
    done = existing_keys(conn, schema.journal_entries.c.idempotency_key, (e.idempotency_key for e in entries))
    return [e for e in entries if e.idempotency_key not in done]


def _post_subscription_fees(conn, as_of: date | None) -> int:
    subs = [billing.Subscription(**dict(r._mapping)) for r in conn.execute(select(schema.subscriptions)).all()]
    if not subs:
        return 0
    j, p = schema.journal_entries, schema.postings
    if as_of is None:
        as_of = conn.execute(select(func.max(j.c.effective_date))).scalar() or date.today()
    movements: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
    rows = conn.execute(
        select(j.c.org_id, p.c.currency, j.c.effective_date, func.sum(p.c.amount))
        .join(j, j.c.entry_id == p.c.entry_id)
        .where(p.c.account == literal("customer:") + j.c.org_id)
        .group_by(j.c.org_id, p.c.currency, j.c.effective_date)
    ).all()
    for org_id, currency, day, total in rows:
        movements[(org_id, currency)][day] = -total
    charged = set(conn.execute(select(j.c.idempotency_key).where(j.c.kind == "subscription")).scalars())
    debited = {
        (s.org_id, s.plan, start)
        for s in subs
        for start in billing.period_starts(s, as_of)
        if domain.subscription_key(s.org_id, s.plan, start) in charged
    }
    entries = [
        domain.subscription_fee(org_id=a.org_id, plan=a.plan, period_start=a.period_start, activated_on=a.activated_on,
                                currency=a.currency, amount=a.amount)
        for a in billing.activations(subs, movements, debited, as_of)
    ]
    return post_entries(conn, entries)
