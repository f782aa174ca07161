"""Reconcile card and PayPal money three ways and book it: settlement rows prove the platform's
payments, payouts are matched to the bank lines that received them, fees post to their own
accounts, chargebacks and refunds take the money back from the organization (chargebacks are
flagged to finance).

Runs inside the reconcile transaction, before customer matching, so a bank line that is a
provider's payout is never mistaken for a customer's payment.

Incremental: each night reads only what is still open (payments and settlement rows not linked,
payouts not received, fees and chargebacks with no journal entry), each found by an anti-join in
the database, never the whole settlement history; and only the columns the decisions need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy import literal, or_, select, union

from ledger import domain, schema
from ledger.repository import existing_keys, fetch_columns, insert_ignore, now, post_transfers, stream_columns
from reconcilers.settlements import PAYOUT_WINDOW_DAYS, SOURCE_PROVIDER, link_payments, link_payouts, payouts

SETTLEMENT_TYPES = ("settlement", "fee", "refund", "chargeback", "payout")
#: Amounts per look-up of the bank lines that may be payouts (an IN list each).
_AMOUNTS_PER_QUERY = 5000


@dataclass
class SettlementSummary:
    payments_settled: int = 0
    payouts_received: int = 0
    fees: dict[str, Decimal] = field(default_factory=dict)  # "provider currency" -> total fees posted now
    chargebacks: int = 0
    refunds: int = 0


def _frame(conn, query) -> pd.DataFrame:
    names, columns = fetch_columns(conn, query)
    return pd.DataFrame(dict(zip(names, columns)), columns=names)


def reconcile_settlements(conn) -> SettlementSummary:
    summary = link_settlements(conn)
    post_settlement_entries(conn, summary)
    return summary


def link_settlements(conn) -> SettlementSummary:
    """Settle the platform's payments and receive the payouts (and book those)."""
    summary = SettlementSummary()
    receive_payouts(conn, summary)
    settle_payments(conn, summary)
    return summary


def receive_payouts(conn, summary: SettlementSummary) -> None:
    """Match the payouts not received yet to their bank lines and book them: before customer
    matching, since a payout's bank line is no customer's payment."""
    summary.payouts_received = _receive_payouts(conn, now())


def settle_payments(conn, summary: SettlementSummary) -> None:
    """Link the platform's payments to the settlement rows that prove them (customer matching
    neither reads nor changes these)."""
    summary.payments_settled = _link_payments(conn, now())


def post_settlement_entries(conn, summary: SettlementSummary) -> None:
    """Post the provider fees and the chargebacks and refunds not posted yet (customer matching
    neither reads nor changes these)."""
    _post_fees(conn, summary)
    _post_taken_back(conn, summary)


def _link_payments(conn, stamp) -> int:
    """Link the platform's payments not linked yet to the settlement rows not linked yet."""
    lines, links, cp = schema.normalized_lines, schema.settlement_links, schema.card_payments
    payments = _frame(
        conn,
        select(cp.c.payment_id, cp.c.provider, cp.c.provider_ref, cp.c.currency, cp.c.amount)
        .outerjoin(links, links.c.payment_id == cp.c.payment_id)
        .where(links.c.payment_id.is_(None)),
    )
    if payments.empty:
        return 0
    rows = _frame(
        conn,
        select(lines.c.line_id, lines.c.record_type, lines.c.source_format, lines.c.bank_ref, lines.c.end_to_end_id,
               lines.c.currency, lines.c.amount)
        .outerjoin(links, links.c.line_id == lines.c.line_id)
        .where(lines.c.record_type == "settlement", links.c.line_id.is_(None)),
    )
    new_links = link_payments(payments, rows)
    del payments, rows
    insert_ignore(conn, links, [
        {"payment_id": p, "line_id": line, "linked_at": stamp} for p, line in zip(new_links["payment_id"], new_links["line_id"])
    ])
    return len(new_links)


def _receive_payouts(conn, stamp) -> int:
    """Match the payouts not received yet to undecided incoming bank lines; book them."""
    lines, plinks, m = schema.normalized_lines, schema.payout_links, schema.matches
    open_payouts = payouts(_frame(
        conn,
        select(lines.c.line_id, lines.c.record_type, lines.c.source_format, lines.c.currency, lines.c.amount, lines.c.booking_date)
        .outerjoin(plinks, plinks.c.payout_line_id == lines.c.line_id)
        .where(lines.c.record_type == "payout", plinks.c.payout_line_id.is_(None)),
    ))
    if open_payouts.empty:
        return 0
    bank = _payout_candidates(conn, open_payouts)
    new_payouts = link_payouts(open_payouts, bank, PAYOUT_WINDOW_DAYS)
    insert_ignore(conn, plinks, [
        {"payout_line_id": p, "bank_line_id": b, "linked_at": stamp}
        for p, b in zip(new_payouts["payout_line_id"], new_payouts["bank_line_id"])
    ])
    insert_ignore(conn, m, [
        {"line_id": r.bank_line_id, "status": "payout", "org_id": None, "invoice_numbers": None, "rule": "provider_payout",
         "confidence": Decimal("1.000"), "reason": f"payout {r.payout_line_id} of the provider", "suggestions": None, "decided_at": stamp}
        for r in new_payouts.itertuples()
    ])
    if not new_payouts.empty:
        payout = open_payouts.set_index("line_id").loc[new_payouts["payout_line_id"]]
        line = bank.set_index("line_id").loc[new_payouts["bank_line_id"]]
        entries = domain.payouts_received(
            payout_line_id=list(new_payouts["payout_line_id"]), bank_line_id=list(new_payouts["bank_line_id"]),
            provider=list(payout["provider"]), account=list(line["account"]), currency=list(line["currency"]),
            amount=list(line["amount"]), booked_on=list(line["booking_date"]),
        )
        done = existing_keys(conn, schema.journal_entries.c.idempotency_key, entries.idempotency_key)
        if done:
            keep = [i for i, key in enumerate(entries.idempotency_key) if key not in done]
            entries = _take(entries, keep)
        post_transfers(conn, entries)
    return len(new_payouts)


def _payout_candidates(conn, open_payouts: pd.DataFrame) -> pd.DataFrame:
    """The undecided incoming bank lines that can receive one of `open_payouts`: the same currency
    and amount, booked in the payout's window (what `link_payouts` requires of a candidate), so
    the night does not read every undecided line to find a few payouts."""
    lines, m = schema.normalized_lines, schema.matches
    amounts = sorted({abs(a) for a in open_payouts["amount"]})
    first = min(open_payouts["booking_date"])
    last = max(open_payouts["booking_date"]) + timedelta(days=PAYOUT_WINDOW_DAYS)
    parts = []
    for start in range(0, len(amounts), _AMOUNTS_PER_QUERY):
        parts.append(_frame(
            conn,
            select(lines.c.line_id, lines.c.account, lines.c.booking_date, lines.c.currency, lines.c.amount,
                   lines.c.counterparty_name, lines.c.remittance)
            .outerjoin(m, m.c.line_id == lines.c.line_id)
            .where(m.c.line_id.is_(None), lines.c.record_type == "bank_line", lines.c.amount > 0,
                   lines.c.currency.in_(sorted(set(open_payouts["currency"]))),
                   lines.c.amount.in_(amounts[start : start + _AMOUNTS_PER_QUERY]),
                   lines.c.booking_date >= first, lines.c.booking_date <= last)
            .order_by(lines.c.line_id),
        ))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _post_fees(conn, summary: SettlementSummary) -> None:
    """The provider fees with no journal entry yet, posted in chunks as they stream in."""
    lines, j = schema.normalized_lines, schema.journal_entries
    key = literal("fee:") + lines.c.line_id
    query = (
        select(lines.c.line_id, lines.c.source_format, lines.c.currency, lines.c.amount, lines.c.booking_date, lines.c.remittance)
        .outerjoin(j, j.c.idempotency_key == key)
        .where(lines.c.record_type == "fee", j.c.entry_id.is_(None))
    )
    for line_id, source_format, currency, amount, booked_on, remittance in stream_columns(conn, query):
        provider = [SOURCE_PROVIDER.get(s, s) for s in source_format]
        entries = domain.provider_fees(line_id=line_id, provider=provider, currency=currency, amount=amount, booked_on=booked_on,
                                       description=[r or "provider fee" for r in remittance])
        post_transfers(conn, entries)
        for p, c, a in zip(provider, currency, entries.amount):
            name = f"{p} {c}"
            summary.fees[name] = summary.fees.get(name, Decimal(0)) + a


def _post_taken_back(conn, summary: SettlementSummary) -> None:
    """Chargebacks and refunds with no journal entry yet, from the organization whose payment
    they name (those whose payment is not known yet wait for a later night)."""
    lines, j, cp = schema.normalized_lines, schema.journal_entries, schema.card_payments
    key = lines.c.record_type + literal(":") + lines.c.line_id
    pending = (
        select(lines.c.line_id, lines.c.record_type, lines.c.source_format, lines.c.currency, lines.c.amount, lines.c.booking_date,
               lines.c.remittance, lines.c.bank_ref, lines.c.end_to_end_id)
        .outerjoin(j, j.c.idempotency_key == key)
        .where(lines.c.record_type.in_(["chargeback", "refund"]), j.c.entry_id.is_(None))
    )
    names, columns = fetch_columns(conn, pending.order_by(lines.c.line_id))
    rows = list(zip(*columns))
    if not rows:
        return
    found = pending.subquery()
    refs = union(select(found.c.bank_ref.label("ref")), select(found.c.end_to_end_id.label("ref"))).subquery()
    _, (payment_ids, provider_refs, org_ids) = fetch_columns(
        conn,
        select(cp.c.payment_id, cp.c.provider_ref, cp.c.org_id)
        .where(or_(cp.c.payment_id.in_(select(refs.c.ref)), cp.c.provider_ref.in_(select(refs.c.ref))))
        .order_by(cp.c.payment_id),
    )
    # As before: a payment's provider reference wins over another payment's id.
    by_ref = {**dict(zip(payment_ids, org_ids)), **{r: o for r, o in zip(provider_refs, org_ids) if r is not None}}
    owned = [(r, by_ref.get(r[7]) or by_ref.get(r[8])) for r in rows]
    owned = [(r, org) for r, org in owned if org]
    if not owned:
        return
    entries = domain.chargebacks(
        line_id=[r[0] for r, _ in owned], org_id=[org for _, org in owned],
        provider=[SOURCE_PROVIDER.get(r[2], r[2]) for r, _ in owned], currency=[r[3] for r, _ in owned],
        amount=[r[4] for r, _ in owned], booked_on=[r[5] for r, _ in owned],
        description=[r[6] or r[1] for r, _ in owned], kind=[r[1] for r, _ in owned],
    )
    post_transfers(conn, entries)
    summary.chargebacks = sum(1 for k in entries.kind if k == "chargeback")
    summary.refunds = sum(1 for k in entries.kind if k == "refund")


def _take(transfers: domain.Transfers, rows: list[int]) -> domain.Transfers:
    names = ("idempotency_key", "kind", "org_id", "effective_date", "evidence", "description", "debit", "credit", "currency", "amount")
    return domain.Transfers(*([getattr(transfers, name)[i] for i in rows] for name in names))
