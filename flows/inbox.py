"""Inbox ingestion: every 15 minutes in business hours, and when a file lands (an event)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from payrecon.settings import Settings
from flows.fan_out import ingest_files
from payrecon.partitions import select_partition
from tasks.pipeline import list_inbox, notify_task, reconcile_task


@flow(name="inbox-ingestion")
def ingest_inbox(partition: int = 0, partitions: int = 1) -> dict:
    """Ingest what is new in the inbox, credit what it proves, notify. With `partitions` > 1 only
    the files of partition `partition` (by account and date: payrecon/partitions.py), so several
    workers of one pool can share the inbox."""
    settings = Settings.from_env()
    as_of = datetime.now(settings.tz).date()
    paths = select_partition(list_inbox(settings), settings.inbox, partition, partitions)
    files = ingest_files(settings, paths)  # in this process, or fanned out on Dask
    reconciled = reconcile_task(settings, as_of)
    notified = notify_task(settings, as_of)
    return {
        "files": [f.line() for f in files],
        "credits": reconciled.credits,
        "reviews": reconciled.reviews,
        "exceptions": reconciled.exceptions,
        "notifications": notified.topups_sent + notified.alerts_sent,
    }
