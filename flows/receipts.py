"""Receipt intake: emails to sales with payment receipts, every 10 minutes in business hours.

Each new email of the receipts inbox (a folder, or the S3 prefix SES inbound writes) is kept,
read and decided (a provisional credit, or review); then provisional credits with no bank line are
flagged when late and reversed when the policy says so; then finance and customers are told.
"""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow

from payrecon.settings import Settings
from tasks.pipeline import list_receipt_emails_task, notify_task, receipt_email_task, settle_receipts_task


@flow(name="receipts-intake")
def receipts_intake(as_of: date | None = None) -> dict:
    settings = Settings.from_env()
    as_of = as_of or datetime.now(settings.tz).date()
    emails = [receipt_email_task(settings, key, as_of) for key in list_receipt_emails_task(settings)]
    settled = settle_receipts_task(settings, as_of)
    notified = notify_task(settings, as_of)
    decided = [status for email in emails for _, status, _ in email.receipts]
    return {
        "as_of": as_of.isoformat(),
        "emails": [e.line() for e in emails],
        "provisional": decided.count("provisional"),
        "review": decided.count("review"),
        "confirmed": decided.count("confirmed"),
        "duplicates": sum(e.duplicates for e in emails),
        "quarantined": sum(e.status == "quarantined" for e in emails) + sum(len(e.quarantined) for e in emails),
        "late": len(settled.late),
        "reversed": len(settled.reversed),
        "notifications": notified.topups_sent + notified.alerts_sent,
    }
