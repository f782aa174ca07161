"""The run summary as Prefect artifacts: a table (files) and a markdown page (totals, rules, links).

Artifact keys are lowercase with dashes, and table rows must be JSON-safe: Decimals and dates are
turned into strings first (TRAPS.md).
"""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from ledger.types import money_text
from payrecon.services.ingest import FileOutcome
from payrecon.services.notifications import NotificationSummary
from payrecon.services.reconcile import ReconcileSummary
from payrecon.services.reports import ReportSummary


def summary_markdown(as_of: date, files: list[FileOutcome], rec: ReconcileSummary, reports: ReportSummary,
                     notified: NotificationSummary | None = None) -> str:
    loaded = [f for f in files if f.status == "loaded"]
    quarantined = [f for f in files if f.status == "quarantined"]
    rows_quarantined = sum(f.rows_quarantined for f in files)
    credited = ", ".join(f"{money_text(amount)} {currency}" for currency, amount in sorted(rec.credited.items())) or "nothing"
    lines = [
        f"# Nightly reconciliation, {as_of.isoformat()}",
        "",
        f"- Files: {len(files)} seen, {len(loaded)} loaded, {len(quarantined)} quarantined, "
        f"{len(files) - len(loaded) - len(quarantined)} already ingested",
        f"- Lines loaded: {sum(f.records_loaded for f in loaded)}; rows quarantined: {rows_quarantined}",
        f"- Lines decided: {rec.lines_decided}; credits: {rec.credits} ({credited}); waiting for review: {rec.reviews}; "
        f"exceptions: {rec.exceptions}; invoices paid: {rec.invoices_settled}",
        f"- Learned payer accounts: {rec.learned_ibans}; payer names: {rec.learned_names}",
        f"- Usage entries posted: {rec.usage_entries}; card top-ups posted: {rec.card_entries}; "
        f"plan fees debited: {rec.subscription_fees}",
        f"- Provider money: {rec.settlements.payments_settled} payments proved by settlements, "
        f"{rec.settlements.payouts_received} payouts found on bank statements, "
        f"{rec.settlements.chargebacks} chargebacks, {rec.settlements.refunds} refunds; fees: "
        + (", ".join(f"{money_text(v)} {k}" for k, v in sorted(rec.settlements.fees.items())) or "none"),
        "- Delays: " + (", ".join(f"{n} {kind}" for kind, n in sorted(reports.delays.items())) or "none"),
        "",
        "## Decisions by rule",
        "",
        "| rule | lines |",
        "|---|---|",
        *[f"| {rule} | {count} |" for rule, count in sorted(rec.by_rule.items())],
    ]
    if quarantined:
        lines += ["", "## Quarantined files", "", *[f"- **{f.name}**: {f.reason}" for f in quarantined]]
    flagged_files = [f for f in files if f.flags]
    if flagged_files:
        lines += ["", "## Flagged files", "", *[f"- **{f.name}**: {'; '.join(f.flags)}" for f in flagged_files]]
    if notified is not None:
        lines += ["", "## Notifications", "",
                  f"- New flags: {len(notified.new_flags)}; top-up notifications sent: {notified.topups_sent}; "
                  f"finance alerts sent: {notified.alerts_sent}; failed sends: {notified.failed}"]
        if notified.pending_without_smtp:
            lines.append(f"- **{notified.pending_without_smtp} not sent: PAYRECON_SMTP_HOST is not set**")
    lines += ["", "## Report datasets", "", f"Location: `{reports.location}`", ""]
    lines += [f"- `{name}`: {count} partition(s) written" for name, count in sorted(reports.written.items())]
    if reports.docs:
        lines += ["", f"Data contract results (great-expectations Data Docs): `{reports.docs}/index.html`"]
    return "\n".join(lines)


@task(name="publish-summary")
def publish_summary(as_of: date, files: list[FileOutcome], rec: ReconcileSummary, reports: ReportSummary,
                    notified: NotificationSummary | None = None) -> str:
    create_table_artifact(
        key="nightly-files",
        table=[
            {
                "file": f.name,
                "status": f.status,
                "source": f.source or "",
                "lines found": str(f.transactions_found),
                "lines loaded": str(f.records_loaded),
                "rows quarantined": str(f.rows_quarantined),
                "reason": f.reason or "",
            }
            for f in files
        ],
        description=f"Files seen by the nightly run for {as_of.isoformat()}",
    )
    markdown = summary_markdown(as_of, files, rec, reports, notified)
    create_markdown_artifact(key="nightly-summary", markdown=markdown, description=f"Nightly run {as_of.isoformat()}")
    return markdown
