"""Inbox ingestion: every 15 minutes in business hours, and when a file lands (an event)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from payrecon.settings import Settings
from tasks.pipeline import ingest_file_task, list_inbox, notify_task, reconcile_task


@flow(name="inbox-ingestion")
def ingest_inbox() -> dict:
    """Ingest what is new in the inbox, credit what it proves, notify."""
    settings = Settings.from_env()
    as_of = datetime.now(settings.tz).date()
    files = [ingest_file_task(settings, path) for path in list_inbox(settings)]
    reconciled = reconcile_task(settings, as_of)
    notified = notify_task(settings, as_of)
    return {
        "files": [f.line() for f in files],
        "credits": reconciled.credits,
        "reviews": reconciled.reviews,
        "exceptions": reconciled.exceptions,
        "notifications": notified.topups_sent + notified.alerts_sent,
    }
