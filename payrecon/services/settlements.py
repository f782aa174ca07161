"""Reconcile card and PayPal money three ways and book it: settlement rows prove the platform's
payments, payouts are matched to the bank lines that received them, fees post to their own
accounts, chargebacks and refunds take the money back from the organization (chargebacks are
flagged to finance).

Runs inside the reconcile transaction, before customer matching, so a bank line that is a
provider's payout is never mistaken for a customer's payment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from sqlalchemy import select

from ledger import domain, schema
from ledger.repository import existing_keys, insert_ignore, now, post_entries
from reconcilers.settlements import SOURCE_PROVIDER, link_payments, link_payouts, payouts

SETTLEMENT_TYPES = ("settlement", "fee", "refund", "chargeback", "payout")


@dataclass
class SettlementSummary:
    payments_settled: int = 0
    payouts_received: int = 0
    fees: dict[str, Decimal] = field(default_factory=dict)  # "provider currency" -> total fees posted now
    chargebacks: int = 0
    refunds: int = 0


def _frame(conn, query) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def reconcile_settlements(conn) -> SettlementSummary:
    summary = SettlementSummary()
    lines, links, plinks, m = schema.normalized_lines, schema.settlement_links, schema.payout_links, schema.matches
    rows = _frame(conn, select(lines).where(lines.c.record_type.in_(SETTLEMENT_TYPES)))
    if rows.empty:
        return summary
    stamp = now()

    linked = set(conn.execute(select(links.c.payment_id)).scalars())
    payments = _frame(conn, select(schema.card_payments))
    payments = payments[~payments["payment_id"].isin(linked)]
    taken = set(conn.execute(select(links.c.line_id)).scalars())
    new_links = link_payments(payments, rows[~rows["line_id"].isin(taken)])
    insert_ignore(conn, links, [{**r, "linked_at": stamp} for r in new_links.to_dict("records")])
    summary.payments_settled = len(new_links)

    received = set(conn.execute(select(plinks.c.payout_line_id)).scalars())
    open_payouts = payouts(rows)
    open_payouts = open_payouts[~open_payouts["line_id"].isin(received)]
    bank = _frame(
        conn,
        select(lines).outerjoin(m, m.c.line_id == lines.c.line_id)
        .where(m.c.line_id.is_(None), lines.c.record_type == "bank_line", lines.c.amount > 0),
    )
    new_payouts = link_payouts(open_payouts, bank)
    insert_ignore(conn, plinks, [{**r, "linked_at": stamp} for r in new_payouts.to_dict("records")])
    insert_ignore(conn, m, [
        {"line_id": r.bank_line_id, "status": "payout", "org_id": None, "invoice_numbers": None, "rule": "provider_payout",
         "confidence": Decimal("1.000"), "reason": f"payout {r.payout_line_id} of the provider", "suggestions": None, "decided_at": stamp}
        for r in new_payouts.itertuples()
    ])
    summary.payouts_received = len(new_payouts)

    entries = []
    bank_by_id = bank.set_index("line_id") if not bank.empty else None
    payout_by_id = open_payouts.set_index("line_id") if not open_payouts.empty else None
    for r in new_payouts.itertuples():
        payout, line = payout_by_id.loc[r.payout_line_id], bank_by_id.loc[r.bank_line_id]
        entries.append(domain.payout_received(payout_line_id=r.payout_line_id, bank_line_id=r.bank_line_id, provider=payout["provider"],
                                              account=line["account"], currency=line["currency"], amount=line["amount"], booked_on=line["booking_date"]))
    for r in rows[rows["record_type"] == "fee"].itertuples():
        provider = SOURCE_PROVIDER.get(r.source_format, r.source_format)
        entries.append(domain.provider_fee(line_id=r.line_id, provider=provider, currency=r.currency, amount=r.amount,
                                           booked_on=r.booking_date, description=r.remittance or "provider fee"))
    taken_back = rows[rows["record_type"].isin(["chargeback", "refund"])]
    owners = _chargeback_owners(conn, taken_back)
    for r in taken_back.itertuples():
        org = owners.get(r.line_id)
        if org:
            entries.append(domain.chargeback(line_id=r.line_id, org_id=org, provider=SOURCE_PROVIDER.get(r.source_format, r.source_format),
                                             currency=r.currency, amount=r.amount, booked_on=r.booking_date,
                                             description=r.remittance or r.record_type, kind=r.record_type))
    already = existing_keys(conn, schema.journal_entries.c.idempotency_key, (e.idempotency_key for e in entries))
    new = [e for e in entries if e.idempotency_key not in already]
    post_entries(conn, new)
    for entry in new:
        if entry.kind == "fee":
            fee = entry.postings[0]
            key = f"{fee.account.split(':', 1)[1]} {fee.currency}"
            summary.fees[key] = summary.fees.get(key, Decimal(0)) + fee.amount
    summary.chargebacks = sum(1 for e in new if e.kind == "chargeback")
    summary.refunds = sum(1 for e in new if e.kind == "refund")
    return summary


def _chargeback_owners(conn, chargebacks: pd.DataFrame) -> dict[str, str]:
    """The organization a chargeback hits: the platform payment whose reference it carries."""
    if chargebacks.empty:
        return {}
    payments = _frame(conn, select(schema.card_payments.c.payment_id, schema.card_payments.c.provider_ref, schema.card_payments.c.org_id))
    by_ref = {**dict(zip(payments["payment_id"], payments["org_id"])), **dict(zip(payments["provider_ref"].dropna(), payments["org_id"]))}
    owners = {}
    for r in chargebacks.itertuples():
        org = by_ref.get(r.bank_ref) or by_ref.get(r.end_to_end_id)
        if org:
            owners[r.line_id] = org
    return owners
