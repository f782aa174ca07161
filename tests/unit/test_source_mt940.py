"""The SWIFT MT940/MT942 source against every real sample under fixtures/mt940, plus crafted files
for the traps the samples lack (envelope, Dutch field 86, year end, encodings, broken statements)."""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.errors import MalformedFile, SourceError
from sources.mt940 import Balance, Mt940Source, swift_amount
from sources.records import ParseResult, make_line_id

SOURCE = Mt940Source()
GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "mt940"
GOLDEN_FILES = (
    "betterplace/sepa_snippet.sta",
    "mBank/with_newline_in_tnr.sta",
    "self-provided/raiffeisen-cmi.sta",
    "self-provided/february_30.sta",
)

#: fixture -> (records kept, transactions found, statements, opening + sum(lines) = closing per
#: statement: True, False (the sample's balances do not add up), or None (no closing balance)).
PARSED = {
    "betterplace/sepa_mt9401.sta": (97, 97, 26, [True] * 26),
    "betterplace/sepa_snippet.sta": (11, 11, 2, [True, False]),  # one line edited from sepa_mt9401
    "betterplace/with_binary_character.sta": (4, 4, 2, [True, True]),
    "cmxl/mt940.sta": (16, 16, 3, [True, True, True]),
    "mBank/mt940.sta": (3, 3, 1, [True]),
    "mBank/mt942.sta": (0, 3, 0, []),
    "mBank/with_newline_in_tnr.sta": (2, 2, 1, [False]),  # trimmed sample: 0.46 + 89 != 860.17
    "self-provided/details_60-63.sta": (1, 1, 1, [False]),
    "self-provided/february_30.sta": (1, 1, 1, [True]),
    "self-provided/gv_codes.sta": (2, 2, 1, [None]),
    "self-provided/long_statement_number.sta": (0, 0, 1, [True]),
    "self-provided/malformed_details.sta": (1, 1, 1, [False]),
    "self-provided/mt942.sta": (0, 1, 0, []),
    "self-provided/overly_long_details.sta": (1, 1, 1, [False]),
    "self-provided/raiffeisen-cmi.sta": (7, 7, 1, [False]),  # trimmed sample: 1 123 264 HUF short
    "self-provided/raphaelm.sta": (9, 9, 3, [True, True, True]),
    "self-provided/transaction_details_wrapped.sta": (1, 1, 1, [True]),
    "self-provided/whitespace.sta": (1, 1, 1, [False]),
    "self-provided/wrapped_timestamp.sta": (1, 1, 1, [True]),
}
#: fixture -> the reason MalformedFile gives (snippets of one field, used by the libraries' unit tests).
REJECTED = {
    "betterplace/amount_formats.sta": "line 1: :60F: without a :20: transaction reference",
    "betterplace/currency_in_25.sta": "line 1: :25: without a :20: transaction reference",
    "betterplace/empty_86.sta": "not an MT940 statement: no :20:, :25:, :60F:, :61: or :62F: field",
    "betterplace/empty_entry_date.sta": "line 1: :61: without a :20: transaction reference",
    "betterplace/empty_line.sta": "statement :20:TELEREPORTING (line 2) has no :25: account identification",
    "betterplace/missing_crlf_at_end.sta": "line 1: :62F: without a :20: transaction reference",
    "betterplace/sepa_snippet_broken.sta": "line 6: a second :25: (account) inside statement :20:T089414086000001",
    "cmxl/account_balance_credit.sta": "line 1: :60F: without a :20: transaction reference",
    "cmxl/account_balance_debit.sta": "line 1: :60F: without a :20: transaction reference",
    "cmxl/account_identification_iban.sta": "line 1: :25: without a :20: transaction reference",
    "cmxl/account_identification_legacy.sta": "line 1: :25: without a :20: transaction reference",
    "cmxl/available_balance.sta": "not an MT940 statement",
    "cmxl/closing_balance.sta": "line 1: :62F: without a :20: transaction reference",
    "cmxl/reference.sta": "statement :20:D140902049 (line 1) has no :25: account identification",
    "cmxl/statement_details.sta": "line 1: :61: without a :20: transaction reference",
    "cmxl/statement_line.sta": "line 1: :61: without a :20: transaction reference",
    "cmxl/statement_number.sta": "not an MT940 statement",
    "self-provided/empty_non_swift.sta": "not an MT940 statement",
    "self-provided/invalid_statement.sta": "not an MT940 statement",
    "self-provided/sparkassen.sta": "line 1: :61: without a :20: transaction reference",
}


def _fixture_names(fixtures_dir: Path) -> set[str]:
    root = fixtures_dir / "mt940"
    return {path.relative_to(root).as_posix() for path in root.rglob("*.sta")}


def _write(tmp_path: Path, text: str | bytes, name: str = "statement.sta") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def _balance_checks(result: ParseResult) -> list[bool | None]:
    """opening + sum(lines) == closing for each StatementSummary (None without both balances)."""
    amounts = {record.line_id: Decimal(record.amount) for record in result.records}
    checks: list[bool | None] = []
    for statement in result.statements:
        if statement.opening_balance is None or statement.closing_balance is None:
            checks.append(None)
            continue
        total = Decimal(statement.opening_balance) + sum(amounts[i] for i in statement.line_ids)
        checks.append(total == Decimal(statement.closing_balance))
    return checks


def _records_by_line(result: ParseResult) -> dict[int, dict]:
    return {record.extra["line"]: record.as_dict() for record in result.records}


# --- every real sample --------------------------------------------------------------------------------


def test_every_fixture_is_classified(fixtures_dir):
    assert _fixture_names(fixtures_dir) == set(PARSED) | set(REJECTED)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_fixture_parses(fixtures_dir, name):
    path = fixtures_dir / "mt940" / name
    kept, found, statements, balances = PARSED[name]
    result = SOURCE.parse(path)
    assert len(result.records) == kept
    assert result.transactions_found == found
    assert len(result.statements) == statements
    assert _balance_checks(result) == balances
    assert SOURCE.identify(path, path.read_bytes()[:8192])
    for record in result.records:
        assert record.record_type == "bank_line" and record.source_format == "mt940"
        assert record.currency and re.fullmatch(r"[A-Z]{3}", record.currency)
    assert len({record.line_id for record in result.records}) == kept
    if kept < found:
        assert any("not booked" in warning for warning in result.warnings)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_fixture_snippet_rejected(fixtures_dir, name):
    with pytest.raises(MalformedFile) as caught:
        SOURCE.parse(fixtures_dir / "mt940" / name)
    message = str(caught.value)
    assert message.startswith(Path(name).name + ": ")
    assert REJECTED[name] in message
    assert "\n" not in message


def test_german_sepa_statements(fixtures_dir):
    result = SOURCE.parse(fixtures_dir / "mt940/betterplace/sepa_mt9401.sta")
    assert result.warnings == []
    lines = _records_by_line(result)
    first = lines[5]  # :61:0709040904CR300,NTRFTFNr 40005 MSGID//0724710345313905
    assert first["account"] == "50880050/0194774600888"
    assert (first["value_date"], first["booking_date"], first["amount"], first["currency"]) == (
        "2007-09-04", "2007-09-04", "300.00", "EUR")
    assert first["bank_ref"] == "0724710345313905"
    assert first["extra"]["customer_ref"] == "TFNr 40005 MSGID"
    assert first["end_to_end_id"] == "TFNR 40005 00005"
    # ?21MTLG:Grund nicht s / pezifizie / ?22rt Reject aus SEPA-Ueberwei / ?23sungsauftrag
    assert first["remittance"] == "MTLG:Grund nicht spezifiziert Reject aus SEPA-Ueberweisungsauftrag"
    assert first["extra"]["gvc"] == "159" and first["extra"]["booking_text"] == "RETOURE"
    reversal = lines[19]  # :61:0709040904RCR204,88NRTINONREF: reversal of a credit = money out
    assert (reversal["amount"], reversal["extra"]["mark"], reversal["bank_ref"]) == ("-204.88", "RC", None)
    credit = lines[30]  # EREF wrapped over ?20/?21, SVWZ over ?22..?27, name over ?32/?33
    assert credit["end_to_end_id"] == "EndToEndIdTFNR2000400001"
    assert credit["remittance"].startswith("TO 13 TFNr 20004 Eingangskanal Mint")
    assert credit["counterparty_name"] == "Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx"
    assert credit["counterparty_account"] == "DE42100100100043921105"
    assert credit["extra"]["counterparty_bank"] == "PBNKDEFF100"
    statement = result.statements[0]
    assert (statement.statement_id, statement.sequence, statement.account, statement.currency) == (
        "T089413946000001", "00004/00001", "50880050/0194774600888", "EUR")
    assert (statement.opening_balance, statement.opening_date) == ("-1234718.36", "2007-09-03")
    assert (statement.closing_balance, statement.closing_date) == ("-1237628.23", "2007-09-04")
    # :62M: -> :60M: continuation of one account over two messages
    intermediate = [s for s in result.statements if s.statement_id in ("T089414006000001", "T089414006000002")]
    assert intermediate[0].closing_balance == intermediate[1].opening_balance == "-30503.83"


def test_cmxl_statements(fixtures_dir):
    result = SOURCE.parse(fixtures_dir / "mt940/cmxl/mt940.sta")
    lines = _records_by_line(result)
    assert lines[5]["amount"] == "-6800.00" and lines[5]["currency"] == "DEM"  # :28: (old tag), no entry date
    assert lines[7]["amount"] == "-620.30"  # "620,3"
    salary = lines[38]  # ?20Gehalt Oktob / er  and  ?31084756 / 4700: wrapped without a separator
    assert salary["remittance"].startswith("Gehalt Oktober ")
    assert salary["counterparty_account"] == "0847564700"
    assert (salary["booking_date"], salary["value_date"], salary["amount"]) == ("2002-11-02", "2002-11-02", "3000.00")
    card = lines[53]  # Polish GVC with " 020?00", supplementary details on the :61: continuation line
    assert card["extra"]["supplementary_details"] == "Card transaction"
    assert card["bank_ref"] == "8327000090031789" and card["account"] == "BPHKPLPK/320000546101"
    assert card["counterparty_account"] == "0000777777777777"
    transfer = lines[62]
    assert transfer["extra"]["customer_ref"] == "REF 25611247" and transfer["amount"] == "-10000.00"
    interest = lines[70]  # ?20 full (27 chars) continues in ?21 without a space
    assert interest["remittance"] == "Odsetki od lokaty nr 101000022086"
    assert interest["extra"]["booking_text"] == "Uznanie kwotą odsetek"


def test_mbank_statement(fixtures_dir):
    result = SOURCE.parse(fixtures_dir / "mt940/mBank/mt940.sta")
    assert any("control byte" in warning for warning in result.warnings)  # SOH / ETX framing
    record = result.records[0].as_dict()
    assert record["account"] == "PL29114010810000267002001002"
    assert (record["amount"], record["currency"], record["booking_date"]) == ("0.01", "PLN", "2017-01-19")
    assert record["bank_ref"] == "MB170119012058"
    assert record["counterparty_name"] == "JAN NOWAK"
    assert record["counterparty_account"] == "56114010810000267002001001"
    assert record["remittance"] == "PRZELEW SRODKOW"
    assert record["extra"]["tnr"] == "179171073864111.010001"
    assert record["extra"]["counterparty_address"] == "UL. NIJAKA 1 M 2 31-234 KRAKOW"
    assert record["extra"]["supplementary_details"] == "911-TRANSAKCJA IPH"
    wrapped = SOURCE.parse(fixtures_dir / "mt940/mBank/with_newline_in_tnr.sta").records[0]
    assert wrapped.extra["tnr"] == "179301073837502.000001"  # "TNR: " / "179301073837502.000001"


@pytest.mark.parametrize("name, interim", [("mBank/mt942.sta", 3), ("self-provided/mt942.sta", 1)])
def test_mt942_lines_are_not_booked(fixtures_dir, name, interim):
    result = SOURCE.parse(fixtures_dir / "mt940" / name)
    assert result.records == [] and result.statements == []
    assert result.transactions_found == interim
    assert any(f"{interim} interim line(s)" in w and "not booked" in w for w in result.warnings)


def test_invalid_date_left_raw(fixtures_dir):
    for name in ("february_30.sta", "transaction_details_wrapped.sta", "wrapped_timestamp.sta"):
        result = SOURCE.parse(fixtures_dir / "mt940/self-provided" / name)
        record = result.records[0]
        assert record.value_date == "160230"  # 30 February 2016: left for the contract to quarantine
        assert record.booking_date == "2016-03-01"
        assert record.amount == "-6.00"
        assert any("value date 160230 is not a calendar date" in w for w in result.warnings)


def test_wrapped_text_that_looks_like_a_tag(fixtures_dir):
    wrapped = SOURCE.parse(fixtures_dir / "mt940/self-provided/transaction_details_wrapped.sta").records[0]
    assert wrapped.remittance == "Pauschalen 2017-01-01T13:12:11"  # ":12:11" is not a field
    stamp = SOURCE.parse(fixtures_dir / "mt940/self-provided/wrapped_timestamp.sta").records[0]
    assert "12-09-2014T16:26:37" in stamp.remittance  # ":26:37" is not a field
    assert stamp.end_to_end_id == "VZ0000000000000000"


def test_german_details_variants(fixtures_dir):
    folder = fixtures_dir / "mt940/self-provided"
    spaced = SOURCE.parse(folder / "whitespace.sta").records[0]
    assert spaced.remittance == "ERSTATTUNG AUSLANDSEINSATZENTGELT FUER VISA 4998 XXXX XXXX 1234"
    assert spaced.counterparty_name == "DEUTSCHE KREDITBANK AG"
    assert (spaced.value_date, spaced.amount) == ("2017-09-14", "-233.15")
    extended = SOURCE.parse(folder / "details_60-63.sta").records[0]
    assert extended.counterparty_name == "Finanzamt Muenchen Abteilung Erhebung"
    assert extended.end_to_end_id == "123/123/12345-----L110"
    assert extended.extra["ultimate_debtor"] == "Finanzamt Muenchen Abteilung Erhebung"  # ?62 runs on in ?63
    malformed = SOURCE.parse(folder / "malformed_details.sta").records[0]
    assert malformed.extra["ultimate_debtor"] == "Finanzamt Sentinel?"  # a lone "?" is text
    assert malformed.extra["mandate_ref"] == "BYA12345678901"
    assert malformed.remittance.startswith("STEUERNR 123/123/12345 KOERPST 3VJ.17 233,15EUR")
    codes = SOURCE.parse(folder / "gv_codes.sta")
    assert codes.records[0].extra["creditor_id"] == "AB12CDE0000000000000000034"  # "CRED+ A" / "B12..."
    assert codes.records[1].value_date == "2019-10-25" and codes.records[1].amount == "-24.30"
    assert any("no readable :62F:/:62M: closing balance" in w for w in codes.warnings)


def test_other_samples(fixtures_dir):
    hungarian = SOURCE.parse(fixtures_dir / "mt940/self-provided/raiffeisen-cmi.sta")
    assert any("cp852" in warning for warning in hungarian.warnings)
    first = hungarian.records[0]
    assert first.extra["supplementary_details"] == "Csoportos átutalás jóváírása"
    assert (first.amount, first.currency, first.account) == ("2066637.00", "HUF", "UBRTHUHB/123456789150ABCDEF002")
    assert hungarian.records[3].amount == "-3892.77"
    non_swift = SOURCE.parse(fixtures_dir / "mt940/self-provided/raphaelm.sta")
    assert [s.closing_balance for s in non_swift.statements] == ["105000.00", "145000.00", "95000.00"]
    assert non_swift.statements[2].account == "3346780111"
    assert "15Empfänger" in non_swift.records[0].extra["non_swift"]
    assert non_swift.records[0].booking_date == "2002-03-20" and non_swift.records[0].value_date == "2002-03-17"
    binary = SOURCE.parse(fixtures_dir / "mt940/betterplace/with_binary_character.sta")
    assert binary.records[1].counterparty_name == "WIRECARD BANK AG"
    assert binary.records[1].counterparty_account == "9990437808"
    empty = SOURCE.parse(fixtures_dir / "mt940/self-provided/long_statement_number.sta")
    assert empty.statements[0].sequence == "1810118101"
    assert empty.statements[0].opening_balance == empty.statements[0].closing_balance == "0.00"


def test_snippet_contents_inside_a_statement(fixtures_dir, tmp_path):
    """The one-field samples are no files of their own, but their content must read right in one."""
    amounts = (fixtures_dir / "mt940/betterplace/amount_formats.sta").read_text().split()
    assert [Balance.parse(line[5:]).amount for line in amounts] == [
        "380115.12", "380115.10", "380115.00", "0.12", "0.12", "1.12"]
    debit = (fixtures_dir / "mt940/cmxl/account_balance_debit.sta").read_text().strip()
    assert Balance.parse(debit[5:]) == Balance("-147.64", "2014-08-29", "EUR")
    header = ":20:X\n:25:DE02120300000000202051\n:60F:C181126EUR0,\n"
    wrapped_line = (fixtures_dir / "mt940/self-provided/sparkassen.sta").read_text()
    record = SOURCE.parse(_write(tmp_path, header + wrapped_line)).records[0]
    assert (record.amount, record.value_date, record.remittance) == ("30.00", "2018-11-26", "Test")
    details = (fixtures_dir / "mt940/cmxl/statement_details.sta").read_text()
    record = SOURCE.parse(_write(tmp_path, header + details)).records[0]
    assert (record.amount, record.bank_ref, record.counterparty_name) == ("-1.62", "025498557/000001", "Peter Pan")
    assert record.end_to_end_id == "TRX-0A4A47C3-F846-4729-8A1B-5DF620F"
    assert record.extra["mandate_ref"] == "CAC97D2144174318AC18D9BF815BD4FB"
    assert record.remittance == "FOO TRX-0A4A47C3-F846-4729-8A1B-5DF620F"
    no_entry = (fixtures_dir / "mt940/betterplace/empty_entry_date.sta").read_text()
    record = SOURCE.parse(_write(tmp_path, header + no_entry)).records[0]
    assert (record.value_date, record.booking_date, record.amount) == ("2011-07-01", "2011-07-01", "50.00")
    assert (record.extra["funds_code"], record.extra["transaction_type"]) == ("N", "NZ10")


def test_overlapping_files_share_line_ids(fixtures_dir):
    """sepa_snippet.sta repeats two statements of sepa_mt9401.sta (one of its lines edited)."""
    full = {r.line_id: r for r in SOURCE.parse(fixtures_dir / "mt940/betterplace/sepa_mt9401.sta").records}
    snippet = SOURCE.parse(fixtures_dir / "mt940/betterplace/sepa_snippet.sta").records
    shared = [r for r in snippet if r.line_id in full]
    assert len(shared) == 10
    assert {r.bank_ref for r in snippet if r.line_id not in full} == {"0724710345316116"}  # the edited line
    for record in shared:
        assert full[record.line_id].as_dict() | {"extra": None} == record.as_dict() | {"extra": None}


def test_reparse_is_stable_and_json_safe(fixtures_dir):
    for name in PARSED:
        path = fixtures_dir / "mt940" / name
        first, second = SOURCE.parse(path), SOURCE.parse(path)
        assert [r.line_id for r in first.records] == [r.line_id for r in second.records]
        for record in first.records:
            data = record.as_dict()
            for value in [*data.values(), *data.get("extra", {}).values()]:
                if isinstance(value, dict):
                    continue
                assert value is None or type(value) in (str, int), (name, value)
            json.dumps(data)
        for statement in first.statements:
            for value in (statement.opening_balance, statement.closing_balance):
                assert value is None or type(value) is str


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden(fixtures_dir, name):
    result = SOURCE.parse(fixtures_dir / "mt940" / name)
    text = "".join(json.dumps(r.as_dict(), sort_keys=True, ensure_ascii=False) + "\n" for r in result.records)
    golden = GOLDEN_DIR / f"{Path(name).name}.jsonl"
    if os.environ.get("PAYRECON_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


# --- identify -----------------------------------------------------------------------------------------


def test_identify_rejects_every_other_fixture(fixtures_dir, tmp_path):
    others = [p for p in fixtures_dir.rglob("*") if p.is_file() and "mt940" not in p.relative_to(fixtures_dir).parts]
    assert others
    for path in others:
        assert not SOURCE.identify(path, path.read_bytes()[:8192]), path
    privat24 = ("ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;"
                "Рахунок кореспондента;ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу\n"
                "12345678;305299;UA213052990000026007233566001;UAH;1;02.01.2024;300001;Банк;UA1;87654321;"
                "ТОВ;100,00;:20: оплата\n").encode("cp1251")
    assert not SOURCE.identify(_write(tmp_path, privat24, "p24.csv"), privat24)


def test_identify_envelope_and_fields():
    assert SOURCE.identify(Path("x.txt"), b"{1:F01INGBNL2ABXXX0000000000}{2:I942INGBNL2AXXXN}{4:\r\n")
    assert SOURCE.identify(Path("x.txt"), b"\xef\xbb\xbf:20:A\n:25:B\n:28C:1\n")
    # A fragment that starts with an MT940 field is claimed, so parse() can say what it lacks.
    assert SOURCE.identify(Path("x.txt"), b":20:A\n:25:B\n:61:240101C1,NTRFNONREF\n")
    assert SOURCE.identify(Path("x.txt"), b":86:091\n-")
    assert not SOURCE.identify(Path("x.txt"), b"text :20:A :25:B :60F:C240101EUR1,\n")


# --- crafted files for traps the samples lack ---------------------------------------------------------

ING_ENVELOPE = (
    "\x01{1:F01INGBNL2ABXXX0000000000}{2:I940INGBNL2AXXXN}{4:\r\n"
    ":20:P140220000000001\r\n"
    ":25:NL69INGB0123456789EUR\r\n"
    ":28C:00000/\r\n"
    "00001\r\n"
    ":60F:C140219EUR662,23\r\n"
    ":61:1402200220C1,56NTRFEREF//00000000001005\r\n"
    "/TRCD/00100/\r\n"
    ":86:/EREF/EV12341REP1231456T1234//CNTP/NL32INGB0000012345/INGBNL2\r\n"
    "A/ING BANK NV INZAKE WEB///REMI/USTD//EV10001REP1000001T1000/\r\n"
    ":61:1402200220D1,57NDDTEREF//00000000001006\r\n"
    "/TRCD/01028/\r\n"
    ":86:/EREF/EV123R1REP1231456T1234//MARF/EV123R1//CSID/NL32ZZZ99999999\r\n"
    "0000//CNTP/NL32INGB0000012345/INGBNL2A/ING Bank N.V. inzake WeB///\r\n"
    "REMI/USTD//Factuur 2014-0042/\r\n"
    ":62F:C140220EUR662,22\r\n"
    ":64:C140220EUR662,22\r\n"
    ":65:C140221EUR662,22\r\n"
    ":86:/SUM/2/1/1,57/1,56/\r\n"
    "-}{5:{CHK:0123456789AB}}\x03\r\n"
    "\x01{1:F01INGBNL2ABXXX0000000000}{2:I942INGBNL2AXXXN}{4:\r\n"
    ":20:P140220000000002\r\n"
    ":25:NL69INGB0123456789EUR\r\n"
    ":28C:00001/00001\r\n"
    ":34F:EURC0,00\r\n"
    ":13D:1402201200+0100\r\n"
    ":61:1402200220C5,00NTRFEREF//00000000001007\r\n"
    ":86:/EREF/INTERIM1//CNTP/NL32INGB0000012345/INGBNL2A/X///REMI/USTD//interim/\r\n"
    ":90C:1EUR5,00\r\n"
    "-}\x03"
)


def test_envelope_dutch_details_and_interim_message(tmp_path):
    path = _write(tmp_path, ING_ENVELOPE)
    assert SOURCE.identify(path, path.read_bytes())
    result = SOURCE.parse(path)
    assert (len(result.records), result.transactions_found) == (2, 3)
    assert any("control byte" in w for w in result.warnings)
    assert any("1 interim line(s)" in w for w in result.warnings)
    credit, debit = (r.as_dict() for r in result.records)
    assert credit["account"] == "NL69INGB0123456789"  # the currency suffix of :25: is not the account
    assert (credit["amount"], credit["currency"], credit["value_date"]) == ("1.56", "EUR", "2014-02-20")
    assert credit["counterparty_account"] == "NL32INGB0000012345"
    assert credit["counterparty_name"] == "ING BANK NV INZAKE WEB"
    assert credit["remittance"] == "EV10001REP1000001T1000"
    assert credit["end_to_end_id"] == "EV12341REP1231456T1234"
    assert credit["bank_ref"] == "00000000001005"
    assert credit["extra"]["supplementary_details"] == "/TRCD/00100/"
    assert credit["extra"]["counterparty_bank"] == "INGBNL2A"
    assert debit["amount"] == "-1.57" and debit["remittance"] == "Factuur 2014-0042"
    assert (debit["extra"]["mandate_ref"], debit["extra"]["creditor_id"]) == ("EV123R1", "NL32ZZZ999999990000")
    [statement] = result.statements
    assert statement.sequence == "00000/00001"  # :28C: wrapped over two lines
    assert (statement.opening_balance, statement.closing_balance) == ("662.23", "662.22")
    assert _balance_checks(result) == [True]


@pytest.mark.parametrize("preamble, stray", [(":940:\r\n", False), (":9401:\r\n", False),
                                             ("ABNANL2A\r\n940\r\nABNANL2A\r\n", True)])
def test_pseudo_headers_crlf_and_no_final_newline(tmp_path, preamble, stray):
    text = (preamble + ":20:ABN AMRO BANK NV\r\n:25:517852257\r\n:28:19321/1\r\n:60F:C110522EUR3236,28\r\n"
            ":61:1105240524D9,NMSCNONREF\r\n:86:/TRTP/SEPA OVERBOEKING/IBAN/NL44RABO0123456789/BIC/RABONL2U"
            "/NAME/J. JANSEN/REMI/Factuur 2011-001/EREF/NOTPROVIDED\r\n:62F:C110524EUR3227,28")
    result = SOURCE.parse(_write(tmp_path, text))
    [record] = result.records
    assert (record.amount, record.counterparty_name, record.counterparty_account) == (
        "-9.00", "J. JANSEN", "NL44RABO0123456789")
    assert record.remittance == "Factuur 2011-001" and record.end_to_end_id is None  # NOTPROVIDED
    assert record.extra["transaction_type_text"] == "SEPA OVERBOEKING"
    assert _balance_checks(result) == [True]
    assert any("outside any field" in w for w in result.warnings) == stray


def test_year_end_and_reversal_marks(tmp_path):
    text = (":20:ROLLOVER\n:25:DE44500105175407324931\n:28C:1/1\n:60F:C231229EUR100,00\n"
            ":61:2312290102C10,00NTRFNONREF//B1\n"  # booked 2 January for a 29 December value date
            ":61:2401021229D5,00NTRFNONREF//B2\n"  # booked 29 December for a 2 January value date
            ":61:231230RD2,50NTRFNONREF//B3\n"  # reversal of a debit: money in
            ":61:231230RC1,25NTRFCUST1\n"  # reversal of a credit: money out; no // ref
            ":62F:C240102EUR106,25\n-")
    result = SOURCE.parse(_write(tmp_path, text))
    dates = [(r.value_date, r.booking_date) for r in result.records]
    assert dates == [("2023-12-29", "2024-01-02"), ("2024-01-02", "2023-12-29"),
                     ("2023-12-30", "2023-12-30"), ("2023-12-30", "2023-12-30")]
    assert [r.amount for r in result.records] == ["10.00", "-5.00", "2.50", "-1.25"]
    assert [r.bank_ref for r in result.records] == ["B1", "B2", "B3", "CUST1"]
    assert _balance_checks(result) == [True]


def test_single_byte_encodings(tmp_path):
    polish = (":20:PL1\n:25:PL61109010140000071219812874\n:28C:1/1\n:60F:C240101PLN0,00\n"
              ":61:240102C100,00NTRFNONREF//X1\n:86:Zapłata za fakturę – środki własne\n"
              ":62F:C240102PLN100,00\n").encode("cp1250")
    result = SOURCE.parse(_write(tmp_path, polish))
    assert result.records[0].remittance == "Zapłata za fakturę – środki własne"
    assert any("cp1250" in w for w in result.warnings)
    mixed = (b":20:DE1\n:25:DE02120300000000202051\n:28C:1/1\n:60F:C240101EUR0,00\n"
             b":61:240102C1,00NTRFNONREF//X1\n:86:Kunde \xef\xbf\xbd Stra\xdfe\n:62F:C240102EUR1,00\n")
    assert SOURCE.parse(_write(tmp_path, mixed)).records[0].remittance == "Kunde \ufffd Straße"


GOOD = (":20:GOOD\n:25:DE02120300000000202051\n:28C:1/1\n:60F:C240101EUR10,00\n"
        ":61:240102C5,00NTRFNONREF//G1\n:62F:C240102EUR15,00\n-\n")
NO_ACCOUNT = ":20:NOACCOUNT\n:28C:2/1\n:60F:C240102EUR15,00\n:61:240103D1,00NTRFNONREF//N1\n:62F:C240103EUR14,00\n-\n"
NO_OPENING = (":20:NOOPENING\n:25:DE02120300000000202051\n:28C:3/1\n:61:240104D1,00NTRFNONREF//N2\n"
              ":62F:C240104EUR13,00\n-\n")


def test_broken_statements_next_to_good_ones_are_emitted_with_warnings(tmp_path):
    result = SOURCE.parse(_write(tmp_path, GOOD + NO_ACCOUNT + NO_OPENING))
    assert [r.bank_ref for r in result.records] == ["G1", "N1", "N2"]
    assert result.records[1].account is None  # the contract quarantines it
    assert any("statement :20:NOACCOUNT (line 8) has no :25:" in w for w in result.warnings)
    assert any("statement :20:NOOPENING (line 14) has no readable :60F:/:60M:" in w for w in result.warnings)
    assert [s.opening_balance for s in result.statements] == ["10.00", "15.00", None]


@pytest.mark.parametrize("text, reason", [
    (NO_OPENING, "statement :20:NOOPENING (line 1) has no readable :60F:/:60M: opening balance"),
    (NO_ACCOUNT + NO_OPENING, "statement :20:NOACCOUNT (line 1) has no :25: account identification"),
])
def test_file_of_broken_statements_is_malformed(tmp_path, text, reason):
    with pytest.raises(MalformedFile, match=re.escape(reason)):
        SOURCE.parse(_write(tmp_path, text))


def test_balance_chain_break_warns(tmp_path):
    second = GOOD.replace(":20:GOOD", ":20:NEXT").replace("C240101EUR10,00", "C240102EUR99,00")
    result = SOURCE.parse(_write(tmp_path, GOOD + second))
    assert any("balance chain broken" in w and "opens at 99.00" in w for w in result.warnings)


def test_garbled_line_is_emitted_raw(fixtures_dir, tmp_path):
    text = (fixtures_dir / "mt940/betterplace/sepa_snippet.sta").read_text()
    text = text.replace(":61:0709070904CR50990,05NTRF", ":61:07090X0904CR50990,05NTRF", 1)
    text = text.replace(":61:0709040904DR1500,00NTRF", ":61:0709040904DR1500,00,1NTRF", 1)
    result = SOURCE.parse(_write(tmp_path, text))
    assert len(result.records) == result.transactions_found == 11
    assert result.records[0].amount.startswith("07090X0904CR50990,05NTRF")
    assert result.records[3].amount == "1500,00,1"
    assert any("line 5: :61: statement line not understood" in w for w in result.warnings)
    assert any("line 19: :61: amount '1500,00,1'" in w for w in result.warnings)


def test_truncated_copies_never_lose_lines_silently(fixtures_dir, tmp_path):
    data = (fixtures_dir / "mt940/betterplace/sepa_mt9401.sta").read_bytes()
    for cut in range(40, len(data), 211):
        head = data[:cut]
        path = _write(tmp_path, head)
        try:
            result = SOURCE.parse(path)
        except MalformedFile as error:
            assert str(error).startswith("statement.sta: ")
            continue
        lines = len(re.findall(rb"(?m)^:61:", head))
        assert len(result.records) == result.transactions_found == lines
        if head.rfind(b"\n:62") < max(head.rfind(b"\n:20:"), head.rfind(b"\n:61:")):
            assert result.warnings, cut  # a statement cut before its closing balance is never silent


_byte_edit = st.tuples(st.integers(0, 3000), st.integers(0, 12), st.binary(max_size=12))
_line_edit = st.tuples(st.sampled_from(["drop", "dup", "swap"]), st.integers(0, 60))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(byte_edits=st.lists(_byte_edit, max_size=5), line_edits=st.lists(_line_edit, max_size=4))
def test_fuzz_mutated_statement(fixtures_dir, tmp_path, byte_edits, line_edits):
    data = (fixtures_dir / "mt940/betterplace/sepa_snippet.sta").read_bytes()
    lines = data.split(b"\n")
    for action, index in line_edits:
        index %= len(lines)
        if action == "drop":
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif index + 1 < len(lines):
            lines[index], lines[index + 1] = lines[index + 1], lines[index]
    data = b"\n".join(lines)
    for position, length, replacement in byte_edits:
        position %= len(data) + 1
        data = data[:position] + replacement + data[position + length:]
    path = _write(tmp_path, data, "fuzz.sta")
    try:
        result = SOURCE.parse(path)
    except SourceError:
        return
    assert isinstance(result, ParseResult)
    assert len(result.records) <= result.transactions_found
    for record in result.records:
        json.dumps(record.as_dict())


def test_swift_amounts():
    assert swift_amount("380115,") == "380115.00"
    assert swift_amount("000000000147,64", negative=True) == "-147.64"
    assert swift_amount("0,00", negative=True) == "0.00"
    assert swift_amount("1,234") == "1.234"
    assert swift_amount("1,2,3") is None
    assert swift_amount("9" * 40 + ",") is None


@settings(max_examples=300, deadline=None)
@given(whole=st.text("0123456789", min_size=1, max_size=30), fraction=st.none() | st.text("0123456789", max_size=6),
       negative=st.booleans())
def test_swift_amount_matches_decimal_arithmetic(whole, fraction, negative):
    raw = whole if fraction is None else f"{whole},{fraction}"
    digits = len(whole.lstrip("0") or "0") + max(2, len(fraction or ""))
    if digits > 28:  # beyond Decimal's 28-digit context: not an amount (no SWIFT 15d amount is)
        assert swift_amount(raw, negative) is None
        return
    value = Decimal(f"{whole}.{fraction or '0'}").quantize(Decimal(1).scaleb(-max(2, len(fraction or ""))))
    assert swift_amount(raw, negative) == format(-value if negative and value else value, "f")


# --- streaming (iter_records) and large files ---------------------------------------------------------


def test_iter_records_gives_what_parse_gives(fixtures_dir):
    for name in sorted(PARSED):
        path = fixtures_dir / "mt940" / name
        assert [r.as_dict() for r in SOURCE.iter_records(path)] == [r.as_dict() for r in SOURCE.parse(path).records]


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 4096])
def test_reading_in_small_blocks_changes_nothing(fixtures_dir, tmp_path, monkeypatch, block_bytes):
    import sources.mt940 as mt940

    crlf = (fixtures_dir / "mt940/betterplace/sepa_mt9401.sta").read_bytes().replace(b"\n", b"\r\n")
    files = [_write(tmp_path, crlf, "crlf.sta"), _write(tmp_path, ING_ENVELOPE, "ing.sta"),
             _write(tmp_path, ":\n20:X\n" + GOOD.replace("\n", "\r") + "\x01" + NO_ACCOUNT, "odd.sta")]
    files += [fixtures_dir / "mt940" / name for name in ("mBank/mt942.sta", "self-provided/raphaelm.sta")]
    expected = [SOURCE.parse(path) for path in files]
    monkeypatch.setattr(mt940, "_BLOCK_BYTES", block_bytes)
    for path, before in zip(files, expected):
        after = SOURCE.parse(path)
        assert [r.as_dict() for r in after.records] == [r.as_dict() for r in before.records]
        assert (after.warnings, after.statements, after.transactions_found) == (
            before.warnings, before.statements, before.transactions_found)


def test_iter_records_of_broken_statements_raises_before_any_record(tmp_path):
    path = _write(tmp_path, NO_ACCOUNT + NO_OPENING)
    records = SOURCE.iter_records(path)
    with pytest.raises(MalformedFile, match="has no :25: account identification"):
        next(records)
    # a good statement after broken ones: every line comes out, in file order
    path = _write(tmp_path, NO_ACCOUNT + NO_OPENING + GOOD, "mixed.sta")
    assert [r.bank_ref for r in SOURCE.iter_records(path)] == ["N1", "N2", "G1"]


def test_identical_lines_are_numbered_across_statements(tmp_path):
    line = ":61:240102C5,00NTRFNONREF//SAME\n:86:166?00GUTSCHRIFT?20SVWZ+Miete\n"
    first = GOOD.replace(":61:240102C5,00NTRFNONREF//G1\n", line * 3)
    second = first.replace(":20:GOOD", ":20:NEXT")
    result = SOURCE.parse(_write(tmp_path, first + second))
    identity = ("DE02120300000000202051", "SAME", "240102", None, "5.00", "C", "NONREF")
    expected = [make_line_id("mt940", *identity, occurrence) for occurrence in range(1, 7)]
    assert [r.line_id for r in result.records] == expected
    assert [s.line_ids for s in result.statements] == [tuple(expected[:3]), tuple(expected[3:])]
