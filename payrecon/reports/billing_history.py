"""The billing history a customer sees: debits by day and media channel, and top-ups, for a period.

The same figures as the billing-history API (PRODUCT.md): usage and subscription debits from the
billing system, credits from the ledger, and the balance at both ends of the period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine, and_, func, select

from ledger import schema
from ledger.domain import customer_account
from ledger.types import money_text


class UnknownOrganization(LookupError):
    def __str__(self) -> str:
        return f"organization {self.args[0]!r} not found (import organizations first)"


def billing_history(engine: Engine, org_id: str, start: date, end: date) -> dict:
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    u, j, p = schema.usage_debits, schema.journal_entries, schema.postings
    lines, cards, m = schema.normalized_lines, schema.card_payments, schema.matches
    with engine.connect() as conn:
        org = conn.execute(select(schema.organizations).where(schema.organizations.c.org_id == org_id)).one_or_none()
        if org is None:
            raise UnknownOrganization(org_id)
        debits = conn.execute(
            select(u.c.date, u.c.channel, u.c.quantity, u.c.currency, u.c.amount)
            .where(u.c.org_id == org_id, u.c.date.between(start, end))
            .order_by(u.c.date, u.c.channel)
        ).all()
        fees = conn.execute(
            select(j.c.effective_date, p.c.currency, p.c.amount)
            .join(p, and_(p.c.entry_id == j.c.entry_id, p.c.account == customer_account(org_id)))
            .where(j.c.org_id == org_id, j.c.kind == "subscription", j.c.effective_date.between(start, end))
        ).all()
        debits = sorted(
            [tuple(d) for d in debits] + [(day, "subscription", 1, currency, amount) for day, currency, amount in fees],
            key=lambda d: (d[0], d[1]),
        )
        top_ups = conn.execute(
            select(
                j.c.effective_date, j.c.kind, -p.c.amount, p.c.currency, j.c.status,
                func.coalesce(lines.c.bank_ref, cards.c.provider_ref), func.coalesce(lines.c.source_format, cards.c.provider),
                m.c.invoice_numbers,
            )
            .join(p, and_(p.c.entry_id == j.c.entry_id, p.c.account == customer_account(org_id)))
            .outerjoin(lines, and_(j.c.kind == "credit", lines.c.line_id == j.c.evidence))
            .outerjoin(m, and_(j.c.kind == "credit", m.c.line_id == j.c.evidence))
            .outerjoin(cards, and_(j.c.kind == "card", cards.c.payment_id == j.c.evidence))
            .where(j.c.org_id == org_id, j.c.kind.in_(["credit", "card", "receipt"]), j.c.effective_date.between(start, end))
            .order_by(j.c.effective_date, j.c.entry_id)
        ).all()

        def balance_at(day: date) -> dict[str, str]:
            rows = conn.execute(
                select(p.c.currency, func.sum(p.c.amount))
                .join(j, j.c.entry_id == p.c.entry_id)
                .where(p.c.account == customer_account(org_id), j.c.effective_date <= day)
                .group_by(p.c.currency)
            ).all()
            return {currency: _money(-total) for currency, total in rows}

        opening, closing = balance_at(start - timedelta(days=1)), balance_at(end)

    by_day: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    by_channel: dict[tuple[str, str], list] = defaultdict(lambda: [0, Decimal(0)])
    for day, channel, quantity, currency, amount in debits:
        by_day[(day, currency)] += amount
        by_channel[(channel, currency)][0] += quantity
        by_channel[(channel, currency)][1] += amount
    return {
        "org_id": org.org_id,
        "name": org.name,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "debits": [
            {"date": d.isoformat(), "channel": ch, "quantity": q, "currency": cur, "amount": _money(a)}
            for d, ch, q, cur, a in debits
        ],
        "debits_by_day": [{"date": d.isoformat(), "currency": cur, "amount": _money(a)} for (d, cur), a in sorted(by_day.items())],
        "debits_by_channel": [
            {"channel": ch, "currency": cur, "quantity": q, "amount": _money(a)} for (ch, cur), (q, a) in sorted(by_channel.items())
        ],
        "top_ups": [
            {"date": d.isoformat(), "kind": kind, "amount": _money(a), "currency": cur, "status": status, "reference": ref,
             "source": source, "invoice_numbers": invoices}
            for d, kind, a, cur, status, ref, source, invoices in top_ups
        ],
        "opening_balance": opening,
        "closing_balance": closing,
    }


_money = money_text


def as_table(history: dict) -> str:
    """A plain-text view: one row per day, one column per channel, then the top-ups."""
    channels = sorted({d["channel"] for d in history["debits"]})
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    for debit in history["debits"]:
        cells[debit["date"]][debit["channel"]] = debit["amount"]
    totals = {(d["date"]): d["amount"] for d in history["debits_by_day"]}
    header = ["date", *channels, "total"]
    rows = [[day, *[cells[day].get(ch, "") for ch in channels], totals.get(day, "")] for day in sorted(cells)]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = [f"{history['name']} ({history['org_id']}), {history['from']} .. {history['to']}", ""]
    out += ["  ".join(str(v).rjust(w) for v, w in zip(r, widths)) for r in [header, *rows]]
    out += ["", "top-ups:"]
    out += [f"  {t['date']}  {t['amount']} {t['currency']}  {t['source']} {t['reference'] or ''}  {t['invoice_numbers'] or ''}".rstrip()
            for t in history["top_ups"]] or ["  none"]
    out += ["", f"balance: {history['opening_balance']} -> {history['closing_balance']}"]
    return "\n".join(out)
