"""Build and publish the daily report datasets (PRODUCT.md, "Report datasets"; payrecon/reports/).

Layout: <reports>/<dataset>/date=YYYY-MM-DD/part-0.parquet, the `date` column only in the folder
name. Event datasets (channel_spend by usage day, credits by booking day) are rewritten for every
day of the look-back window; snapshots (exceptions, delays, balances, unmatched_aging) for the
as-of day. Every dataset passes its great-expectations contract before it is written; with
`docs_dir`, Data Docs of those validations are rendered there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import Engine

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
    with engine.connect() as conn:
        spend = views.usage(conn, *window)
        credits = views.credits(conn, *window).rename(columns={"effective_date": "date"})
        providers = views.provider_activity(conn, *window)
        exceptions = views.exceptions(conn)
        balances = views.balances(conn, as_of)
        unmatched = views.unmatched_money(conn)
        ibans = PayerIbanPolicy(include_ibans, views.own_accounts(conn))
    delays = current_delays(engine, as_of, calendar, suspense_days, settlement_days, payout_days, flagged_at, receipt_days)
    written = {
        "channel_spend": publish_events(store, "channel_spend", channel_spend(spend), window, docs_dir),
        "credits": publish_events(store, "credits", credits, window, docs_dir),
        "provider_activity": publish_events(store, "provider_activity", providers, window, docs_dir),
        "exceptions": publish_snapshot(store, "exceptions", as_of, exceptions, docs_dir, ibans),
        "delays": publish_snapshot(store, "delays", as_of, delays, docs_dir),
        "balances": publish_snapshot(store, "balances", as_of, balances, docs_dir),
        "unmatched_aging": publish_snapshot(store, "unmatched_aging", as_of, unmatched_aging(unmatched, as_of, calendar), docs_dir),
    }
    late = {str(k): int(v) for k, v in delays["kind"].value_counts().items()} if not delays.empty else {}
    return ReportSummary(written=written, location=store.url, docs=docs_dir, delays=late)
