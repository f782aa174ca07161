"""Report datasets as date-partitioned Parquet (PRODUCT.md, "Report datasets").

Layout: <reports>/<dataset>/date=YYYY-MM-DD/part-0.parquet. The `date` column lives only in the
folder name (a file that also stored it would make pandas.read_parquet(folder) fail). Each
partition is one file, replaced atomically, so a reader sees the old partition or the new one and
re-running a day replaces that day and nothing else. Amounts are Parquet decimals.

Event datasets (credits by effective date, channel_spend by usage date) are rewritten for every day
of the look-back window; snapshot datasets (balances, exceptions) are written for the as-of day.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, and_, func, literal, select

from data_contracts.statement_integrity import chain_breaks
from ledger import schema
from ledger.types import SCALE
from payrecon.storage import BlobStore

SCHEMA_VERSION = "1"
MONEY = pa.decimal128(20, SCALE)
_TS = pa.timestamp("us", tz="UTC")

DATASETS: dict[str, pa.Schema] = {
    "channel_spend": pa.schema(
        [("org_id", pa.string()), ("channel", pa.string()), ("quantity", pa.int64()), ("currency", pa.string()), ("amount", MONEY)]
    ),
    "credits": pa.schema(
        [
            ("credit_id", pa.string()),
            ("org_id", pa.string()),
            ("source", pa.string()),
            ("bank_ref", pa.string()),
            ("invoice_numbers", pa.string()),
            ("currency", pa.string()),
            ("amount", MONEY),
            ("status", pa.string()),
            ("confidence", pa.decimal128(4, 3)),
            ("rule", pa.string()),
            ("credited_at", _TS),
        ]
    ),
    "exceptions": pa.schema(
        [
            ("ref", pa.string()),
            ("source", pa.string()),
            ("reason", pa.string()),
            ("amount", MONEY),
            ("currency", pa.string()),
            ("suggestions", pa.string()),
            ("opened_at", _TS),
        ]
    ),
    "balances": pa.schema([("org_id", pa.string()), ("currency", pa.string()), ("balance", MONEY)]),
}


def partition_key(dataset: str, day: date) -> str:
    return f"{dataset}/date={day.isoformat()}/part-0.parquet"


def write_partition(store: BlobStore, dataset: str, day: date, frame: pd.DataFrame) -> str:
    schema_ = DATASETS[dataset].with_metadata({"payrecon.schema_version": SCHEMA_VERSION, "payrecon.dataset": dataset})
    table = pa.Table.from_pandas(frame[schema_.names], schema=schema_, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    key = partition_key(dataset, day)
    store.put(key, buffer.getvalue())
    return key


def existing_partitions(store: BlobStore, dataset: str) -> set[date]:
    days = set()
    for key in store.list(f"{dataset}/"):
        folder = key.split("/")[1] if key.count("/") >= 2 else ""
        if folder.startswith("date="):
            days.add(date.fromisoformat(folder[5:]))
    return days


@dataclass
class ReportSummary:
    written: dict[str, int]  # dataset -> partitions written
    location: str


def _frame(conn, query) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _utc(value):
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def build_reports(engine: Engine, store: BlobStore, as_of: date, lookback_days: int) -> ReportSummary:
    start = as_of - timedelta(days=lookback_days - 1)
    window = [start + timedelta(days=i) for i in range(lookback_days)]
    written: dict[str, int] = {}
    with engine.connect() as conn:
        spend = _frame(
            conn,
            select(schema.usage_debits).where(schema.usage_debits.c.date.between(start, as_of)),
        )
        credits = _credits(conn, start, as_of)
        written["channel_spend"] = _write_events(store, "channel_spend", window, spend, "date")
        written["credits"] = _write_events(store, "credits", window, credits, "effective_date")
        write_partition(store, "exceptions", as_of, _exceptions(conn))
        write_partition(store, "balances", as_of, _balances(conn, as_of))
        written["exceptions"] = written["balances"] = 1
    return ReportSummary(written=written, location=store.url)


def _write_events(store: BlobStore, dataset: str, window: list[date], frame: pd.DataFrame, day_column: str) -> int:
    existing = existing_partitions(store, dataset)
    count = 0
    groups = {d: g for d, g in frame.groupby(day_column)} if not frame.empty else {}
    for day in window:
        group = groups.get(day)
        if group is None and day not in existing:
            continue  # nothing happened that day and nothing to replace
        write_partition(store, dataset, day, group if group is not None else pd.DataFrame(columns=DATASETS[dataset].names))
        count += 1
    return count


def _credits(conn, start: date, end: date) -> pd.DataFrame:
    j, p, m, lines, cards = schema.journal_entries, schema.postings, schema.matches, schema.normalized_lines, schema.card_payments
    frame = _frame(
        conn,
        select(
            j.c.entry_id.label("credit_id"),
            j.c.org_id,
            func.coalesce(lines.c.source_format, cards.c.provider).label("source"),
            func.coalesce(lines.c.bank_ref, cards.c.provider_ref).label("bank_ref"),
            m.c.invoice_numbers,
            p.c.currency,
            p.c.amount,
            j.c.status,
            m.c.confidence,
            func.coalesce(m.c.rule, literal("card_payment")).label("rule"),
            j.c.created_at.label("credited_at"),
            j.c.effective_date,
        )
        .join(p, and_(p.c.entry_id == j.c.entry_id, p.c.account == literal("customer:") + j.c.org_id))
        .outerjoin(lines, and_(j.c.kind == "credit", lines.c.line_id == j.c.evidence))
        .outerjoin(m, and_(j.c.kind == "credit", m.c.line_id == j.c.evidence))
        .outerjoin(cards, and_(j.c.kind == "card", cards.c.payment_id == j.c.evidence))
        .where(j.c.kind.in_(["credit", "card"]), j.c.effective_date.between(start, end))
        .order_by(j.c.effective_date, j.c.entry_id),
    )
    if frame.empty:
        return frame
    frame["amount"] = frame["amount"].map(lambda a: -a)  # the customer's account is credited: negative posting
    frame["confidence"] = frame["confidence"].map(lambda c: Decimal("1.000") if c is None or pd.isna(c) else c)
    frame["credited_at"] = frame["credited_at"].map(_utc)
    return frame


def _exceptions(conn) -> pd.DataFrame:
    m, lines, raw, q = schema.matches, schema.normalized_lines, schema.raw_files, schema.quarantined_rows
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
        .where(m.c.status == "exception"),
    )
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
    parts = [unmatched, files, rows, *_integrity_exceptions(conn)]
    parts = [f for f in parts if not f.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=DATASETS["exceptions"].names)
    for column in DATASETS["exceptions"].names:
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


def _balances(conn, as_of: date) -> pd.DataFrame:
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
        sums["balance"] = sums["total"].map(lambda t: -t)
        frame = orgs.merge(sums[["org_id", "currency", "balance"]], on=["org_id", "currency"], how="outer")
        frame["balance"] = frame["balance"].map(lambda b: Decimal(0) if b is None or (not isinstance(b, Decimal) and pd.isna(b)) else b)
    return frame.sort_values(["org_id", "currency"]).reset_index(drop=True)
