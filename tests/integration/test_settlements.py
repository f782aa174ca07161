"""Three-way reconciliation end to end, on SQLite and PostgreSQL: the platform's card payments, a
Stripe itemized balance report, and the bank statement that received the payout are linked; fees
are booked and reported; a chargeback takes the money back and is flagged; a payment missing from
the settlement is flagged once its business days run out."""

import csv
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import func, select

from ledger import schema
from payrecon.demo import write_demo_files
from payrecon.services.imports import import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.notifications import current_flags
from payrecon.services.reconcile import reconcile
from reconcilers.plan import MatchPlan
from payrecon.services.reports import build_reports, current_delays
from payrecon.workspace import Workspace

PAYMENTS = [  # payment_id, org, provider_ref (Stripe payment intent), paid_at, amount EUR
    ("card-001", "org-0010", "pi_001", "2026-11-09T10:00:00+00:00", "1250.00"),
    ("card-002", "org-0010", "pi_002", "2026-11-09T11:30:00+00:00", "89.90"),
    ("card-003", "org-0007", "pi_003", "2026-11-10T09:00:00+00:00", "400.00"),
    ("card-004", "org-0003", "pi_004", "2026-11-10T15:45:00+00:00", "75.00"),  # Stripe never settles it
]
STRIPE_HEADER = ["balance_transaction_id", "created_utc", "available_on_utc", "currency", "gross", "fee", "net", "reporting_category",
                 "source_id", "description", "automatic_payout_id", "automatic_payout_effective_at_utc", "charge_id", "payment_intent_id"]


def stripe_rows():
    rows, net = [], Decimal(0)
    for n, (payment, org, intent, paid_at, amount) in enumerate(PAYMENTS[:3], start=1):
        fee = (Decimal(amount) * Decimal("0.029") + Decimal("0.25")).quantize(Decimal("0.01"))
        created = paid_at[:19].replace("T", " ")
        rows.append([f"txn_{n:03d}", created, "2026-11-12 00:00:00", "eur", amount, str(fee), str(Decimal(amount) - fee), "charge",
                     f"ch_{n:03d}", f"Top-up {org}", "po_777", "2026-11-13 00:00:00", f"ch_{n:03d}", intent])
        net += Decimal(amount) - fee
    # The holder of card-002 disputes it: Stripe takes 89.90 back and charges 15.00.
    rows.append(["txn_004", "2026-11-11 14:30:00", "2026-11-11 14:30:00", "eur", "-89.90", "15.00", "-104.90", "dispute",
                 "du_002", "Chargeback withdrawal for ch_002", "po_777", "2026-11-13 00:00:00", "ch_002", "pi_002"])
    net += Decimal("-104.90")
    # card-003's owner asked for 100.00 back: a refund without fee.
    rows.append(["txn_006", "2026-11-12 10:00:00", "2026-11-12 10:00:00", "eur", "-100.00", "0.00", "-100.00", "refund",
                 "re_003", "REFUND FOR CHARGE", "po_777", "2026-11-13 00:00:00", "ch_003", "pi_003"])
    net += Decimal("-100.00")
    rows.append(["txn_005", "2026-11-13 00:00:00", "2026-11-13 00:00:00", "eur", str(-net), "0.00", str(-net), "payout",
                 "po_777", "STRIPE PAYOUT", "po_777", "2026-11-13 00:00:00", "", ""])
    return rows, net


@pytest.fixture
def workspace(workspace_env, tmp_path):
    workspace = Workspace(workspace_env)
    paths = write_demo_files(tmp_path / "demo")
    import_export(workspace.engine, workspace.raw_store, "organizations", paths["organizations"])
    cards = tmp_path / "card_payments.csv"
    with open(cards, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["payment_id", "org_id", "provider", "provider_ref", "paid_at", "currency", "amount"])
        writer.writerows([[p, o, "stripe", ref, at, "EUR", a] for p, o, ref, at, a in PAYMENTS])
    import_export(workspace.engine, workspace.raw_store, "card-payments", cards)
    return workspace


def test_payments_settlements_payout_and_bank_are_linked(workspace, tmp_path):
    rows, net = stripe_rows()
    report = tmp_path / "balance_change_from_activity.itemized.2026-11.csv"
    with open(report, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([STRIPE_HEADER, *rows])
    statement = tmp_path / "privat24_eur.csv"
    statement.write_bytes((
        "ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;Рахунок кореспондента;"
        "ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу\r\n"
        f"43128765;305299;UA213052990000026007233566001;EUR;9001;16.11.2026;;CITIBANK EUROPE;IE29CITI99005112345678;;"
        f"STRIPE PAYMENTS EUROPE LTD;{str(net).replace('.', ',')};STRIPE PAYOUT po_777\r\n"
    ).encode("cp1251"))
    outcomes = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [report, statement])
    assert [o.source for o in outcomes] == ["stripe", "privat24_csv"]
    assert outcomes[0].flags == []  # the payout equals the sum of its batch
    summary = reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings), date(2026, 11, 16))
    settled = summary.settlements
    assert (settled.payments_settled, settled.payouts_received, settled.chargebacks, settled.refunds) == (3, 1, 1, 1)
    assert settled.fees == {"stripe EUR": Decimal("36.50") + Decimal("2.86") + Decimal("11.85") + Decimal("15.00")}
    # The payout's bank line is not a customer payment: nothing to match, no exception.
    assert summary.lines_decided == 0 and summary.credits == 0

    j, p = schema.journal_entries, schema.postings
    with workspace.engine.connect() as conn:
        links = dict(conn.execute(select(schema.settlement_links.c.payment_id, schema.settlement_links.c.line_id)).all())
        balances = dict(conn.execute(select(p.c.account, func.sum(p.c.amount)).group_by(p.c.account)).all())
        match = conn.execute(select(schema.matches.c.status, schema.matches.c.rule)).one()
    assert sorted(links) == ["card-001", "card-002", "card-003"]
    assert tuple(match) == ("payout", "provider_payout")
    # Card top-ups put 1814.90 into clearing; fees, the chargeback and the payout took it out;
    # what is left is exactly the payment Stripe never settled.
    assert balances["clearing:stripe"] == Decimal("75.00")
    assert balances["fees:stripe"] == Decimal("66.21")
    assert balances["bank:UA213052990000026007233566001"] == net
    assert balances["customer:org-0010"] == Decimal("-1250.00")  # 1339.90 credited, 89.90 charged back
    assert balances["customer:org-0007"] == Decimal("-300.00")  # 400.00 credited, 100.00 refunded

    late = current_delays(workspace.engine, date(2026, 11, 16), workspace.settings.calendar, 3, 2, 3)
    assert late[["kind", "ref", "age_business_days"]].values.tolist() == [["card_settlement", "card-004", 4]]
    reasons = [f.reason for f in current_flags(workspace.engine, date(2026, 11, 16), workspace.settings.calendar)]
    assert any("chargeback of -89.90 EUR on payment pi_002: taken back from org-0010's balance" in r for r in reasons)
    assert any("card-004: 75.00 EUR not settled by the provider for 4 business days" in r for r in reasons)

    build_reports(workspace.engine, workspace.report_store, date(2026, 11, 16), 14)
    activity = pd.read_parquet(workspace.settings.reports_url + "/provider_activity")
    fees = activity[activity["record_type"] == "fee"]
    assert sum(fees["amount"], Decimal(0)) == Decimal("-66.21")
    assert set(activity["record_type"]) == {"settlement", "fee", "chargeback", "refund", "payout"}

    again = reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings), date(2026, 11, 16)).settlements
    assert (again.payments_settled, again.payouts_received, again.chargebacks, again.fees) == (0, 0, 0, {})
