"""The PDF statement source (FORMATS.md §7) against statements drawn by tests/pdf_factory.py.

No real PDF statement is available (FORMATS.md §7: the public ones are private or git-crypt
encrypted), so the factory draws them with the traps of real ones, and each generated statement
carries its truth (StatementSpec): every parsed line is compared with the line that was drawn.
Two generated statements are kept under tests/golden/pdf_statement/ with their expected output.
"""

from __future__ import annotations

import dataclasses
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.errors import MalformedFile, SourceError
from sources.pdf_layouts import BUILTIN_PROFILES, GENERIC_EN, PRIVATBANK_UA, LayoutProfile, load_profiles
from sources.pdf_statement import PdfStatementSource, parse_money
from sources.records import ParseResult
from tests import pdf_factory as factory

SOURCE = PdfStatementSource()
GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "pdf_statement"
UPDATE_GOLDEN = os.environ.get("PAYRECON_UPDATE_GOLDEN") == "1"

#: Committed generated statements: file name -> how to draw it again (with PAYRECON_UPDATE_GOLDEN=1).
GOLDEN = {
    "privatbank_ua_2026-10.pdf": lambda path: factory.write_ukrainian_statement(path, factory.ukrainian_spec()),
    "northwind_en_crdr_2026-12.pdf": lambda path: factory.write_english_statement(
        path, factory.english_spec(), amount_style="crdr", date_once_per_day=True
    ),
}

#: Real PDF samples under the fixtures folder -> records expected, or the MalformedFile reason.
#: FORMATS.md §7 lists none that may be kept; the test below keeps this list honest if some arrive.
FIXTURE_PDFS: dict[str, int | str] = {}


def _head(path: Path) -> bytes:
    return path.read_bytes()[:8192]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> dict[str, Path]:
    """Every generated statement, drawn once for the module."""
    folder = tmp_path_factory.mktemp("pdf_statements")
    ua, en = factory.ukrainian_spec(), factory.english_spec()
    paths = {name: folder / f"{name}.pdf" for name in (
        "ua", "ua_no_repeat", "en_signed", "en_crdr", "en_no_period", "scan", "encrypted", "owner_only", "letter")}
    assert factory.write_ukrainian_statement(paths["ua"], ua) == 3
    assert factory.write_ukrainian_statement(paths["ua_no_repeat"], ua, repeat_table_header=False) == 3
    assert factory.write_english_statement(paths["en_signed"], en) == 2
    factory.write_english_statement(paths["en_crdr"], en, amount_style="crdr", date_once_per_day=True)
    factory.write_english_statement(paths["en_no_period"], en, print_period=False)
    factory.write_image_only_pdf(paths["scan"])
    factory.write_ukrainian_statement(paths["encrypted"], ua, user_password="s3cret", owner_password="owner")
    factory.write_ukrainian_statement(paths["owner_only"], ua, owner_password="owner")
    factory.write_text_pdf(paths["letter"], ["Receipt No. 4411", "Thank you for your purchase", "Total 12.00 EUR"])
    return paths


def _assert_matches_spec(result: ParseResult, spec: factory.StatementSpec, *, with_counterparty: bool) -> None:
    """Every drawn line came back, in order, with its date, signed amount, balance and texts."""
    assert len(result.records) == len(spec.transactions) == result.transactions_found
    for record, txn in zip(result.records, spec.transactions):
        assert record.record_type == "bank_line" and record.source_format == "pdf_statement"
        assert record.account == spec.account and record.currency == spec.currency
        assert record.booking_date == record.value_date == txn.booking_date.isoformat()
        assert Decimal(record.amount) == txn.amount and record.amount == f"{txn.amount:.2f}"
        assert record.extra["balance"] == f"{txn.balance:.2f}"
        assert record.remittance == txn.description
        if with_counterparty:
            assert record.counterparty_name == txn.counterparty
            assert record.counterparty_account == txn.counterparty_account
            assert record.counterparty_tax_id == txn.counterparty_tax_id
            assert record.bank_ref == txn.reference
    assert len({record.line_id for record in result.records}) == len(result.records)
    [statement] = result.statements
    assert (statement.account, statement.currency) == (spec.account, spec.currency)
    assert statement.opening_balance == f"{spec.opening:.2f}" and statement.closing_balance == f"{spec.closing:.2f}"
    assert (statement.opening_date, statement.closing_date) == (spec.period_start.isoformat(), spec.period_end.isoformat())
    assert statement.line_ids == tuple(record.line_id for record in result.records)
    [check] = result.checks
    assert check.name == "pdf_running_balance" and check.passed
    assert check.expected == check.actual == f"{spec.closing:.2f}"


# --- the layouts ---------------------------------------------------------------------------------------


def test_ukrainian_statement_three_pages(pdfs):
    """Дебет/Кредит columns, a running Залишок, multi-line Призначення and Контрагент cells, the bank's
    header line and the table header on every page, "Сторінка N з 3" footers."""
    spec = factory.ukrainian_spec()
    result = SOURCE.parse(pdfs["ua"])
    assert result.warnings == []
    _assert_matches_spec(result, spec, with_counterparty=True)
    assert [r.extra["page"] for r in result.records].count(3) > 0
    assert {r.extra["layout"] for r in result.records} == {"privatbank_ua"}
    assert any(r.amount.startswith("-") for r in result.records) and any(not r.amount.startswith("-") for r in result.records)
    # A description drawn over two lines is one remittance; the counterparty cell splits in three.
    wrapped = next(r for r in result.records if len(r.remittance) > 70)
    assert "  " not in wrapped.remittance
    fee = next(r for r in result.records if r.remittance.startswith("Комісія банку"))
    assert fee.counterparty_name == "АТ КБ «ПриватБанк»" and fee.counterparty_tax_id == "14360570"
    assert Decimal(fee.amount) < 0


def test_ukrainian_statement_without_repeated_table_header(pdfs):
    """Later pages without the table header: columns carry over, the bank's page header line and the
    footer inside the table area are dropped by the profile's drop_lines."""
    spec = factory.ukrainian_spec()
    result = SOURCE.parse(pdfs["ua_no_repeat"])
    assert result.warnings == []
    _assert_matches_spec(result, spec, with_counterparty=True)
    assert [r.line_id for r in result.records] == [r.line_id for r in SOURCE.parse(pdfs["ua"]).records]


def test_english_signed_amounts_and_yearless_dates(pdfs):
    """"15 Dec" .. "13 Jan" over the period 15 Dec 2026 to 14 Jan 2027: the year comes from the period;
    BALANCE BROUGHT/CARRIED FORWARD rows are not transactions but are checked against the balance."""
    spec = factory.english_spec()
    result = SOURCE.parse(pdfs["en_signed"])
    assert result.warnings == []
    _assert_matches_spec(result, spec, with_counterparty=False)
    dates = [r.booking_date for r in result.records]
    assert dates[0] == "2026-12-15" and dates[-1].startswith("2027-01-") and dates == sorted(dates)
    assert result.records[0].extra["date_text"] == "15 Dec"
    assert not any("FORWARD" in r.remittance for r in result.records)
    assert {r.extra["page"] for r in result.records} == {1, 2}


def test_english_cr_dr_suffixes_and_dates_printed_once_a_day(pdfs):
    spec = factory.english_spec()
    result = SOURCE.parse(pdfs["en_crdr"])
    assert result.warnings == []
    _assert_matches_spec(result, spec, with_counterparty=False)
    inherited = [r for r in result.records if r.extra.get("date_source") == "previous line"]
    assert inherited  # the spec books several lines on some days
    signed = SOURCE.parse(pdfs["en_signed"])
    assert [r.line_id for r in result.records] == [r.line_id for r in signed.records]


def test_yearless_dates_without_a_period_are_refused(pdfs):
    with pytest.raises(MalformedFile, match=r"dates such as '15 Dec' carry no year and no statement period was found"):
        SOURCE.parse(pdfs["en_no_period"])


def test_overlapping_statements_give_the_same_line_ids(tmp_path):
    """The same money movement in two overlapping statements keeps its line_id (page and position are
    not part of it)."""
    spec = factory.ukrainian_spec()
    factory.write_ukrainian_statement(tmp_path / "full.pdf", spec)
    factory.write_ukrainian_statement(tmp_path / "tail.pdf", factory.tail_of(spec, 25))
    full = SOURCE.parse(tmp_path / "full.pdf")
    tail = SOURCE.parse(tmp_path / "tail.pdf")
    assert [r.line_id for r in tail.records] == [r.line_id for r in full.records[25:]]
    assert tail.records[0].extra["page"] == 1 and full.records[25].extra["page"] != 1


def test_identical_lines_keep_distinct_ids(tmp_path):
    spec = factory.english_spec(count=4)
    first = spec.transactions[1]
    again = factory.Txn(first.booking_date, first.description, first.amount, first.balance + first.amount)
    later = [factory.Txn(t.booking_date, t.description, t.amount, t.balance + first.amount) for t in spec.transactions[2:]]
    doubled = factory.with_transactions(spec, [*spec.transactions[:2], again, *later])
    factory.write_english_statement(tmp_path / "dup.pdf", doubled)
    result = SOURCE.parse(tmp_path / "dup.pdf")
    assert result.records[1].amount == result.records[2].amount
    assert len({r.line_id for r in result.records}) == 5 and result.checks[0].passed


def test_running_balance_that_does_not_follow_fails_the_check(tmp_path):
    """A line whose printed balance is off by 10.00: the line is still emitted, the check fails and
    the warning says where."""
    spec = factory.ukrainian_spec(count=12)
    txns = list(spec.transactions)
    txns[5] = factory.Txn(**{**txns[5].__dict__, "balance": txns[5].balance + Decimal("10.00")})
    factory.write_ukrainian_statement(tmp_path / "off.pdf", factory.with_transactions(spec, txns))
    result = SOURCE.parse(tmp_path / "off.pdf")
    assert len(result.records) == 12
    [check] = result.checks
    assert not check.passed and check.name == "pdf_running_balance"
    assert check.scope == f"statement {spec.account} 2026-10-01..2026-10-31"
    assert check.expected == f"{txns[-1].balance:.2f}" and check.actual == f"{txns[-1].balance:.2f}"
    [warning] = result.warnings
    # Line 6 is 10.00 too high and line 7 then 10.00 too low: two points.
    assert warning.startswith("running balance does not follow the lines at 2 point(s): page 1, line of ")
    assert f"balance printed {txns[5].balance:.2f}" in warning


def test_page_furniture_the_profile_does_not_name_is_warned_not_merged(pdfs):
    """Without drop_lines the running page header on pages 2 and 3 (no table header there) would be
    glued to the previous page's last description; it runs across the columns, so it is left out with
    a warning, and the footer that lands in the Залишок column makes the balance check fail."""
    bare = dataclasses.replace(PRIVATBANK_UA, name="bare", drop_lines=())
    result = PdfStatementSource([bare], builtin_profiles=False).parse(pdfs["ua_no_repeat"])
    spec = factory.ukrainian_spec()
    assert [r.remittance for r in result.records] == [t.description for t in spec.transactions]
    assert [r.amount for r in result.records] == [f"{t.amount:.2f}" for t in spec.transactions]
    stray = next(w for w in result.warnings if "running across the table's columns" in w)
    assert stray.startswith("2 line(s) running across the table's columns, not read: page 2: 'АТ КБ «ПриватБанк»")
    balance = next(w for w in result.warnings if w.startswith("running balance"))
    assert "Сторінка 1 з 3" in balance and "is not a number" in balance
    assert not result.checks[0].passed


def test_unreadable_amount_is_kept_raw(tmp_path, monkeypatch):
    """A figure the layout cannot read stays as printed, for the data contract to quarantine."""
    original = factory._ua_number
    monkeypatch.setattr(factory, "_ua_number", lambda v: "12,3x" if v == Decimal("2442.65") else original(v))
    factory.write_ukrainian_statement(tmp_path / "odd.pdf", factory.ukrainian_spec(count=5))
    result = SOURCE.parse(tmp_path / "odd.pdf")
    assert len(result.records) == 5
    assert result.records[1].amount == "12,3x"
    assert not result.checks[0].passed
    assert any("amount unreadable" in w for w in result.warnings)


# --- files that cannot be read ------------------------------------------------------------------------


def test_scan_without_text_layer(pdfs):
    with pytest.raises(MalformedFile) as caught:
        SOURCE.parse(pdfs["scan"])
    assert str(caught.value) == "scan.pdf: the PDF has no text layer (a scan); it needs OCR"
    assert not SOURCE.identify(pdfs["scan"], _head(pdfs["scan"]))
    assert SOURCE.diagnose(pdfs["scan"]) == str(caught.value)


def test_encrypted_pdf(pdfs):
    with pytest.raises(MalformedFile) as caught:
        SOURCE.parse(pdfs["encrypted"])
    assert str(caught.value) == "encrypted.pdf: the PDF is encrypted; ask the bank for an unprotected statement"
    assert not SOURCE.identify(pdfs["encrypted"], _head(pdfs["encrypted"]))
    assert SOURCE.diagnose(pdfs["encrypted"]) == str(caught.value)


def test_pdf_locked_by_an_owner_password_only_is_read(pdfs):
    """No user password: the text is readable as it is, only printing/editing is restricted."""
    result = SOURCE.parse(pdfs["owner_only"])
    assert len(result.records) == 60
    assert result.warnings == ["the PDF is encrypted with an empty user password (permissions only); read as it is"]
    assert SOURCE.identify(pdfs["owner_only"], _head(pdfs["owner_only"]))
    assert [r.line_id for r in result.records] == [r.line_id for r in SOURCE.parse(pdfs["ua"]).records]


def test_pdf_that_is_no_statement(pdfs):
    with pytest.raises(MalformedFile) as caught:
        SOURCE.parse(pdfs["letter"])
    assert str(caught.value) == (
        "letter.pdf: the first page matches no statement layout (profiles tried: privatbank_ua, generic_en); "
        "add a layout profile for this bank"
    )
    assert not SOURCE.identify(pdfs["letter"], _head(pdfs["letter"]))
    assert SOURCE.diagnose(pdfs["letter"]) is None  # readable: just not a statement


def test_truncated_pdf(pdfs, tmp_path):
    data = pdfs["ua"].read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MalformedFile, match=r"^cut\.pdf: the PDF is truncated \(no %%EOF end marker\)"):
        SOURCE.parse(cut)
    assert not SOURCE.identify(cut, _head(cut))


def test_damaged_pdf_never_loses_lines_silently(pdfs, tmp_path):
    """A block of bytes wiped in the middle (the end marker intact): pdfminer either fails, which is
    a MalformedFile, or recovers; what it recovers either has every line or says something is off."""
    data = bytearray(pdfs["ua"].read_bytes())
    for start in range(2000, len(data) - 3000, 2500):
        damaged = bytearray(data)
        damaged[start : start + 400] = b"\0" * 400
        path = tmp_path / f"damaged_{start}.pdf"
        path.write_bytes(bytes(damaged))
        try:
            result = SOURCE.parse(path)
        except MalformedFile as exc:
            assert str(exc).startswith(f"{path.name}: ") and "\n" not in str(exc)
            continue
        if len(result.records) != 60:
            assert result.warnings or not all(check.passed for check in result.checks)


def test_not_a_pdf_at_all(tmp_path):
    path = tmp_path / "statement.pdf"
    path.write_bytes(b"Date;Amount\n01.10.2026;12,00\n")
    with pytest.raises(MalformedFile, match=r"statement\.pdf: not a PDF \(no %PDF- header\)"):
        SOURCE.parse(path)


def test_limits(pdfs):
    with pytest.raises(MalformedFile, match=r"^ua\.pdf: more than 2 pages; split the statement by period$"):
        PdfStatementSource(max_pages=2).parse(pdfs["ua"])
    small = PdfStatementSource(max_bytes=4096)
    with pytest.raises(MalformedFile, match=r"^ua\.pdf: \d+ bytes, more than the 4096-byte limit for a PDF statement$"):
        small.parse(pdfs["ua"])
    assert not small.identify(pdfs["ua"], _head(pdfs["ua"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_pdf_bytes(fuzz_pdf, data):
    """Mutated bytes of a real generated statement: a ParseResult or a typed SourceError, nothing else."""
    blob = bytearray(fuzz_pdf.read_bytes())
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        position = data.draw(st.integers(0, len(blob) - 1), label="position")
        kind = data.draw(st.sampled_from(["flip", "delete", "insert"]), label="kind")
        if kind == "flip":
            blob[position] = data.draw(st.integers(0, 255), label="byte")
        elif kind == "delete":
            del blob[position : position + data.draw(st.integers(1, 64), label="length")]
        else:
            blob[position:position] = data.draw(st.binary(min_size=1, max_size=32), label="bytes")
    path = fuzz_pdf.with_name("mutated.pdf")
    path.write_bytes(bytes(blob))
    SOURCE.identify(path, bytes(blob[:8192]))  # must not raise
    try:
        result = SOURCE.parse(path)
    except SourceError:
        return
    assert isinstance(result, ParseResult)


@pytest.fixture(scope="module")
def fuzz_pdf(tmp_path_factory) -> Path:
    """A one-page statement: small, so a hundred mutated copies parse in seconds."""
    path = tmp_path_factory.mktemp("fuzz") / "small.pdf"
    factory.write_ukrainian_statement(path, factory.ukrainian_spec(count=8))
    return path


# --- identify ------------------------------------------------------------------------------------------


def test_identify_refuses_every_other_fixture(fixtures_dir):
    others = [p for p in fixtures_dir.rglob("*") if p.is_file() and p.name not in FIXTURE_PDFS]
    assert len(others) > 50
    for path in others:
        assert not SOURCE.identify(path, _head(path)), path


def test_fixture_pdfs_are_classified(fixtures_dir):
    """Every real PDF under the fixtures is listed in FIXTURE_PDFS (none today) and behaves as listed."""
    found = {p.relative_to(fixtures_dir).as_posix(): p for p in fixtures_dir.rglob("*") if p.is_file() and _head(p).startswith(b"%PDF-")}
    assert set(found) == set(FIXTURE_PDFS)
    for name, outcome in FIXTURE_PDFS.items():
        if isinstance(outcome, str):
            with pytest.raises(MalformedFile, match=outcome):
                SOURCE.parse(found[name])
        else:
            assert len(SOURCE.parse(found[name]).records) == outcome


def test_identify_refuses_privat24_csv_and_other_heads(tmp_path):
    csv = tmp_path / "privat24.csv"
    csv.write_bytes(
        "ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;Рахунок кореспондента;"
        "ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу\n".encode("cp1251")
    )
    assert not SOURCE.identify(csv, _head(csv))
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.7\nnot really a pdf")
    assert not SOURCE.identify(fake, _head(fake))


def test_identify_claims_the_statements(pdfs):
    for name in ("ua", "ua_no_repeat", "en_signed", "en_crdr", "en_no_period"):
        assert SOURCE.identify(pdfs[name], _head(pdfs[name])), name


# --- profiles ------------------------------------------------------------------------------------------


def test_profile_from_json(pdfs, tmp_path):
    """A bank's own layout from JSON, tried before (or instead of) the built-in ones."""
    profile = {
        "name": "northwind",
        "identify": "Northwind Bank plc",
        "date": ["Date"],
        "description": ["Description"],
        "amount": ["Amount"],
        "balance": ["Balance"],
        "date_formats": ["%d %b"],
        "period_date_formats": ["%d %b %Y"],
        "decimal_separator": ".",
        "drop_lines": ["^Page \\d+ of \\d+$"],
        "table_end": ["^Closing balance"],
        "carried_balance": ["^BALANCE (BROUGHT|CARRIED) FORWARD$"],
        "account_pattern": "Account number: (?P<account>\\S+)",
        "currency_pattern": "Currency: (?P<currency>[A-Z]{3})",
        "opening_balance_pattern": "Opening balance: (?P<amount>\\S+)",
        "closing_balance_pattern": "Closing balance: (?P<amount>\\S+)",
        "period_pattern": "period: (?P<start>\\d+ \\w+ \\d{4}) to (?P<end>\\d+ \\w+ \\d{4})",
    }
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"profiles": [profile]}), encoding="utf-8")
    own = PdfStatementSource(profiles=path, builtin_profiles=False)
    result = own.parse(pdfs["en_signed"])
    _assert_matches_spec(result, factory.english_spec(), with_counterparty=False)
    assert {r.extra["layout"] for r in result.records} == {"northwind"}
    assert [p.name for p in PdfStatementSource(profiles=path).profiles] == ["northwind", "privatbank_ua", "generic_en"]
    assert not own.identify(pdfs["ua"], _head(pdfs["ua"]))
    with pytest.raises(MalformedFile, match=r"profiles tried: northwind\)"):
        own.parse(pdfs["ua"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": []}, "needs an amount column or both debit and credit columns"),
        ({"colour": "red"}, "unknown keys colour"),
        ({"period_pattern": "from (\\S+)"}, "period_pattern needs the named group(s) start, end"),
        ({"identify": "("}, "identify is not a valid regex"),
        ({"decimal_separator": ";"}, "decimal_separator must be ',' or '.'"),
    ],
)
def test_bad_profiles_are_refused(tmp_path, change, message):
    profile = {"name": "bad", "identify": "x", "date": ["Date"], "description": ["Text"], "amount": ["Amount"], **change}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([profile]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"layout profile 'bad': " + message.replace("(", r"\(").replace(")", r"\)")):
        load_profiles(path)


def test_builtin_profiles():
    assert [p.name for p in BUILTIN_PROFILES] == ["privatbank_ua", "generic_en"]
    assert PRIVATBANK_UA.debit and PRIVATBANK_UA.credit and PRIVATBANK_UA.balance and not PRIVATBANK_UA.amount
    assert GENERIC_EN.amount and GENERIC_EN.amount_suffixes
    assert isinstance(LayoutProfile.from_dict({"name": "m", "identify": "x", "date": ["D"], "description": ["T"], "amount": ["A"]}), LayoutProfile)


@pytest.mark.parametrize(
    ("text", "profile", "expected"),
    [
        ("1 234,56", PRIVATBANK_UA, "1234.56"),
        ("-1 234 567,89", PRIVATBANK_UA, "-1234567.89"),
        ("1\u00a0234,50", PRIVATBANK_UA, "1234.50"),
        ("1.234,56", PRIVATBANK_UA, "1234.56"),
        ("1234.56", PRIVATBANK_UA, None),  # a decimal point under a decimal-comma layout: refused, not 123456
        ("12,3x", PRIVATBANK_UA, None),
        ("0,00", PRIVATBANK_UA, "0.00"),
        ("-0,00", PRIVATBANK_UA, "0.00"),
        ("45.00 DR", GENERIC_EN, "-45.00"),
        ("1,200.00 CR", GENERIC_EN, "1200.00"),
        ("1,200.00CR", GENERIC_EN, "1200.00"),
        ("45.00 DR", PRIVATBANK_UA, None),  # no suffixes in this layout
        ("-45.00 DR", GENERIC_EN, None),  # sign and suffix at once
        ("(45.00)", GENERIC_EN, "-45.00"),
        ("45.00-", GENERIC_EN, "-45.00"),
        ("\u221245.00", GENERIC_EN, "-45.00"),
        ("1,2345.00", GENERIC_EN, None),
        ("NaN", GENERIC_EN, None),
        ("1e5", GENERIC_EN, None),
        ("", GENERIC_EN, None),
    ],
)
def test_parse_money(text, profile, expected):
    value = parse_money(text, profile)
    assert (None if value is None else format(value, "f")) == expected


# --- golden files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name):
    pdf = GOLDEN_DIR / name
    expected_path = GOLDEN_DIR / f"{name}.jsonl"
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        GOLDEN[name](pdf)
    result = SOURCE.parse(pdf)
    lines = [json.dumps(record.as_dict(), ensure_ascii=False, sort_keys=True) for record in result.records]
    if UPDATE_GOLDEN:
        expected_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert lines == expected_path.read_text(encoding="utf-8").splitlines()
    assert result.warnings == [] and all(check.passed for check in result.checks)


def test_reparse_is_stable_and_float_free():
    for name in GOLDEN:
        first, second = SOURCE.parse(GOLDEN_DIR / name), SOURCE.parse(GOLDEN_DIR / name)
        assert [r.line_id for r in first.records] == [r.line_id for r in second.records]
        for record in first.records:
            for value in (*record.as_dict().values(), *record.extra.values()):
                assert not isinstance(value, float)
            for value in record.extra.values():
                assert value is None or isinstance(value, (str, int))
