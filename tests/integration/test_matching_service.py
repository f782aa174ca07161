"""The matching engine behind the service, against the real ledger (SQLite and PostgreSQL), over two
nights of real Privat24 statements: one payment for two invoices, two payments for one invoice,
a payer account learned on the first night that identifies the payer on the second, a review with
ranked suggestions, and the datasets that carry confidence, rule and suggestions."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ledger import schema
from payrecon.demo import _PRIVAT24_HEADER, OUR_EDRPOU, OUR_IBAN
from payrecon.reports import views
from payrecon.services.imports import import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.reconcile import reconcile
from payrecon.services.review import Decision, apply_decision
from payrecon.workspace import Workspace
from reconcilers.evidence import edrpou_with_check_digit, make_iban
from reconcilers.plan import MatchPlan

DAY = date(2026, 11, 20)
ROMASHKA_TAX = edrpou_with_check_digit("4411220")
ROMASHKA_IBAN = make_iban("UA", "305299" + "0000026001111111111")
ROMASHKA_NEW_IBAN = make_iban("UA", "322001" + "0000026002222222222")  # an account it has not paid from before
KOVAL_TAX = "3012409877"
KOVAL_IBAN = make_iban("UA", "300465" + "0000026203333333333")
STRANGER_IBAN = make_iban("UA", "380805" + "0000026004444444444")


def _write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _statement(path, rows):
    with open(path, "w", encoding="cp1251", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(_PRIVAT24_HEADER)
        for doc, (day, iban, tax, name, amount, purpose) in enumerate(rows, start=7100):
            writer.writerow([OUR_EDRPOU, "305299", OUR_IBAN, "UAH", str(doc), day.strftime("%d.%m.%Y"), "305299",
                             "АТ КБ «ПРИВАТБАНК»", iban, tax, name, amount, purpose])
    return path


@pytest.fixture
def books(workspace_env, tmp_path):
    workspace = Workspace(workspace_env)
    orgs = tmp_path / "organizations.csv"
    _write_csv(orgs, ["org_id", "name", "legal_name", "tax_id", "ibans", "currency", "notify_emails"], [
        ["org-rom", "Ромашка", "ТОВ «Ромашка»", ROMASHKA_TAX, ROMASHKA_IBAN, "UAH", "billing@romashka.ua"],
        ["org-kov", "ФОП Коваль", "ФОП Коваль Петро Іванович", KOVAL_TAX, KOVAL_IBAN, "UAH", ""],
        ["org-sun", "Сонях", "ТОВ «Сонях Агро»", edrpou_with_check_digit("4411330"), "", "UAH", ""],
    ])
    invoices = tmp_path / "invoices.csv"
    _write_csv(invoices, ["invoice_number", "org_id", "issued_on", "due_on", "currency", "amount", "status"], [
        ["2026-00301", "org-rom", "2026-11-02", "2026-11-12", "UAH", "1000.00", "open"],
        ["2026-00302", "org-rom", "2026-11-05", "2026-11-15", "UAH", "500.00", "open"],
        ["2026-00303", "org-kov", "2026-11-06", "2026-11-16", "UAH", "2000.00", "open"],
        ["2026-00304", "org-sun", "2026-11-07", "2026-11-17", "UAH", "300.00", "open"],
    ])
    import_export(workspace.engine, workspace.raw_store, "organizations", orgs)
    import_export(workspace.engine, workspace.raw_store, "invoices", invoices)
    return workspace, tmp_path


def _night(workspace, path, day):
    ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [path])
    return reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings), day)


def _decisions(workspace):
    m, lines = schema.matches, schema.normalized_lines
    with workspace.engine.connect() as conn:
        rows = conn.execute(select(lines.c.remittance, m.c.status, m.c.org_id, m.c.invoice_numbers, m.c.rule, m.c.confidence, m.c.suggestions, m.c.reason)
                            .join(m, m.c.line_id == lines.c.line_id)).all()
    return {r.remittance: r for r in rows}


def _invoice_state(workspace):
    inv, alloc = schema.invoices, schema.invoice_allocations
    with workspace.engine.connect() as conn:
        status = dict(conn.execute(select(inv.c.invoice_number, inv.c.status)).all())
        paid: dict[str, Decimal] = {}
        for number, amount in conn.execute(select(alloc.c.invoice_number, alloc.c.amount)).all():
            paid[number] = paid.get(number, Decimal(0)) + amount
    return status, paid


def test_two_nights_of_payments_settle_invoices_learn_and_ask(books):
    workspace, folder = books
    first = _night(workspace, _statement(folder / "night1.csv", [
        (DAY, ROMASHKA_IBAN, ROMASHKA_TAX, "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «РОМАШКА»", "1500,00",
         "Оплата за рахунками № 2026-00301, 2026-00302 від 05.11.2026, у т.ч. ПДВ"),
        (DAY, KOVAL_IBAN, KOVAL_TAX, "ФОП КОВАЛЬ ПЕТРО ІВАНОВИЧ", "800,00", "Часткова оплата рах. №2026-00303"),
        (DAY, ROMASHKA_NEW_IBAN, ROMASHKA_TAX, "TOV ROMASHKA LLC", "700,00", "Поповнення балансу"),
        (DAY, STRANGER_IBAN, "", "ГРОМАДЯНИН ШЕВЧЕНКО", "300,00", "Оплата за послуги"),
    ]), DAY)
    assert first.credits == 3 and first.exceptions + first.reviews == 1 and first.lines_decided == 4
    decided = _decisions(workspace)
    both = decided["Оплата за рахунками № 2026-00301, 2026-00302 від 05.11.2026, у т.ч. ПДВ"]
    assert (both.status, both.org_id, both.invoice_numbers) == ("matched", "org-rom", "2026-00301;2026-00302")
    assert both.confidence >= Decimal("0.95") and both.rule
    part = decided["Часткова оплата рах. №2026-00303"]
    assert (part.status, part.org_id, part.invoice_numbers) == ("matched", "org-kov", "2026-00303")
    topup = decided["Поповнення балансу"]
    assert (topup.status, topup.org_id, topup.invoice_numbers) == ("matched", "org-rom", None)
    stranger = decided["Оплата за послуги"]
    assert stranger.status in ("exception", "review") and stranger.org_id is None

    status, paid = _invoice_state(workspace)
    assert status == {"2026-00301": "paid", "2026-00302": "paid", "2026-00303": "partially_paid", "2026-00304": "open"}
    assert paid == {"2026-00301": Decimal("1000.00"), "2026-00302": Decimal("500.00"), "2026-00303": Decimal("800.00")}
    with workspace.engine.connect() as conn:
        learned = set(conn.execute(select(schema.organization_ibans.c.org_id, schema.organization_ibans.c.iban)
                                   .where(schema.organization_ibans.c.origin == "learned")).all())
    assert ("org-rom", ROMASHKA_NEW_IBAN) in learned

    # Night two: the rest of 2026-00303, and the account learned last night pays with nothing else.
    second = _night(workspace, _statement(folder / "night2.csv", [
        (DAY + timedelta(days=1), KOVAL_IBAN, KOVAL_TAX, "ФОП КОВАЛЬ ПЕТРО ІВАНОВИЧ", "1200,00", "Доплата за рахунком 2026-00303"),
        (DAY + timedelta(days=1), ROMASHKA_NEW_IBAN, "", "TOV ROMASHKA LLC", "250,00", "Top-up"),
    ]), DAY + timedelta(days=1))
    assert second.credits == 2 and second.lines_decided == 2
    decided = _decisions(workspace)
    assert (decided["Доплата за рахунком 2026-00303"].org_id, decided["Доплата за рахунком 2026-00303"].invoice_numbers) == ("org-kov", "2026-00303")
    assert decided["Top-up"].org_id == "org-rom" and decided["Top-up"].status == "matched"
    status, paid = _invoice_state(workspace)
    assert status["2026-00303"] == "paid" and paid["2026-00303"] == Decimal("2000.00")

    # Every credit in the dataset says which rule credited it and how sure it was.
    with workspace.engine.connect() as conn:
        credits = views.credits(conn, DAY - timedelta(days=30), DAY + timedelta(days=1))
    bank = credits[credits["source"] == "privat24_csv"]
    assert len(bank) == 5 and bank["rule"].notna().all() and (bank["confidence"] >= Decimal("0.9")).all()


def test_a_conflict_waits_for_review_with_ranked_suggestions_and_a_person_settles_it(books):
    workspace, folder = books
    # Сонях's invoice, paid by Ромашка's account and tax ID: two organizations, so nobody is credited.
    summary = _night(workspace, _statement(folder / "conflict.csv", [
        (DAY, ROMASHKA_IBAN, ROMASHKA_TAX, "ТОВ «РОМАШКА»", "300,00", "Оплата рахунку 2026-00304"),
    ]), DAY)
    assert summary.credits == 0 and summary.reviews == 1
    row = _decisions(workspace)["Оплата рахунку 2026-00304"]
    assert row.status == "review" and row.org_id is None
    suggestions = json.loads(row.suggestions)
    assert {s["org_id"] for s in suggestions} == {"org-rom", "org-sun"} and len(suggestions) <= 3
    assert [Decimal(s["confidence"]) for s in suggestions] == sorted((Decimal(s["confidence"]) for s in suggestions), reverse=True)
    with workspace.engine.connect() as conn:
        exceptions = views.exceptions(conn)
    listed = exceptions[exceptions["reason"] == row.reason]
    assert len(listed) == 1 and "org-sun" in listed["suggestions"].iloc[0]

    with workspace.engine.connect() as conn:
        line_id = conn.execute(select(schema.matches.c.line_id)).scalar_one()
    apply_decision(workspace.engine, line_id, Decision("credit", "org-sun", "2026-00304", decided_by="olena"))
    status, paid = _invoice_state(workspace)
    assert status["2026-00304"] == "paid" and paid["2026-00304"] == Decimal("300.00")
    with workspace.engine.connect() as conn:
        learned = set(conn.execute(select(schema.organization_ibans.c.org_id, schema.organization_ibans.c.iban)).all())
    assert ("org-sun", ROMASHKA_IBAN) in learned  # the payer's account, confirmed by a person for Сонях
