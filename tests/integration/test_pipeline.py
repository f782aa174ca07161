"""The service layer end to end on the demo workspace, on SQLite and PostgreSQL (no Prefect):
import, ingest, match, credit exactly once, report; and the ledger's invariants afterwards."""

from datetime import date
from decimal import Decimal

import duckdb
import pandas as pd
import pytest
from sqlalchemy import func, select

from ledger import schema
from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.reconcile import reconcile, unposted_card_payments, unposted_usage
from reconcilers.plan import MatchPlan
from payrecon.services.reports import build_reports
from payrecon.storage import raw_key
from payrecon.workspace import Workspace


def run_once(workspace: Workspace, paths):
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    outcomes = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [workspace.settings.inbox])
    summary = reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings))
    build_reports(workspace.engine, workspace.report_store, DEMO_DAY, workspace.settings.report_lookback_days)
    return outcomes, summary


def counts(engine):
    with engine.connect() as conn:
        return {
            t: conn.execute(select(func.count()).select_from(getattr(schema, t))).scalar_one()
            for t in ("journal_entries", "postings", "normalized_lines", "matches", "quarantined_rows", "raw_files")
        }


@pytest.fixture
def demo(workspace_env):
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    return workspace, paths


def test_demo_pipeline_credits_once_and_keeps_what_it_cannot_read(demo):
    workspace, paths = demo
    outcomes, summary = run_once(workspace, paths)
    by_name = {o.name: o for o in outcomes}

    statement = by_name[paths["statement"].name]
    assert statement.status == "loaded" and statement.transactions_found == 30
    assert statement.records_loaded == 29 and statement.rows_quarantined == 1

    broken = by_name[paths["broken"].name]
    assert broken.status == "quarantined"
    assert "no source recognizes this file" in broken.reason and "\n" not in broken.reason
    # The unreadable file is still kept, content-addressed, and marked with its reason.
    assert workspace.raw_store.get(raw_key(broken.sha256)) == paths["broken"].read_bytes()
    with workspace.engine.connect() as conn:
        raw = conn.execute(select(schema.raw_files).where(schema.raw_files.c.sha256 == broken.sha256)).one()
        quarantined_row = conn.execute(select(schema.quarantined_rows)).one()
    assert raw.status == "quarantined" and raw.error == broken.reason
    assert "amount is not a decimal" in quarantined_row.reason and "12O0,00" in quarantined_row.record

    # 22 invoice payments + 1 tax-ID top-up credit; a conflict waits for review, three unknown
    # payers are exceptions.
    assert summary.credits == 23 and summary.reviews == 1 and summary.exceptions == 3
    assert summary.by_rule["conflict"] == 1 and summary.by_rule["no_evidence"] == 3
    assert summary.by_rule["invoice+iban"] == 22 and summary.by_rule["tax_id+iban"] == 1
    assert summary.invoices_settled == 22
    assert summary.usage_entries == 420 and summary.card_entries == 6 and summary.subscription_fees == 4

    with workspace.engine.connect() as conn:  # the SQL-built entry keys meet the domain's
        assert unposted_usage(conn) == [] and unposted_card_payments(conn) == []
    first = counts(workspace.engine)
    again_outcomes, again = run_once(workspace, paths)
    assert {o.status for o in again_outcomes} == {"skipped"}
    assert again.credits == 0 and again.lines_decided == 0 and again.usage_entries == 0 and again.card_entries == 0
    assert counts(workspace.engine) == first


def test_an_overlapping_statement_adds_no_lines(demo, tmp_path):
    workspace, paths = demo
    run_once(workspace, paths)
    before = counts(workspace.engine)
    lines = paths["statement"].read_bytes().split(b"\r\n")
    overlap = tmp_path / "overlap.csv"
    overlap.write_bytes(b"\r\n".join(lines[:1] + lines[5:12]) + b"\r\n")
    [outcome] = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [overlap])
    assert outcome.status == "loaded" and outcome.records_loaded == 7
    assert reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings)).credits == 0
    assert counts(workspace.engine)["normalized_lines"] == before["normalized_lines"]
    assert counts(workspace.engine)["journal_entries"] == before["journal_entries"]


def test_ledger_invariants_hold_after_the_run(demo):
    workspace, paths = demo
    run_once(workspace, paths)
    j, p = schema.journal_entries, schema.postings
    with workspace.engine.connect() as conn:
        per_entry = conn.execute(select(p.c.entry_id, p.c.currency, func.sum(p.c.amount)).group_by(p.c.entry_id, p.c.currency)).all()
        postings = pd.DataFrame(conn.execute(select(j.c.org_id, j.c.effective_date, p.c.account, p.c.currency, p.c.amount).join(j, j.c.entry_id == p.c.entry_id)).all())
        invoices = dict(conn.execute(select(schema.invoices.c.invoice_number, schema.invoices.c.status)).all())
    assert per_entry and all(total == 0 for _, _, total in per_entry)
    assert all(isinstance(a, Decimal) for a in postings["amount"])

    # Each balance in the report equals minus the sum of that organization's postings (recomputed here).
    reported = pd.read_parquet(f"{workspace.settings.reports_url}/balances")
    customer = postings[postings["account"].str.startswith("customer:") & (postings["effective_date"] <= DEMO_DAY)]
    expected = customer.groupby(["org_id", "currency"])["amount"].agg(lambda s: -sum(s, Decimal(0)))
    assert len(reported) == 10
    for row in reported.itertuples():
        assert row.balance == expected.get((row.org_id, row.currency), Decimal(0)), row.org_id
    # The paid invoices are marked; the conflicting one is not.
    assert list(invoices.values()).count("paid") >= 20
    assert invoices["2026-00105"] == "paid"  # paid by its own organization earlier in the statement


def test_reports_read_back_with_pandas_and_duckdb(demo):
    workspace, paths = demo
    run_once(workspace, paths)
    root = workspace.settings.reports_url
    credits = pd.read_parquet(f"{root}/credits")
    assert set(credits.columns) == {"credit_id", "org_id", "source", "bank_ref", "invoice_numbers", "currency", "amount",
                                    "status", "confidence", "rule", "credited_at", "date"}
    assert len(credits) == 23 + 6
    assert all(isinstance(a, Decimal) for a in credits["amount"])
    assert (credits["status"] == "confirmed").all()
    spend = pd.read_parquet(f"{root}/channel_spend")
    assert len(spend) == 420 + 4 and spend["quantity"].dtype == "int64"
    fees = spend[spend["channel"] == "subscription"]
    # The plans activate on the day a top-up covers their fee; the one whose fee is never covered waits.
    assert sorted(fees["org_id"]) == ["org-0001", "org-0003", "org-0006", "org-0010"]
    assert sorted(str(a) for a in fees["amount"]) == ["2400.0000", "2400.0000", "300.0000", "600.0000"]
    exceptions = pd.read_parquet(f"{root}/exceptions")
    assert len(exceptions) == 4 + 1 + 1  # unmatched lines, the quarantined file, the quarantined row
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{root}/credits/*/*.parquet', hive_partitioning=true)").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types["amount"] == "DECIMAL(20,4)" and types["date"] == "DATE"
    total = duckdb.sql(f"SELECT sum(amount) FROM read_parquet('{root}/credits/*/*.parquet', hive_partitioning=true) WHERE currency = 'UAH'").fetchall()[0][0]
    assert total == sum(a for a, c in zip(credits["amount"], credits["currency"]) if c == "UAH")


def test_rerunning_a_day_replaces_only_that_partition(demo):
    workspace, paths = demo
    run_once(workspace, paths)
    root = workspace.report_store.root
    other = root / "balances" / "date=2026-11-01" / "part-0.parquet"
    other.parent.mkdir(parents=True)
    other.write_bytes((root / "balances" / f"date={DEMO_DAY.isoformat()}" / "part-0.parquet").read_bytes())
    before = other.stat().st_mtime_ns
    build_reports(workspace.engine, workspace.report_store, DEMO_DAY, 3)
    assert other.stat().st_mtime_ns == before
    assert sorted(p.name for p in (root / "balances").iterdir()) == ["date=2026-11-01", f"date={DEMO_DAY.isoformat()}"]
    assert len(list((root / "balances" / f"date={DEMO_DAY.isoformat()}").iterdir())) == 1
    assert len(pd.read_parquet(root / "balances")) == 20
