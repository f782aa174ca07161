"""OfxSource: every real OFX fixture, golden outputs, the traps of FORMATS.md §1, and fuzzing.

Expected values below were read by hand from the fixture files (asgrim/ofxparser, MIT).
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.errors import MalformedFile, SourceError
from sources.ofx import OfxSource, ofx_amount, ofx_date, read_elements
from sources.records import ParseResult
from tests.conftest import GOLDEN, load_benchmark

SOURCE = OfxSource()
GOLDEN_DIR = GOLDEN / "ofx"
UPDATE_GOLDEN = os.environ.get("PAYRECON_UPDATE_GOLDEN") == "1"

#: fixture -> (records kept, transactions found). No fixture is rejected as a whole.
EXPECTED = {
    "ofx-multiple-accounts-xml.ofx": (3, 3),
    "ofxdata-banking-xml200.ofx": (1, 1),  # one STMTTRN holding only '*snipped*': kept for quarantine
    "ofxdata-bb-two-stmtrs.ofx": (36, 36),
    "ofxdata-bb.ofx": (1, 1),
    "ofxdata-bpbfc.ofx": (6, 6),
    "ofxdata-cmfr.ofx": (42, 42),
    "ofxdata-credit-card.ofx": (1, 1),
    "ofxdata-emptyDateTime.ofx": (2, 2),
    "ofxdata-google.ofx": (0, 0),  # investment statement only
    "ofxdata-investments-multiple-accounts-xml.ofx": (0, 0),
    "ofxdata-investments-oneline-xml.ofx": (0, 0),
    "ofxdata-investments-xml.ofx": (0, 1),  # INVBANKTRAN/STMTTRN inside INVSTMTRS: skipped, named
    "ofxdata-memoWithAmpersand.ofx": (16, 16),
    "ofxdata-memoWithQuotes.ofx": (16, 16),
    "ofxdata-oneline.ofx": (8, 8),
    "ofxdata-selfclose.ofx": (5, 5),
    "ofxdata-xml.ofx": (3, 3),
    "ofxdata.ofx": (3, 3),
}
GOLDEN_FILES = (
    "ofxdata-bb.ofx",
    "ofxdata-bb-two-stmtrs.ofx",
    "ofx-multiple-accounts-xml.ofx",
    "ofxdata-memoWithAmpersand.ofx",
    "ofxdata-selfclose.ofx",
    "ofxdata-credit-card.ofx",
)
FUZZ_TAGS = (
    b"<STMTTRN>", b"</STMTTRN>", b"<TRNAMT>", b"</OFX>", b"<OFX>", b"<!--", b"<![CDATA[", b"&amp;", b"<STMTRS>", b"<BALAMT/>",
    b"<STMTTRNP>", b"<INVSTMTRS>", b"<CCSTMTRS>", b"</BANKTRANLIST>",
)
FUZZ_SEEDS = ("ofxdata-selfclose.ofx", "ofxdata-xml.ofx", "ofxdata-oneline.ofx", "ofxdata-credit-card.ofx")


def ofx_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "ofx"


def parse(path: Path) -> ParseResult:
    return SOURCE.parse(path)


def by_ref(result: ParseResult) -> dict[str, object]:
    return {r.bank_ref: r for r in result.records}


# ------------------------------------------------------------------------------------------
# Synthetic statements for the traps the fixtures do not show
# ------------------------------------------------------------------------------------------

SGML_HEADER = (
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:{charset}\n"
    "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)


def stmttrn(fitid: str | None = "F1", amount: str | None = "-10.00", posted: str | None = "20240105", **more: str) -> str:
    parts = ["<STMTTRN>", "<TRNTYPE>DEBIT"]
    if posted is not None:
        parts.append(f"<DTPOSTED>{posted}")
    if amount is not None:
        parts.append(f"<TRNAMT>{amount}")
    if fitid is not None:
        parts.append(f"<FITID>{fitid}")
    parts += [f"<{tag.upper()}>{value}" for tag, value in more.items()]
    parts.append("</STMTTRN>")
    return "\n".join(parts)


def stmtrs(
    *transactions: str, acctid: str = "UA1234", curdef: str = "<CURDEF>EUR", balance: str = "<BALAMT>100.00", extra: str = ""
) -> str:
    return (
        f"<STMTRS>{curdef}<BANKACCTFROM><BANKID>305299<ACCTID>{acctid}<ACCTTYPE>CHECKING</BANKACCTFROM>"
        "<BANKTRANLIST><DTSTART>20240101<DTEND>20240131\n" + "\n".join(transactions) + f"\n</BANKTRANLIST>{extra}"
        f"<LEDGERBAL>{balance}<DTASOF>20240131</LEDGERBAL></STMTRS>"
    )


def sgml(*statements: str, charset: str = "1252", wrapper: str = "STMTTRNRS", msgset: str = "BANKMSGSRSV1") -> str:
    body = "".join(f"<{wrapper}><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>{s}</{wrapper}>" for s in statements)
    signon = "<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20240201<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>"
    return SGML_HEADER.format(charset=charset) + f"<OFX>{signon}<{msgset}>{body}</{msgset}></OFX>\n"


def write(tmp_path: Path, text: str | bytes, name: str = "statement.ofx") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("ascii"))
    return path


# ------------------------------------------------------------------------------------------
# Every real fixture
# ------------------------------------------------------------------------------------------


def test_expected_table_covers_every_fixture(fixtures_dir: Path) -> None:
    assert sorted(p.name for p in ofx_dir(fixtures_dir).glob("*.ofx")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_parses_with_counts(fixtures_dir: Path, name: str) -> None:
    result = parse(ofx_dir(fixtures_dir) / name)
    assert (len(result.records), result.transactions_found) == EXPECTED[name]
    if len(result.records) < result.transactions_found:
        assert result.warnings
    assert len({r.line_id for r in result.records}) == len(result.records)
    assert {r.record_type for r in result.records} <= {"bank_line"}
    assert {r.source_format for r in result.records} <= {"ofx"}
    listed = [i for s in result.statements for i in s.line_ids]
    assert sorted(listed) == sorted(r.line_id for r in result.records)


def test_bb_utf8_under_charset_1252(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofxdata-bb.ofx")
    (line,) = result.records
    assert line.remittance == "DOC CRÉDITO EM CONTA"  # ofxparse gives 'DOC CRÃ‰DITO EM CONTA'
    assert (line.account, line.amount, line.booking_date, line.bank_ref) == ("455000-5", "239.55", "2015-11-03", "20151103023955")
    assert line.extra == {"trntype": "DEP", "checknum": "252602", "bankid": "001", "account_type": "checking"}
    assert any("UTF-8" in w for w in result.warnings)
    (statement,) = result.statements
    assert (statement.closing_balance, statement.closing_date, statement.opening_balance) == ("239.35", "2015-12-09", None)


def test_bb_two_stmtrs_latin1_two_accounts(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofxdata-bb-two-stmtrs.ofx")
    first, second = result.statements
    assert (first.account, first.closing_balance, first.line_ids) == ("455000-5", "0.00", ())
    assert (second.account, second.currency) == ("655000-2", "BRL")
    assert (second.closing_balance, second.closing_date) == ("4555.28", "2017-03-29")
    assert len(second.line_ids) == 36
    lines = by_ref(result)
    assert lines["2017030101331836"].remittance == "TED-CRÉDITO EM CONTA"  # cp1252 byte 0xC9, trailing blanks gone
    assert lines["2017031714127237"].amount == "-41272.37"
    assert lines["2017032716800"].remittance == "TARIFA PACOTE DE SERVIÇOS"
    assert lines["2017031301666000"].extra["checknum"] == "00033703"
    assert sum(Decimal(r.amount) for r in result.records) == Decimal("-3648.66")  # sum of the 36 TRNAMT values


def test_banking_xml200_transaction_without_fields_is_kept_for_quarantine(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofxdata-banking-xml200.ofx")
    (line,) = result.records
    assert (line.account, line.currency) == ("12345678901", "ZAR")
    assert (line.amount, line.booking_date, line.bank_ref) == (None, None, None)
    assert any("no DTPOSTED or TRNAMT" in w for w in result.warnings)
    assert any("'*snipped*'" in w for w in result.warnings)
    assert result.statements[0].closing_balance == "1234.56"


def test_selfclose_empty_ledger_balance(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofxdata-selfclose.ofx")
    (statement,) = result.statements
    assert (statement.closing_balance, statement.closing_date) == (None, "2019-09-24")
    assert any("LEDGERBAL/BALAMT" in w for w in result.warnings)
    lines = by_ref(result)
    assert lines["20190918001"].booking_date == "2019-09-18"  # 20190918100000[-03:EST]
    assert lines["20190919002"].amount == "300.00"
    assert lines["20190923001"].remittance == "RSHOP-PAG*Brenda -22/09"


def test_credit_card_masked_and_marked(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofxdata-credit-card.ofx")
    (line,) = result.records
    assert line.account == "123456******4567"  # the file's ACCTID is a 16-digit card number
    assert line.extra["account_type"] == "creditcard"
    assert (line.amount, line.currency, line.counterparty_name, line.extra["refnum"]) == ("-100.00", "GBP", "VENDOR", "VENDOR")
    assert result.statements[0].closing_balance == "-500.00"
    assert "1234567891234567" not in json.dumps([r.as_dict() for r in result.records] + [s.account for s in result.statements])


def test_memo_with_ampersand_and_timezone(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofxdata-memoWithAmpersand.ofx")
    lines = by_ref(result)
    first = lines["5b4f6eea-9999-9999-9999-794a31c8f61b"]
    assert (first.remittance, first.amount, first.booking_date) == ("Amazon.Com.Br Amazon & Cloud 3/3", "-33.3", "2018-09-13")
    assert lines["5ba09990-9999-9999-9999-ebd979a2a758"].remittance == 'IOF de "Leupay.Eu" & Whoelse'
    assert lines["5ba47b96-9999-9999-9999-d57a38a6507d"].amount == "600"
    assert result.records[0].extra["account_type"] == "creditcard"
    assert result.statements[0].closing_balance == "-734.05"


def test_oneline_trusts_trnamt_sign_not_trntype(fixtures_dir: Path) -> None:
    lines = by_ref(parse(ofx_dir(fixtures_dir) / "ofxdata-oneline.ofx"))
    # TRNTYPE DIRECTDEP (a deposit) with a negative TRNAMT stays negative.
    assert (lines["PU3YBALLL2"].amount, lines["PU3YBALLL2"].extra["trntype"]) == ("-80.00", "DIRECTDEP")
    assert lines["PU3Y5ALLCK"].amount == "200.00"
    assert lines["PU3YMMLLQ9"].remittance == "FRAIS TRIMESTRIELS"


def test_multiple_accounts_xml(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofx-multiple-accounts-xml.ofx")
    assert [(s.account, s.closing_balance, s.closing_date, len(s.line_ids)) for s in result.statements] == [
        ("54658222458596", "43.01", "2014-07-17", 0),
        ("546582659855", "3000.25", "2014-05-11", 2),
        ("21252344525548", "11728.56", "2014-07-17", 1),
    ]
    lines = by_ref(result)
    assert (lines["+201407170000001"].amount, lines["+201407170000001"].booking_date) == ("-3.98", "2014-07-17")
    assert lines["+201405010000001"].extra["bankid"] == "492900"


def test_empty_datetime_statement_without_account(fixtures_dir: Path) -> None:
    result = parse(ofx_dir(fixtures_dir) / "ofxdata-emptyDateTime.ofx")
    assert [(r.account, r.amount, r.booking_date, r.currency) for r in result.records] == [
        (None, "337.50", "2018-12-14", "AUD"),
        (None, "150.00", "2018-12-13", "AUD"),
    ]
    assert any("no account id" in w for w in result.warnings)


@pytest.mark.parametrize(
    "name", ["ofxdata-google.ofx", "ofxdata-investments-xml.ofx", "ofxdata-investments-multiple-accounts-xml.ofx"]
)
def test_investment_statements_skipped_with_a_named_warning(fixtures_dir: Path, name: str) -> None:
    result = parse(ofx_dir(fixtures_dir) / name)
    assert result.records == [] and result.statements == []
    skipped = [w for w in result.warnings if w.startswith("skipped INVSTMTRS (account ")]
    assert skipped
    if name == "ofxdata-investments-xml.ofx":
        assert result.warnings == [
            "skipped INVSTMTRS (account 1234567890, 6 investment transaction(s)): an investment or non-bank "
            "statement, not bank lines; its 1 cash transaction(s) (STMTTRN) were not read",
            "kept 0 of 1 transactions: 0 exact duplicate(s), 0 pending, 1 in non-bank statements",
        ]
    else:
        assert result.warnings == skipped


def _ofxparse(path: Path, fail_fast: bool = True):
    ofxparse = pytest.importorskip("ofxparse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(path, "rb") as handle:
            return ofxparse.OfxParser.parse(handle, fail_fast=fail_fast)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_agrees_with_ofxparse_where_it_works(fixtures_dir: Path, name: str) -> None:
    """ofxparse 0.21 as an independent oracle: same FITID, amount and date on every line it reads."""
    try:
        parsed = _ofxparse(ofx_dir(fixtures_dir) / name)
    except Exception as error:  # noqa: BLE001 - ofxparse's own failures are the point
        assert name in ("ofxdata-banking-xml200.ofx", "ofxdata-selfclose.ofx"), error
        return
    theirs = Counter(
        (t.id, Decimal(t.amount), t.date.date().isoformat())
        for account in parsed.accounts
        if type(account.statement).__name__ == "Statement"
        for t in account.statement.transactions
    )
    ours = Counter((r.bank_ref, Decimal(r.amount), r.booking_date) for r in parse(ofx_dir(fixtures_dir) / name).records)
    assert ours == theirs


def test_ofxparse_traps_are_real(fixtures_dir: Path, tmp_path: Path) -> None:
    """Why this source reads the file itself: ofxparse drops or garbles what we keep."""
    lenient = _ofxparse(ofx_dir(fixtures_dir) / "ofxdata-banking-xml200.ofx", fail_fast=False)
    assert len(lenient.accounts[0].statement.transactions) == 0  # we keep 1
    undated = write(tmp_path, sgml(stmtrs(*(stmttrn(f"F{i}", posted=None) for i in range(3)))))
    assert len(_ofxparse(undated, fail_fast=False).accounts[0].statement.transactions) == 0
    assert len(parse(undated).records) == 3


# ------------------------------------------------------------------------------------------
# Golden files
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden(fixtures_dir: Path, name: str) -> None:
    result = parse(ofx_dir(fixtures_dir) / name)
    produced = "".join(json.dumps(r.as_dict(), sort_keys=True, ensure_ascii=False) + "\n" for r in result.records)
    golden = GOLDEN_DIR / f"{name}.jsonl"
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.is_file(), f"missing {golden}; run with PAYRECON_UPDATE_GOLDEN=1 and review it"
    assert produced == golden.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------
# identify
# ------------------------------------------------------------------------------------------


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(8192)


def test_identify_every_ofx_fixture(fixtures_dir: Path) -> None:
    for path in ofx_dir(fixtures_dir).glob("*.ofx"):
        assert SOURCE.identify(path, _head(path)), path.name


def test_identify_rejects_every_other_fixture(fixtures_dir: Path) -> None:
    others = [p for p in fixtures_dir.rglob("*") if p.is_file() and p.suffix != ".ofx"]
    assert len(others) > 50
    claimed = [p.name for p in others if SOURCE.identify(p, _head(p))]
    assert claimed == []


def test_identify_rejects_privat24_csv(tmp_path: Path) -> None:
    header = (
        "ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;"
        "Рахунок кореспондента;ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу\n"
    )
    row = (
        "12345678;305299;UA213052990000026007233566001;UAH;1;12.11.2026;300711;ПриватБанк;UA1;87654321;"
        "ТОВ Клієнт;1500,00;Оплата за рахунком № 2026-00123\n"
    )
    path = tmp_path / "privat24.csv"
    path.write_bytes((header + row).encode("cp1251"))
    assert not SOURCE.identify(path, _head(path))


def test_identify_utf16_xml(tmp_path: Path, fixtures_dir: Path) -> None:
    text = (ofx_dir(fixtures_dir) / "ofxdata-xml.ofx").read_text(encoding="ascii")
    text = text.replace('encoding="US-ASCII"', 'encoding="UTF-16"')
    path = write(tmp_path, text.encode("utf-16"))
    assert SOURCE.identify(path, _head(path))
    assert len(parse(path).records) == 3


# ------------------------------------------------------------------------------------------
# Traps, on synthetic statements
# ------------------------------------------------------------------------------------------


def test_amount_forms() -> None:
    assert ofx_amount("-200,00") == "-200.00"
    assert ofx_amount("$120") == "120"
    assert ofx_amount("-$5.00") == "-5.00"
    assert ofx_amount("R$ 1.234,56") == "1234.56"
    assert ofx_amount("€ 7,5") == "7.5"
    assert ofx_amount("+12.30") == "12.30"
    assert ofx_amount("12.30-") == "-12.30"
    assert ofx_amount("-0.00") == "0.00"
    assert ofx_amount("12O.00") == "12O.00"  # a letter O: left raw for the contract
    assert ofx_amount("1E+999999") == "1E+999999"
    assert ofx_amount("") is None and ofx_amount(None) is None


def test_date_forms() -> None:
    assert ofx_date("20240131") == "2024-01-31"
    assert ofx_date("20240131233000.000[+5:UZT]") == "2024-01-31"  # the date in the stated offset
    assert ofx_date("20180913000000[-3:GMT]") == "2018-09-13"
    assert ofx_date("20190918100000[-03:EST]") == "2019-09-18"
    assert ofx_date("20170220 ") == "2017-02-20"
    assert ofx_date("20170230") == "20170230"  # not a calendar date: left raw
    assert ofx_date("") is None and ofx_date(None) is None


def test_decimal_comma_and_currency_symbol_in_file(tmp_path: Path) -> None:
    text = sgml(stmtrs(stmttrn("F1", "-200,00"), stmttrn("F2", "$120"), stmttrn("F3", "12O.00"), balance="<BALAMT>1.234,56"))
    result = parse(write(tmp_path, text))
    assert [r.amount for r in result.records] == ["-200.00", "120", "12O.00"]
    assert result.statements[0].closing_balance == "1234.56"
    assert any("TRNAMT '12O.00' is not a number" in w for w in result.warnings)


def test_latin1_charset_8859_1(tmp_path: Path) -> None:
    text = sgml(stmtrs(stmttrn(memo="Caf\u00e9 r\u00e9f\u00e9rence")), charset="8859-1")
    result = parse(write(tmp_path, text.encode("latin-1")))
    assert result.records[0].remittance == "Café référence"


def test_cp1252_euro_sign(tmp_path: Path) -> None:
    result = parse(write(tmp_path, sgml(stmtrs(stmttrn(memo="Fee \u20ac 5"))).encode("cp1252")))
    assert result.records[0].remittance == "Fee € 5"


def test_repeated_fitid_same_key_is_a_duplicate(tmp_path: Path) -> None:
    result = parse(write(tmp_path, sgml(stmtrs(stmttrn("DUP"), stmttrn("DUP"), stmttrn("OTHER")))))
    assert (len(result.records), result.transactions_found) == (2, 3)
    assert any("dropped 1 duplicate(s) of the transaction FITID DUP" in w for w in result.warnings)


def test_repeated_fitid_other_amount_or_date_is_another_line(tmp_path: Path) -> None:
    lines = (stmttrn("R", "-1.50", memo="FX fee"), stmttrn("R", "2.00", memo="reward"), stmttrn("R", "-1.50", "20240106"))
    result = parse(write(tmp_path, sgml(stmtrs(*lines))))
    assert [(r.amount, r.booking_date) for r in result.records] == [
        ("-1.50", "2024-01-05"),
        ("2.00", "2024-01-05"),
        ("-1.50", "2024-01-06"),
    ]
    assert len({r.line_id for r in result.records}) == 3
    assert any("FITID R repeats" in w for w in result.warnings)


def test_same_fitid_in_two_accounts_is_two_lines(tmp_path: Path) -> None:
    text = sgml(stmtrs(stmttrn("F1"), acctid="A"), stmtrs(stmttrn("F1"), acctid="B"))
    result = parse(write(tmp_path, text))
    assert [r.account for r in result.records] == ["A", "B"]


def test_two_lines_without_fitid_are_both_kept(tmp_path: Path) -> None:
    result = parse(write(tmp_path, sgml(stmtrs(stmttrn(None, memo="coffee"), stmttrn(None, memo="coffee")))))
    assert len(result.records) == 2 and len({r.line_id for r in result.records}) == 2


def test_missing_dates_are_kept_with_booking_date_none(tmp_path: Path) -> None:
    result = parse(write(tmp_path, sgml(stmtrs(*(stmttrn(f"F{i}", posted=None) for i in range(3))))))
    assert [r.booking_date for r in result.records] == [None, None, None]
    assert result.transactions_found == 3
    assert sum("no DTPOSTED" in w for w in result.warnings) == 3


def test_value_date_from_dtavail_and_payee_name(tmp_path: Path) -> None:
    payee = "<PAYEE><NAME>ACME LLC<ADDR1>Main st 1<CITY>Kyiv<STATE>KY<POSTALCODE>01001<PHONE>1</PAYEE>"
    line = stmttrn(dtavail="20240108", dtuser="20240103").replace("</STMTTRN>", payee + "</STMTTRN>")
    (record,) = parse(write(tmp_path, sgml(stmtrs(line)))).records
    assert (record.booking_date, record.value_date, record.extra["dtuser"]) == ("2024-01-05", "2024-01-08", "2024-01-03")
    assert record.counterparty_name == "ACME LLC" and record.remittance == "ACME LLC"


def test_currency_and_origcurrency(tmp_path: Path) -> None:
    foreign = stmttrn("F1", "-10.00").replace("</STMTTRN>", "<CURRENCY><CURRATE>41.5<CURSYM>usd</CURRENCY></STMTTRN>")
    converted = stmttrn("F2", "-415.00").replace("</STMTTRN>", "<ORIGCURRENCY><CURRATE>41.5<CURSYM>USD</ORIGCURRENCY></STMTTRN>")
    first, second = parse(write(tmp_path, sgml(stmtrs(foreign, converted, curdef="<CURDEF>UAH")))).records
    assert (first.currency, first.extra["curdef"], first.extra["currate"]) == ("USD", "UAH", "41.5")
    assert (second.currency, second.extra["orig_currency"], second.extra["orig_currate"]) == ("UAH", "USD", "41.5")


def test_pending_transactions_are_counted_not_kept(tmp_path: Path) -> None:
    pending = (
        "<BANKTRANLISTP><DTASOF>20240131"
        "<STMTTRNP><TRNTYPE>DEBIT<DTTRAN>20240131<TRNAMT>-5.00<NAME>PENDING</STMTTRNP></BANKTRANLISTP>"
    )
    result = parse(write(tmp_path, sgml(stmtrs(stmttrn(), extra=pending))))
    assert (len(result.records), result.transactions_found) == (1, 2)
    assert any("1 pending transaction(s) (STMTTRNP)" in w for w in result.warnings)
    assert "kept 1 of 2 transactions: 0 exact duplicate(s), 1 pending, 0 in non-bank statements" in result.warnings


def test_cdata_entities_comment_and_empty_tags(tmp_path: Path) -> None:
    lines = (
        stmttrn("F1", memo="<![CDATA[Invoice <2026-00123> & co]]>"),
        stmttrn("F2", memo="AT&amp;amp;T &#8470; 5"),
        "<!-- <STMTTRN><TRNAMT>99 a commented-out line -->",
        "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240105<TRNAMT>-1<FITID>F3<MEMO></MEMO><NAME/></STMTTRN>",
    )
    text = sgml(stmtrs(*lines, curdef="<CURDEF></CURDEF>", balance="<BALAMT/>"))
    result = parse(write(tmp_path, text))
    assert [r.remittance for r in result.records] == ["Invoice <2026-00123> & co", "AT&T № 5", None]
    assert result.transactions_found == 3
    assert {r.currency for r in result.records} == {None}
    assert any("no currency" in w for w in result.warnings)
    assert result.statements[0].closing_balance is None


def test_xml_self_closed_and_empty_elements(tmp_path: Path, fixtures_dir: Path) -> None:
    text = (ofx_dir(fixtures_dir) / "ofxdata-xml.ofx").read_text(encoding="ascii")
    text = text.replace("<NAME>DEPOSIT</NAME>", "<NAME/>").replace("<MEMO>Transfer from checking</MEMO>", "<MEMO></MEMO>")
    lines = by_ref(parse(write(tmp_path, text)))
    assert lines["980315001"].counterparty_name is None and lines["980315001"].remittance == "automatic deposit"
    assert lines["980310001"].remittance == "TRANSFER"


def test_missing_stmttrn_end_tags_are_tolerated(tmp_path: Path) -> None:
    text = sgml(stmtrs(*(stmttrn(f"F{i}").replace("</STMTTRN>", "") for i in range(3))))
    result = parse(write(tmp_path, text))
    assert [r.bank_ref for r in result.records] == ["F0", "F1", "F2"]
    assert any("STMTTRN x3" in w for w in result.warnings)


def test_missing_banktranlist_end_tag_keeps_the_balance(tmp_path: Path) -> None:
    result = parse(write(tmp_path, sgml(stmtrs(stmttrn()).replace("</BANKTRANLIST>", ""))))
    assert (len(result.records), result.statements[0].closing_balance) == (1, "100.00")
    assert any("BANKTRANLIST x1" in w for w in result.warnings)


def test_credit_card_counterparty_card_is_masked(tmp_path: Path) -> None:
    line = stmttrn().replace("</STMTTRN>", "<CCACCTTO><ACCTID>4111 1111 1111 1111</CCACCTTO></STMTTRN>")
    (record,) = parse(write(tmp_path, sgml(stmtrs(line, acctid="4000123412341234")))).records
    assert record.account == "4000123412341234"  # a bank account (STMTRS) is not masked
    assert record.counterparty_account == "411111******1111"


def test_overlapping_statements_share_line_ids(tmp_path: Path) -> None:
    lines = [stmttrn(f"F{i}", f"-{i}.00", f"2024010{i}", memo=f"line {i}") for i in range(1, 5)]
    january = parse(write(tmp_path, sgml(stmtrs(*lines[:3], balance="<BALAMT>10.00")), "a.ofx"))
    overlap = parse(write(tmp_path, sgml(stmtrs(*lines[1:], balance="<BALAMT>7.00")), "b.ofx"))
    shared = {r.line_id for r in january.records} & {r.line_id for r in overlap.records}
    assert len(shared) == 2


# ------------------------------------------------------------------------------------------
# Whole-file rejections
# ------------------------------------------------------------------------------------------


def test_truncated_real_file_is_rejected(tmp_path: Path, fixtures_dir: Path) -> None:
    data = (ofx_dir(fixtures_dir) / "ofxdata-cmfr.ofx").read_bytes()
    with pytest.raises(MalformedFile, match="cut off"):
        parse(write(tmp_path, data[: len(data) // 2]))


def test_garbled_real_file_keeps_every_line(tmp_path: Path, fixtures_dir: Path) -> None:
    text = (ofx_dir(fixtures_dir) / "ofxdata-bpbfc.ofx").read_text(encoding="ascii")
    text = text.replace("<TRNAMT>-13.50", "<TRNAMT>-13.5O", 1).replace("</STMTTRN>", "", 2)
    text = text.replace("<DTPOSTED>20160428", "<DTPOSTED>2016O428")
    result = parse(write(tmp_path, text))
    assert (len(result.records), result.transactions_found) == (6, 6)
    lines = by_ref(result)
    assert lines["201600400034BD27"].amount == "-13.5O"
    assert lines["201600400033BD27"].booking_date == "2016O428"
    assert any("not a number" in w for w in result.warnings)


def test_stmttrn_outside_a_statement_is_rejected(tmp_path: Path) -> None:
    text = sgml(stmtrs(stmttrn("F1"))).replace("</OFX>", stmttrn("LOOSE") + "</OFX>")
    with pytest.raises(MalformedFile, match="outside any bank or credit-card statement"):
        parse(write(tmp_path, text))


def test_bank_error_instead_of_statement(tmp_path: Path) -> None:
    error = "<CODE>2000<SEVERITY>ERROR<MESSAGE>General error</STATUS></STMTTRNRS>"
    text = sgml("").replace("<CODE>0<SEVERITY>INFO</STATUS></STMTTRNRS>", error)
    with pytest.raises(MalformedFile, match="STMTTRNRS status 2000 ERROR \\(General error\\)"):
        parse(write(tmp_path, text))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"OFXHEADER:100\nhello", "no <OFX> element"),
        (SGML_HEADER.format(charset="1252").encode() + b"<OFX></OFX>", "no bank or credit-card statement"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, reason: str) -> None:
    with pytest.raises(MalformedFile, match=re.escape(reason)):
        parse(write(tmp_path, content))


# ------------------------------------------------------------------------------------------
# Stability, money, robustness
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reparse_gives_identical_output(fixtures_dir: Path, name: str) -> None:
    first, second = parse(ofx_dir(fixtures_dir) / name), parse(ofx_dir(fixtures_dir) / name)
    assert [r.line_id for r in first.records] == [r.line_id for r in second.records]
    assert first.records == second.records and first.statements == second.statements


def _json_values(value: object) -> list[object]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _json_values(item)]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _json_values(item)]
    return [value]


def test_no_float_anywhere(fixtures_dir: Path) -> None:
    source_text = (Path(__file__).resolve().parents[2] / "sources" / "ofx.py").read_text(encoding="utf-8")
    assert "float(" not in source_text
    for name in EXPECTED:
        result = parse(ofx_dir(fixtures_dir) / name)
        values = _json_values([r.as_dict() for r in result.records]) + _json_values([s.__dict__ for s in result.statements])
        assert all(v is None or isinstance(v, (str, int)) and not isinstance(v, bool) for v in values)


def test_reader_handles_deep_unclosed_nesting() -> None:
    document, _ = read_elements("<OFX>" + "<A>" * 5000 + "x" + "</OFX>")
    assert document.children[0].closed


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(FUZZ_SEEDS))
    data = bytearray(_FUZZ_DATA[seed])
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(("replace", "delete", "insert", "truncate", "tag")))
        if operation == "replace":
            data[position] = draw(st.integers(0, 255))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=12))
        elif operation == "truncate":
            del data[position:]
        else:
            data[position:position] = draw(st.sampled_from(FUZZ_TAGS))
    return bytes(data)


_FUZZ_DATA: dict[str, bytes] = {}


@pytest.fixture
def fuzz_data(fixtures_dir: Path) -> None:
    for name in FUZZ_SEEDS:
        _FUZZ_DATA[name] = (ofx_dir(fixtures_dir) / name).read_bytes()


@pytest.mark.usefixtures("fuzz_data")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=mutated_fixture())
def test_fuzz_only_typed_errors_and_nothing_silently_lost(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "mutated.ofx"
    path.write_bytes(data)
    try:
        result = SOURCE.parse(path)
    except SourceError:
        return
    assert isinstance(result, ParseResult)
    assert result.transactions_found >= len(result.records)
    if result.transactions_found > len(result.records):
        assert result.warnings
    assert all(r.amount is None or isinstance(r.amount, str) for r in result.records)
    assert len({r.line_id for r in result.records}) == len(result.records)


def test_the_benchmarks_statements_read_alike_in_sgml_and_xml(tmp_path: Path) -> None:
    """benchmarks/bench_ofx.py's files: OFX 1.03 SGML (cp1252, unclosed leaves, CRLF) and 2.1.1 XML
    of the same transactions give the same records; a repeated FITID with another amount is kept;
    the ledger balance is the sum of the lines (the statement opens at zero)."""
    bench = load_benchmark("bench_ofx")
    results = {}
    for version in ("sgml", "xml"):
        path = tmp_path / f"{version}.ofx"
        bench.write_statement(path, 2500, version)
        results[version] = SOURCE.parse(path)
    sgml, xml = results["sgml"], results["xml"]
    assert len(sgml.records) == len(xml.records) == 2500
    def fields(record):
        return {key: value for key, value in record.as_dict().items() if key != "extra"}

    assert [fields(r) for r in sgml.records] == [fields(r) for r in xml.records]
    assert sum(1 for warning in sgml.warnings if "kept as 2 separate lines" in warning) == 2500 // 997
    total = sum(Decimal(r.amount) for r in sgml.records)
    assert [Decimal(s.closing_balance) for s in sgml.statements] == [total]
    assert "&amp;" not in "".join(r.counterparty_name or "" for r in xml.records)
