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
from sqlalchemy import Engine, String, cast, func, literal, select, text, update

from ledger import billing, domain, schema
from ledger.repository import existing_keys, insert_ignore, now, post_entries
from payrecon.services.receipts import confirm_with_bank_lines
from payrecon.services.settlements import SettlementSummary, reconcile_settlements
from reconcilers.engine import MatchResult, match
from reconcilers.plan import MatchPlan


CREDITING_LOCK = 0x70617972_6372  # "payrcr": the advisory lock key of crediting runs


@dataclass
class ReconcileSummary:
    lines_decided: int = 0
    credits: int = 0
    credited: dict[str, Decimal] = field(default_factory=dict)  # currency -> total of new credits
    reviews: int = 0  # ranked suggestions waiting for a person
    exceptions: int = 0  # nothing credible: a person must find the payer
    by_rule: dict[str, int] = field(default_factory=dict)
    invoices_settled: int = 0
    learned_ibans: int = 0
    learned_names: int = 0
    problems: tuple[str, ...] = ()  # master-data rows the engine could not use
    seconds: dict[str, float] = field(default_factory=dict)  # float-ok: matching time per step
    usage_entries: int = 0
    card_entries: int = 0
    subscription_fees: int = 0
    settlements: SettlementSummary = field(default_factory=SettlementSummary)


def _frame(conn, query) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def reconcile(engine: Engine, plan: MatchPlan, as_of: date | None = None,
              receipt_tolerance: Decimal = Decimal("0.00")) -> ReconcileSummary:
    """Decide new lines and credit them; post usage and card top-ups; then activate the plans whose
    fee the balance now covers, up to `as_of` (default: the newest effective date in the ledger)."""
    summary = ReconcileSummary()
    with engine.begin() as conn:
        one_run_at_a_time(conn)
        # Provider payouts first: their bank lines are not customers' payments.
        summary.settlements = reconcile_settlements(conn)
        lines = _undecided_lines(conn)
        if not lines.empty:
            result = match(
                lines,
                _frame(conn, select(schema.organizations)),
                _frame(conn, select(schema.organization_ibans)),
                open_invoices(conn),
                plan,
                organization_names=_frame(conn, select(schema.organization_names.c.org_id, schema.organization_names.c.name)),
            )
            _store(conn, lines, result, summary, receipt_tolerance)
        summary.usage_entries = _post_usage(conn)
        summary.card_entries = _post_card_payments(conn)
        summary.subscription_fees = _post_subscription_fees(conn, as_of)
    return summary


def one_run_at_a_time(conn) -> None:
    """Serialize crediting (runs and manual review credits) on PostgreSQL (a transaction-scoped advisory lock, released at
    commit). The unique keys already make every credit exactly-once; the lock also keeps a run from
    allocating an invoice from a snapshot that misses another run's uncommitted allocations.
    SQLite serializes writers by itself."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREDITING_LOCK})


def _undecided_lines(conn) -> pd.DataFrame:
    lines_t, m = schema.normalized_lines, schema.matches
    return _frame(
        conn,
        select(lines_t)
        .outerjoin(m, m.c.line_id == lines_t.c.line_id)
        .where(m.c.line_id.is_(None), lines_t.c.record_type == "bank_line", lines_t.c.amount > 0),
    )


def open_invoices(conn) -> pd.DataFrame:
    """Invoices still asking for money, with what their allocations have paid so far."""
    inv, alloc = schema.invoices, schema.invoice_allocations
    paid = (
        select(alloc.c.invoice_number, func.sum(alloc.c.amount).label("amount_paid"))
        .group_by(alloc.c.invoice_number)
        .subquery()
    )
    frame = _frame(
        conn,
        select(inv, paid.c.amount_paid)
        .outerjoin(paid, paid.c.invoice_number == inv.c.invoice_number)
        .where(inv.c.status.in_(["open", "partially_paid"])),
    )
    frame["amount_paid"] = frame["amount_paid"].map(lambda v: Decimal(0) if v is None or pd.isna(v) else v)
    return frame


def _store(conn, lines: pd.DataFrame, result: MatchResult, summary: ReconcileSummary,
           receipt_tolerance: Decimal = Decimal("0.00")) -> None:
    """Record every decision, credit what was matched, settle invoices, keep what was learned."""
    decisions = result.decisions
    stamp = now()
    rows = decisions.assign(
        decided_at=stamp,
        suggestions=decisions["suggestions"].map(lambda s: None if s in (None, "[]") else s),
    )
    insert_ignore(conn, schema.matches, rows.to_dict("records"))
    matched = decisions[decisions["status"] == "matched"].merge(lines, on="line_id")
    # A line that confirms a receipt's provisional credit pays the clearing account, not the customer
    # again (payrecon/services/receipts.py): the customer is credited once.
    confirmations = confirm_with_bank_lines(conn, matched.to_dict("records"), receipt_tolerance)
    post_entries(conn, list(confirmations.values()))
    entries = [
        domain.bank_credit(
            line_id=r.line_id,
            org_id=r.org_id,
            account=r.account,
            currency=r.currency,
            amount=r.amount,
            booked_on=r.booking_date,
            description=f"{r.rule} ({r.confidence}): {r.reason}",
        )
        for r in matched.itertuples()
        if r.line_id not in confirmations
    ]
    summary.credits = post_entries(conn, entries)
    for entry in entries:
        posting = entry.postings[0]
        summary.credited[posting.currency] = summary.credited.get(posting.currency, Decimal(0)) + posting.amount
    allocations = result.allocations
    insert_ignore(
        conn,
        schema.invoice_allocations,
        [
            {"line_id": a.line_id, "invoice_number": a.invoice_number, "amount": a.amount, "settles": a.settles, "allocated_at": stamp}
            for a in allocations.itertuples()
        ],
    )
    # The allocations come in booking order: an invoice's last one says where it stands now.
    summary.invoices_settled = set_invoice_status(conn, dict(zip(allocations["invoice_number"], allocations["invoice_status"])))
    summary.learned_ibans, summary.learned_names = store_learned(conn, result.learned, stamp)
    summary.lines_decided = len(decisions)
    summary.reviews = int((decisions["status"] == "review").sum())
    summary.exceptions = int((decisions["status"] == "exception").sum())
    summary.by_rule = {str(k): int(v) for k, v in decisions["rule"].value_counts().items()}
    summary.problems = result.problems
    summary.seconds = result.seconds


def set_invoice_status(conn, statuses: dict[str, str]) -> int:
    """Set each invoice's status (paid | partially_paid), leaving cancelled invoices alone; one
    UPDATE per status, in chunks. Returns how many invoices are now paid."""
    inv = schema.invoices
    for status in ("paid", "partially_paid"):
        numbers = sorted(n for n, s in statuses.items() if s == status)
        for start in range(0, len(numbers), 5000):
            conn.execute(
                update(inv)
                .where(inv.c.invoice_number.in_(numbers[start : start + 5000]), inv.c.status != "cancelled")
                .values(status=status)
            )
    return sum(1 for s in statuses.values() if s == "paid")


def store_learned(conn, learned: pd.DataFrame, stamp) -> tuple[int, int]:
    """Keep the payer accounts and names that confirmed credits taught. Returns (ibans, names)."""
    ibans = [{"org_id": r.org_id, "iban": r.iban, "origin": "learned"} for r in learned.itertuples() if r.iban]
    names = [
        {"org_id": r.org_id, "name": r.name, "origin": "learned", "learned_from": None, "learned_at": stamp}
        for r in learned.itertuples()
        if r.name
    ]
    insert_ignore(conn, schema.organization_ibans, ibans)
    insert_ignore(conn, schema.organization_names, names)
    return len(ibans), len(names)


def unposted_usage(conn) -> list:
    """Usage rows with no journal entry yet. The entry's key is rebuilt in SQL (the same text as
    `domain.usage_debit`'s), so the database anti-joins on the unique key instead of the night
    reading the whole usage history."""
    u, j = schema.usage_debits, schema.journal_entries
    key = literal("usage:") + cast(u.c.date, String) + ":" + u.c.org_id + ":" + u.c.channel + ":" + u.c.currency
    return conn.execute(
        select(u).outerjoin(j, j.c.idempotency_key == key).where(u.c.amount > 0, j.c.entry_id.is_(None))
    ).all()


def unposted_card_payments(conn) -> list:
    """Card/PayPal payments with no journal entry yet (anti-join on the entry's key, as above)."""
    c, j = schema.card_payments, schema.journal_entries
    key = literal("credit:card_payment:") + c.c.payment_id
    return conn.execute(select(c).outerjoin(j, j.c.idempotency_key == key).where(j.c.entry_id.is_(None))).all()


def _post_usage(conn) -> int:
    entries = [
        domain.usage_debit(day=u.date, org_id=u.org_id, channel=u.channel, currency=u.currency, amount=u.amount)
        for u in unposted_usage(conn)
    ]
    return post_entries(conn, _unposted(conn, entries))


def _post_card_payments(conn) -> int:
    entries = [
        domain.card_credit(
            payment_id=p.payment_id, org_id=p.org_id, provider=p.provider, currency=p.currency,
            amount=p.amount, paid_on=p.paid_at.date(),
        )
        for p in unposted_card_payments(conn)
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
