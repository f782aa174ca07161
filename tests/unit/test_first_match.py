from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from reconcilers.first_match import Rule, decide

ORGS = pd.DataFrame(
    [
        {"org_id": "sonyachna", "tax_id": "45723015"},
        {"org_id": "kyiv-market", "tax_id": "38291406"},
        {"org_id": "fop", "tax_id": None},
    ]
)
INVOICES = pd.DataFrame(
    [
        {"invoice_number": "2026-00101", "org_id": "sonyachna", "currency": "UAH", "amount": Decimal("1500.00"), "status": "open"},
        {"invoice_number": "2026-00102", "org_id": "kyiv-market", "currency": "UAH", "amount": Decimal("2400.00"), "status": "open"},
        {"invoice_number": "2026-00103", "org_id": "kyiv-market", "currency": "USD", "amount": Decimal("100.00"), "status": "open"},
        {"invoice_number": "2026-00104", "org_id": "sonyachna", "currency": "UAH", "amount": Decimal("100.00"), "status": "cancelled"},
    ]
)


def lines(*rows):
    return pd.DataFrame(
        [
            {"line_id": lid, "amount": Decimal(amount), "currency": cur, "remittance": text, "counterparty_tax_id": tax,
             "booking_date": date(2026, 11, 20)}
            for lid, amount, cur, text, tax in rows
        ]
    )


def by_line(decisions):
    return {r["line_id"]: r for r in decisions.to_dict("records")}


def test_each_rule_and_each_refusal():
    decisions = by_line(
        decide(
            lines(
                ("inv", "1500.00", "UAH", "Оплата за рахунком № 2026-00101 від 12.11.2026", None),
                ("inv+tax", "1500.00", "UAH", "рах.2026-00101", "45723015"),
                ("tax", "5000.00", "UAH", "Поповнення балансу", "38291406"),
                ("tax-in-text", "5000.00", "UAH", "Поповнення, ЄДРПОУ 38291406", None),
                ("conflict", "3600.00", "UAH", "Оплата за рахунком № 2026-00101", "38291406"),
                ("two-orgs", "3900.00", "UAH", "рахунки 2026-00101, 2026-00102", None),
                ("currency", "100.00", "UAH", "invoice 2026-00103", None),
                ("cancelled", "100.00", "UAH", "invoice 2026-00104", None),
                ("nothing", "780.00", "UAH", "Поповнення рахунку", "99999999"),
                ("outgoing", "-45.00", "UAH", "Комісія банку, рахунок 2026-00101", None),
            ),
            ORGS,
            INVOICES,
        )
    )
    assert "outgoing" not in decisions
    assert decisions["inv"]["status"] == "matched" and decisions["inv"]["org_id"] == "sonyachna"
    assert decisions["inv"]["rule"] == "invoice_number" and decisions["inv"]["invoice_numbers"] == "2026-00101"
    assert decisions["inv+tax"]["rule"] == "invoice_number+tax_id" and decisions["inv+tax"]["confidence"] == Decimal("1.000")
    assert decisions["tax"]["org_id"] == "kyiv-market" and decisions["tax"]["rule"] == "tax_id"
    assert decisions["tax-in-text"]["org_id"] == "kyiv-market"
    for refused in ("conflict", "two-orgs", "currency", "cancelled", "nothing"):
        assert decisions[refused]["status"] == "exception", refused
        assert decisions[refused]["org_id"] is None, refused
    assert "belongs to sonyachna but payer tax ID 38291406 is kyiv-market" in decisions["conflict"]["reason"]
    assert decisions["two-orgs"]["rule"] == "conflict"
    assert decisions["currency"]["rule"] == "currency_mismatch"
    assert decisions["nothing"]["rule"] == "no_evidence"


def test_a_higher_threshold_sends_tax_id_matches_to_exceptions():
    decisions = by_line(decide(lines(("tax", "5000.00", "UAH", "", "38291406")), ORGS, INVOICES, Decimal("0.95")))
    assert decisions["tax"]["status"] == "exception" and decisions["tax"]["rule"] == "below_threshold"
    assert decisions["tax"]["suggestions"] == "kyiv-market"


def test_no_incoming_lines_gives_no_decisions():
    assert decide(lines(("out", "-1.00", "UAH", "x", None)), ORGS, INVOICES).empty


def test_rules_are_validated_when_built():
    with pytest.raises(ValueError, match="confidence must lie in 0..1"):
        Rule("silly", Decimal("1.5"), "")
