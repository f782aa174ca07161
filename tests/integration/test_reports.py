"""Analyst datasets: read back with pandas and DuckDB, contracts before publication, Data Docs,
partition replacement, billing history."""

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.reports.billing_history import as_table, billing_history
from payrecon.reports.data_dictionary import data_dictionary
from payrecon.reports.datasets import DATASETS, SCHEMA_VERSION
from payrecon.reports.publish import ReportContractError, publish_events, publish_snapshot
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.reconcile import reconcile
from reconcilers.plan import MatchPlan
from payrecon.services.reports import build_reports
from payrecon.storage import LocalStore
from payrecon.workspace import Workspace
from tests.conftest import REPO


@pytest.fixture
def reconciled(workspace_env):
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [workspace_env.inbox])
    reconcile(workspace.engine, MatchPlan.from_settings(workspace_env), DEMO_DAY)
    summary = build_reports(workspace.engine, workspace.report_store, DEMO_DAY, 31, docs_dir=str(workspace_env.data_docs))
    return workspace, summary


def test_every_dataset_reads_back_with_its_types(reconciled):
    workspace, summary = reconciled
    root = workspace.settings.reports_url
    for name, dataset in DATASETS.items():
        frame = pd.read_parquet(f"{root}/{name}")
        assert list(frame.columns) == dataset.names + ["date"], name
        described = dict((r[0], r[1]) for r in duckdb.sql(
            f"DESCRIBE SELECT * FROM read_parquet('{root}/{name}/*/*.parquet', hive_partitioning=true)").fetchall())
        for column in dataset.columns:
            if str(column.type).startswith("decimal"):
                assert described[column.name].startswith("DECIMAL"), (name, column.name)
                assert all(isinstance(v, Decimal) for v in frame[column.name].dropna()), (name, column.name)
        assert described["date"] == "DATE"
        files = list((workspace.report_store.root / name).glob("date=*/part-0.parquet"))
        assert files, name
        metadata = pq.read_schema(files[0]).metadata
        assert metadata[b"payrecon.schema_version"] == SCHEMA_VERSION.encode()
        assert "date" not in pq.read_schema(files[0]).names


def test_delays_and_aging_use_business_days(reconciled):
    workspace, _ = reconciled
    root = workspace.settings.reports_url
    delays = pd.read_parquet(f"{root}/delays")
    suspense = delays[delays["kind"] == "suspense"]
    # The demo's payment of Sunday 8 November has waited 10 business days by Friday 20 November.
    assert suspense[["amount", "age_business_days"]].values.tolist() == [[Decimal("2000.0000"), 10]]
    assert suspense.iloc[0]["expected_by"] == date(2026, 11, 11)
    unsettled = delays[delays["kind"].isin(["card_settlement", "paypal_settlement"])].sort_values("ref")
    # LiqPay's register proves pay-00002 and pay-00004; PayPal's pay-00005 and LiqPay's pay-00006 are late.
    assert unsettled[["ref", "kind", "age_business_days"]].values.tolist() == [
        ["pay-00005", "paypal_settlement", 4], ["pay-00006", "card_settlement", 5]]
    aging = pd.read_parquet(f"{root}/unmatched_aging").set_index("bucket")
    assert aging.loc["8+", "amount"] == Decimal("2000.0000") and aging.loc["0-1", "payments"] == 2


def test_data_docs_are_built_for_the_run(reconciled):
    workspace, summary = reconciled
    index = workspace.settings.data_docs / "index.html"
    assert index.is_file()
    pages = list((workspace.settings.data_docs / "validations").rglob("*.html"))
    assert {p.parts[-4] for p in pages} >= {f"report_{name}" for name in DATASETS}
    # rendered once for the run: one page per dataset, all of the same run
    assert len(pages) == len(DATASETS) and len({p.parts[-2] for p in pages}) == 1
    assert len(list((workspace.settings.data_docs / "expectations").glob("report_*.html"))) == len(DATASETS)
    text = pages[0].read_text(encoding="utf-8")
    assert "Succeeded" in text or "success" in text.lower()
    assert all(f"report_{name}" in index.read_text(encoding="utf-8") for name in DATASETS)


def test_a_broken_contract_shows_in_the_data_docs(tmp_path):
    from data_contracts.data_docs import render

    bad = pd.DataFrame([{"credit_id": "c1", "org_id": "o1", "source": "camt", "bank_ref": None, "invoice_numbers": None,
                         "currency": "UAH", "amount": Decimal("-5.00"), "status": "confirmed", "confidence": Decimal("1"),
                         "rule": "tax_id", "credited_at": datetime(2026, 11, 20, tzinfo=timezone.utc), "date": date(2026, 11, 20)}])
    checks = []
    with pytest.raises(ReportContractError):
        publish_events(LocalStore(tmp_path / "reports"), "credits", bad, (date(2026, 11, 1), date(2026, 11, 30)), checks=checks)
    render(checks, str(tmp_path / "docs"))
    [page] = (tmp_path / "docs" / "validations" / "report_credits").rglob("*.html")
    text = page.read_text(encoding="utf-8")
    assert "Failed" in text and "-50000" in text  # the rule broken, and the value that broke it (ten-thousandths)


def test_credits_dataset_reads_the_same_by_copy(reconciled):
    """On PostgreSQL the credits dataset is read through COPY into Arrow: the same table as `credits`."""
    from payrecon.reports import views
    from payrecon.reports.publish import to_table

    workspace, _ = reconciled
    with workspace.engine.connect() as conn:
        fast = views.credits_table(conn, date(2026, 10, 21), DEMO_DAY)
        plain = views.credits(conn, date(2026, 10, 21), DEMO_DAY).rename(columns={"effective_date": "date"})
    assert len(plain) > 0
    assert to_table("credits", fast, extra=["date"]).equals(to_table("credits", plain, extra=["date"]))


def test_a_dataset_breaking_its_contract_is_not_published(tmp_path):
    store = LocalStore(tmp_path)
    bad = pd.DataFrame([{"credit_id": "c1", "org_id": "o1", "source": "camt", "bank_ref": None, "invoice_numbers": None,
                         "currency": "UAH", "amount": Decimal("-5.00"), "status": "confirmed", "confidence": Decimal("1"),
                         "rule": "tax_id", "credited_at": datetime(2026, 11, 20, tzinfo=timezone.utc), "date": date(2026, 11, 20)}])
    with pytest.raises(ReportContractError, match="credits not published: a credit that is not positive"):
        publish_events(store, "credits", bad, (date(2026, 11, 1), date(2026, 11, 30)))
    assert not (tmp_path / "credits").exists()
    with pytest.raises(ReportContractError, match="two balances for one organization and currency"):
        publish_snapshot(store, "balances", date(2026, 11, 20), pd.DataFrame(
            [{"org_id": "o1", "currency": "UAH", "balance": Decimal("1")}] * 2))


def test_rerun_replaces_days_and_empties_a_day_whose_rows_went_away(tmp_path):
    store = LocalStore(tmp_path)
    def spend(day, org):
        return {"date": day, "org_id": org, "channel": "sms", "quantity": 3, "currency": "UAH", "amount": Decimal("2.76")}
    window = (date(2026, 11, 1), date(2026, 11, 30))
    publish_events(store, "channel_spend", pd.DataFrame([spend(date(2026, 11, 2), "a"), spend(date(2026, 11, 3), "b")]), window)
    publish_events(store, "channel_spend", pd.DataFrame([spend(date(2026, 10, 30), "old")]), (date(2026, 10, 1), date(2026, 10, 31)))
    publish_events(store, "channel_spend", pd.DataFrame([spend(date(2026, 11, 2), "c")]), window)
    frame = pd.read_parquet(tmp_path / "channel_spend")
    assert sorted(zip(frame["date"].astype(str), frame["org_id"])) == [("2026-10-30", "old"), ("2026-11-02", "c")]
    assert (tmp_path / "channel_spend" / "date=2026-11-03" / "part-0.parquet").is_file()  # emptied, not left stale


def test_billing_history_for_a_period(reconciled):
    workspace, _ = reconciled
    history = billing_history(workspace.engine, "org-0001", date(2026, 11, 16), date(2026, 11, 20))
    assert {d["date"] for d in history["debits"]} == {f"2026-11-{d}" for d in range(16, 21)}
    assert any(d["channel"] == "subscription" and d["amount"] == "2400.00" for d in history["debits"])
    by_day = sum(Decimal(d["amount"]) for d in history["debits_by_day"])
    by_channel = sum(Decimal(d["amount"]) for d in history["debits_by_channel"])
    assert by_day == by_channel == sum(Decimal(d["amount"]) for d in history["debits"])
    assert history["top_ups"] and all(t["currency"] == "UAH" for t in history["top_ups"])
    # The period's movement explains the change of balance exactly.
    change = Decimal(history["closing_balance"]["UAH"]) - Decimal(history["opening_balance"].get("UAH", "0"))
    assert change == sum(Decimal(t["amount"]) for t in history["top_ups"]) - by_day
    text = as_table(history)
    assert "subscription" in text and "top-ups:" in text and json.dumps(history, ensure_ascii=False)
    with pytest.raises(LookupError, match="organization 'org-9999' not found"):
        billing_history(workspace.engine, "org-9999", date(2026, 11, 1), date(2026, 11, 2))


def test_committed_data_dictionary_is_current():
    assert (REPO / "docs" / "data-dictionary.md").read_text(encoding="utf-8") == data_dictionary(), (
        "run: .venv/bin/payrecon data-dictionary --output docs/data-dictionary.md"
    )
