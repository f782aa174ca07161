"""The nightly pipeline's tasks. Retries only where I/O can fail transiently (object store,
database); every task is idempotent, so a retry or a re-run adds nothing twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import task
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event
from prefect.logging import get_run_logger

from payrecon.deployments import CREDIT_LIMIT
from payrecon.mail import Mailer
from payrecon.services.ingest import FileOutcome, expand_paths, ingest_file
from payrecon.services.notifications import (NotificationSummary, current_flags, receipt_events, send_notifications,
                                             update_flags)
from payrecon.services.reconcile import ReconcileSummary, reconcile
from payrecon.services.review import Decision, ReviewCase, apply_decision, review_case
from payrecon.services.reports import ReportSummary, build_reports
from payrecon.services import receipts
from payrecon.settings import Settings
from payrecon.storage import LocalStore
from payrecon.workspace import Workspace
from reconcilers.plan import MatchPlan


@task(name="list-inbox")
def list_inbox(settings: Settings) -> list[Path]:
    settings.inbox.mkdir(parents=True, exist_ok=True)
    return expand_paths([settings.inbox])


@task(name="ingest-file", retries=2, retry_delay_seconds=5, task_run_name="ingest {path.name}")
def ingest_file_task(settings: Settings, path: Path) -> FileOutcome:
    workspace = Workspace(settings)
    outcome = ingest_file(workspace.engine, workspace.raw_store, workspace.sources, path)
    logger = get_run_logger()
    (logger.warning if outcome.status == "quarantined" else logger.info)(outcome.line())
    return outcome


@task(name="match-and-credit", retries=2, retry_delay_seconds=5)
def reconcile_task(settings: Settings, as_of: date) -> ReconcileSummary:
    # One crediting run at a time across every worker; the database's keys make it exactly-once
    # even without the limit, which only keeps concurrent runs from racing for the same lines.
    with concurrency(CREDIT_LIMIT, occupy=1, strict=True):
        summary = reconcile(Workspace(settings).engine, MatchPlan.from_settings(settings), as_of,
                            receipt_tolerance=settings.receipts.amount_tolerance)
    logger = get_run_logger()
    logger.info(
        "%s lines decided: %s credits, %s waiting for review, %s exceptions; %s invoices paid",
        summary.lines_decided, summary.credits, summary.reviews, summary.exceptions, summary.invoices_settled,
    )
    for problem in summary.problems:
        logger.warning("master data: %s", problem)
    return summary


@task(name="write-reports", retries=2, retry_delay_seconds=5)
def build_reports_task(settings: Settings, as_of: date) -> ReportSummary:
    workspace = Workspace(settings)
    return build_reports(
        workspace.engine,
        workspace.report_store,
        as_of,
        settings.report_lookback_days,
        calendar=settings.calendar,
        suspense_days=settings.suspense_days,
        docs_dir=str(settings.data_docs),
        settlement_days=settings.settlement_days,
        payout_days=settings.payout_days,
        include_ibans=settings.reports_include_ibans,
        receipt_days=settings.receipts.confirm_days,
    )


@task(name="notify", retries=1, retry_delay_seconds=30)
def notify_task(settings: Settings, as_of: date) -> NotificationSummary:
    """Billing notifications for new top-ups and one alert digest to finance; a Prefect event for
    each new flag so automations can page someone."""
    workspace = Workspace(settings)
    flags = current_flags(workspace.engine, as_of, settings.calendar, settings.suspense_days,
                          settings.settlement_days, settings.payout_days, settings.receipts.confirm_days)
    changes = update_flags(workspace.engine, flags, as_of, settings.calendar, settings.escalate_days)
    mailer = Mailer(settings.smtp) if settings.smtp else None
    # Reversed receipt credits are told once, in the same digest (events, not flags with a life).
    summary = send_notifications(workspace.engine, mailer, settings.finance_emails, flags + receipt_events(workspace.engine),
                                 changes.escalated)
    for what, changed in (("raised", changes.raised), ("escalated", changes.escalated), ("cleared", changes.cleared)):
        for flag in changed:
            emit_event(
                event=f"payrecon.flag.{what}",
                resource={"prefect.resource.id": f"payrecon.{flag.key.replace(':', '.')}", "prefect.resource.name": flag.source},
                payload={"reason": flag.reason, "as_of": as_of.isoformat()},
            )
    logger = get_run_logger()
    if summary.pending_without_smtp:
        logger.warning("%s notification(s) not sent: PAYRECON_SMTP_HOST is not set", summary.pending_without_smtp)
    logger.info("%s top-up notification(s), %s alert(s) sent, %s failed", summary.topups_sent, summary.alerts_sent, summary.failed)
    return summary


@task(name="load-review-case")
def load_review_case(settings: Settings, line_id: str) -> ReviewCase:
    return review_case(Workspace(settings).engine, line_id)


@task(name="apply-review-decision")
def apply_review_decision(settings: Settings, line_id: str, decision: Decision, flow_run_id: str | None) -> str:
    with concurrency(CREDIT_LIMIT, occupy=1, strict=True):
        return apply_decision(Workspace(settings).engine, line_id, decision, flow_run_id)


# --- receipt scans emailed to sales (issue 6) -------------------------------------------------------


@task(name="list-receipt-emails", retries=2, retry_delay_seconds=5)
def list_receipt_emails_task(settings: Settings) -> list[str]:
    workspace = Workspace(settings)
    inbox = receipts.inbox_store(settings.receipts)
    if isinstance(inbox, LocalStore):
        inbox.root.mkdir(parents=True, exist_ok=True)
    return receipts.list_receipt_emails(workspace.engine, inbox)


@task(name="take-in-receipt-email", retries=2, retry_delay_seconds=5, task_run_name="receipt email {key}")
def receipt_email_task(settings: Settings, key: str, as_of: date) -> receipts.EmailOutcome:
    workspace = Workspace(settings)
    data = receipts.inbox_store(settings.receipts).get(key)
    outcome = receipts.ingest_receipt_email(workspace.engine, workspace.raw_store, settings.receipts, key, data, as_of,
                                            settings.tz, guard=lambda: concurrency(CREDIT_LIMIT, occupy=1, strict=True))
    logger = get_run_logger()
    (logger.warning if outcome.status == "quarantined" or outcome.quarantined else logger.info)(outcome.line())
    return outcome


@task(name="settle-receipts", retries=2, retry_delay_seconds=5)
def settle_receipts_task(settings: Settings, as_of: date) -> receipts.SettleSummary:
    """Provisional receipt credits past their business days: late, then reversed when the policy says so."""
    with concurrency(CREDIT_LIMIT, occupy=1, strict=True):
        summary = receipts.settle_receipts(Workspace(settings).engine, settings.receipts, settings.calendar, as_of)
    if summary.reversed:
        get_run_logger().warning("%s provisional receipt credit(s) reversed: %s", len(summary.reversed), ", ".join(summary.reversed))
    return summary
