"""Two runs of the partitioned ingestion deployment (ingest_inbox with partition 0 and 1 of 2, as two
workers of one pool run them) ingest every inbox file exactly once between them."""

from __future__ import annotations

import shutil

import pytest

from payrecon.demo import write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import expand_paths
from payrecon.settings import Settings
from payrecon.workspace import Workspace
from tests.integration.test_dask_ingestion import REAL_FILES

pytestmark = pytest.mark.prefect


def test_two_partitions_ingest_every_file_once(prefect_server, tmp_path, monkeypatch):
    from flows.inbox import ingest_inbox
    from payrecon.deployments import ensure_concurrency_limits

    ensure_concurrency_limits()
    monkeypatch.setenv("PAYRECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAYRECON_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    for name in ("PAYRECON_STORAGE_URL", "PAYRECON_REPORTS_URL", "PAYRECON_TASK_RUNNER"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    workspace = Workspace(settings)
    exports = write_demo_files(settings.home)  # the demo's organizations, and its three files at the top of the inbox
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, exports[kind])
    inbox = settings.inbox
    for number, path in enumerate(REAL_FILES):  # as a bank drop lays them out: account/day/file
        folder = inbox / f"account-{number % 3}" / f"2026-11-{10 + number % 2:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)

    first = ingest_inbox(partition=0, partitions=2)["files"]
    second = ingest_inbox(partition=1, partitions=2)["files"]
    names = [line.split(":", 1)[0] for line in first + second]
    assert sorted(names) == sorted(p.name for p in expand_paths([inbox]))  # all of them, none twice
    assert len(names) == len(REAL_FILES) + 3
    assert first and second  # both workers had work
    again = ingest_inbox()["files"]  # the whole inbox afterwards: nothing left to load
    assert len(again) == len(names) and all(": already ingested" in line for line in again), again
