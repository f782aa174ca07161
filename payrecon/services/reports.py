"""Build and publish the daily report datasets (PRODUCT.md, "Report datasets"; payrecon/reports/).

Layout: <reports>/<dataset>/date=YYYY-MM-DD/part-0.parquet, the `date` column only in the folder
name. Event datasets (channel_spend by usage day, credits by booking day) are rewritten for every
day of the look-back window; snapshots (exceptions, delays, balances, unmatched_aging) for the
as-of day. Every dataset passes its great-expectations contract before it is written; with
`docs_dir`, great-expectations Data Docs of those validations are rendered there, all of a run's
pages in one site build after the datasets are written (data_contracts/data_docs.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import Engine, text

from payrecon.business_calendar import BusinessCalendar
from payrecon.reports import views
from payrecon.reports.aging import late, suspense_delays, unmatched_aging
from payrecon.reports.datasets import DATASETS
from payrecon.reports.privacy import PayerIbanPolicy
from payrecon.reports.spend import channel_spend
from payrecon.reports.publish import existing_partitions, partition_key, publish_events, publish_snapshot, write_partition
from payrecon.storage import BlobStore

__all__ = ["DATASETS", "ReportSummary", "build_reports", "existing_partitions", "partition_key", "write_partition"]


def current_delays(engine: Engine, as_of: date, calendar: BusinessCalendar, suspense_days: int, settlement_days: int,
                   payout_days: int, flagged_at: datetime | None = None, receipt_days: int = 3) -> pd.DataFrame:
    """Everything late on `as_of`: unidentified money, unsettled card/PayPal payments, payouts that
    no bank line received, receipt credits no bank line confirmed."""
    flagged_at = flagged_at or datetime.now(timezone.utc)
    with engine.connect() as conn:
        unmatched = views.unmatched_money(conn)
        unsettled = views.unsettled_payments(conn)
        unreceived = views.unreceived_payouts(conn)
        unconfirmed = views.unconfirmed_receipts(conn)
    return pd.concat(
        [
            suspense_delays(unmatched, as_of, calendar, suspense_days, flagged_at),
            late(unsettled, as_of, calendar, settlement_days, flagged_at),
            late(unreceived, as_of, calendar, payout_days, flagged_at),
            late(unconfirmed, as_of, calendar, receipt_days, flagged_at),
        ],
        ignore_index=True,
    )


#: the tables the reports read in bulk
_READ = ("journal_entries", "postings", "normalized_lines", "matches", "card_payments", "receipts", "usage_debits",
         "organizations", "settlement_links", "payout_links")


def fresh_statistics(engine: Engine, tables: tuple[str, ...] = _READ, changed: float = 0.2) -> list[str]:
    """PostgreSQL: ANALYZE the tables never analyzed or changed by more than `changed` of their rows
    since (a night's bulk load, before autovacuum's analyze comes round), so the reports' joins are
    planned for a million rows rather than for an empty table (nested loops instead of hash joins:
    twice the time, at full scale more). Returns the tables analyzed."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        stale = [
            name
            for name, tuples, live, modified in conn.execute(text(
                "SELECT c.relname, c.reltuples, s.n_live_tup, s.n_mod_since_analyze FROM pg_class c "
                "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE c.relkind = 'r' AND c.relnamespace = to_regnamespace(current_schema()) AND c.relname = ANY(:names)"),
                {"names": list(tables)}).all()
            if tuples < 0 or (modified or 0) > changed * max(live or 0, tuples, 1)
        ]
    if stale:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE " + ", ".join(f'"{name}"' for name in sorted(stale))))
    return stale


def _read_credits(engine: Engine, window: tuple[date, date]):
    with engine.connect() as conn:
        return views.credits_table(conn, *window)


@dataclass
class ReportSummary:
    written: dict[str, int]  # dataset -> partitions written
    location: str
    docs: str | None = None
    delays: dict[str, int] = field(default_factory=dict)  # kind -> items late on the as-of day


def build_reports(
    engine: Engine,
    store: BlobStore,
    as_of: date,
    lookback_days: int,
    calendar: BusinessCalendar | None = None,
    suspense_days: int = 3,
    docs_dir: str | None = None,
    settlement_days: int = 2,
    payout_days: int = 3,
    include_ibans: bool = False,
    receipt_days: int = 3,
) -> ReportSummary:
    calendar = calendar or BusinessCalendar()
    window = (as_of - timedelta(days=lookback_days - 1), as_of)
    flagged_at = datetime.now(timezone.utc)
    if docs_dir:
        from data_contracts.data_docs import prepare

        prepare()  # great-expectations loads on the other core while the ledger is read
    fresh_statistics(engine)
    # PostgreSQL: the credits (the largest read, most of it the server's join) on a second
    # connection while the other views are read, so both cores work
    parallel = engine.dialect.name == "postgresql"
    with ThreadPoolExecutor(max_workers=1) as pool:
        if parallel:
            later = pool.submit(_read_credits, engine, window)
        with engine.connect() as conn:
            spend = views.usage(conn, *window)
            credits = None if parallel else views.credits_table(conn, *window)
            providers = views.provider_activity(conn, *window)
            exceptions = views.exceptions(conn)
            balances = views.balances(conn, as_of)
            unmatched = views.unmatched_money(conn)
            ibans = PayerIbanPolicy(include_ibans, views.own_accounts(conn))
        delays = current_delays(engine, as_of, calendar, suspense_days, settlement_days, payout_days, flagged_at, receipt_days)
        if parallel:
            credits = later.result()
    checks: list = []  # every dataset's contract outcome: their Data Docs are rendered once, below
    try:
        written = {
            "channel_spend": publish_events(store, "channel_spend", channel_spend(spend), window, checks=checks),
            "credits": publish_events(store, "credits", credits, window, checks=checks),
            "provider_activity": publish_events(store, "provider_activity", providers, window, checks=checks),
            "exceptions": publish_snapshot(store, "exceptions", as_of, exceptions, ibans=ibans, checks=checks),
            "delays": publish_snapshot(store, "delays", as_of, delays, checks=checks),
            "balances": publish_snapshot(store, "balances", as_of, balances, checks=checks),
            "unmatched_aging": publish_snapshot(store, "unmatched_aging", as_of, unmatched_aging(unmatched, as_of, calendar),
                                                checks=checks),
        }
    finally:
        # also when a dataset broke its contract: finance sees which rule, on which rows
        if docs_dir and checks:
            from data_contracts.data_docs import render

            render(checks, docs_dir)
    late = {str(k): int(v) for k, v in delays["kind"].value_counts().items()} if not delays.empty else {}
    return ReportSummary(written=written, location=store.url, docs=docs_dir, delays=late)
