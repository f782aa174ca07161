"""First matching rules: an exact invoice number or a known tax ID in the payment credits the
organization; everything else is an exception with its reason.

Inputs are DataFrames (amounts as Decimal objects); the output is one decision per incoming line:
`line_id, status (matched|exception), org_id, invoice_numbers, rule, confidence, reason, suggestions`.
The matching-engine issue replaces this with blocking, scoring and review; the output shape stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from reconcilers.evidence import invoice_tokens, normalize_invoice_number, tax_id_mentions

DECISION_COLUMNS = ["line_id", "status", "org_id", "invoice_numbers", "rule", "confidence", "reason", "suggestions"]


@dataclass(frozen=True)
class Rule:
    """A matching rule: its name, the confidence it earns and the sentence that explains it."""

    name: str
    confidence: Decimal
    explanation: str

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.confidence <= Decimal(1):
            raise ValueError(f"rule {self.name}: confidence must lie in 0..1")


INVOICE_AND_TAX_ID = Rule("invoice_number+tax_id", Decimal("1.000"), "invoice number {inv} and payer tax ID belong to {org}")
INVOICE_NUMBER = Rule("invoice_number", Decimal("0.950"), "invoice number {inv} in the payment purpose belongs to {org}")
TAX_ID = Rule("tax_id", Decimal("0.900"), "payer tax ID {tax} is the organization {org}")
NO_EVIDENCE = Rule("no_evidence", Decimal("0.000"), "no invoice number or tax ID of a known organization in the payment")


def decide(
    lines: pd.DataFrame,
    organizations: pd.DataFrame,
    invoices: pd.DataFrame,
    auto_credit_threshold: Decimal = Decimal("0.90"),
) -> pd.DataFrame:
    """One decision per incoming line (amount > 0). Outgoing lines are not decided here."""
    incoming = lines[lines["amount"].map(lambda a: a > 0)]
    if incoming.empty:
        return pd.DataFrame(columns=DECISION_COLUMNS)

    open_invoices = invoices[invoices["status"] != "cancelled"].assign(
        token=lambda d: d["invoice_number"].map(normalize_invoice_number)
    )
    by_invoice = invoice_tokens(incoming).merge(open_invoices, on="token")
    by_invoice = by_invoice.merge(incoming[["line_id", "currency"]], on="line_id", suffixes=("_invoice", ""))

    by_tax = tax_id_mentions(incoming).merge(
        organizations[["org_id", "tax_id"]].dropna(subset=["tax_id"]), on="tax_id"
    )

    invoice_orgs = by_invoice.groupby("line_id")["org_id"].agg(lambda s: tuple(sorted(set(s))))
    invoice_numbers = by_invoice.groupby("line_id")["invoice_number"].agg(lambda s: ";".join(sorted(set(s))))
    currency_clash = by_invoice.loc[by_invoice["currency_invoice"] != by_invoice["currency"]].groupby("line_id")[
        "invoice_number"
    ].agg(lambda s: ";".join(sorted(set(s))))
    tax_orgs = by_tax.groupby("line_id")["org_id"].agg(lambda s: tuple(sorted(set(s))))
    tax_values = by_tax.groupby("line_id")["tax_id"].agg(lambda s: ";".join(sorted(set(s))))

    rows = []
    for line_id in incoming["line_id"]:
        inv_orgs = invoice_orgs.get(line_id, ())
        t_orgs = tax_orgs.get(line_id, ())
        numbers = invoice_numbers.get(line_id)
        rows.append(
            _decision(line_id, inv_orgs, t_orgs, numbers, tax_values.get(line_id), currency_clash.get(line_id), auto_credit_threshold)
        )
    frame = pd.DataFrame(rows, columns=DECISION_COLUMNS, dtype=object)
    return frame.where(frame.notna(), None)


def _decision(line_id, inv_orgs, tax_orgs, numbers, taxes, clash, threshold) -> dict:
    def exception(rule: str, reason: str, suggestions: str | None = None) -> dict:
        return dict(line_id=line_id, status="exception", org_id=None, invoice_numbers=numbers, rule=rule,
                    confidence=Decimal("0.000"), reason=reason, suggestions=suggestions)

    if len(inv_orgs) > 1:
        return exception("conflict", f"invoice numbers {numbers} belong to different organizations ({', '.join(inv_orgs)})", ";".join(inv_orgs))
    if len(tax_orgs) > 1:
        return exception("conflict", f"tax IDs {taxes} point to different organizations ({', '.join(tax_orgs)})", ";".join(tax_orgs))
    if inv_orgs and tax_orgs and inv_orgs != tax_orgs:
        return exception(
            "conflict",
            f"invoice {numbers} belongs to {inv_orgs[0]} but payer tax ID {taxes} is {tax_orgs[0]}",
            ";".join(inv_orgs + tax_orgs),
        )
    if inv_orgs and clash:
        return exception("currency_mismatch", f"payment currency differs from invoice {clash}", inv_orgs[0])
    if inv_orgs:
        rule = INVOICE_AND_TAX_ID if tax_orgs else INVOICE_NUMBER
        org = inv_orgs[0]
    elif tax_orgs:
        rule, org, numbers = TAX_ID, tax_orgs[0], None
    else:
        return exception(NO_EVIDENCE.name, NO_EVIDENCE.explanation)
    reason = rule.explanation.format(inv=numbers, tax=taxes, org=org)
    if rule.confidence < threshold:
        return dict(exception("below_threshold", f"{reason}, but confidence {rule.confidence} is below the auto-credit threshold {threshold}", org))
    return dict(line_id=line_id, status="matched", org_id=org, invoice_numbers=numbers, rule=rule.name,
                confidence=rule.confidence, reason=reason, suggestions=None)
