"""The camt source (sources/camt.py): every real camt sample, golden outputs, synthetic edge cases
(batches, reversals, statuses, versions, encodings) and damaged files."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.camt import CamtSource
from sources.errors import MalformedFile, SourceError
from sources.records import ParseResult, make_line_id
from tests.conftest import GOLDEN

SOURCE = CamtSource()
GOLDEN_DIR = GOLDEN / "camt"
UPDATE_GOLDEN = os.environ.get("PAYRECON_UPDATE_GOLDEN") == "1"

# --------------------------------------------------------------------------------------------
# Every real sample: (records kept, transactions found) or the reason it is rejected.
# --------------------------------------------------------------------------------------------

FIXTURE_OUTCOMES: dict[str, tuple[int, int] | str] = {
    "camt052.v1.xml": (1, 1),
    "camt052.v2.other-account.xml": (1, 1),
    "camt052.v2.with-account-name.xml": (1, 1),
    "camt052.v2.xml": (1, 1),
    "camt052.v4.xml": (0, 1),  # the one entry is PDNG
    "camt052.v6.Amt-zero.xml": (0, 1),  # PDNG
    "camt052.v6.xml": (0, 1),  # PDNG
    "camt052.v8.xml": (1, 1),
    "camt053.v2.all-balance-types.xml": (1, 1),
    "camt053.v2.minimal.ultimate.xml": (1, 1),
    "camt053.v2.minimal.xml": (1, 1),
    "camt053.v2.with-account-name.xml": (1, 1),
    "camt053.v2.with-party-ids.xml": (1, 1),
    "camt053.v2.wrong.xml": "holds no Stmt element",
    "camt053.v4.xml": (1, 1),
    "camt054.v2.with-account-name.xml": (1, 1),
    "camt054.v2.xml": (1, 1),  # a batch of 3 TxDtls without amounts: one line
    "camt054.v4.xml": (1, 1),  # 3 TxDtls with CHF amounts on a SEK entry: one line
    "camt054.v8-with-financial-institution.xml": (1, 1),
    "camt054.v8.xml": (1, 1),
    "camt53.only-Dt-with-DtTm.xml": (0, 0),  # a statement with an opening balance and no entries
}
GOLDEN_FILES = (
    "camt053.v2.minimal.xml",
    "camt053.v4.xml",
    "camt054.v2.xml",
    "camt052.v8.xml",
    "camt054.v8-with-financial-institution.xml",
)


def camt_files(fixtures_dir: Path) -> list[Path]:
    return sorted((fixtures_dir / "camt").glob("*.xml"))


def test_every_camt_fixture_is_listed(fixtures_dir):
    assert {p.name for p in camt_files(fixtures_dir)} == set(FIXTURE_OUTCOMES)


@pytest.mark.parametrize("name", sorted(FIXTURE_OUTCOMES))
def test_fixture_parses_or_is_rejected_with_reason(fixtures_dir, name):
    path = fixtures_dir / "camt" / name
    assert SOURCE.identify(path, path.read_bytes()[:8192])
    expected = FIXTURE_OUTCOMES[name]
    if isinstance(expected, str):
        with pytest.raises(MalformedFile, match=expected):
            SOURCE.parse(path)
        return
    result = SOURCE.parse(path)
    kept, found = expected
    assert (len(result.records), result.transactions_found) == (kept, found)
    if kept < found:
        assert any("not booked" in w for w in result.warnings)
    for record in result.records:
        assert record.record_type == "bank_line"
        assert record.source_format == "camt"
        assert Decimal(record.amount)  # a decimal string (none of these is zero)


def _only(fixtures_dir: Path, name: str):
    result = SOURCE.parse(fixtures_dir / "camt" / name)
    assert len(result.records) == 1
    return result, result.records[0]


def test_camt053_v2_minimal_values(fixtures_dir):
    result, record = _only(fixtures_dir, "camt053.v2.minimal.xml")
    assert record.account == "NL26VAYB8060476890"
    assert (record.amount, record.currency) == ("8.85", "EUR")  # CRDT: money in
    assert (record.booking_date, record.value_date) == ("2014-12-31", "2015-01-02")
    # A credit: the counterparty is the debtor.
    assert (record.counterparty_name, record.counterparty_account) == ("NAME NAME", "NL56AGDH9619008421")
    assert record.remittance == "4654654654654654"  # Strd/CdtrRefInf/Ref
    assert record.extra["creditor_reference"] == "4654654654654654"
    assert record.bank_ref is None and record.end_to_end_id is None  # no AcctSvcrRef, no EndToEndId
    [statement] = result.statements
    assert statement.statement_id == "253EURNL26VAYB8060476890"
    assert statement.sequence == "12312"
    assert (statement.opening_balance, statement.opening_date) == ("18.15", "2014-12-30")
    assert (statement.closing_balance, statement.closing_date) == ("-27.00", "2014-12-31")  # DBIT
    assert statement.line_ids == (record.line_id,)
    # The sample's CLBD is in SEK on a EUR account: said, not hidden.
    assert any("CLBD in SEK" in w for w in result.warnings)


def test_camt053_party_tax_id_from_private_id(fixtures_dir):
    _, record = _only(fixtures_dir, "camt053.v2.with-party-ids.xml")
    assert record.counterparty_name == "NAME NAME"
    assert record.counterparty_tax_id == "19121212-1212"  # Dbtr/Id/PrvtId/Othr/Id


def test_camt053_ultimate_parties_go_to_extra(fixtures_dir):
    _, record = _only(fixtures_dir, "camt053.v2.minimal.ultimate.xml")
    assert record.counterparty_name is None
    assert record.extra["ultimate_debtor"] == "DEBTOR NAME NM"
    assert record.extra["ultimate_creditor"] == "CREDITOR NAME NM"


def test_camt053_all_balance_types_prefers_opbd_and_clbd(fixtures_dir):
    result, record = _only(fixtures_dir, "camt053.v2.all-balance-types.xml")
    assert record.amount == "8.850"  # three decimals kept as written
    assert record.end_to_end_id == "000000001"
    assert record.remittance == "Transaction Description"
    [statement] = result.statements
    assert (statement.opening_balance, statement.closing_balance) == ("1.01", "4.04")
    assert statement.account == "CH2801234000123456789"  # Acct/Id/Othr/Id


def test_camt053_v4_entry_amount_wins_over_single_tx_amount(fixtures_dir):
    _, record = _only(fixtures_dir, "camt053.v4.xml")
    assert record.amount == "8.85"  # the booked entry amount, not the TxDtls Amt of 0 SEK
    assert record.extra["tx_amount"] == "0 SEK"
    assert record.bank_ref == "AAAASESS-FP-CN_98765/01"


def test_camt053_datetime_balance_date(fixtures_dir):
    result = SOURCE.parse(fixtures_dir / "camt" / "camt53.only-Dt-with-DtTm.xml")
    [statement] = result.statements
    assert statement.account == "GB33BUKB20201555555555"
    assert (statement.opening_balance, statement.opening_date, statement.currency) == (
        "5442.09000",
        "2025-07-23",
        "RON",
    )
    assert statement.line_ids == ()


def test_camt052_v1_debit_with_datetime_booking(fixtures_dir):
    result, record = _only(fixtures_dir, "camt052.v1.xml")
    assert record.account == "CH2801234000123456789"  # v1: Acct/Id/PrtryAcct/Id
    assert (record.amount, record.currency) == ("-200000", "SEK")
    assert record.booking_date == "2007-10-18"  # DtTm 2007-10-18T10:15:00+01:00
    assert record.bank_ref == "AAAASESS-FP-ACCR-01"
    assert record.remittance == "Credit"  # only AddtlNtryInf
    assert record.extra["message"] == "camt.052.001.01"
    assert any("NbOfTxs 20, TxDtls 0" in w for w in result.warnings)


def test_camt052_debit_counterparty_is_the_creditor(fixtures_dir):
    _, record = _only(fixtures_dir, "camt052.v2.xml")
    assert (record.counterparty_name, record.counterparty_account, record.counterparty_tax_id) == (
        "Company Name",
        "NL56AGDH9619008421",
        "455454654",  # Cdtr/Id/OrgId/Othr/Id
    )
    assert record.extra["bank_tx_code"] == "PAYM/0001/0003"
    assert record.extra["bank_tx_code_proprietary"] == "XXXX+000+0000+000"


def test_camt052_pending_entries_are_skipped_and_counted(fixtures_dir):
    result = SOURCE.parse(fixtures_dir / "camt" / "camt052.v4.xml")
    assert result.records == []
    assert result.transactions_found == 1
    assert any("not booked" in w and "PDNG: 1" in w for w in result.warnings)


def test_camt052_v8_status_code_and_batch_without_details(fixtures_dir):
    result, record = _only(fixtures_dir, "camt052.v8.xml")  # <Sts><Cd>BOOK</Cd></Sts>
    assert record.amount == "-200000"
    assert record.extra["batch_size"] == 20
    assert record.extra["bank_tx_code"] == "PMNT/ICDT/XBCT"


def test_camt054_batch_without_amounts_is_one_line(fixtures_dir):
    result, record = _only(fixtures_dir, "camt054.v2.xml")
    assert record.amount == "-200000"
    assert record.extra["tx_count"] == 3
    assert record.end_to_end_id == "MUELL/FINP/RA12345"  # shared by the three TxDtls
    assert record.remittance == (
        "Unstructured Remittance Information V1 | ISR ref number V2 Additional Remittance Information V2"
        " | Unstructured Remittance Information V3 block 1 Unstructured Remittance Information V3 block 2"
    )
    assert any("kept as one line" in w for w in result.warnings)
    assert result.statements == []  # a notification carries no balances


def test_camt054_v8_foreign_currency_details_are_not_split(fixtures_dir):
    result, record = _only(fixtures_dir, "camt054.v8.xml")
    # The TxDtls amounts are CHF, the entry SEK 200000: splitting would invent money.
    assert record.amount == "-200000" and record.currency == "SEK"
    assert record.extra["tx_amount"] == "3.1 CHF | 3.2 CHF | 3.2 CHF"
    assert any("no amount in the entry currency" in w for w in result.warnings)


def test_camt054_v8_financial_institution_creditor(fixtures_dir):
    _, record = _only(fixtures_dir, "camt054.v8-with-financial-institution.xml")
    assert record.counterparty_name == "Example Creditor 3 - V1"  # Cdtr/Agt/FinInstnId/Nm
    assert record.bank_ref == "ACSR160617103200001"


def test_own_account_on_the_chosen_side_falls_back_to_the_other(fixtures_dir):
    # Both sides carry our own IBAN: nothing better than the creditor as written.
    _, record = _only(fixtures_dir, "camt052.v2.with-account-name.xml")
    assert record.counterparty_name == "Company Name"


# --------------------------------------------------------------------------------------------
# Golden files
# --------------------------------------------------------------------------------------------


def _jsonl(result: ParseResult) -> str:
    return "".join(json.dumps(r.as_dict(), sort_keys=True, ensure_ascii=False) + "\n" for r in result.records)


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_output(fixtures_dir, name):
    actual = _jsonl(SOURCE.parse(fixtures_dir / "camt" / name))
    golden = GOLDEN_DIR / f"{name}.jsonl"
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; run with PAYRECON_UPDATE_GOLDEN=1"
    expected = golden.read_text(encoding="utf-8")
    assert [json.loads(line) for line in actual.splitlines()] == [json.loads(line) for line in expected.splitlines()]


# --------------------------------------------------------------------------------------------
# identify
# --------------------------------------------------------------------------------------------


def test_identify_rejects_every_other_fixture(fixtures_dir):
    others = [p for p in fixtures_dir.rglob("*") if p.is_file() and not (p.parent.name == "camt" and p.suffix == ".xml")]
    assert len(others) > 50
    claimed = [str(p) for p in others if SOURCE.identify(p, p.read_bytes()[:8192])]
    assert claimed == []


def test_identify_rejects_privat24_csv(tmp_path):
    path = tmp_path / "privat24.csv"
    header = "ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;Рахунок кореспондента;ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу\n"
    row = "12345678;305299;UA213223130000026007233566001;UAH;1;12.11.2026;300001;Bank;UA1;87654321;TOV;100,00;camt.053 BkToCstmrStmt\n"
    path.write_bytes((header + row).encode("cp1251"))
    assert not SOURCE.identify(path, path.read_bytes()[:8192])


def test_identify_rejects_other_iso20022_and_prose(tmp_path):
    pain = b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>'
    prose = b"This text mentions urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 and <BkToCstmrStmt> in passing."
    assert not SOURCE.identify(tmp_path / "a.xml", pain)
    assert not SOURCE.identify(tmp_path / "b.txt", prose)


def test_identify_accepts_prefixed_and_utf16_documents(tmp_path):
    prefixed = b'<?xml version="1.0"?>\n<ns2:Document xmlns:ns2="urn:x"><ns2:BkToCstmrStmt>'
    utf16 = '\ufeff<?xml version="1.0" encoding="UTF-16"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'.encode(
        "utf-16-le"
    )
    assert SOURCE.identify(tmp_path / "a.xml", prefixed)
    assert SOURCE.identify(tmp_path / "b.xml", utf16)


# --------------------------------------------------------------------------------------------
# Synthetic documents for what the samples do not show
# --------------------------------------------------------------------------------------------

OUR_IBAN = "DE89370400440532013000"


def document(
    body: str,
    *,
    message: str = "053",
    version: str = "02",
    encoding: str = "UTF-8",
) -> str:
    root, statement = {"052": ("BkToCstmrAcctRpt", "Rpt"), "053": ("BkToCstmrStmt", "Stmt"), "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}[message]
    if "<Stmt" not in body and "<Rpt" not in body and "<Ntfctn" not in body:
        body = statement_xml(statement, body)
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{message}.001.{version}">\n'
        f"<{root}><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-02-01T08:00:00</CreDtTm></GrpHdr>\n"
        f"{body}\n</{root}></Document>\n"
    )


def statement_xml(tag: str, entries: str, *, statement_id: str = "S-1", account: str = OUR_IBAN, balances: str = "") -> str:
    return (
        f"<{tag}><Id>{statement_id}</Id><ElctrncSeqNb>7</ElctrncSeqNb><CreDtTm>2026-02-01T08:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>EUR</Ccy></Acct>{balances}\n{entries}\n</{tag}>"
    )


def balance(code: str, amount: str, indicator: str, day: str = "2026-01-31") -> str:
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{amount}</Amt>"
        f"<CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
    )


def entry(
    amount: str = "10.00",
    indicator: str = "CRDT",
    *,
    status: str = "<Sts>BOOK</Sts>",
    ref: str | None = "REF-1",
    booking: str = "<Dt>2026-01-15</Dt>",
    details: str = "",
    extra: str = "",
    reversal: str = "",
    currency: str = "EUR",
) -> str:
    return (
        f'<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{reversal}{status}'
        f"<BookgDt>{booking}</BookgDt><ValDt><Dt>2026-01-16</Dt></ValDt>"
        + (f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else "")
        + f"<BkTxCd/>{extra}"
        + (f"<NtryDtls>{details}</NtryDtls>" if details else "")
        + "</Ntry>"
    )


def tx(inner: str) -> str:
    return f"<TxDtls>{inner}</TxDtls>"


def parse_text(tmp_path: Path, text: str, encoding: str = "utf-8", source: CamtSource = SOURCE) -> ParseResult:
    path = tmp_path / "camt.xml"
    path.write_bytes(text.encode(encoding))
    assert source.identify(path, path.read_bytes()[:8192])
    return source.parse(path)


def test_batch_split_by_tx_amounts_that_add_up(tmp_path):
    details = (
        "<Btch><NbOfTxs>2</NbOfTxs></Btch>"
        + tx('<Refs><AcctSvcrRef>TX-A</AcctSvcrRef><EndToEndId>E2E-A</EndToEndId></Refs>'
             '<AmtDtls><TxAmt><Amt Ccy="EUR">2.25</Amt></TxAmt></AmtDtls>'
             "<RltdPties><Dbtr><Nm>Alice</Nm></Dbtr></RltdPties><RmtInf><Ustrd>INV-1</Ustrd></RmtInf>")
        + tx('<Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><Amt Ccy="EUR">1.20</Amt>'
             "<RltdPties><Dbtr><Nm>Bob</Nm></Dbtr></RltdPties><RmtInf><Ustrd>INV-2</Ustrd></RmtInf>")
    )
    result = parse_text(tmp_path, document(entry("3.45", details=details)))
    assert [r.amount for r in result.records] == ["2.25", "1.20"]
    assert [r.counterparty_name for r in result.records] == ["Alice", "Bob"]
    assert [r.remittance for r in result.records] == ["INV-1", "INV-2"]
    assert [r.end_to_end_id for r in result.records] == ["E2E-A", None]  # NOTPROVIDED is no id
    assert [r.bank_ref for r in result.records] == ["TX-A", "REF-1"]  # TxDtls AcctSvcrRef first
    assert [r.extra["tx_index"] for r in result.records] == [0, 1]
    assert result.records[0].extra["entry_amount"] == "3.45 EUR"  # signed: a credit
    assert len({r.line_id for r in result.records}) == 2
    assert result.transactions_found == 2
    assert result.warnings == []
    assert result.statements[0].line_ids == tuple(r.line_id for r in result.records)


def test_batch_split_falls_back_to_instructed_amount_and_warns_on_mismatch(tmp_path):
    details = (
        tx('<AmtDtls><InstdAmt><Amt Ccy="EUR">5.00</Amt></InstdAmt></AmtDtls>')
        + tx('<AmtDtls><InstdAmt><Amt Ccy="EUR">4.00</Amt></InstdAmt></AmtDtls>')
    )
    result = parse_text(tmp_path, document(entry("10.00", "DBIT", details=details)))
    assert [r.amount for r in result.records] == ["-5.00", "-4.00"]
    assert any("do not add up" in w and "entry -10.00, TxDtls sum -9.00" in w for w in result.warnings)


def test_batch_without_amounts_is_one_line_with_a_warning(tmp_path):
    details = tx("<RmtInf><Ustrd>A</Ustrd></RmtInf>") + tx("<RmtInf><Ustrd>B</Ustrd></RmtInf>")
    result = parse_text(tmp_path, document(entry("7.50", details=details)))
    [record] = result.records
    assert record.amount == "7.50"
    assert record.remittance == "A | B"
    assert record.extra["tx_count"] == 2
    assert any("kept as one line" in w for w in result.warnings)


def test_single_tx_detail_keeps_the_booked_entry_amount(tmp_path):
    # Charges taken inside the entry: 99.50 booked for a 100.00 transfer.
    details = tx('<AmtDtls><TxAmt><Amt Ccy="EUR">100.00</Amt></TxAmt></AmtDtls>')
    charges = '<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">0.50</TtlChrgsAndTaxAmt></Chrgs>'
    [record] = parse_text(tmp_path, document(entry("99.50", details=details, extra=charges))).records
    assert record.amount == "99.50"
    assert record.extra["tx_amount"] == "100.00 EUR"
    assert record.extra["charges"] == "0.50 EUR"


@pytest.mark.parametrize(
    ("indicator", "flips", "expected"),
    [("CRDT", True, "-25.00"), ("DBIT", True, "25.00"), ("CRDT", False, "25.00"), ("DBIT", False, "-25.00")],
)
def test_reversal_indicator_turns_the_sign(tmp_path, indicator, flips, expected):
    text = document(entry("25.00", indicator, reversal="<RvslInd>true</RvslInd>"))
    [record] = parse_text(tmp_path, text, source=CamtSource(reversal_flips_sign=flips)).records
    assert record.amount == expected
    assert record.extra["reversal"] == "true"
    assert record.extra["credit_debit"] == indicator


def test_reversal_false_keeps_the_sign(tmp_path):
    [record] = parse_text(tmp_path, document(entry("25.00", "DBIT", reversal="<RvslInd>false</RvslInd>"))).records
    assert record.amount == "-25.00"


def test_only_booked_entries_are_bank_lines_v2_and_v8(tmp_path):
    v2 = entry(ref="A") + entry(ref="B", status="<Sts>PDNG</Sts>") + entry(ref="C", status="<Sts>INFO</Sts>")
    result = parse_text(tmp_path, document(v2))
    assert [r.bank_ref for r in result.records] == ["A"]
    assert result.transactions_found == 3
    assert any("not booked" in w and "INFO: 1, PDNG: 1" in w and w.endswith(": 2") for w in result.warnings)
    v8 = entry(ref="A", status="<Sts><Cd>BOOK</Cd></Sts>") + entry(ref="B", status="<Sts><Cd>PDNG</Cd></Sts>")
    result = parse_text(tmp_path, document(v8, version="08"))
    assert [r.bank_ref for r in result.records] == ["A"]
    assert result.transactions_found == 2


def test_intraday_052_and_final_053_give_the_same_line_id(tmp_path):
    details = tx("<Refs><EndToEndId>E2E-9</EndToEndId></Refs><RltdPties><Dbtr><Nm>Carol</Nm></Dbtr></RltdPties>")
    intraday = document(
        statement_xml("Rpt", entry("8.850", ref="BANK-9", booking="<DtTm>2026-01-15T10:15:00+01:00</DtTm>", details=details), statement_id="RPT-1"),
        message="052",
        version="08",
    )
    final = document(
        statement_xml("Stmt", entry("8.85", ref="BANK-9", details=details), statement_id="STMT-99"),
        message="053",
        version="02",
    )
    [early] = parse_text(tmp_path, intraday).records
    [late] = parse_text(tmp_path, final).records
    assert early.line_id == late.line_id
    assert (early.extra["message"], late.extra["message"]) == ("camt.052.001.08", "camt.053.001.02")


def test_exact_duplicates_in_one_file_keep_distinct_stable_ids(tmp_path):
    text = document(entry(ref=None) + entry(ref=None))
    first = parse_text(tmp_path, text)
    again = parse_text(tmp_path, text)
    ids = [r.line_id for r in first.records]
    assert len(set(ids)) == 2
    assert ids == [r.line_id for r in again.records]
    assert ids[0] == make_line_id("camt", OUR_IBAN, None, None, None, None, None, "2026-01-15", "10", "EUR")


def test_unstructured_remittance_split_mid_word_is_joined_without_loss(tmp_path):
    first = "Invoice 2026-0001 " + "x" * 117 + "INV-9"  # exactly 140 characters, cut mid-token
    assert len(first) == 140
    details = tx(f"<RmtInf><Ustrd>{first}</Ustrd><Ustrd>87 paid</Ustrd><Ustrd>thanks</Ustrd></RmtInf>")
    [record] = parse_text(tmp_path, document(entry(details=details))).records
    assert record.remittance == first + "87 paid thanks"


def test_remittance_falls_back_to_additional_information(tmp_path):
    with_tx_info = tx("<AddtlTxInf>Rent January</AddtlTxInf>")
    [record] = parse_text(tmp_path, document(entry(details=with_tx_info))).records
    assert record.remittance == "Rent January"
    [record] = parse_text(tmp_path, document(entry(extra="<AddtlNtryInf>SEPA Credit  Transfer</AddtlNtryInf>"))).records
    assert record.remittance == "SEPA Credit Transfer"


def test_counterparty_by_direction_and_v8_party_structure(tmp_path):
    parties = (
        "<RltdPties>"
        "<Dbtr><Pty><Nm>Payer Ltd</Nm><Id><OrgId><Othr><Id>DE123456789</Id></Othr></OrgId></Id></Pty></Dbtr>"
        "<DbtrAcct><Id><IBAN>FR7630006000011234567890189</IBAN></Id></DbtrAcct>"
        f"<Cdtr><Pty><Nm>Us GmbH</Nm></Pty></Cdtr><CdtrAcct><Id><IBAN>{OUR_IBAN}</IBAN></Id></CdtrAcct>"
        "<UltmtDbtr><Pty><Nm>Parent Corp</Nm></Pty></UltmtDbtr>"
        "</RltdPties>"
    )
    credit, debit = parse_text(
        tmp_path,
        document(entry("5", "CRDT", details=tx(parties), ref="A") + entry("5", "DBIT", details=tx(parties.replace("Payer Ltd", "Payee Ltd")), ref="B"), version="08"),
    ).records
    assert (credit.counterparty_name, credit.counterparty_account, credit.counterparty_tax_id) == (
        "Payer Ltd",
        "FR7630006000011234567890189",
        "DE123456789",
    )
    assert credit.extra["ultimate_debtor"] == "Parent Corp"
    # A debit pays the creditor; here the creditor is ourselves, so the other side is shown.
    assert debit.counterparty_name == "Payee Ltd"


def test_bank_ref_falls_back_to_entry_reference(tmp_path):
    [record] = parse_text(tmp_path, document(entry(ref=None, extra="<NtryRef>0042</NtryRef>"))).records
    assert record.bank_ref == "0042"
    assert record.extra["entry_ref"] == "0042"


def test_version_1_transaction_details_directly_in_the_entry(tmp_path):
    v1 = entry("4.00", details="").replace(
        "<BkTxCd/>",
        "<BkTxCd/><TxDtls><Refs><EndToEndId>E-1</EndToEndId></Refs><RltdPties><Dbtr><Nm>Dora</Nm></Dbtr></RltdPties></TxDtls>",
    )
    text = document(v1, version="01").replace("<BkToCstmrStmt>", "<BkToCstmrStmtV01>").replace("</BkToCstmrStmt>", "</BkToCstmrStmtV01>")
    [record] = parse_text(tmp_path, text).records
    assert (record.counterparty_name, record.end_to_end_id, record.extra["message"]) == ("Dora", "E-1", "camt.053.001.01")


def test_counterparty_account_other_id(tmp_path):
    parties = "<RltdPties><Cdtr><Nm>Landlord</Nm></Cdtr><CdtrAcct><Id><Othr><Id>12345678</Id></Othr></Id></CdtrAcct></RltdPties>"
    [record] = parse_text(tmp_path, document(entry("800", "DBIT", details=tx(parties)))).records
    assert (record.counterparty_name, record.counterparty_account, record.amount) == ("Landlord", "12345678", "-800")


def test_several_statements_each_with_its_account_and_balances(tmp_path):
    first = statement_xml(
        "Stmt",
        entry("10.00", ref="A1"),
        statement_id="S-A",
        balances=balance("OPBD", "100.00", "CRDT") + balance("CLBD", "110.00", "CRDT"),
    )
    second = statement_xml(
        "Stmt",
        entry("30.00", "DBIT", ref="B1"),
        statement_id="S-B",
        account="CH9300762011623852957",
        balances=balance("PRCD", "20.00", "CRDT") + balance("CLBD", "10.00", "DBIT"),
    )
    result = parse_text(tmp_path, document(first + second))
    assert [(r.account, r.amount) for r in result.records] == [(OUR_IBAN, "10.00"), ("CH9300762011623852957", "-30.00")]
    a, b = result.statements
    assert (a.statement_id, a.opening_balance, a.closing_balance, a.currency) == ("S-A", "100.00", "110.00", "EUR")
    assert (b.statement_id, b.opening_balance, b.closing_balance) == ("S-B", "20.00", "-10.00")  # PRCD, DBIT
    assert a.line_ids == (result.records[0].line_id,) and b.line_ids == (result.records[1].line_id,)
    for statement in result.statements:  # the integrity check the summaries exist for
        lines = [Decimal(r.amount) for r in result.records if r.line_id in statement.line_ids]
        assert Decimal(statement.opening_balance) + sum(lines) == Decimal(statement.closing_balance)


def test_iso_8859_1_document(tmp_path):
    details = tx("<RltdPties><Dbtr><Nm>Müller & Söhne</Nm></Dbtr></RltdPties><RmtInf><Ustrd>Überweisung Gebühr</Ustrd></RmtInf>")
    text = document(entry(details=details.replace("&", "&amp;")), encoding="ISO-8859-1")
    [record] = parse_text(tmp_path, text, encoding="latin-1").records
    assert record.counterparty_name == "Müller & Söhne"
    assert record.remittance == "Überweisung Gebühr"


def test_utf16_document(tmp_path):
    text = document(entry(), encoding="UTF-16")
    [record] = parse_text(tmp_path, text, encoding="utf-16").records
    assert record.amount == "10.00"


def test_newer_version_is_read_with_a_warning(tmp_path):
    result = parse_text(tmp_path, document(entry(status="<Sts><Cd>BOOK</Cd></Sts>"), version="13"))
    assert len(result.records) == 1
    assert any("camt.053.001.13 is newer" in w for w in result.warnings)


def test_bad_amount_and_indicator_are_kept_for_the_contract(tmp_path):
    result = parse_text(tmp_path, document(entry("12,5x", ref="A") + entry("5.00", "XXXX", ref="B")))
    bad_amount, bad_indicator = result.records
    assert bad_amount.amount == "12,5x"  # left raw: the contract quarantines it
    assert bad_indicator.amount is None
    assert bad_indicator.extra["credit_debit"] == "XXXX"
    assert any("not a number" in w for w in result.warnings)
    assert any("neither CRDT nor DBIT" in w for w in result.warnings)


def test_unparseable_booking_date_is_kept_raw(tmp_path):
    [record] = parse_text(tmp_path, document(entry(booking="<Dt>2026-02-30</Dt>"))).records
    assert record.booking_date == "2026-02-30"


def test_namespaceless_camt_is_read_with_a_warning(tmp_path):
    text = document(entry()).replace(' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', "")
    result = parse_text(tmp_path, text)
    assert [r.amount for r in result.records] == ["10.00"]
    assert result.records[0].extra["message"] == "camt.053"
    assert any("without an ISO 20022 camt namespace" in w for w in result.warnings)


def test_many_entries_stream_with_unique_ids(tmp_path):
    entries = "".join(entry(f"{n}.00", ref=f"R{n}") for n in range(1, 2001))
    path = tmp_path / "big.xml"
    path.write_text(document(entries), encoding="utf-8")
    streamed = list(SOURCE.iter_records(path))
    assert len(streamed) == 2000
    assert len({r.line_id for r in streamed}) == 2000
    assert [r.line_id for r in streamed] == [r.line_id for r in SOURCE.parse(path).records]


def test_identical_entries_are_numbered(tmp_path):
    same = entry("5.00", ref="SAME")
    result = parse_text(tmp_path, document(same * 3 + entry("5.00", ref="OTHER")))
    identity = (OUR_IBAN, "SAME", None, None, None, None, "2026-01-15", "5", "EUR")
    expected = [make_line_id("camt", *identity)] + [make_line_id("camt", *identity, n) for n in (2, 3)]
    assert [r.line_id for r in result.records[:3]] == expected
    assert result.records[3].line_id == make_line_id("camt", OUR_IBAN, "OTHER", *identity[2:])
    assert result.statements[0].line_ids == tuple(r.line_id for r in result.records)


# --------------------------------------------------------------------------------------------
# Damaged files
# --------------------------------------------------------------------------------------------


def test_truncated_file_raises_with_line_number(fixtures_dir, tmp_path):
    data = (fixtures_dir / "camt" / "camt054.v2.xml").read_bytes()
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedFile, match=r"cut\.xml: not well-formed XML at line \d+"):
        SOURCE.parse(path)


def test_mismatched_tag_raises_with_line_number(fixtures_dir, tmp_path):
    data = (fixtures_dir / "camt" / "camt053.v2.minimal.xml").read_text(encoding="utf-8")
    path = tmp_path / "garbled.xml"
    path.write_text(data.replace("</CdtDbtInd>", "</CdtDbtIn>", 1), encoding="utf-8")
    with pytest.raises(MalformedFile, match=r"at line 49, column 43 \(Opening and ending tag mismatch"):
        SOURCE.parse(path)


def test_wrong_encoding_declaration_raises(tmp_path):
    path = tmp_path / "latin.xml"
    path.write_bytes(document(entry(extra="<AddtlNtryInf>Gebühr</AddtlNtryInf>")).encode("latin-1"))
    with pytest.raises(MalformedFile, match="not well-formed XML at line"):
        SOURCE.parse(path)


def test_garbled_entries_are_kept_or_counted_never_dropped(fixtures_dir, tmp_path):
    data = (fixtures_dir / "camt" / "camt053.v4.xml").read_text(encoding="utf-8")
    entry_xml = data[data.index("<Ntry>") : data.index("</Ntry>") + len("</Ntry>")]
    variants = [
        entry_xml,
        entry_xml.replace("<Sts>BOOK</Sts>", "<Sts>BOKK</Sts>"),
        entry_xml.replace("<CdtDbtInd>CRDT</CdtDbtInd>", "", 1),
        entry_xml.replace('<Amt Ccy="EUR">8.85</Amt>', '<Amt Ccy="EUR">8.8.5</Amt>'),
        entry_xml.replace("<Sts>BOOK</Sts>", ""),
    ]
    path = tmp_path / "garbled.xml"
    path.write_text(data.replace(entry_xml, "\n".join(variants)), encoding="utf-8")
    result = SOURCE.parse(path)
    assert result.transactions_found == len(variants)
    assert len(result.records) == 3  # BOKK and the missing Sts are skipped, and said so
    assert any("BOKK: 1" in w and "no Sts: 1" in w for w in result.warnings)
    assert [r.amount for r in result.records] == ["8.85", None, "8.8.5"]


def test_not_a_camt_message(tmp_path):
    path = tmp_path / "pain.xml"
    path.write_text('<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>')
    with pytest.raises(MalformedFile, match="not a camt.052/053/054 message"):
        SOURCE.parse(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    with pytest.raises(MalformedFile):
        SOURCE.parse(path)


@pytest.mark.parametrize("declaration", ['<!ENTITY boom "EXPANDED">', '<!ENTITY boom SYSTEM "file:///etc/hostname">'])
def test_entity_declarations_are_not_expanded(tmp_path, declaration):
    secret = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "EXPANDED"
    text = document(entry(extra="<AddtlNtryInf>&boom;</AddtlNtryInf>")).replace(
        "<Document", f"<!DOCTYPE Document [{declaration}]>\n<Document", 1
    )
    path = tmp_path / "entity.xml"
    path.write_text(text, encoding="utf-8")
    try:
        result = SOURCE.parse(path)
    except MalformedFile:
        return
    assert len(result.records) == 1
    assert all(value not in json.dumps(r.as_dict()) for r in result.records for value in ("EXPANDED", secret))


# --------------------------------------------------------------------------------------------
# Stability, money types, fuzz
# --------------------------------------------------------------------------------------------


def _walk(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)
    else:
        yield value


def test_reparse_gives_identical_line_ids_and_no_floats(fixtures_dir):
    for path in camt_files(fixtures_dir):
        if isinstance(FIXTURE_OUTCOMES[path.name], str):
            continue
        first, second = SOURCE.parse(path), SOURCE.parse(path)
        assert [r.line_id for r in first.records] == [r.line_id for r in second.records]
        for record in first.records:
            values = list(_walk(record.as_dict()))
            assert not any(isinstance(v, float) for v in values)
            assert all(v is None or isinstance(v, (str, int)) for v in values)  # JSON-safe extra
        for statement in first.statements:
            assert not any(isinstance(v, float) for v in _walk(list(statement.__dict__.values())))


def test_source_never_uses_float():
    text = (Path(__file__).resolve().parents[2] / "sources" / "camt.py").read_text(encoding="utf-8")
    assert "float(" not in text


FUZZ_BASES = ("camt053.v2.minimal.xml", "camt054.v4.xml", "camt052.v8.xml", "camt054.v8.xml")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(FUZZ_BASES),
    mutations=st.lists(
        st.tuples(st.integers(0, 2**20), st.sampled_from(["replace", "delete", "insert"]), st.binary(min_size=1, max_size=3)),
        min_size=1,
        max_size=6,
    ),
)
def test_fuzz_mutated_files_give_a_result_or_a_typed_error(fixtures_dir, tmp_path, base, mutations):
    data = bytearray((fixtures_dir / "camt" / base).read_bytes())
    for where, operation, chunk in mutations:
        position = where % (len(data) + 1)
        if operation == "replace":
            data[position : position + len(chunk)] = chunk
        elif operation == "delete":
            del data[position : position + len(chunk)]
        else:
            data[position:position] = chunk
    path = tmp_path / "fuzz.xml"
    path.write_bytes(bytes(data))
    SOURCE.identify(path, bytes(data[:8192]))
    try:
        result = SOURCE.parse(path)
    except SourceError:
        return
    assert isinstance(result, ParseResult)
    assert len(result.records) <= result.transactions_found
    for record in result.records:
        assert record.amount is None or isinstance(record.amount, str)
        json.dumps(record.as_dict())


CAMT_TAGS = ("Ntry", "Stmt", "Rpt", "Ntfctn", "Acct", "Bal", "NtryDtls", "TxDtls", "Btch", "Amt", "CdtDbtInd", "RvslInd",
             "Sts", "Cd", "Dt", "DtTm", "BookgDt", "Id", "IBAN", "Othr", "RltdPties", "Dbtr", "Pty", "Nm", "RmtInf", "Ustrd")
XML_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")), max_size=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(FUZZ_BASES),
    edits=st.lists(
        st.tuples(st.integers(0, 2**20), st.sampled_from(["text", "drop", "duplicate", "rename"]), XML_TEXT, st.sampled_from(CAMT_TAGS)),
        min_size=1,
        max_size=8,
    ),
)
def test_fuzz_well_formed_but_odd_documents(fixtures_dir, tmp_path, base, edits):
    """Structure-aware mutations (odd values, missing, repeated or renamed elements) that stay XML."""
    from copy import deepcopy

    from lxml import etree

    tree = etree.parse(str(fixtures_dir / "camt" / base))
    namespace = etree.QName(tree.getroot()).namespace
    elements = list(tree.getroot().iter())[1:]
    for where, operation, text, tag in edits:
        element = elements[where % len(elements)]
        parent = element.getparent()
        if operation == "text":
            element.text = text
        elif operation == "rename":
            element.tag = f"{{{namespace}}}{tag}"
        elif parent is not None and operation == "drop":
            parent.remove(element)
        elif parent is not None:
            parent.insert(parent.index(element), deepcopy(element))
    path = tmp_path / "odd.xml"
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")
    try:
        result = SOURCE.parse(path)
    except SourceError:
        return
    assert len(result.records) <= result.transactions_found
    for record in result.records:
        json.dumps(record.as_dict())
        assert record.amount is None or isinstance(record.amount, str)
