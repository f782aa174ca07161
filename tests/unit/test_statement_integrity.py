from datetime import date
from decimal import Decimal

import pandas as pd

from data_contracts.statement_integrity import chain_breaks, check_statement, statement_key
from sources.records import NormalizedRecord, StatementSummary


def record(line_id, amount, currency="EUR"):
    return NormalizedRecord("bank_line", "t", "DE1", "2026-11-20", None, amount, currency, None, None, None, None, None, None, line_id)


def summary(opening, closing, ids, currency="EUR", sequence="5/1"):
    return StatementSummary("DE1", currency, "S1", sequence, opening, "2026-11-19", closing, "2026-11-20", tuple(ids))


def test_balanced_statement_passes_and_a_missing_line_fails_with_the_difference():
    lines = {r.line_id: r for r in (record("a", "100.00"), record("b", "-30.50"))}
    ok = check_statement("t", summary("-10.00", "59.50", ["a", "b"]), lines)
    assert ok.balance_check == "passed" and ok.lines_total == Decimal("69.50")
    bad = check_statement("t", summary("-10.00", "89.50", ["a", "b"]), lines)
    assert bad.balance_check == "failed"
    assert "difference 30.00" in bad.balance_problem and "a line is missing or wrong" in bad.balance_problem


def test_unreadable_or_absent_figures_are_not_checkable():
    lines = {"a": record("a", "12O0,00"), "b": record("b", "1.00", "USD")}
    assert check_statement("t", summary("0", "1", ["a"]), lines).balance_check == "not_checkable"
    assert check_statement("t", summary(None, "1", []), lines).balance_problem.startswith("the statement carries no opening")
    assert "lines in USD under a EUR statement" in check_statement("t", summary("0", "1.00", ["b"]), lines).balance_problem
    assert "missing from the parse" in check_statement("t", summary("0", "1", ["zz"]), lines).balance_problem


def test_key_is_the_statement_not_the_file():
    assert statement_key("mt940", summary("1", "2", ["a", "b"])) == statement_key("mt940", summary("1", "2", ["b", "a"]))
    assert statement_key("mt940", summary("1", "2", ["a"])) != statement_key("mt940", summary("1", "2", ["a", "b"]))
    assert statement_key("mt940", summary("1", "2", [])) != statement_key("mt940", summary("1", "3", []))


def test_chain_breaks_find_a_gap_and_a_balance_that_does_not_carry_over():
    def row(key, seq, opening, closing, day):
        return dict(statement_key=key, account="DE1", currency="EUR", sequence=seq, opening_balance=Decimal(opening),
                    closing_balance=Decimal(closing), opening_date=date(2026, 11, day - 1), closing_date=date(2026, 11, day))

    frame = pd.DataFrame([row("s5", "00005/001", "0", "10", 5), row("s6", "00006/001", "10", "25", 6),
                          row("s9", "00009/001", "25", "40", 9), row("s10", "00010/001", "41", "50", 10)])
    breaks = chain_breaks(frame.sample(frac=1, random_state=3))
    assert breaks[["statement_key", "next_statement_key"]].values.tolist() == [["s6", "s9"], ["s9", "s10"]]
    assert breaks.iloc[0]["problem"] == "statement numbers jump from 6 to 9: 2 statements missing"
    assert "closing balance 40 on 2026-11-09 is not the next statement's opening balance 41" in breaks.iloc[1]["problem"]
    assert chain_breaks(frame.iloc[:2]).empty
