"""The command line as a person uses it: real processes, real files, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from payrecon.demo import write_demo_files

BIN = Path(sys.executable).parent / "payrecon"


def run(*args, env=None, check=True):
    result = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"payrecon {' '.join(map(str, args))} failed: {result.stderr}")
    return result


@pytest.fixture
def env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAYRECON_")}
    environment["PAYRECON_HOME"] = str(tmp_path / "home")
    return environment


def test_help_lists_every_command(env):
    out = run("--help", env=env).stdout
    for command in ("demo", "parse", "import", "ingest", "run", "serve"):
        assert command in out


def test_parse_prints_json_lines(env, tmp_path):
    paths = write_demo_files(tmp_path / "files")
    result = run("parse", paths["statement"], env=env)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 30
    assert {r["source_format"] for r in records} == {"privat24_csv"}
    assert all(isinstance(r["amount"], str) for r in records)
    assert "privat24_csv, 30 of 30 lines" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["parse", "{broken}"], "no source recognizes this file"),
        (["parse", "{missing}"], "No such file"),
        (["parse", "{statement}", "--source", "swift"], "unknown source 'swift'"),
        (["import", "invoices", "{organizations}"], "invoices export lacks columns: invoice_number, issued_on"),
        (["import", "usage", "{statement}"], "not UTF-8 text; billing exports are UTF-8 CSV or Parquet"),
        (["ingest", "{missing}"], "no such file or folder"),
    ],
)
def test_bad_input_gives_one_line_and_a_non_zero_exit(env, tmp_path, args, message):
    paths = write_demo_files(tmp_path / "files")
    names = {"broken": paths["broken"], "missing": tmp_path / "nope.csv", "statement": paths["statement"],
             "organizations": paths["organizations"]}
    result = run(*[a.format(**names) for a in args], env=env, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_is_reported_before_anything_runs(env):
    env["PAYRECON_DATABASE_URL"] = "mysql://nope"
    result = run("run", "nightly", env=env, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "payrecon: error: PAYRECON_DATABASE_URL must start with sqlite:// or postgresql+psycopg://, got 'mysql'"
    ]


def test_import_and_ingest_are_idempotent(env, tmp_path):
    paths = write_demo_files(tmp_path / "files")
    assert run("import", "organizations", paths["organizations"], env=env).stdout.strip() == "organizations: 10 of 10 rows loaded"
    bad = tmp_path / "invoices.csv"
    bad.write_text(
        "invoice_number,org_id,issued_on,due_on,currency,amount,status\n"
        "2026-00001,org-0001,2026-11-01,,UAH,100.00,open\n"
        "2026-00002,org-9999,2026-11-01,,UAH,100.00,open\n"
        "2026-00003,org-0001,01.11.2026,,UAH,1e3,open\n",
        encoding="utf-8",
    )
    out = run("import", "invoices", bad, env=env).stdout
    assert out.startswith("invoices: 1 of 3 rows loaded, 2 rejected (row 3: org_id 'org-9999' is not an imported organization")
    assert "row 4: issued_on is not a date" in out
    first = run("ingest", paths["statement"], paths["broken"], env=env).stdout.splitlines()
    assert first[0].endswith("29 records loaded from 30 transactions (privat24_csv), 1 rows quarantined")
    assert "quarantined: export_broken.csv: no source recognizes" in first[1]
    second = run("ingest", tmp_path / "files" / "inbox", env=env).stdout.splitlines()
    assert sorted(line.split(":")[0] for line in second if "already ingested" in line) == ["export_broken.csv", "privat24_2026-11-20.csv"]
    assert "liqpay_register_2026-11-20.csv: 4 records loaded from 2 transactions (liqpay)" in second


def test_demo_twice_gives_the_same_credits(env, prefect_server):
    # The runs go to the session's Prefect server instead of each starting a temporary one (~10 s).
    from prefect.settings import PREFECT_API_URL

    env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    first = run("demo", env=env).stdout
    second = run("demo", env=env).stdout
    ledger_line = [line for line in first.splitlines() if line.startswith("ledger:")]
    assert ledger_line and ledger_line == [line for line in second.splitlines() if line.startswith("ledger:")]
    assert "bank credits 2 totalling 22801.00 EUR, 19 totalling 127109.94 UAH, 2 totalling 21600.50 USD" in first
    assert "new credits this run: 23" in first
    assert "new credits this run: 0" in second
    assert "reports (Parquet):" in first
