"""The nightly reconciliation: ingest the inbox, match, credit once, write reports, summarize."""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow

from payrecon.settings import Settings
from flows.fan_out import ingest_files
from tasks.pipeline import build_reports_task, list_inbox, notify_task, reconcile_task
from tasks.summary import publish_summary


@flow(name="nightly-reconciliation")
def nightly(as_of: date | None = None) -> dict:
    """Reconcile everything that is new; `as_of` (default: today in PAYRECON_TIMEZONE) dates the
    snapshot reports (balances, open exceptions)."""
    settings = Settings.from_env()
    as_of = as_of or datetime.now(settings.tz).date()
    files = ingest_files(settings, list_inbox(settings))  # in this process, or fanned out on Dask
    reconciled = reconcile_task(settings, as_of)
    reports = build_reports_task(settings, as_of)
    notified = notify_task(settings, as_of)
    publish_summary(as_of, files, reconciled, reports, notified)
    return {
        "as_of": as_of.isoformat(),
        "files": [f.line() for f in files],
        "files_quarantined": sum(f.status == "quarantined" for f in files),
        "lines_loaded": sum(f.records_loaded for f in files),
        "rows_quarantined": sum(f.rows_quarantined for f in files),
        "credits": reconciled.credits,
        "credited": {c: str(a) for c, a in reconciled.credited.items()},
        "reviews": reconciled.reviews,
        "exceptions": reconciled.exceptions,
        "subscription_fees": reconciled.subscription_fees,
        "reports": reports.location,
        "notifications": {"topups": notified.topups_sent, "alerts": notified.alerts_sent, "failed": notified.failed,
                          "new_flags": len(notified.new_flags), "not_sent_no_smtp": notified.pending_without_smtp},
    }
