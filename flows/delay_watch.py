"""Delay watch: hourly in business hours, alert finance about what became late."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from payrecon.settings import Settings
from tasks.pipeline import notify_task


@flow(name="delay-watch")
def delay_watch() -> dict:
    settings = Settings.from_env()
    notified = notify_task(settings, datetime.now(settings.tz).date())
    return {"new_flags": [f.reason for f in notified.new_flags], "alerts_sent": notified.alerts_sent}
