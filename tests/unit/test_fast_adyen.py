"""The Adyen fast reader (sources/fast_adyen.py) gives exactly what the per-row reader gives: every
real fixture, the benchmark's generated reports, files with every oddity it must carry over
(repeated rows, skipped journal states, fee disagreements, spreadsheet-mangled references, quoting,
padding, BOM, CRLF, semicolons), files it must hand to the per-row reader (also half-way), and
hypothesis-generated reports. Also the masking filter the ingest of its records relies on.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import random
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sources.fast_adyen as fast_adyen
from sources.adyen_reports import AdyenSettlementSource
from sources.masking import mask_frame, mask_json_text, mask_text
from tests.conftest import REPO
from tests.fast_equality import differences, streamed

ADYEN = AdyenSettlementSource()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _bench():
    spec = importlib.util.spec_from_file_location("bench_nightly_load", REPO / "benchmarks" / "bench_nightly_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same(path: Path, batch_size: int = 1000) -> object:
    """Asserts stream() == parse() (records, warnings, found, checks); returns the stream."""
    assert differences(ADYEN, path, batch_size) == [], path.name
    result = streamed(ADYEN, path, batch_size)
    if isinstance(result, Exception):
        return result
    stream = result[4]
    assert stream.checks == ADYEN.parse(path).checks, path.name
    return stream


SDR_HEADER = _bench().SDR_HEADER.strip().split(",") if (REPO / "benchmarks" / "bench_nightly_load.py").exists() else []


def _write(path: Path, rows: list[list[str]], header: list[str] | None = None, delimiter: str = ",",
           newline: str = "\n", bom: bool = False) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header or SDR_HEADER)
    writer.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8"))
    return path


def _row(number: int, journal: str = "Settled", batch: int = 7, **cells: str) -> list[str]:
    """A row of the benchmark's 30-column SDR; cells by header name override."""
    values = {
        "Company Account": "Co", "Merchant Account": "CoEUR", "Psp Reference": f"PSP{number:013d}",
        "Merchant Reference": f"ref-{number}", "Payment Method": "visa", "Creation Date": f"2026-11-{1 + number % 27:02d} 10:00:00",
        "TimeZone": "CET", "Type": journal, "Modification Reference": f"MOD{number:013d}", "Gross Currency": "EUR",
        "Gross Debit (GC)": "", "Gross Credit (GC)": f"{10 + number}.00", "Exchange Rate": "1", "Net Currency": "EUR",
        "Net Debit (NC)": "", "Net Credit (NC)": f"{9 + number}.50", "Commission (NC)": "0.20", "Markup (NC)": "0.10",
        "Scheme Fees (NC)": "0.05", "Interchange (NC)": "0.15", "Payment Method Variant": "visacredit",
        "Modification Merchant Reference": "", "Batch Number": str(batch),
    }
    values.update({name.replace("_", " "): value for name, value in cells.items()})
    return [values.get(name, "") for name in SDR_HEADER]


def _cells(**named: str) -> dict[str, str]:
    return {key.replace(" ", "_"): value for key, value in named.items()}


# --------------------------------------------------------------------------------------------
# Real fixtures and the benchmark's reports
# --------------------------------------------------------------------------------------------


def test_every_real_adyen_fixture_streams_as_it_parses_through_the_fast_reader(fixtures_dir):
    paths = sorted((fixtures_dir / "card_settlements" / "adyen").glob("*.csv"))
    assert len(paths) >= 7
    for path in paths:
        stream = _same(path)
        assert not stream.replayed and stream.fast_rows == stream.transactions_found, path.name


def test_the_reordered_batches_sample_streams_as_it_parses():
    path = REPO / "tests" / "data" / "settlements" / "adyen_sdr_reordered_batches_1137_1138.csv"
    stream = _same(path, batch_size=3)
    assert not stream.replayed and stream.fast_rows == stream.transactions_found > 0


def test_benchmark_reports_in_small_blocks(tmp_path, monkeypatch):
    """The benchmark's generator (payout batches, refunds), cut into many blocks and batches."""
    monkeypatch.setattr(fast_adyen, "BLOCK_BYTES", 16_384)
    bench = _bench()
    files, _, _ = bench.write_settlements(tmp_path, 3_500, ["ORG1", "ORG2"], random.Random(3))
    assert files == 1
    stream = _same(tmp_path / "adyen_sdr_001.csv", batch_size=700)
    assert not stream.replayed and stream.fast_rows == 3_500 and len(stream.checks) == 4
    assert all(check.passed for check in stream.checks)


def test_oddities_the_fast_reader_carries_over(tmp_path, monkeypatch):
    monkeypatch.setattr(fast_adyen, "BLOCK_BYTES", 4096)
    rows = [_row(n) for n in range(60)]
    rows += [_row(5)] * 3  # the same row again (occurrences), across blocks
    rows += [_row(70, "Refunded", **_cells(**{"Net Debit (NC)": "12.345678", "Net Credit (NC)": "", "Gross Debit (GC)": ".5"}))]
    rows += [_row(71, "Received"), _row(72, "Authorised")]  # states: skipped with a warning
    rows += [_row(73, **_cells(**{"Psp Reference": "1.2302025304E+022", "Merchant Reference": "4.5e7"}))]
    rows += [_row(74, **_cells(**{"Commission (NC)": "", "Markup (NC)": "", "Scheme Fees (NC)": "", "Interchange (NC)": ""}))]
    rows += [_row(75, "Fee", **_cells(**{"Psp Reference": "", "Net Debit (NC)": "+1.", "Net Credit (NC)": ""}))]
    rows += [_row(76, "MerchantPayout", **_cells(**{"Psp Reference": "", "Modification Reference": "TX1XT batch 7,  CoEUR\tx",
                                                     "Net Debit (NC)": "0", "Net Credit (NC)": ""}))]
    rows += [_row(77, "Balance Transfer"), _row(78, "DepositCorrection"), _row(79, "chargebackreversed"),
             _row(80, "PaidOutReversed")]
    rows += [_row(81, **_cells(**{"Creation Date": "2026-02-30 10:00:00", "Merchant Account": "", "Net Currency": "eur"}))]
    rows += [_row(82, **_cells(**{"Creation Date": "not a date", "Batch Number": ""}))]
    rows += [_row(83, **_cells(**{"Creation Date": "", "Type": " Settled ", "Payment Method": '  "quoted", text\n2 ',
                                  "Merchant Reference": "\u00a0ref\u2003", "Net Credit (NC)": "-0.00"}))]
    rows += [_row(84, **_cells(**{"Payment Method": "back\\slash \x01 ctl", "Exchange Rate": "Ünïcödé ß"}))]
    rows += [_row(85, **_cells(**{"Creation Date": "2026/1/5T01:02", "Gross Credit (GC)": "", "Gross Debit (GC)": ""}))]
    rows += [_row(86, batch=8), _row(87, "MerchantPayout", batch=9, **_cells(**{"Net Debit (NC)": "19.50", "Net Credit (NC)": ""}))]
    header = SDR_HEADER + ["Payment Fees (NC)", "Booking Date"]
    wide = [row + ["0.40" if i % 7 == 0 else ("0.00" if i % 11 == 0 else ""), "2026-11-30 01:00:00" if i % 2 else ""]
            for i, row in enumerate(rows)]
    for name, kwargs, body, head in (
        ("plain.csv", {}, rows, None),
        ("wide.csv", {}, wide, header),
        ("crlf_bom.csv", {"newline": "\r\n", "bom": True}, rows, None),
        ("semicolons.csv", {"delimiter": ";"}, rows, None),
        ("reordered.csv", {}, [list(reversed(r)) for r in rows], list(reversed(SDR_HEADER))),
        ("blank_lines.csv", {}, rows[:5] + [[]] * 2 + rows[5:], None),
    ):
        path = _write(tmp_path / name, body, head, **kwargs)
        stream = _same(path, batch_size=97)
        assert not stream.replayed, name
    plain = ADYEN.parse(tmp_path / "plain.csv")
    notes = " | ".join(plain.warnings)
    assert "not kept as records" in notes and "scientific notation" in notes and "MerchantPayout" in notes
    ids = [r.line_id for r in plain.records]
    assert len(ids) == len(set(ids))
    wide_notes = " | ".join(ADYEN.parse(tmp_path / "wide.csv").warnings)
    assert "Payment Fees (NC) differs" in wide_notes


@pytest.mark.parametrize("odd", [
    "unknown journal type", "empty row", "amount with a comma", "unicode minus", "huge amount",
    "short row", "lone carriage return", "cp1252", "unterminated quote", "quoted header",
])
def test_files_the_fast_reader_hands_over_even_half_way(tmp_path, monkeypatch, odd):
    """Whatever it does not take, early or late in the file, the per-row reader reads instead: the
    result is the per-row reader's."""
    monkeypatch.setattr(fast_adyen, "BLOCK_BYTES", 4096)
    rows = [_row(n) for n in range(80)]
    late = {
        "unknown journal type": _row(99, "SomethingNew"),
        "empty row": [""] * len(SDR_HEADER),
        "amount with a comma": _row(99, **_cells(**{"Net Credit (NC)": "1,50"})),
        "unicode minus": _row(99, **_cells(**{"Net Credit (NC)": "\u22125.00"})),
        "huge amount": _row(99, **_cells(**{"Net Credit (NC)": "123456789012345.5"})),
        "short row": _row(99)[:10],
    }
    path = tmp_path / "odd.csv"
    if odd in late:
        _write(path, rows + [late[odd]] + rows[:3])
    else:
        _write(path, rows)
        data = path.read_bytes()
        if odd == "lone carriage return":
            data = data.replace(b"ref-70", b"ref\r70")
        elif odd == "cp1252":
            data = data.replace(b"ref-70", "ref-\u00e970".encode("cp1252"))
        elif odd == "unterminated quote":
            data += b'Co,"CoEUR,PSP\n'
        elif odd == "quoted header":
            data = data.replace(b"Company Account", b'"Company Account"', 1)
        path.write_bytes(data)
    stream = _same(path, batch_size=50)
    if not isinstance(stream, Exception):
        assert stream.replayed, odd


def test_errors_are_the_per_row_readers(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header_only.csv").write_text(",".join(SDR_HEADER) + "\n")
    (tmp_path / "not_adyen.csv").write_text("a,b,c\n1,2,3\n")
    for name in ("empty.csv", "header_only.csv", "not_adyen.csv"):
        _same(tmp_path / name)


# --------------------------------------------------------------------------------------------
# Hypothesis: generated reports
# --------------------------------------------------------------------------------------------

_amounts = st.one_of(
    st.just(""),
    st.from_regex(r"[+-]?[0-9]{1,6}(\.[0-9]{0,4})?", fullmatch=True),
    st.from_regex(r"\.[0-9]{1,3}", fullmatch=True),
    st.sampled_from(["0", "0.00", "-0.00", "007.10", "1e3", "n/a"]),
)
_texts = st.one_of(st.sampled_from(["", "x", "a b", "  padded ", "q\"uote", "new\nline", "com,ma", "1.2E+22", "ÿ"]),
                   st.text(max_size=6))
_journals = st.sampled_from(["Settled", "Refunded", "Chargeback", "ChargebackReversed", "Fee", "MerchantPayout",
                             "Balancetransfer", "InvoiceDeduction", "SentForSettle", "Received", "PaidOutReversed",
                             "settled ", "Refunded Externally"])
_rows = st.fixed_dictionaries({
    "Type": _journals, "Psp_Reference": st.sampled_from(["", "PSP1", "PSP2"]), "Modification_Reference": _texts,
    "Net_Debit_(NC)": _amounts, "Net_Credit_(NC)": _amounts, "Commission_(NC)": _amounts, "Markup_(NC)": _amounts,
    "Gross_Debit_(GC)": _amounts, "Gross_Credit_(GC)": _amounts, "Batch_Number": st.sampled_from(["", "1", "2"]),
    "Creation_Date": st.sampled_from(["2026-11-01 10:00:00", "2026-11-01 10:00:00", "2026-13-01", "", "x"]),
    "Net_Currency": st.sampled_from(["EUR", "usd", ""]), "Payment_Method": _texts, "Merchant_Reference": _texts,
})


@FUZZ
@given(rows=st.lists(_rows, min_size=1, max_size=40))
def test_generated_reports_stream_as_they_parse(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "sdr.csv"
    _write(path, [_row(n, journal=cells["Type"], **{k: v for k, v in cells.items() if k != "Type"})
                  for n, cells in enumerate(rows)])
    old = fast_adyen.BLOCK_BYTES
    fast_adyen.BLOCK_BYTES = 2048
    try:
        _same(path, batch_size=13)
    finally:
        fast_adyen.BLOCK_BYTES = old


# --------------------------------------------------------------------------------------------
# Masking: the vectorised filter passes over no value that holds a card number
# --------------------------------------------------------------------------------------------

_PAN = "4111111111111111"


@settings(max_examples=300, deadline=None)
@given(before=st.text(max_size=4), after=st.text(max_size=3),
       digits=st.sampled_from([_PAN, "4111 1111 1111 1111", "5500-0000-0000-0004", "0000000000000"]))
def test_frame_masking_is_the_per_value_masking(before, after, digits):
    text = before + digits + after
    extra = json.dumps({"note": text, "n": 1}, ensure_ascii=False, sort_keys=True)
    frame = pd.DataFrame({"remittance": pd.array([text, "PSP" + _PAN], dtype="str"),
                          "bank_ref": pd.array([text, None], dtype="str"),
                          "extra": pd.array([extra, json.dumps({"a": "PSP" + _PAN})], dtype="str")})
    masked = mask_frame(frame)
    assert masked["remittance"].tolist() == [mask_text(text), "PSP" + _PAN]
    assert masked["bank_ref"][0] == mask_text(text, strict=True)
    assert masked["extra"][0] == (mask_json_text(extra) if mask_text(text) != text else extra)


def test_references_glued_to_letters_are_not_taken_for_cards():
    frame = pd.DataFrame({"extra": pd.array([json.dumps({"psp": f"PSP{n:013d}"}) for n in range(3)], dtype="str")})
    assert mask_frame(frame)["extra"].tolist() == frame["extra"].tolist()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_the_stripped_characters_are_pythons():
    assert fast_adyen.PY_WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())
