"""Statement integrity: a statement's lines must add up to its balances, and consecutive statements
of one account must chain (closing = next opening; statement numbers without gaps).

Pure functions over parsed statements and DataFrames; the ingest service stores what they find and
the reports show every failure to finance as an exception.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Iterable, Mapping

import pandas as pd

from sources.records import NormalizedRecord, StatementSummary

_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class StatementCheck:
    statement_key: str
    source_format: str
    account: str | None
    currency: str | None
    statement_id: str | None
    sequence: str | None
    opening_balance: Decimal | None
    opening_date: date | None
    closing_balance: Decimal | None
    closing_date: date | None
    line_count: int
    lines_total: Decimal | None
    balance_check: str  # passed | failed | not_checkable
    balance_problem: str | None


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def statement_key(source_format: str, summary: StatementSummary, sorted_line_ids: Iterable[str] | None = None) -> str:
    """The same statement delivered twice gets the same key, whatever the file is called; a copy whose
    lines differ (an edited or damaged file) is another statement, checked on its own.

    `sorted_line_ids` stands for sorted(summary.line_ids) when a caller streams a large statement
    (the ids are hashed as they come, never joined into one string)."""
    parts = (source_format, summary.account, summary.currency, summary.statement_id, summary.sequence,
             summary.opening_balance, summary.opening_date, summary.closing_balance, summary.closing_date)
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode())
    for line_id in sorted(summary.line_ids) if sorted_line_ids is None else sorted_line_ids:
        digest.update(f"\x1f{line_id}".encode())
    return digest.hexdigest()[:32]


def check_statement(source_format: str, summary: StatementSummary, records: Mapping[str, NormalizedRecord]) -> StatementCheck:
    """opening + sum(lines) = closing, in the statement's currency."""
    lines = [records[i] for i in summary.line_ids if i in records]
    amounts = [_decimal(r.amount) for r in lines]
    total = sum(amounts, Decimal(0)) if all(a is not None for a in amounts) else None
    currencies = {r.currency for r in lines if r.currency}
    return statement_check(source_format, summary, statement_key(source_format, summary), len(lines),
                           len(summary.line_ids) - len(lines), total, currencies)


def statement_check(source_format: str, summary: StatementSummary, key: str, line_count: int, missing: int,
                    total: Decimal | None, currencies: set[str]) -> StatementCheck:
    """The check of a statement from its lines' figures: how many there are, how many of its line
    ids have no record, their sum (None when one is unreadable) and their currencies."""
    opening, closing = _decimal(summary.opening_balance), _decimal(summary.closing_balance)
    problem = None
    if missing:
        status, problem = "not_checkable", f"{missing} of the statement's lines are missing from the parse"
    elif opening is None or closing is None:
        status, problem = "not_checkable", "the statement carries no opening or no closing balance"
    elif total is None:
        status, problem = "not_checkable", "a line's amount is unreadable (see the quarantined rows)"
    elif summary.currency and currencies - {summary.currency}:
        status, problem = "not_checkable", f"lines in {', '.join(sorted(currencies))} under a {summary.currency} statement"
    elif opening + total == closing:
        status = "passed"
    else:
        status = "failed"
        problem = (
            f"opening {opening} + lines {total} = {opening + total}, but the closing balance is {closing} "
            f"(difference {closing - opening - total}): a line is missing or wrong"
        )
    return StatementCheck(
        statement_key=key,
        source_format=source_format,
        account=summary.account,
        currency=summary.currency,
        statement_id=summary.statement_id,
        sequence=summary.sequence,
        opening_balance=opening,
        opening_date=_date(summary.opening_date),
        closing_balance=closing,
        closing_date=_date(summary.closing_date),
        line_count=line_count,
        lines_total=total,
        balance_check=status,
        balance_problem=problem,
    )


def check_statements(source_format: str, summaries: Iterable[StatementSummary], records: Iterable[NormalizedRecord]) -> list[StatementCheck]:
    by_id = {r.line_id: r for r in records}
    return [check_statement(source_format, s, by_id) for s in summaries]


def _statement_number(sequence: str | None) -> int | None:
    """The statement number of an MT940 :28C: ('00123/001' -> 123) or a camt ElctrncSeqNb."""
    if not sequence:
        return None
    match = _NUMBER.search(sequence)
    return int(match.group()) if match else None


CHAIN_COLUMNS = ["account", "currency", "statement_key", "next_statement_key", "problem"]


def chain_breaks(statements: pd.DataFrame) -> pd.DataFrame:
    """Consecutive statements of an account that do not chain: the closing balance is not the next
    opening balance, or statement numbers skip (a missing statement).

    `statements` has the columns of the statements table. Statements without both balances are
    left out (intraday reports, formats without balances).
    """
    usable = statements.dropna(subset=["account", "currency", "opening_balance", "closing_balance", "closing_date"])
    rows = []
    for (account, currency), group in usable.groupby(["account", "currency"], sort=True):
        group = group.assign(number=group["sequence"].map(_statement_number)).sort_values(
            ["closing_date", "opening_date", "number"], na_position="first"
        )
        previous = None
        for current in group.itertuples(index=False):
            if previous is not None:
                problems = []
                if previous.closing_balance != current.opening_balance:
                    problems.append(
                        f"closing balance {previous.closing_balance} on {previous.closing_date} is not the next "
                        f"statement's opening balance {current.opening_balance}"
                    )
                if previous.number is not None and current.number is not None and current.number > previous.number + 1:
                    missing = current.number - previous.number - 1
                    problems.append(
                        f"statement numbers jump from {previous.number} to {current.number}: "
                        f"{missing} statement{'s' if missing > 1 else ''} missing"
                    )
                if problems:
                    rows.append([account, currency, previous.statement_key, current.statement_key, "; ".join(problems)])
            previous = current
    return pd.DataFrame(rows, columns=CHAIN_COLUMNS)
