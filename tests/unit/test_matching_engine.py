"""The matching engine's decisions, conflicts, allocations and lessons on small hand-made cases."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from reconcilers.engine import DECISION_COLUMNS, match
from reconcilers.evidence import edrpou_with_check_digit, make_iban
from reconcilers.learning import learn_from_confirmed
from reconcilers.plan import DEFAULT_RULES, MatchPlan, Rule

SONYACHNA_TAX = edrpou_with_check_digit("4572301")
ROMASHKA_TAX = edrpou_with_check_digit("3829140")
BETA_TAX = edrpou_with_check_digit("4011223")
ROMASHKA_IBAN = make_iban("UA", "305299" + "00000" + "2600" + "7233566001")
NEW_IBAN = make_iban("UA", "322001" + "00000" + "2600" + "1111111111")
CARD = make_iban("UA", "322001" + "00000" + "2625" + "2222222222")
TRANSIT = make_iban("UA", "305299" + "00000" + "2909" + "0000000001")
PERSON_TAX = "3012409876"  # check digit not verified here: a payer's field, not our master data

ORGS = pd.DataFrame(
    [
        dict(org_id="sonyachna", name="ТОВ «Сонячна Долина»", legal_name="ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «СОНЯЧНА ДОЛИНА»",
             tax_id=SONYACHNA_TAX, currency="UAH"),
        dict(org_id="romashka", name="ТОВ «Ромашка»", legal_name=None, tax_id=ROMASHKA_TAX, currency="UAH"),
        dict(org_id="beta", name="ПП «Бета»", legal_name=None, tax_id=BETA_TAX, currency="UAH"),
        dict(org_id="nordlicht", name="Nordlicht GmbH", legal_name="NORDLICHT GMBH", tax_id=None, currency="USD"),
    ]
)
IBANS = pd.DataFrame([dict(org_id="romashka", iban=ROMASHKA_IBAN, origin="imported")])


def invoice(number, org, amount, currency="UAH", status="open", paid="0", issued=date(2026, 11, 1)):
    return dict(invoice_number=number, org_id=org, issued_on=issued, due_on=date(2026, 11, 10), currency=currency,
                amount=Decimal(amount), status=status, amount_paid=Decimal(paid))


INVOICES = pd.DataFrame(
    [
        invoice("2026-00101", "sonyachna", "1500.00"),
        invoice("2026-00102", "romashka", "2400.00"),
        invoice("2026-00103", "romashka", "600.00"),
        invoice("2026-00104", "romashka", "990.00", status="paid", paid="990.00"),
        invoice("2026-00105", "nordlicht", "299.00", currency="USD"),
        invoice("2026-00106", "sonyachna", "3000.00", status="partially_paid", paid="1000.00"),
        invoice("2026-00107", "beta", "777.77"),
    ]
)


def line(line_id, amount, text, name=None, account=None, tax=None, currency="UAH", booked=date(2026, 11, 12), **extra):
    return dict(line_id=line_id, amount=Decimal(amount), currency=currency, booking_date=booked, counterparty_name=name,
                counterparty_account=account, counterparty_tax_id=tax, remittance=text, **extra)


def run(*rows, plan=None, orgs=ORGS, ibans=IBANS, invoices=INVOICES, names=None):
    result = match(pd.DataFrame(list(rows)), orgs, ibans, invoices, plan or MatchPlan(), organization_names=names)
    return result, {r["line_id"]: r for r in result.decisions.to_dict("records")}


def test_output_shape_and_types():
    result, by_line = run(
        line("a", "1500.00", "Оплата за рахунком № 2026-00101 від 01.11.2026", "ТОВ \"СОНЯЧНА ДОЛИНА\"", tax=SONYACHNA_TAX),
        line("out", "-45.00", "Комісія банку"),
    )
    assert list(result.decisions.columns) == DECISION_COLUMNS
    assert set(by_line) == {"a"}
    a = by_line["a"]
    assert a["status"] == "matched" and a["org_id"] == "sonyachna" and a["invoice_numbers"] == "2026-00101"
    assert a["rule"] == "invoice+tax_id" and a["confidence"] == Decimal("1.000") and str(a["confidence"]) == "1.000"
    assert a["reason"] == f"invoice 2026-00101 and payer tax ID {SONYACHNA_TAX} both point to ТОВ «Сонячна Долина»"
    assert json.loads(a["suggestions"]) == []
    assert result.allocations.to_dict("records") == [
        dict(line_id="a", invoice_number="2026-00101", amount=Decimal("1500.00"), invoice_status="paid", settles="exact")
    ]
    assert set(result.seconds) >= {"payments", "candidates", "decisions"}


def test_no_incoming_lines():
    result, _ = run(line("out", "-1.00", "x"))
    assert result.decisions.empty and list(result.decisions.columns) == DECISION_COLUMNS


def test_no_organizations_yet_makes_every_payment_an_exception():
    empty = ORGS.iloc[0:0]
    result, d = run(line("a", "1500.00", "Оплата за рахунком № 2026-00101", "ТОВ РОМАШКА", tax=ROMASHKA_TAX),
                    orgs=empty, ibans=IBANS.iloc[0:0], invoices=INVOICES.iloc[0:0])
    assert d["a"]["status"] == "exception" and d["a"]["org_id"] is None and result.allocations.empty


def test_each_identifier_credits_on_its_own():
    _, d = run(
        line("tax", "5000.00", "Поповнення балансу", "ТОВ РОМАШКА", NEW_IBAN, ROMASHKA_TAX),
        line("iban", "5000.00", "Поповнення балансу", None, ROMASHKA_IBAN),
        line("text_tax", "5000.00", f"Поповнення, ЄДРПОУ {ROMASHKA_TAX}", "ТОВ «Ромашка»", NEW_IBAN),
        line("name_amount", "299.00", "services", "NORDLICHT GMBH", make_iban("DE", "370400440532013000"), currency="USD"),
    )
    assert {k: (v["status"], v["org_id"], v["rule"]) for k, v in d.items()} == {
        "tax": ("matched", "romashka", "tax_id"),
        "iban": ("matched", "romashka", "iban"),
        "text_tax": ("matched", "romashka", "tax_id_text+name"),
        "name_amount": ("matched", "nordlicht", "name+amount"),
    }
    assert d["name_amount"]["invoice_numbers"] == "2026-00105"


def test_a_name_alone_waits_for_a_person_with_suggestions():
    _, d = run(line("n", "1234.00", "Поповнення балансу", "TOV ROMASHKA", NEW_IBAN))
    assert d["n"]["status"] == "review" and d["n"]["org_id"] is None and d["n"]["rule"] == "name"
    assert [s["org_id"] for s in json.loads(d["n"]["suggestions"])] == ["romashka"]


def test_nothing_known_is_an_exception():
    _, d = run(line("x", "1234.00", "Поповнення балансу", "Іваненко Іван Іванович", CARD))
    assert d["x"]["status"] == "exception" and d["x"]["rule"] == "no_evidence" and d["x"]["suggestions"] == "[]"


def test_amount_alone_gives_only_a_suggestion():
    _, d = run(line("x", "777.77", "Поповнення балансу", "Іваненко Іван Іванович", CARD))
    assert d["x"]["status"] == "exception" and d["x"]["rule"] == "amount_only"
    assert json.loads(d["x"]["suggestions"])[0]["org_id"] == "beta"


def test_conflict_invoice_of_one_tax_id_of_another():
    _, d = run(line("c", "1500.00", "Оплата рах. 2026-00101", "ПП «Бета»", NEW_IBAN, BETA_TAX))
    c = d["c"]
    assert c["status"] == "review" and c["org_id"] is None and c["rule"] == "conflict"
    assert "invoice 2026-00101 belongs to ТОВ «Сонячна Долина»" in c["reason"] and f"payer tax ID {BETA_TAX} is ПП «Бета»" in c["reason"]
    assert {s["org_id"] for s in json.loads(c["suggestions"])} == {"sonyachna", "beta"}
    assert Decimal("0.60") <= c["confidence"] < Decimal("0.90")


def test_two_payments_claiming_one_invoice_both_wait():
    _, d = run(
        line("first", "1500.00", "Оплата рах. 2026-00101", tax=SONYACHNA_TAX),
        line("second", "1500.00", "Оплата рах. 2026-00101", tax=SONYACHNA_TAX, booked=date(2026, 11, 13)),
    )
    for key in ("first", "second"):
        assert d[key]["status"] == "review" and d[key]["rule"] == "invoice_claimed_twice"
        assert "claimed by 2 payments (first, second)" in d[key]["reason"]


def test_partial_payments_accumulate_over_what_was_paid_before():
    result, d = run(
        line("p1", "1200.00", "Оплата рах. 2026-00106, частина", tax=SONYACHNA_TAX),
        line("p2", "800.00", "Доплата рах. 2026-00106", tax=SONYACHNA_TAX, booked=date(2026, 11, 14)),
    )
    assert d["p1"]["status"] == d["p2"]["status"] == "matched"
    rows = result.allocations.sort_values("line_id").to_dict("records")
    assert [(r["line_id"], r["amount"], r["invoice_status"]) for r in rows] == [
        ("p1", Decimal("1200.00"), "partially_paid"),
        ("p2", Decimal("800.00"), "paid"),
    ]


def test_an_invoice_already_paid_goes_to_review():
    _, d = run(line("again", "990.00", "Оплата рах. 2026-00104", tax=ROMASHKA_TAX))
    assert d["again"]["status"] == "review" and d["again"]["rule"] == "invoice_already_paid"


def test_over_payment_credits_and_keeps_the_rest_on_the_balance():
    result, d = run(line("over", "2000.00", "Оплата рах. 2026-00101", "ТОВ «Сонячна Долина»"))
    assert d["over"]["status"] == "matched" and d["over"]["org_id"] == "sonyachna"
    [row] = result.allocations.to_dict("records")
    assert row["amount"] == Decimal("1500.00") and row["invoice_status"] == "paid" and row["settles"] == "over"


def test_one_payment_for_several_invoices_by_numbers_or_by_amount():
    result, d = run(
        line("numbers", "3000.00", "Оплата рах. 2026-00102, 2026-00103", "ТОВ «Ромашка»", NEW_IBAN),
        line("amount", "3000.00", "Оплата за послуги згідно рахунків", None, None, ROMASHKA_TAX, booked=date(2026, 11, 20)),
    )
    assert d["numbers"]["invoice_numbers"] == "2026-00102;2026-00103" and d["numbers"]["rule"] == "invoice+amount"
    assert d["amount"]["status"] == "matched" and d["amount"]["rule"] == "tax_id+amount"
    assert "the sum of open invoices 2026-00102, 2026-00103" in d["amount"]["reason"]
    # the earlier payment took both invoices; the later one stays on the balance
    assert set(result.allocations["line_id"]) == {"numbers"}


def test_bank_fee_on_an_international_transfer_settles_the_invoice():
    result, d = run(line("fee", "274.00", "Invoice 2026-00105", "Nordlicht GmbH", make_iban("DE", "370400440532013000"),
                         currency="USD"))
    assert d["fee"]["status"] == "matched" and "short by 25.00 USD" in d["fee"]["reason"]
    [row] = result.allocations.to_dict("records")
    assert row["amount"] == Decimal("274.00") and row["invoice_status"] == "paid" and row["settles"] == "fee"


def test_a_domestic_shortfall_is_a_partial_payment():
    result, d = run(line("short", "1490.00", "Оплата рах. 2026-00101", "ТОВ «Сонячна Долина»"))
    assert d["short"]["status"] == "matched" and "partial payment" not in d["short"]["reason"]
    assert result.allocations.iloc[0]["invoice_status"] == "partially_paid"


def test_a_person_paying_for_a_company_waits_until_confirmed():
    row = line("person", "1500.00", "Оплата за ТОВ «Сонячна Долина» рах. 2026-00101", "ІВАНЕНКО ІВАН ІВАНОВИЧ", CARD, PERSON_TAX)
    result, d = run(row)
    assert d["person"]["status"] == "review" and d["person"]["rule"] == "person_for_company"
    taught = learn_from_confirmed(pd.DataFrame([row]), pd.DataFrame([dict(line_id="person", org_id="sonyachna")]), ORGS, IBANS)
    assert taught.to_dict("records") == [dict(org_id="sonyachna", iban=CARD, name="ІВАНЕНКО ІВАН ІВАНОВИЧ")]
    ibans = pd.concat([IBANS, pd.DataFrame([dict(org_id="sonyachna", iban=CARD, origin="learned")])], ignore_index=True)
    _, d = run(row, ibans=ibans)
    assert d["person"]["status"] == "matched" and d["person"]["rule"] == "invoice+iban"


def test_currency_other_than_the_balance_waits():
    _, d = run(line("fx", "12000.00", "Invoice 2026-00105", "Nordlicht GmbH"))
    assert d["fx"]["status"] == "review" and d["fx"]["rule"] == "currency_mismatch"


def test_interest_refunds_and_returns_are_not_top_ups():
    _, d = run(
        line("interest", "12.34", "Нарахування відсотків на залишок коштів за листопад", "АТ КБ «ПРИВАТБАНК»", tax="14360570"),
        line("return", "500.00", "Повернення коштів: рахунок отримувача закрито", "ТОВ «Ромашка»", ROMASHKA_IBAN, ROMASHKA_TAX),
    )
    assert d["interest"]["status"] == "exception" and d["interest"]["rule"] == "unrelated_credit"
    assert d["return"]["status"] == "review" and d["return"]["rule"] == "unrelated_credit"


def test_transit_accounts_speak_through_the_ultimate_payer():
    _, d = run(
        line("t1", "2400.00", "Оплата за рахунком № 2026-00102", "АТ КБ «ПРИВАТБАНК» транзитний рахунок", TRANSIT, "14360570",
             ultimate_payer_name="ТОВ «Ромашка»", ultimate_payer_tax_id=ROMASHKA_TAX),
        line("t2", "600.00", f"Платник: ТОВ «Ромашка», код {ROMASHKA_TAX}; рах 2026-00103", "Транзитний рахунок", TRANSIT, "14360570"),
    )
    assert (d["t1"]["org_id"], d["t1"]["rule"]) == ("romashka", "invoice+tax_id")
    assert (d["t2"]["org_id"], d["t2"]["rule"]) == ("romashka", "invoice+tax_id_text")


def test_confirmed_credits_teach_new_accounts_and_names_but_never_transit_ones():
    result, _ = run(
        line("tax", "5000.00", "Поповнення", "ROMASHKA TRADE HOUSE", NEW_IBAN, ROMASHKA_TAX),
        line("t1", "2400.00", "Оплата за рахунком № 2026-00102", "Транзит", TRANSIT, "14360570", ultimate_payer_tax_id=ROMASHKA_TAX),
        line("known", "100.00", "Поповнення", "ТОВ «Ромашка»", ROMASHKA_IBAN, ROMASHKA_TAX),
    )
    assert result.learned.to_dict("records") == [dict(org_id="romashka", iban=NEW_IBAN, name="ROMASHKA TRADE HOUSE")]


def test_shared_identifiers_support_but_never_decide():
    orgs = pd.concat([ORGS, pd.DataFrame([dict(org_id="romashka-2", name="ТОВ «Ромашка» (2)", legal_name=None,
                                               tax_id=ROMASHKA_TAX, currency="UAH")])], ignore_index=True)
    _, d = run(line("shared", "5000.00", "Поповнення", "ТОВ «Ромашка»", NEW_IBAN, ROMASHKA_TAX),
               line("with_invoice", "2400.00", "рах 2026-00102", None, NEW_IBAN, ROMASHKA_TAX), orgs=orgs)
    assert d["shared"]["status"] != "matched"
    assert d["with_invoice"]["status"] == "matched" and d["with_invoice"]["org_id"] == "romashka"


def test_thresholds_come_from_the_plan():
    row = line("iban", "5000.00", "Поповнення балансу", None, ROMASHKA_IBAN)
    _, d = run(row, plan=MatchPlan(auto_credit_threshold=Decimal("0.95")))
    assert d["iban"]["status"] == "review" and "below the auto-credit threshold 0.95" in d["iban"]["reason"]
    _, d = run(row, plan=MatchPlan(auto_credit_threshold=Decimal("0.99"), review_threshold=Decimal("0.97")))
    assert d["iban"]["status"] == "exception"

    class Settings:
        auto_credit_threshold = Decimal("0.93")
        review_threshold = Decimal("0.5")

    assert MatchPlan.from_settings(Settings()).auto_credit_threshold == Decimal("0.93")


def test_the_engine_is_deterministic_whatever_the_input_order():
    rows = [
        line("a", "1500.00", "Оплата рах. 2026-00101", "ТОВ «Сонячна Долина»"),
        line("b", "3000.00", "Оплата за послуги", tax=ROMASHKA_TAX),
        line("c", "1500.00", "Оплата рах. 2026-00101", "ПП «Бета»", tax=BETA_TAX),
        line("d", "777.77", "поповнення", "Іваненко Іван Іванович"),
    ]
    first, _ = run(*rows)
    second = match(pd.DataFrame(rows[::-1]), ORGS.iloc[::-1], IBANS, INVOICES.iloc[::-1], MatchPlan())
    order = lambda f: f.sort_values("line_id").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(order(first.decisions), order(second.decisions))
    pd.testing.assert_frame_equal(order(first.allocations), order(second.allocations))


def test_bad_master_data_is_reported_not_used():
    orgs = pd.concat([ORGS, pd.DataFrame([dict(org_id="bad", name="ТОВ «Хибна»", legal_name=None, tax_id="14360571",
                                               currency="UAH")])], ignore_index=True)
    ibans = pd.concat([IBANS, pd.DataFrame([dict(org_id="bad", iban="UA213223130000026007233566002", origin="imported")])])
    result, d = run(line("x", "10.00", "x", None, "UA213223130000026007233566002", "14360571"), orgs=orgs, ibans=ibans)
    assert d["x"]["status"] == "exception"
    assert any("bad: tax ID fails its check digit" in p for p in result.problems)
    assert any("fails the IBAN check" in p for p in result.problems)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(auto_credit_threshold=Decimal("0.5"), review_threshold=Decimal("0.6")), "thresholds must satisfy"),
        (dict(auto_credit_threshold=Decimal("0.9001")), "more than 3 decimal places"),
        (dict(max_invoices_per_payment=20), "max_invoices_per_payment"),
        (dict(name_suggest_similarity=Decimal("0.9")), "name similarities"),
        (dict(rules=DEFAULT_RULES + (DEFAULT_RULES[0],)), "rule names repeat"),
        (dict(rules=()), "at least one rule"),
    ],
)
def test_plans_are_validated_when_built(change, message):
    with pytest.raises(ValueError, match=message):
        MatchPlan(**change)


@pytest.mark.parametrize(
    "rule, message",
    [
        (dict(requires=frozenset({"telepathy"})), "unknown evidence"),
        (dict(confidence=Decimal("1.5")), "confidence must lie in 0..1"),
        (dict(explanation="{nonsense}"), "unknown field"),
        (dict(requires=frozenset()), "requires no evidence"),
    ],
)
def test_rules_are_validated_when_built(rule, message):
    with pytest.raises(ValueError, match=message):
        replace(DEFAULT_RULES[0], **rule)


def test_a_plan_with_other_rules_changes_the_decision():
    strict = tuple(r for r in DEFAULT_RULES if r.name != "iban") + (
        Rule("iban", frozenset({"iban"}), Decimal("0.700"), "the payer's account {iban} is known for {org}"),
    )
    _, d = run(line("iban", "5000.00", "Поповнення балансу", None, ROMASHKA_IBAN), plan=MatchPlan(rules=strict))
    assert d["iban"]["status"] == "review" and d["iban"]["confidence"] == Decimal("0.700")
