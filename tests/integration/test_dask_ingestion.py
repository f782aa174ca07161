"""The ingestion flow fanned out on a local Dask cluster (loopback only) writes the same ledger as
the default in-process runner (PAYRECON_TASK_RUNNER; flows/fan_out.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger import schema
from payrecon.demo import write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.settings import Settings
from payrecon.workspace import Workspace
from tests.conftest import REPO

pytestmark = pytest.mark.prefect

DATA = REPO / "tests" / "data"
#: Real statements and settlement reports of six formats, plus one unreadable file.
REAL_FILES = [
    DATA / "ua_bank" / "privatbank_final_2026-11-12.json",
    DATA / "ua_bank" / "monobank_fop_wrapper_2026-11.json",
    DATA / "ua_bank" / "1c_ua_keys_cp1251.txt",
    DATA / "ua_bank" / "1c_ua_dialect_cp866.txt",
    DATA / "ua_bank" / "privatbank_error_response.json",
    DATA / "settlements" / "STL-20260112.01.009.CSV",
    DATA / "settlements" / "liqpay_register_2026-11-12.csv",
    DATA / "settlements" / "stripe_balance_change_from_activity_utc.csv",
]


def _ledger(engine) -> dict[str, list[tuple]]:
    """What ingestion and crediting wrote, without the wall-clock columns."""
    t = schema
    queries = {
        "raw_files": select(t.raw_files.c.sha256, t.raw_files.c.original_name, t.raw_files.c.status, t.raw_files.c.source,
                            t.raw_files.c.error, t.raw_files.c.records_loaded, t.raw_files.c.rows_quarantined),
        "lines": select(t.normalized_lines.c.line_id, t.normalized_lines.c.raw_file_sha256, t.normalized_lines.c.record_type,
                        t.normalized_lines.c.account, t.normalized_lines.c.amount, t.normalized_lines.c.currency),
        "quarantined_rows": select(t.quarantined_rows.c.raw_file_sha256, t.quarantined_rows.c.row_key, t.quarantined_rows.c.reason),
        "statements": select(t.statements.c.statement_key, t.statements.c.balance_check),
        "matches": select(t.matches.c.line_id, t.matches.c.status, t.matches.c.org_id, t.matches.c.rule),
        "entries": select(t.journal_entries.c.entry_id, t.journal_entries.c.kind, t.journal_entries.c.org_id),
        "postings": select(t.postings.c.entry_id, t.postings.c.account, t.postings.c.currency, t.postings.c.amount),
    }
    with engine.connect() as conn:
        return {name: sorted(tuple(map(str, row)) for row in conn.execute(query)) for name, query in queries.items()}


def _workspace(home: Path, database_url: str, monkeypatch, runner: str) -> Workspace:
    monkeypatch.setenv("PAYRECON_HOME", str(home))
    monkeypatch.setenv("PAYRECON_DATABASE_URL", database_url)
    monkeypatch.setenv("PAYRECON_TASK_RUNNER", runner)
    for name in ("PAYRECON_STORAGE_URL", "PAYRECON_REPORTS_URL", "PAYRECON_PRIVAT24_COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    workspace = Workspace(Settings.from_env())
    paths = write_demo_files(home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    for path in REAL_FILES:
        shutil.copy(path, home / "inbox" / path.name)
    return workspace


@pytest.fixture
def two_databases():
    """Two ledgers on the PostgreSQL server: concurrent writers from Dask workers is the production
    set-up (on SQLite they queue on its one write lock, which works, but tells nothing more)."""
    from tests.conftest import fresh_postgres_url

    return fresh_postgres_url(), fresh_postgres_url()


def test_ingestion_flow_on_a_local_dask_cluster_writes_the_same_ledger(prefect_server, tmp_path, monkeypatch, two_databases):
    from distributed import LocalCluster

    from flows.inbox import ingest_inbox
    from payrecon.deployments import ensure_concurrency_limits

    ensure_concurrency_limits()
    threads_url, dask_url = two_databases
    inbox_files = len(REAL_FILES) + 3  # and the demo's statement, LiqPay register and broken export

    plain = _workspace(tmp_path / "threads", threads_url, monkeypatch, "thread")
    by_threads = ingest_inbox()
    assert len(by_threads["files"]) == inbox_files

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        fanned = _workspace(tmp_path / "dask", dask_url, monkeypatch, cluster.scheduler_address)
        by_dask = ingest_inbox()
        # The files were parsed by the cluster's workers: one ingest-file task each, none elsewhere.
        computed = {name: dict(prefix.state_counts) for name, prefix in cluster.scheduler.task_prefixes.items()}
        assert computed.keys() == {"ingest_file_task"} and computed["ingest_file_task"]["memory"] == inbox_files, computed
        workers = {w.address for w in cluster.workers.values()}
        assert len(workers) == 2

    assert sorted(by_dask["files"]) == sorted(by_threads["files"])
    assert (by_dask["credits"], by_dask["exceptions"]) == (by_threads["credits"], by_threads["exceptions"])
    assert by_threads["credits"] > 0
    threads_ledger, dask_ledger = _ledger(plain.engine), _ledger(fanned.engine)
    assert len(threads_ledger["lines"]) > 50 and len(threads_ledger["raw_files"]) == inbox_files + len(IMPORT_ORDER)
    assert any(row[2] == "quarantined" for row in threads_ledger["raw_files"])
    for table in threads_ledger:
        assert dask_ledger[table] == threads_ledger[table], f"{table} differs between the runners"
