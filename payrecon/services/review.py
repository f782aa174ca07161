"""Manual review of payments the matcher was not sure about: what a reviewer sees, and applying
their decision, exactly once, with an audit trail (who, when, what, why).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

import pandas as pd

from ledger import domain, schema
from ledger.repository import insert_ignore, post_entries
from payrecon.services.reconcile import one_run_at_a_time, open_invoices, set_invoice_status, store_learned
from reconcilers.learning import learn_from_confirmed

ACTIONS = ("credit", "suspense")


class ReviewError(ValueError):
    """A decision that cannot be applied (unknown line or organization, already decided)."""


@dataclass(frozen=True)
class ReviewCase:
    line_id: str
    amount: Decimal
    currency: str
    booking_date: str
    counterparty_name: str | None
    counterparty_account: str | None
    counterparty_tax_id: str | None
    remittance: str | None
    status: str
    reason: str
    suggestions: list[dict]

    def markdown(self) -> str:
        lines = [
            f"## Payment of {self.amount} {self.currency} on {self.booking_date}",
            "",
            f"- Payer: {self.counterparty_name or '?'} (account {self.counterparty_account or '?'}, tax ID {self.counterparty_tax_id or '?'})",
            f"- Purpose: {self.remittance or ''}",
            f"- Why it waits: {self.reason}",
            "",
            "| rank | organization | invoices | confidence | why |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {n} | {s.get('org_id')} | {s.get('invoice_numbers') or ''} | {s.get('confidence', '')} | {s.get('reason', '')} |"
            for n, s in enumerate(self.suggestions, start=1)
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class Decision:
    action: str  # credit | suspense
    org_id: str | None
    invoice_numbers: str | None
    decided_by: str
    comment: str = ""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ReviewError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        if self.action == "credit" and not self.org_id:
            raise ReviewError("a credit needs the organization (org_id)")
        if not self.decided_by.strip():
            raise ReviewError("a decision needs the reviewer's name (decided_by)")


def _suggestions(raw: str | None) -> list[dict]:
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        return [{"org_id": org} for org in raw.split(";") if org]
    return parsed if isinstance(parsed, list) else []


def review_case(engine: Engine, line_id: str) -> ReviewCase:
    lines, m = schema.normalized_lines, schema.matches
    with engine.connect() as conn:
        row = conn.execute(
            select(lines, m.c.status, m.c.reason, m.c.suggestions).join(m, m.c.line_id == lines.c.line_id).where(lines.c.line_id == line_id)
        ).one_or_none()
    if row is None:
        raise ReviewError(f"no decided payment with line_id {line_id!r}")
    return ReviewCase(
        line_id=row.line_id, amount=row.amount, currency=row.currency, booking_date=row.booking_date.isoformat(),
        counterparty_name=row.counterparty_name, counterparty_account=row.counterparty_account,
        counterparty_tax_id=row.counterparty_tax_id, remittance=row.remittance, status=row.status, reason=row.reason,
        suggestions=_suggestions(row.suggestions),
    )


def open_reviews(engine: Engine) -> list[str]:
    """Payments waiting for a person: exceptions and review suggestions not yet decided."""
    m = schema.matches
    with engine.connect() as conn:
        return list(conn.execute(select(m.c.line_id).where(m.c.status.in_(["exception", "review"])).order_by(m.c.decided_at)).scalars())


def apply_decision(engine: Engine, line_id: str, decision: Decision, flow_run_id: str | None = None) -> str:
    """Record the decision and carry it out in one transaction; a payment is decided once."""
    lines, m = schema.normalized_lines, schema.matches
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        one_run_at_a_time(conn)  # a manual credit allocates invoices too: never beside a crediting run
        line = conn.execute(select(lines).where(lines.c.line_id == line_id)).one_or_none()
        match = conn.execute(select(m).where(m.c.line_id == line_id).with_for_update()).one_or_none()
        if line is None or match is None:
            raise ReviewError(f"no decided payment with line_id {line_id!r}")
        if match.status in ("matched", "suspense"):
            raise ReviewError(f"payment {line_id} was already decided ({match.status}, {match.reason})")
        invoices = None
        if decision.action == "credit":
            org = conn.execute(select(schema.organizations).where(schema.organizations.c.org_id == decision.org_id)).one_or_none()
            if org is None:
                raise ReviewError(f"organization {decision.org_id!r} not found")
            invoices = _own_invoices(conn, decision)
        conn.execute(insert(schema.review_decisions).values(
            line_id=line_id, action=decision.action, org_id=decision.org_id if decision.action == "credit" else None,
            invoice_numbers=invoices, decided_by=decision.decided_by, comment=decision.comment, decided_at=now, flow_run_id=flow_run_id,
        ))
        reason = f"decided by {decision.decided_by}" + (f": {decision.comment}" if decision.comment else "")
        conn.execute(update(m).where(m.c.line_id == line_id).values(
            status="matched" if decision.action == "credit" else "suspense",
            org_id=decision.org_id if decision.action == "credit" else None,
            invoice_numbers=invoices, rule="manual", confidence=Decimal("1.000"), reason=reason, decided_at=now,
        ))
        if decision.action == "suspense":
            return f"{line_id}: kept in suspense ({reason})"
        entry = domain.bank_credit(line_id=line_id, org_id=decision.org_id, account=line.account, currency=line.currency,
                                   amount=line.amount, booked_on=line.booking_date, description=f"manual: {reason}")
        posted = post_entries(conn, [entry])
        if invoices:
            _allocate(conn, line_id, line.amount, invoices.split(";"), now)
        _learn(conn, line, decision.org_id, now)
    return f"{line_id}: credited {line.amount} {line.currency} to {decision.org_id}" + ("" if posted else " (the credit existed already)")


def _own_invoices(conn, decision: Decision) -> str | None:
    if not decision.invoice_numbers:
        return None
    numbers = [n.strip() for n in decision.invoice_numbers.replace(",", ";").split(";") if n.strip()]
    owners = dict(conn.execute(select(schema.invoices.c.invoice_number, schema.invoices.c.org_id)
                               .where(schema.invoices.c.invoice_number.in_(numbers))).all())
    wrong = [n for n in numbers if owners.get(n) != decision.org_id]
    if wrong:
        raise ReviewError(f"invoice(s) {', '.join(wrong)} do not belong to {decision.org_id}")
    return ";".join(sorted(numbers))


def _allocate(conn, line_id: str, amount: Decimal, numbers: list[str], stamp) -> None:
    """The reviewer named the invoices: the payment settles them oldest due first, each up to what
    it still asks; what is left stays on the prepaid balance."""
    open_ = open_invoices(conn)
    open_ = open_[open_["invoice_number"].isin(numbers)].sort_values(["due_on", "invoice_number"], na_position="last")
    rows, statuses, left = [], {}, amount
    for inv in open_.itertuples():
        asks = inv.amount - inv.amount_paid
        take = min(left, asks)
        if take <= 0:
            continue
        rows.append({"line_id": line_id, "invoice_number": inv.invoice_number, "amount": take, "settles": "manual", "allocated_at": stamp})
        statuses[inv.invoice_number] = "paid" if take == asks else "partially_paid"
        left -= take
    insert_ignore(conn, schema.invoice_allocations, rows)
    set_invoice_status(conn, statuses)


def _learn(conn, line, org_id: str, stamp) -> None:
    """A confirmed payment teaches the payer's account and name for that organization."""
    learned = learn_from_confirmed(
        pd.DataFrame([dict(line._mapping)]),
        pd.DataFrame({"line_id": [line.line_id], "org_id": [org_id]}),
        pd.DataFrame(conn.execute(select(schema.organizations)).mappings().all()),
        pd.DataFrame(conn.execute(select(schema.organization_ibans)).mappings().all(), columns=["org_id", "iban", "origin"]),
        pd.DataFrame(conn.execute(select(schema.organization_names.c.org_id, schema.organization_names.c.name)).mappings().all(),
                     columns=["org_id", "name"]),
    )
    store_learned(conn, learned, stamp)
