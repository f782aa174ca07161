"""Ingest's COPY path on PostgreSQL (payrecon/services/ingest.py: _lines_csv, _send_lines, the
copying thread): it stores exactly what the row-by-row insert stores, a line already stored (an
overlapping report) is skipped, not counted twice, and a file that fails half-way loads nothing."""

from __future__ import annotations

import importlib.util
import random

import pytest
from sqlalchemy import func, select

import sources.fast_adyen as fast_adyen
from ledger import schema
from payrecon.services import ingest
from payrecon.workspace import Workspace
from tests.conftest import REPO, fresh_postgres_url


def _bench():
    spec = importlib.util.spec_from_file_location("bench_nightly_load", REPO / "benchmarks" / "bench_nightly_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _workspace(tmp_path, monkeypatch, name: str) -> Workspace:
    monkeypatch.setenv("PAYRECON_HOME", str(tmp_path / f"home-{name}"))
    monkeypatch.setenv("PAYRECON_DATABASE_URL", fresh_postgres_url())
    for variable in ("PAYRECON_STORAGE_URL", "PAYRECON_REPORTS_URL", "PAYRECON_PRIVAT24_COLUMNS"):
        monkeypatch.delenv(variable, raising=False)
    return Workspace()


def _lines(engine) -> list[tuple]:
    columns = [c for c in schema.normalized_lines.columns if c.name != "loaded_at"]
    with engine.connect() as conn:
        return sorted(tuple(map(str, row)) for row in conn.execute(select(*columns)))


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    monkeypatch.setattr(fast_adyen, "BLOCK_BYTES", 65_536)  # several batches from a few thousand rows


def _sdr(tmp_path, rows: int):
    folder = tmp_path / "sdr"
    folder.mkdir(exist_ok=True)
    _bench().write_settlements(folder, rows, ["ORG1"], random.Random(5))
    return folder / "adyen_sdr_001.csv"


def test_copy_stores_what_the_row_inserts_store(tmp_path, monkeypatch):
    path = _sdr(tmp_path, 2_600)
    sent = []
    send = ingest._send_lines
    monkeypatch.setattr(ingest, "_send_lines", lambda conn, data: (sent.append(len(data)), send(conn, data))[1])
    monkeypatch.setattr(ingest, "BATCH_RECORDS", 2_000)
    fast = _workspace(tmp_path, monkeypatch, "copy")
    outcome = ingest.ingest_file(fast.engine, fast.raw_store, fast.sources, path)
    assert outcome.status == "loaded" and outcome.records_loaded == 2 * 2_600 - 3  # payout rows have no fee record
    assert len(sent) >= 2

    monkeypatch.setattr(ingest, "COPY_LINES_MIN", 10**9)
    slow = _workspace(tmp_path, monkeypatch, "rows")
    again = ingest.ingest_file(slow.engine, slow.raw_store, slow.sources, path)
    assert (again.records_loaded, again.rows_quarantined, again.flags) == (outcome.records_loaded, 0, outcome.flags)
    assert _lines(fast.engine) == _lines(slow.engine)


def test_an_overlapping_report_adds_only_its_new_lines(tmp_path, monkeypatch):
    path = _sdr(tmp_path, 2_000)
    workspace = _workspace(tmp_path, monkeypatch, "overlap")
    monkeypatch.setattr(ingest, "BATCH_RECORDS", 2_000)
    first = ingest.ingest_file(workspace.engine, workspace.raw_store, workspace.sources, path)
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    wider = tmp_path / "wider.csv"  # the same rows and 1500 more: another file, most of its lines known
    extra = "".join(line.replace("PSP00000", "PSP90000").replace(",1001,", ",2001,") for line in text[1:1501])
    wider.write_text("".join(text) + extra, encoding="utf-8")
    copies = []
    send = ingest._send_lines
    monkeypatch.setattr(ingest, "_send_lines", lambda conn, data: copies.append(send(conn, data)) or copies[-1])
    second = ingest.ingest_file(workspace.engine, workspace.raw_store, workspace.sources, wider)
    assert first.status == second.status == "loaded"
    assert False in copies and True in copies  # known lines: that batch went the ON CONFLICT way
    with workspace.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(schema.normalized_lines)).scalar()
    assert first.records_loaded == 3_998 and second.records_loaded == 3_998 + 2_999  # a repeated payout row: 1 record
    assert stored == second.records_loaded  # the 3 998 known lines once


def test_a_file_failing_after_a_copy_loads_nothing(tmp_path, monkeypatch):
    path = _sdr(tmp_path, 3_000)
    workspace = _workspace(tmp_path, monkeypatch, "fail")
    monkeypatch.setattr(ingest, "BATCH_RECORDS", 2_000)
    calls = []
    validate = ingest.validate

    def failing(frame, contract):
        calls.append(len(frame))
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return validate(frame, contract)

    monkeypatch.setattr(ingest, "validate", failing)
    with pytest.raises(RuntimeError):
        ingest.ingest_file(workspace.engine, workspace.raw_store, workspace.sources, path)
    assert _lines(workspace.engine) == []
    monkeypatch.setattr(ingest, "validate", validate)
    outcome = ingest.ingest_file(workspace.engine, workspace.raw_store, workspace.sources, path)
    assert outcome.status == "loaded" and len(_lines(workspace.engine)) == outcome.records_loaded
