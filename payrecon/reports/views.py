"""The report datasets' content, read from the ledger (SQL over the tables, no file formats)."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import and_, case, func, literal, literal_column, select

from data_contracts.statement_integrity import chain_breaks
from ledger import schema
from ledger.repository import fetch_columns
from ledger.types import money_text

EXCEPTION_COLUMNS = ["ref", "source", "reason", "amount", "currency", "suggestions", "opened_at"]


def _frame(conn, query) -> pd.DataFrame:
    """The rows of a select as a DataFrame, read as columns (no Row object per row: at a million
    rows pandas' look-ups on Row objects cost more than the query)."""
    names, columns = fetch_columns(conn, query)
    if not columns or not columns[0]:
        return pd.DataFrame(columns=names)  # as pandas makes it from no rows: object columns
    return pd.DataFrame(dict(zip(names, columns)), columns=names)


def _utc(value):
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _utc_column(values: pd.Series) -> pd.Series:
    """`_utc` of every value, vectorised (naive times are UTC; aware ones converted to UTC)."""
    try:
        return pd.to_datetime(values, utc=True)
    except (TypeError, ValueError):
        return values.map(_utc)


def _credits_select(start: date, end: date, *columns):
    """The credits of [start, end] (`columns` replace the amount, confidence and credited_at)."""
    j, p, m, lines, cards = schema.journal_entries, schema.postings, schema.matches, schema.normalized_lines, schema.card_payments
    r = schema.receipts
    amount, confidence, credited_at = columns or (
        p.c.amount, func.coalesce(m.c.confidence, r.c.confidence).label("confidence"), j.c.created_at.label("credited_at"))
    return (
        select(
            j.c.entry_id.label("credit_id"),
            j.c.org_id,
            func.coalesce(lines.c.source_format, cards.c.provider, case((r.c.receipt_id.is_not(None), literal("receipt_email")))).label("source"),
            func.coalesce(lines.c.bank_ref, cards.c.provider_ref, r.c.bank_doc_number).label("bank_ref"),
            func.coalesce(m.c.invoice_numbers, r.c.invoice_number).label("invoice_numbers"),
            p.c.currency,
            amount,
            j.c.status,
            confidence,
            func.coalesce(m.c.rule, r.c.rule, literal("card_payment")).label("rule"),
            credited_at,
            j.c.effective_date,
        )
        .join(p, and_(p.c.entry_id == j.c.entry_id, p.c.account == literal("customer:") + j.c.org_id))
        .outerjoin(lines, and_(j.c.kind == "credit", lines.c.line_id == j.c.evidence))
        .outerjoin(m, and_(j.c.kind == "credit", m.c.line_id == j.c.evidence))
        .outerjoin(cards, and_(j.c.kind == "card", cards.c.payment_id == j.c.evidence))
        .outerjoin(r, and_(j.c.kind == "receipt", r.c.receipt_id == j.c.evidence))  # a receipt's provisional credit
        .where(j.c.kind.in_(["credit", "card", "receipt"]), j.c.effective_date.between(start, end))
    )


def credits(conn, start: date, end: date) -> pd.DataFrame:
    j = schema.journal_entries
    frame = _frame(conn, _credits_select(start, end).order_by(j.c.effective_date, j.c.entry_id))
    if frame.empty:
        return frame
    frame["amount"] = [-a for a in frame["amount"]]  # the customer's account is credited: negative posting
    one = Decimal("1.000")
    frame["confidence"] = [one if c is None or (not isinstance(c, Decimal) and pd.isna(c)) else c for c in frame["confidence"]]
    frame["credited_at"] = _utc_column(frame["credited_at"])
    return frame


def credits_table(conn, start: date, end: date) -> pa.Table | pd.DataFrame:
    """`credits` as the credits dataset wants it (its columns and `date`, the booking day), in the
    same order. On PostgreSQL an Arrow table read through COPY ... CSV: the money arrives as decimal
    text and becomes Arrow decimals, with no Python object per value (two million credits a night
    would take most of a minute as Row objects, Decimals and Timestamps). Elsewhere `credits`."""
    if conn.dialect.name != "postgresql":
        return credits(conn, start, end).rename(columns={"effective_date": "date"})
    from payrecon.reports.datasets import DATASETS

    j, p, m, r = schema.journal_entries, schema.postings, schema.matches, schema.receipts
    query = _credits_select(
        start, end,
        (-p.c.amount).label("amount"),  # the customer's account is credited: negative posting
        func.coalesce(m.c.confidence, r.c.confidence, literal_column("1.000")).label("confidence"),
        func.to_char(func.timezone("UTC", j.c.created_at), literal('YYYY-MM-DD"T"HH24:MI:SS.US')).label("credited_at"),
    )
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    spec = DATASETS["credits"].schema
    names = [c.name for c in query.selected_columns]
    types = {name: spec.field(name).type for name in names if name in spec.names}
    types.update(credited_at=pa.timestamp("us"), effective_date=pa.date32())
    with tempfile.TemporaryFile() as buffer:
        with conn.connection.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=names),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False),
        )
    table = table.set_column(names.index("credited_at"), pa.field("credited_at", spec.field("credited_at").type),
                             table.column("credited_at").cast(spec.field("credited_at").type))
    table = table.rename_columns([("date" if n == "effective_date" else n) for n in names])
    return table.sort_by([("date", "ascending"), ("credit_id", "ascending")])


def exceptions(conn) -> pd.DataFrame:
    m, lines = schema.matches, schema.normalized_lines
    unmatched = _frame(
        conn,
        select(
            m.c.line_id.label("ref"),
            lines.c.source_format.label("source"),
            m.c.reason,
            lines.c.amount,
            lines.c.currency,
            m.c.suggestions,
            m.c.decided_at.label("opened_at"),
        )
        .join(lines, lines.c.line_id == m.c.line_id)
        .where(m.c.status.in_(["exception", "review"])),
    )
    return _concat_exceptions([unmatched, *_quarantined(conn), *_integrity_exceptions(conn), _chargebacks(conn), receipts_in_review(conn)])


def _quarantined(conn) -> list[pd.DataFrame]:
    raw, q = schema.raw_files, schema.quarantined_rows
    files = _frame(
        conn,
        select(
            raw.c.sha256.label("ref"),
            ("file:" + raw.c.original_name).label("source"),
            raw.c.error.label("reason"),
            raw.c.received_at.label("opened_at"),
        ).where(raw.c.status == "quarantined"),
    )
    rows = _frame(
        conn,
        select(
            (q.c.raw_file_sha256 + "/" + q.c.row_key).label("ref"),
            ("row of " + raw.c.original_name).label("source"),
            q.c.reason,
            q.c.quarantined_at.label("opened_at"),
        ).join(raw, raw.c.sha256 == q.c.raw_file_sha256),
    )
    return [files, rows]


def flagged(conn) -> pd.DataFrame:
    """What finance is alerted about at once: quarantined files and rows, integrity failures,
    chargebacks. (Unmatched money is alerted when it is late: see payrecon.reports.aging.)"""
    return _concat_exceptions(_quarantined(conn) + _integrity_exceptions(conn) + [_chargebacks(conn), receipts_in_review(conn)])


def receipts_in_review(conn) -> pd.DataFrame:
    """Receipts emailed to sales that earned no provisional credit: a person decides."""
    r = schema.receipts
    frame = _frame(conn, select(r).where(r.c.status == "review"))
    if frame.empty:
        return frame
    return pd.DataFrame({
        "ref": "receipt/" + frame["receipt_id"],
        "source": "receipt " + frame["attachment_name"] + " from " + frame["sender"],
        "reason": "receipt waits for review: " + frame["reason"],
        "amount": frame["amount"],
        "currency": frame["currency"],
        "suggestions": [json.dumps([{"org_id": o, "invoice_numbers": i}], ensure_ascii=False) if o else None
                        for o, i in zip(frame["org_id"], frame["invoice_number"])],
        "opened_at": frame["decided_at"],
    })


def unconfirmed_receipts(conn) -> pd.DataFrame:
    """Provisional receipt credits no bank line has confirmed yet, as delay items."""
    r = schema.receipts
    frame = _frame(conn, select(r.c.receipt_id, r.c.org_id, r.c.currency, r.c.amount, r.c.received_on).where(r.c.status == "provisional"))
    return pd.DataFrame({
        "kind": "receipt", "ref": frame["receipt_id"], "org_id": frame["org_id"], "currency": frame["currency"],
        "amount": frame["amount"], "since": frame["received_on"],
    }) if not frame.empty else pd.DataFrame(columns=["kind", "ref", "org_id", "currency", "amount", "since"])


def _chargebacks(conn) -> pd.DataFrame:
    lines, j = schema.normalized_lines, schema.journal_entries
    frame = _frame(
        conn,
        select(lines.c.line_id, lines.c.source_format, lines.c.amount, lines.c.currency, lines.c.end_to_end_id,
               lines.c.loaded_at, j.c.org_id)
        .outerjoin(j, and_(j.c.kind == "chargeback", j.c.evidence == lines.c.line_id))
        .where(lines.c.record_type == "chargeback"),
    )
    if frame.empty:
        return frame
    return pd.DataFrame({
        "ref": "chargeback/" + frame["line_id"],
        "source": frame["source_format"],
        "reason": [
            f"chargeback of {money_text(a)} {c} on payment {ref}: " + (f"taken back from {org}'s balance" if org else "no platform payment carries this reference")
            for a, c, ref, org in zip(frame["amount"], frame["currency"], frame["end_to_end_id"], frame["org_id"])
        ],
        "amount": frame["amount"],
        "currency": frame["currency"],
        "opened_at": frame["loaded_at"],
    })


def _concat_exceptions(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [f for f in parts if not f.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=EXCEPTION_COLUMNS)
    for column in EXCEPTION_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["amount"] = frame["amount"].map(lambda a: None if a is None or (not isinstance(a, Decimal) and pd.isna(a)) else a)
    frame["opened_at"] = frame["opened_at"].map(_utc)
    return frame.sort_values("ref").reset_index(drop=True)


def _integrity_exceptions(conn) -> list[pd.DataFrame]:
    """Unbalanced statements, statements that do not chain (a missing statement), failed control totals."""
    st, raw, cc = schema.statements, schema.raw_files, schema.control_checks
    statements = _frame(conn, select(st, raw.c.original_name, raw.c.received_at).join(raw, raw.c.sha256 == st.c.raw_file_sha256))
    unbalanced = statements[statements["balance_check"] == "failed"] if not statements.empty else statements
    unbalanced = pd.DataFrame(
        {
            "ref": "statement/" + unbalanced["statement_key"],
            "source": "statement in " + unbalanced["original_name"],
            "reason": unbalanced["balance_problem"],
            "currency": unbalanced["currency"],
            "opened_at": unbalanced["received_at"],
        }
    ) if not unbalanced.empty else unbalanced
    breaks = chain_breaks(statements) if not statements.empty else pd.DataFrame()
    if not breaks.empty:
        received = statements.set_index("statement_key")["received_at"]
        breaks = pd.DataFrame(
            {
                "ref": "chain/" + breaks["statement_key"] + "/" + breaks["next_statement_key"],
                "source": "statements of " + breaks["account"],
                "reason": breaks["problem"],
                "currency": breaks["currency"],
                "opened_at": breaks["next_statement_key"].map(received),
            }
        )
    checks = _frame(
        conn,
        select(
            ("control/" + cc.c.raw_file_sha256 + "/" + cc.c.name + "/" + cc.c.scope).label("ref"),
            ("control total in " + raw.c.original_name).label("source"),
            (cc.c.name + " (" + cc.c.scope + "): the file says " + func.coalesce(cc.c.expected, "nothing")
             + ", its lines give " + func.coalesce(cc.c.actual, "nothing")).label("reason"),
            raw.c.received_at.label("opened_at"),
        )
        .join(raw, raw.c.sha256 == cc.c.raw_file_sha256)
        .where(cc.c.passed.is_(False)),
    )
    return [unbalanced, breaks, checks]


def balances(conn, as_of: date) -> pd.DataFrame:
    j, p, o = schema.journal_entries, schema.postings, schema.organizations
    sums = _frame(
        conn,
        select(j.c.org_id, p.c.currency, func.sum(p.c.amount).label("total"))
        .join(j, j.c.entry_id == p.c.entry_id)
        .where(p.c.account == literal("customer:") + j.c.org_id, j.c.effective_date <= as_of)
        .group_by(j.c.org_id, p.c.currency),
    )
    orgs = _frame(conn, select(o.c.org_id, o.c.currency))
    if sums.empty:
        frame = orgs.assign(balance=Decimal(0))
    else:
        sums["balance"] = [-t for t in sums["total"]]
        frame = orgs.merge(sums[["org_id", "currency", "balance"]], on=["org_id", "currency"], how="outer")
        zero = Decimal(0)
        frame["balance"] = [zero if b is None or (not isinstance(b, Decimal) and pd.isna(b)) else b for b in frame["balance"]]
    return frame.sort_values(["org_id", "currency"]).reset_index(drop=True)


def usage(conn, start: date, end: date) -> pd.DataFrame:
    """Debits per day, organization and channel: usage, plus plan fees as channel `subscription`."""
    u, j, p = schema.usage_debits, schema.journal_entries, schema.postings
    usage_rows = select(u.c.date, u.c.org_id, u.c.channel, u.c.quantity, u.c.currency, u.c.amount).where(u.c.date.between(start, end))
    fees = (
        select(
            j.c.effective_date.label("date"), j.c.org_id, literal("subscription").label("channel"),
            func.count().label("quantity"), p.c.currency, func.sum(p.c.amount).label("amount"),
        )
        .join(p, and_(p.c.entry_id == j.c.entry_id, p.c.account == literal("customer:") + j.c.org_id))
        .where(j.c.kind == "subscription", j.c.effective_date.between(start, end))
        .group_by(j.c.effective_date, j.c.org_id, p.c.currency)
    )
    return pd.concat([_frame(conn, usage_rows), _frame(conn, fees)], ignore_index=True)


def unmatched_money(conn) -> pd.DataFrame:
    """Incoming bank lines that no organization was credited for: line_id, booking_date, currency,
    amount, suggestions."""
    m, lines = schema.matches, schema.normalized_lines
    return _frame(
        conn,
        select(lines.c.line_id, lines.c.booking_date, lines.c.currency, lines.c.amount, m.c.suggestions)
        .join(m, m.c.line_id == lines.c.line_id)
        .where(m.c.status != "matched"),
    )


def unsettled_payments(conn) -> pd.DataFrame:
    """Platform card/PayPal payments no settlement row has proved yet, as delay items."""
    c, links = schema.card_payments, schema.settlement_links
    frame = _frame(conn, select(c).outerjoin(links, links.c.payment_id == c.c.payment_id).where(links.c.payment_id.is_(None)))
    return pd.DataFrame({
        "kind": frame["provider"].map(lambda p: "paypal_settlement" if p == "paypal" else "card_settlement"),
        "ref": frame["payment_id"], "org_id": frame["org_id"], "currency": frame["currency"], "amount": frame["amount"],
        "since": frame["paid_at"].map(lambda t: t.date()),
    }) if not frame.empty else pd.DataFrame(columns=["kind", "ref", "org_id", "currency", "amount", "since"])


def unreceived_payouts(conn) -> pd.DataFrame:
    """Provider payouts no bank line has received yet, as delay items."""
    lines, links = schema.normalized_lines, schema.payout_links
    frame = _frame(conn, select(lines).outerjoin(links, links.c.payout_line_id == lines.c.line_id)
                   .where(lines.c.record_type == "payout", links.c.payout_line_id.is_(None)))
    return pd.DataFrame({
        "kind": "payout", "ref": frame["line_id"], "org_id": None, "currency": frame["currency"],
        "amount": frame["amount"].map(lambda a: -a), "since": frame["booking_date"],
    }) if not frame.empty else pd.DataFrame(columns=["kind", "ref", "org_id", "currency", "amount", "since"])


def provider_activity(conn, start: date, end: date) -> pd.DataFrame:
    """Provider rows summed per day, provider, currency and kind."""
    from reconcilers.settlements import SOURCE_PROVIDER

    lines = schema.normalized_lines
    frame = _frame(
        conn,
        select(lines.c.booking_date.label("date"), lines.c.source_format, lines.c.currency, lines.c.record_type,
               func.count().label("records"), func.sum(lines.c.amount).label("amount"))
        .where(lines.c.record_type != "bank_line", lines.c.booking_date.between(start, end))
        .group_by(lines.c.booking_date, lines.c.source_format, lines.c.currency, lines.c.record_type),
    )
    if frame.empty:
        return frame
    frame["provider"] = frame.pop("source_format").map(SOURCE_PROVIDER)
    return frame.groupby(["date", "provider", "currency", "record_type"], as_index=False).agg(
        records=("records", "sum"), amount=("amount", lambda s: sum(s, Decimal(0))))


def own_accounts(conn) -> set[str]:
    """Our own account numbers (the statements' and lines' `account`): never a payer's IBAN."""
    st, lines = schema.statements, schema.normalized_lines
    found = conn.execute(select(st.c.account).distinct()).scalars().all()
    found += conn.execute(select(lines.c.account).distinct()).scalars().all()
    return {a for a in found if a}
