"""Ingest reads files as record batches (payrecon/services/ingest.py): what is loaded does not depend
on the batch size, statement checks add up across batches, a file that breaks half-way loads
nothing, and no full card number reaches the database or `payrecon parse`."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

import payrecon.services.ingest as ingest
import sources.fast_camt as fast_camt
import sources.fast_mt940 as fast_mt940
from ledger import schema
from payrecon.workspace import Workspace
from sources.records import NormalizedRecord, ParseResult, StatementSummary, make_line_id
from tests.conftest import load_benchmark

PAN = "4111111111111111"


def _camt_with_cards(path: Path) -> Path:
    """The benchmark's camt.053, 120 entries, two paying by card in the purpose (one of them
    also with an unreadable amount, so it goes to the quarantine)."""
    load_benchmark("bench_camt").write_statement(path, entries=120)
    entries = path.read_text(encoding="utf-8").split("<Ntry>")
    entries[8] = entries[8].replace("<Ustrd>Invoice INV-0000007 customer 7</Ustrd>",
                                    "<Ustrd>Оплата карткою 4111 1111 1111 1111, рахунок INV-0000007</Ustrd>")
    entries[9] = re.sub(r'<Amt Ccy="EUR">(\d+)\.(\d+)</Amt>', r'<Amt Ccy="EUR">\1,\2</Amt>', entries[9], count=1)
    entries[9] = entries[9].replace("<Ustrd>Invoice INV-0000008 customer 8</Ustrd>", f"<Ustrd>card {PAN}</Ustrd>")
    data = "<Ntry>".join(entries)
    path.write_text(data, encoding="utf-8")
    return path


def _mt940_with_cards(path: Path) -> Path:
    load_benchmark("bench_mt940").write_statements(path, lines=90)
    data = path.read_bytes().decode("utf-8").replace("?21SVWZ+Miete", f"?21SVWZ+Karte {PAN[:11]}\r\n{PAN[11:]} Miete", 1)
    path.write_bytes(data.encode("utf-8"))
    return path


def _everything(engine) -> list[tuple]:
    """Every row of every table, as text."""
    rows = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            rows.extend((table, *map(str, row)) for row in conn.execute(text(f'SELECT * FROM "{table}"')))
    return rows


def _contents(engine) -> dict[str, list[tuple]]:
    """What a file's ingest wrote, without the times of writing."""
    tables = {
        "lines": (schema.normalized_lines, ["loaded_at"]),
        "quarantined": (schema.quarantined_rows, ["quarantined_at"]),
        "statements": (schema.statements, []),
        "files": (schema.raw_files, ["received_at"]),
    }
    out = {}
    with engine.connect() as conn:
        for name, (table, skip) in tables.items():
            columns = [c for c in table.columns if c.name not in skip]
            out[name] = sorted(tuple(map(str, row)) for row in conn.execute(select(*columns)))
    return out


def test_no_full_card_number_reaches_the_ledger_or_parse_output(workspace_env, tmp_path):
    workspace = Workspace(workspace_env)
    camt = _camt_with_cards(tmp_path / "cards.xml")
    mt940 = _mt940_with_cards(tmp_path / "cards.sta")
    outcomes = ingest.ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [camt, mt940])
    assert [o.status for o in outcomes] == ["loaded", "loaded"], [o.line() for o in outcomes]
    assert outcomes[0].rows_quarantined == 1 and outcomes[0].records_loaded == 119
    rows = _everything(workspace.engine)
    digits = ["".join(re.findall(r"[0-9*]", " ".join(row))) for row in rows]
    assert not any(PAN in d for d in digits)
    shown = [cell for row in rows for cell in row if "**" in cell]
    assert any("4111 11** **** 1111" in cell for cell in shown)  # the purpose, masked, kept
    assert any("411111******1111" in cell and "1,08" in cell for cell in shown)  # in the quarantine too
    assert any("Karte 411111**" in cell for cell in shown)

    from payrecon.cli import main

    for path in (camt, mt940):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert main(["parse", str(path)]) == 0
        printed = out.getvalue()
        assert "411111" in printed and PAN not in re.sub(r"[ \-\\\\n\"]", "", printed)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_batches_load_what_one_batch_loads(workspace_env, tmp_path, monkeypatch):
    """Small batches (7 records) against the default: the same lines, quarantined rows, statement
    checks (one of them failing) and file totals."""
    bench = load_benchmark("bench_mt940")
    mt940 = tmp_path / "many.sta"
    bench.write_statements(mt940, lines=300)
    text_ = mt940.read_bytes().decode("utf-8")
    start = text_.index(":61:", text_.index(":20:STMT0000000002"))
    text_ = text_[:start] + text_[text_.index(":61:", start + 4):]  # a line missing: its statement fails
    mt940.write_bytes(text_.encode("utf-8"))
    camt = _camt_with_cards(tmp_path / "big.xml")
    contents, flags, loads = [], [], []
    load = ingest._FileLoader.load
    monkeypatch.setattr(ingest._FileLoader, "load", lambda self, batch: (loads.append(len(batch)), load(self, batch)))
    for batch in (ingest.BATCH_RECORDS, 7):
        monkeypatch.setattr(ingest, "BATCH_RECORDS", batch)
        if batch == 7:  # small blocks too, so that the fast readers cut many batches
            monkeypatch.setattr(fast_camt, "BLOCK_BYTES", 4096)
            monkeypatch.setattr(fast_mt940, "BLOCK_BYTES", 4096)
        monkeypatch.setenv("PAYRECON_HOME", str(tmp_path / f"home-{batch}"))
        monkeypatch.setenv("PAYRECON_DATABASE_URL", f"sqlite:///{tmp_path / f'ledger-{batch}.db'}")
        workspace = Workspace()
        outcomes = ingest.ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [camt, mt940])
        flags.append([o.flags for o in outcomes])
        contents.append(_contents(workspace.engine))
    assert loads[:2] == [120, 299] and len(loads) > 10  # one line was cut out
    assert contents[0] == contents[1]
    assert flags[0] == flags[1] and len(flags[0][1]) == 1 and "a line is missing or wrong" in flags[0][1][0]
    checks = [row for row in contents[0]["statements"] if "failed" in row]
    assert len(checks) == 1 and len(contents[0]["statements"]) > 1


class _RepeatingSource:
    """A source whose lines repeat an id far apart (a defect the contract must catch)."""

    name = "repeating"

    def identify(self, path, head):
        return path.suffix == ".rep"

    def parse(self, path):
        def record(number: int, line_id: str) -> NormalizedRecord:
            return NormalizedRecord("bank_line", self.name, "UA213223130000026007233566001", "2026-01-02", None,
                                    f"{number}.00", "UAH", None, None, None, f"line {number}", None, None, line_id)

        records = [record(n, make_line_id(self.name, n)) for n in range(20)]
        records.append(record(99, records[2].line_id))
        summary = StatementSummary("UA213223130000026007233566001", "UAH", "S", "1", "0.00", "2026-01-01", "289.00",
                                   "2026-01-02", tuple(r.line_id for r in records))
        return ParseResult(records, len(records), statements=[summary])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_id_repeated_in_a_later_batch_is_quarantined_and_the_statement_checked(workspace_env, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_RECORDS", 5)
    workspace = Workspace(workspace_env)
    path = tmp_path / "lines.rep"
    path.write_text("x")
    [outcome] = ingest.ingest_paths(workspace.engine, workspace.raw_store, [_RepeatingSource()], [path])
    assert (outcome.records_loaded, outcome.rows_quarantined) == (20, 1)
    with workspace.engine.connect() as conn:
        [reason] = conn.execute(select(schema.quarantined_rows.c.reason)).scalars()
        [check] = conn.execute(select(schema.statements.c.balance_check, schema.statements.c.line_count))
    assert reason == ingest.DUPLICATE_REASON
    assert tuple(check) == ("failed", 21)  # checked from the whole parse: 0..19 and the repeated 99


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_that_breaks_half_way_loads_nothing(workspace_env, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_RECORDS", 10)
    workspace = Workspace(workspace_env)
    path = tmp_path / "cut.xml"
    load_benchmark("bench_camt").write_statement(path, entries=200)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    [outcome] = ingest.ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [path])
    assert outcome.status == "quarantined" and "not well-formed XML" in outcome.reason
    with workspace.engine.connect() as conn:
        assert conn.execute(select(schema.normalized_lines.c.line_id)).first() is None
        assert conn.execute(select(schema.raw_files.c.status)).scalar_one() == "quarantined"
