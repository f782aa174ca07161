"""Build and publish the daily report datasets (PRODUCT.md, "Report datasets"; payrecon/reports/).

Layout: <reports>/<dataset>/date=YYYY-MM-DD/part-0.parquet, the `date` column only in the folder
name. Event datasets (channel_spend by usage day, credits by booking day) are rewritten for every
day of the look-back window; snapshots (exceptions, delays, balances, unmatched_aging) for the
as-of day. Every dataset passes its great-expectations contract before it is written; with
`docs_dir`, Data Docs of those validations are rendered there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine

from payrecon.business_calendar import BusinessCalendar
from payrecon.reports import views
from payrecon.reports.aging import suspense_delays, unmatched_aging
from payrecon.reports.datasets import DATASETS
from payrecon.reports.spend import channel_spend
from payrecon.reports.publish import existing_partitions, partition_key, publish_events, publish_snapshot, write_partition
from payrecon.storage import BlobStore

__all__ = ["DATASETS", "ReportSummary", "build_reports", "existing_partitions", "partition_key", "write_partition"]


@dataclass
class ReportSummary:
    written: dict[str, int]  # dataset -> partitions written
    location: str
    docs: str | None = None


def build_reports(
    engine: Engine,
    store: BlobStore,
    as_of: date,
    lookback_days: int,
    calendar: BusinessCalendar | None = None,
    suspense_days: int = 3,
    docs_dir: str | None = None,
) -> ReportSummary:
    calendar = calendar or BusinessCalendar()
    window = (as_of - timedelta(days=lookback_days - 1), as_of)
    flagged_at = datetime.now(timezone.utc)
    with engine.connect() as conn:
        spend = views.usage(conn, *window)
        credits = views.credits(conn, *window).rename(columns={"effective_date": "date"})
        exceptions = views.exceptions(conn)
        balances = views.balances(conn, as_of)
        unmatched = views.unmatched_money(conn)
    written = {
        "channel_spend": publish_events(store, "channel_spend", channel_spend(spend), window, docs_dir),
        "credits": publish_events(store, "credits", credits, window, docs_dir),
        "exceptions": publish_snapshot(store, "exceptions", as_of, exceptions, docs_dir),
        "delays": publish_snapshot(store, "delays", as_of, suspense_delays(unmatched, as_of, calendar, suspense_days, flagged_at), docs_dir),
        "balances": publish_snapshot(store, "balances", as_of, balances, docs_dir),
        "unmatched_aging": publish_snapshot(store, "unmatched_aging", as_of, unmatched_aging(unmatched, as_of, calendar), docs_dir),
    }
    return ReportSummary(written=written, location=store.url, docs=docs_dir)
