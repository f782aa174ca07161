"""Statement integrity end to end: real MT940 statements load, a doctored one is flagged, a missing
statement is reported, and finance sees each in the exceptions dataset."""

import shutil

import pandas as pd
import pytest

from payrecon.services.ingest import ingest_paths
from payrecon.services.reports import build_reports
from payrecon.settings import Settings
from payrecon.workspace import Workspace
from datetime import date


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYRECON_HOME", str(tmp_path / "home"))
    for name in ("PAYRECON_DATABASE_URL", "PAYRECON_STORAGE_URL", "PAYRECON_REPORTS_URL"):
        monkeypatch.delenv(name, raising=False)
    return Workspace(Settings.from_env())


def test_real_statements_pass_and_doctored_ones_are_flagged(workspace, fixtures_dir, tmp_path):
    real = fixtures_dir / "mt940" / "betterplace" / "sepa_mt9401.sta"
    [outcome] = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [real])
    assert outcome.status == "loaded" and outcome.statements == 26 and outcome.flags == []

    # Drop one :61:/:86: pair from a copy: its statement no longer adds up.
    text = real.read_text(encoding="latin-1")
    start = text.index(":61:0709040904CR335,33")
    end = text.index(":61:", start + 4)
    doctored = tmp_path / "doctored.sta"
    doctored.write_text(text[:start] + text[end:], encoding="latin-1")
    [flagged] = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [doctored])
    assert flagged.status == "loaded"
    assert len(flagged.flags) == 1 and "difference 335.33" in flagged.flags[0]

    build_reports(workspace.engine, workspace.report_store, date(2007, 9, 4), 1)
    exceptions = pd.read_parquet(workspace.settings.reports_url + "/exceptions")
    unbalanced = exceptions[exceptions["ref"].str.startswith("statement/")]
    assert len(unbalanced) == 1 and "difference 335.33" in unbalanced.iloc[0]["reason"]


def test_a_missing_statement_is_reported(workspace, tmp_path):
    def statement(number, opening, closing, day):
        return (
            f":20:STMT{number}\n:25:UA213223130000026007233566001\n:28C:{number:05d}/001\n"
            f":60F:C2611{day - 1:02d}UAH{opening}\n:61:2611{day:02d}{day:02d}CR{closing - opening},00NTRFNONREF//B{number}\n"
            f":86:Оплата за рахунком 2026-00{number}\n:62F:C2611{day:02d}UAH{closing},00\n-\n"
        )

    files = []
    for number, opening, closing, day in ((7, 100, 150, 10), (8, 150, 175, 11), (11, 300, 320, 14)):
        path = tmp_path / f"st{number}.sta"
        path.write_text(statement(number, opening, closing, day), encoding="utf-8")
        files.append(path)
    outcomes = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, files)
    assert [o.status for o in outcomes] == ["loaded"] * 3 and all(o.flags == [] for o in outcomes)
    build_reports(workspace.engine, workspace.report_store, date(2026, 11, 14), 7)
    exceptions = pd.read_parquet(workspace.settings.reports_url + "/exceptions")
    chain = exceptions[exceptions["ref"].str.startswith("chain/")]
    assert chain["reason"].tolist() == [
        "closing balance 175.0000 on 2026-11-11 is not the next statement's opening balance 300.0000; "
        "statement numbers jump from 8 to 11: 2 statements missing"
    ]
