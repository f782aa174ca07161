"""Match new incoming bank lines, credit organizations exactly once, post usage and card top-ups.

Decisions come from `reconcilers` (pure DataFrame functions); this module only reads their inputs
from the ledger and writes their outcome, in one transaction holding the crediting lock. On
PostgreSQL what no decision reads or changes (settlement links, provider fees, chargebacks, card
top-ups) is written meanwhile by a second connection in a second transaction, committed just before
the first: every write is idempotent by its key, so a crash between the two commits leaves only
rows the next run skips.

Only what is still open is read (anti-joins in SQL), only the columns needed, as columns rather
than a Row object per row; the entries posted by the million go through `domain.Transfers` and
`repository.post_transfers` (the same rows as JournalEntry objects and `post_entries` would write).
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, String, cast, func, literal, select, text, update

from ledger import billing, domain, schema
from ledger.repository import fetch_columns, insert_columns, insert_ignore, now, post_entries, post_transfers, stream_columns
from payrecon.services.receipts import confirm_with_bank_lines
from payrecon.services.settlements import (
    SettlementSummary, post_settlement_entries, receive_payouts, settle_payments,
)
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
    names, columns = fetch_columns(conn, query)
    return pd.DataFrame(dict(zip(names, columns)), columns=names)


def reconcile(engine: Engine, plan: MatchPlan, as_of: date | None = None,
              receipt_tolerance: Decimal = Decimal("0.00")) -> ReconcileSummary:
    """Decide new lines and credit them; post usage and card top-ups; then activate the plans whose
    fee the balance now covers, up to `as_of` (default: the newest effective date in the ledger)."""
    summary = ReconcileSummary()
    with engine.begin() as conn:
        one_run_at_a_time(conn)
        if conn.dialect.name != "postgresql":  # SQLite: one writer, one connection, in order
            receive_payouts(conn, summary.settlements)
            _match_and_credit(conn, plan, summary, receipt_tolerance)
            _post_independent(conn, summary)
        else:
            # Provider payouts first: their bank lines are not customers' payments.
            receive_payouts(conn, summary.settlements)
            # What no matching decision reads or changes (settlement links, fees, chargebacks, card
            # top-ups) a second connection writes at the same time, in its own transaction, which
            # commits just before this one, while this one holds the crediting lock: the database
            # works on two cores. Its keys are not this transaction's, so neither waits for the
            # other; a crash between the two commits leaves only entries a re-run skips.
            with engine.begin() as side, ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-side") as background:
                posted = background.submit(_post_independent, side, summary)
                try:
                    _match_and_credit(conn, plan, summary, receipt_tolerance)
                finally:
                    wait([posted])
                posted.result()
        summary.usage_entries = _post_usage(conn)
        summary.subscription_fees = _post_subscription_fees(conn, as_of)
    return summary


def _match_and_credit(conn, plan: MatchPlan, summary: ReconcileSummary, receipt_tolerance: Decimal) -> None:
    lines = _undecided_lines(conn)
    if lines.empty:
        return
    result = match(
        lines,
        _frame(conn, select(schema.organizations)),
        _frame(conn, select(schema.organization_ibans)),
        open_invoices(conn),
        plan,
        organization_names=_frame(conn, select(schema.organization_names.c.org_id, schema.organization_names.c.name)),
    )
    _store(conn, lines, result, summary, receipt_tolerance)


def _post_independent(conn, summary: ReconcileSummary) -> None:
    """What customer matching neither reads nor changes: the payments' settlement links, provider
    fees and chargebacks, card top-ups."""
    settle_payments(conn, summary.settlements)
    post_settlement_entries(conn, summary.settlements)
    summary.card_entries = _post_card_payments(conn)


def one_run_at_a_time(conn) -> None:
    """Serialize crediting (runs and manual review credits) on PostgreSQL (a transaction-scoped advisory lock, released at
    commit). The unique keys already make every credit exactly-once; the lock also keeps a run from
    allocating an invoice from a snapshot that misses another run's uncommitted allocations.
    SQLite serializes writers by itself."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREDITING_LOCK})


#: what the engine (reconcilers.payments.REQUIRED) and the credits need of a bank line
LINE_COLUMNS = ("line_id", "account", "booking_date", "amount", "currency", "counterparty_name", "counterparty_account",
                "counterparty_tax_id", "remittance")


def _undecided_lines(conn) -> pd.DataFrame:
    lines_t, m = schema.normalized_lines, schema.matches
    return _frame(
        conn,
        select(*(lines_t.c[name] for name in LINE_COLUMNS))
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
    columns = {name: decisions[name] for name in decisions.columns}
    columns["suggestions"] = decisions["suggestions"].map(lambda s: None if s in (None, "[]") else s)
    columns["decided_at"] = [stamp] * len(decisions)
    insert_columns(conn, schema.matches, columns)
    matched = decisions[decisions["status"] == "matched"].merge(lines, on="line_id")
    del columns
    # A line that confirms a receipt's provisional credit pays the clearing account, not the customer
    # again (payrecon/services/receipts.py): the customer is credited once.
    confirmations = {}
    if _provisional_receipts_wait(conn):
        wanted = ["line_id", "org_id", "account", "currency", "amount", "booking_date", "invoice_numbers"]
        confirmations = confirm_with_bank_lines(
            conn, [dict(zip(wanted, values)) for values in zip(*(matched[c].to_numpy(dtype=object) for c in wanted))], receipt_tolerance)
    post_entries(conn, list(confirmations.values()))
    if confirmations:
        matched = matched[~matched["line_id"].isin(list(confirmations))]
    column = {name: matched[name].to_numpy(dtype=object) for name in
              ("line_id", "org_id", "account", "currency", "amount", "booking_date", "rule", "confidence", "reason")}
    entries = domain.bank_credits(
        line_id=column["line_id"], org_id=column["org_id"], account=column["account"], currency=column["currency"],
        amount=column["amount"], booked_on=column["booking_date"],
        description=[f"{rule} ({confidence}): {reason}" for rule, confidence, reason in
                     zip(column["rule"], column["confidence"], column["reason"])],
    )
    del matched, column
    summary.credits = post_transfers(conn, entries)
    for currency, amount in zip(entries.currency, entries.amount):
        summary.credited[currency] = summary.credited.get(currency, Decimal(0)) + amount
    del entries
    allocations = result.allocations
    insert_columns(conn, schema.invoice_allocations, {
        "line_id": allocations["line_id"], "invoice_number": allocations["invoice_number"], "amount": allocations["amount"],
        "settles": allocations["settles"], "allocated_at": [stamp] * len(allocations),
    })
    # The allocations come in booking order: an invoice's last one says where it stands now.
    summary.invoices_settled = set_invoice_status(conn, dict(zip(allocations["invoice_number"], allocations["invoice_status"])))
    summary.learned_ibans, summary.learned_names = store_learned(conn, result.learned, stamp)
    summary.lines_decided = len(decisions)
    summary.reviews = int((decisions["status"] == "review").sum())
    summary.exceptions = int((decisions["status"] == "exception").sum())
    summary.by_rule = {str(k): int(v) for k, v in decisions["rule"].value_counts().items()}
    summary.problems = result.problems
    summary.seconds = result.seconds


def _provisional_receipts_wait(conn) -> bool:
    """Whether any receipt's provisional credit waits for its bank line (only then can a matched
    line confirm one: most nights none does, and the matched lines need not be handed over)."""
    r = schema.receipts
    return conn.execute(select(r.c.receipt_id).where(r.c.status == "provisional").limit(1)).first() is not None


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
    """Usage not posted yet (the anti-join of `unposted_usage`), streamed and posted in chunks."""
    u, j = schema.usage_debits, schema.journal_entries
    key = literal("usage:") + cast(u.c.date, String) + ":" + u.c.org_id + ":" + u.c.channel + ":" + u.c.currency
    query = (select(u.c.date, u.c.org_id, u.c.channel, u.c.currency, u.c.amount)
             .outerjoin(j, j.c.idempotency_key == key).where(u.c.amount > 0, j.c.entry_id.is_(None)))
    return sum(
        post_transfers(conn, domain.usage_debits(day=day, org_id=org_id, channel=channel, currency=currency, amount=amount))
        for day, org_id, channel, currency, amount in stream_columns(conn, query)
    )


def _post_card_payments(conn) -> int:
    """Card/PayPal payments not posted yet (the anti-join of `unposted_card_payments`), streamed and
    posted in chunks."""
    c, j = schema.card_payments, schema.journal_entries
    key = literal("credit:card_payment:") + c.c.payment_id
    query = (select(c.c.payment_id, c.c.org_id, c.c.provider, c.c.currency, c.c.amount, c.c.paid_at)
             .outerjoin(j, j.c.idempotency_key == key).where(j.c.entry_id.is_(None)))
    return sum(
        post_transfers(conn, domain.card_credits(payment_id=payment_id, org_id=org_id, provider=provider, currency=currency,
                                                 amount=amount, paid_on=[p.date() for p in paid_at]))
        for payment_id, org_id, provider, currency, amount, paid_at in stream_columns(conn, query)
    )


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
