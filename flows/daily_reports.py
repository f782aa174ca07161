"""Daily reports: the analyst datasets for a day (default: today in PAYRECON_TIMEZONE)."""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow

from payrecon.settings import Settings
from tasks.pipeline import build_reports_task


@flow(name="daily-reports")
def daily_reports(as_of: date | None = None) -> dict:
    settings = Settings.from_env()
    reports = build_reports_task(settings, as_of or datetime.now(settings.tz).date())
    return {"location": reports.location, "written": reports.written, "data_docs": reports.docs}
