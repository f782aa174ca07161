"""Settlement-report sources: PayPal STL/TRR and activity CSV, Stripe, Adyen SDR, LiqPay.

Real samples (wikimedia SmashPig test data, GPL) are read in place from ../shared/fixtures/paypal and
../shared/fixtures/card_settlements; tests/data/settlements holds samples written for these tests
(see its README.md): a full STL envelope with footers that add up, English and Spanish PayPal activity
downloads, a Stripe report with *_utc columns, a reordered 32-column Adyen SDR with two batches, and
LiqPay JSON/CSV reports (no public LiqPay sample exists).

Golden files: tests/golden/<source name>/<file name>.jsonl, one record.as_dict() per line with sorted
keys. PAYRECON_UPDATE_GOLDEN=1 rewrites them; read the diff before keeping it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.adyen_reports import AdyenSettlementSource
from tests.source_checks import assert_json_safe, check_golden, head
from sources.errors import MalformedFile, SourceError
from sources.liqpay_reports import LiqpayReportSource
from sources.paypal_reports import PaypalActivitySource, PaypalSettlementSource, event_kind
from sources.privat24_csv import Privat24CsvSource
from sources.records import RECORD_TYPES, ParseResult
from sources.registry import build_sources
from sources.stripe_reports import StripeReportSource

DATA = Path(__file__).resolve().parents[1] / "data" / "settlements"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"

STL = PaypalSettlementSource()
ACTIVITY = PaypalActivitySource()
STRIPE = StripeReportSource()
ADYEN = AdyenSettlementSource()
LIQPAY = LiqpayReportSource()
OURS = (STL, ACTIVITY, STRIPE, ADYEN, LIQPAY)

STL_SAMPLE = DATA / "STL-20260112.01.009.CSV"
ACTIVITY_EN = DATA / "paypal_activity_en_2026-01.csv"
ACTIVITY_ES = DATA / "paypal_activity_es_2026-02.csv"
STRIPE_UTC = DATA / "stripe_balance_change_from_activity_utc.csv"
ADYEN_SAMPLE = DATA / "adyen_sdr_reordered_batches_1137_1138.csv"
LIQPAY_JSON = DATA / "liqpay_reports_2026-11-12.json"
LIQPAY_CSV = DATA / "liqpay_register_2026-11-12.csv"
SAMPLES = {
    STL: [STL_SAMPLE],
    ACTIVITY: [ACTIVITY_EN, ACTIVITY_ES],
    STRIPE: [STRIPE_UTC],
    ADYEN: [ADYEN_SAMPLE],
    LIQPAY: [LIQPAY_JSON, LIQPAY_CSV],
}

#: Every fixture file of our formats (relative to the fixtures folder) and the source that owns it.
FIXTURES_OF_OURS = {
    "paypal/stl.csv": STL,
    "paypal/stl_brl_refund.csv": STL,
    "paypal/stl_chargeback_with_fee.csv": STL,
    "paypal/stl_currency_convert.csv": STL,
    "paypal/trr_express_checkout_donation.csv": STL,
    "paypal/trr_express_checkout_refund.csv": STL,
    "paypal/trr_void.csv": STL,
    "card_settlements/stripe/payments_activity.csv": STRIPE,
    "card_settlements/stripe/settlement_report.csv": STRIPE,
    "card_settlements/adyen/payments_accounting_report_chargeback.csv": ADYEN,
    "card_settlements/adyen/payments_accounting_report_nyce.csv": ADYEN,
    "card_settlements/adyen/settlement_detail_report_chargeback_reversed.csv": ADYEN,
    "card_settlements/adyen/settlement_detail_report_donation-ach.csv": ADYEN,
    "card_settlements/adyen/settlement_detail_report_donation.csv": ADYEN,
    "card_settlements/adyen/settlement_detail_report_emptynetcredit.csv": ADYEN,
    "card_settlements/adyen/settlement_detail_report_invoice_deduction.csv": ADYEN,
}
#: Files under the fixtures folder that no source claims (documentation, licences, a broken MT940).
UNCLAIMED = {"FORMATS.md", "PROVENANCE.md", "mt940/self-provided/invalid_statement.sta"}


def by_ref(result: ParseResult) -> dict[str | None, list]:
    grouped: dict[str | None, list] = defaultdict(list)
    for record in result.records:
        grouped[record.bank_ref].append(record)
    return grouped


def amounts(records) -> list[tuple[str, str | None, str | None]]:
    return [(r.record_type, r.amount, r.currency) for r in records]


def checks_of(result: ParseResult) -> dict[tuple[str, str], tuple[str | None, str | None, bool]]:
    return {(c.name, c.scope): (c.expected, c.actual, c.passed) for c in result.checks}


def total_by_currency(records) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in records:
        totals[record.currency] += Decimal(record.amount)
    return dict(totals)


def fixture_files(fixtures_dir: Path) -> list[Path]:
    return [p for p in sorted(fixtures_dir.rglob("*")) if p.is_file()]


def every_parsed_file(fixtures_dir: Path):
    """(source, path) for every fixture and sample file of our formats."""
    for relative, source in FIXTURES_OF_OURS.items():
        yield source, fixtures_dir / relative
    for source, paths in SAMPLES.items():
        for path in paths:
            yield source, path


# --- identify --------------------------------------------------------------------------------------


def test_each_fixture_is_claimed_by_exactly_one_source_and_ours_by_the_right_one(fixtures_dir):
    every_source = build_sources()
    ours = {s.name for s in OURS}
    files = fixture_files(fixtures_dir)
    assert len(files) > 90
    for path in files:
        relative = path.relative_to(fixtures_dir).as_posix()
        claims = [s.name for s in every_source if s.identify(path, head(path))]
        if relative in FIXTURES_OF_OURS:
            assert claims == [FIXTURES_OF_OURS[relative].name], relative
        elif relative in UNCLAIMED or path.name.startswith(("LICENSE", "COPYING")):
            assert claims == [], relative
        else:
            assert len(claims) == 1 and claims[0] not in ours, (relative, claims)


def test_all_fixture_files_of_our_formats_are_listed(fixtures_dir):
    ours = {p.relative_to(fixtures_dir).as_posix() for d in ("paypal", "card_settlements") for p in (fixtures_dir / d).rglob("*") if p.is_file()}
    assert ours == set(FIXTURES_OF_OURS)


@pytest.mark.parametrize("source", OURS, ids=lambda s: s.name)
def test_samples_are_claimed_only_by_their_source(source):
    every_source = build_sources()
    for owner, paths in SAMPLES.items():
        for path in paths:
            claims = [s.name for s in every_source if s.identify(path, head(path))]
            assert claims == [owner.name], (path.name, claims)


def test_bank_samples_and_privat24_csv_are_not_claimed(tmp_path):
    privat24 = tmp_path / "privat24.csv"
    privat24.write_bytes(
        "ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;Рахунок кореспондента;"
        "ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу\r\n"
        "43512762;305299;UA443052990000026002052712345;UAH;1187;12.11.2026;300465;АТ \"Ощадбанк\";"
        "UA143004650000026007300123456;38741203;ТОВ «Сонячна Долина»;3000,00;Оплата за рахунком № 2026-00123\r\n".encode("cp1251")
    )
    assert Privat24CsvSource().identify(privat24, head(privat24))
    bank_samples = [privat24, *sorted((DATA.parent / "ua_bank").glob("*.*")), *sorted((GOLDEN / "privat24_csv").glob("*.csv"))]
    for path in bank_samples:
        for source in OURS:
            assert not source.identify(path, head(path)), (source.name, path.name)


# --- PayPal STL / TRR: the real fixtures -----------------------------------------------------------


def test_stl_short_layout_values_and_footer_checks(fixtures_dir):
    result = STL.parse(fixtures_dir / "paypal/stl.csv")
    assert (result.transactions_found, len(result.records)) == (5, 9)
    refs = by_ref(result)
    assert amounts(refs["5678"]) == [("settlement", "52.00", "AUD"), ("fee", "-2.25", "AUD")]
    payment = refs["5678"][0]
    assert (payment.account, payment.booking_date, payment.end_to_end_id) == ("EZ782AXEUJUW8", "2026-01-06", "2444.1")
    assert (payment.extra["timezone"], payment.extra["net"], payment.extra["report"]) == ("-0800", "49.75", "STL")
    assert payment.remittance == "T0006 Express Checkout payment"
    assert amounts(refs["68C7"]) == [("settlement", "8.34", "GBP"), ("fee", "-0.87", "GBP")]
    assert refs["68C7"][0].extra["custom_field"] == "1BNiJizt4I507Sxkgn4DRX"
    # A refund debits the gross and credits back part of the fee.
    assert amounts(refs["6899"]) == [("refund", "-1.34", "GBP"), ("fee", "0.47", "GBP")]
    (withdrawal,) = refs["3MG88942N0662370U"]
    assert (withdrawal.record_type, withdrawal.amount, withdrawal.extra["payout_id"]) == ("payout", "-1.00", "3MG88942N0662370U")
    assert withdrawal.extra["bank_reference_id"] == "1047428557493"
    # The fixture's footers (test data written by hand) disagree with its rows where noted.
    checks = checks_of(result)
    assert len(checks) == 16
    assert checks[("paypal_section_footer_gross_credit", "section 1 GBP")] == ("8.34", "8.34", True)
    assert checks[("paypal_section_footer_gross_credit", "section 1 AUD")] == ("57.35", "57.35", True)
    assert checks[("paypal_section_footer_gross_debit", "section 1 AUD")] == ("0.00", "0.00", True)
    # The withdrawal (DR 100) was added to the rows but not to the footer.
    assert checks[("paypal_section_footer_gross_debit", "section 1 GBP")] == ("1.34", "2.34", False)
    assert checks[("paypal_section_footer_fee_credit", "section 1 GBP")] == ("0.87", "0.47", False)
    assert checks[("paypal_section_footer_fee_debit", "section 1 GBP")] == ("0.47", "0.87", False)
    assert checks[("paypal_section_footer_fee_credit", "section 1 AUD")] == ("3.00", "0.00", False)
    assert checks[("paypal_section_footer_fee_debit", "section 1 AUD")] == ("6.00", "3.00", False)
    assert checks[("paypal_report_footer_gross_debit", "report GBP")] == ("1.34", "2.34", False)
    assert checks[("paypal_report_footer_gross_credit", "report AUD")] == ("57.35", "57.35", True)
    assert result.warnings == []


def test_stl_refund_funded_by_a_currency_conversion(fixtures_dir):
    result = STL.parse(fixtures_dir / "paypal/stl_brl_refund.csv")
    assert (result.transactions_found, len(result.records)) == (3, 2)
    assert amounts(result.records) == [("refund", "-15.00", "BRL"), ("fee", "3.38", "BRL")]
    refund = result.records[0]
    assert (refund.end_to_end_id, refund.booking_date, refund.extra["reference_id"]) == ("233490290.3", "2025-12-23", "3K905")
    # The two T0200 legs are not records; the refund notes the dollars that paid for it.
    assert (refund.extra["converted_currency"], refund.extra["converted_amount"]) == ("USD", "-2.11")
    assert refund.extra["conversion"] == "USD -2.11; BRL 11.62"
    assert any("currency conversion" in w and "826671, 9DT340" in w for w in result.warnings)
    assert any("no report footer (RF/RC)" in w for w in result.warnings)
    assert result.checks == []


def test_stl_long_layout_chargeback_and_its_fee_row(fixtures_dir):
    result = STL.parse(fixtures_dir / "paypal/stl_chargeback_with_fee.csv")
    assert (result.transactions_found, len(result.records)) == (2, 2)
    chargeback, fee = result.records
    assert (chargeback.record_type, chargeback.amount, chargeback.currency, chargeback.bank_ref) == ("chargeback", "-3.00", "USD", "5K823")
    assert (chargeback.extra["layout"], chargeback.extra["reference_id"], "reversal" in chargeback.extra) == ("long", "59M83", False)
    # T0106 is its own row, linked to the chargeback only by PayPal Reference ID.
    assert (fee.record_type, fee.amount, fee.bank_ref, fee.extra["reference_id"]) == ("fee", "-20.00", "6U844", "5K823")
    assert fee.remittance == "T0106 Chargeback processing fee"
    assert any("no footers (SF/SC)" in w for w in result.warnings)
    assert result.checks == []


def test_stl_currency_conversion_is_noted_on_the_payment(fixtures_dir):
    result = STL.parse(fixtures_dir / "paypal/stl_currency_convert.csv")
    assert (result.transactions_found, len(result.records)) == (3, 2)
    assert amounts(result.records) == [("settlement", "22.00", "BRL"), ("fee", "-3.60", "BRL")]
    payment = result.records[0]
    assert (payment.extra["converted_currency"], payment.extra["converted_amount"]) == ("USD", "3.27")
    assert "conversion" not in result.records[1].extra
    assert result.checks == []


def test_trr_express_checkout_donation_in_yen_has_two_implied_decimals(fixtures_dir):
    result = STL.parse(fixtures_dir / "paypal/trr_express_checkout_donation.csv")
    assert (result.transactions_found, len(result.records)) == (1, 2)
    payment, fee = result.records
    # 15000 in the file is 150 yen: PayPal writes two implied decimals even for JPY.
    assert amounts(result.records) == [("settlement", "150.00", "JPY"), ("fee", "-43.00", "JPY")]
    assert (payment.counterparty_name, payment.counterparty_account) == ("Cindy Lou Who", "donor@generous.net")
    assert (payment.end_to_end_id, payment.booking_date, payment.account) == ("46239229.1", "2017-03-02", "paypal")
    assert payment.remittance == "T0006 Express Checkout payment — Donation to the Wikimedia Foundation"
    assert (payment.extra["status"], payment.extra["report"], payment.extra["payment_source"]) == ("S", "TRR", "Express Checkout")
    assert fee.line_id != payment.line_id and fee.extra["part"] == "fee"
    assert result.warnings == [] and result.checks == []


def test_trr_refund(fixtures_dir):
    result = STL.parse(fixtures_dir / "paypal/trr_express_checkout_refund.csv")
    assert amounts(result.records) == [("refund", "-150.00", "JPY"), ("fee", "43.00", "JPY")]
    refund = result.records[0]
    assert (refund.booking_date, refund.extra["timezone"], refund.extra["reference_id"]) == ("2017-03-22", "-0700", "1V551844CE5526421")
    assert refund.extra["note"] == "refund"
    assert result.checks == [] and result.warnings == []


def test_trr_void_row_is_skipped_and_uncategorised_code_kept_with_a_warning(fixtures_dir):
    result = STL.parse(fixtures_dir / "paypal/trr_void.csv")
    assert (result.transactions_found, len(result.records)) == (2, 1)
    (kept,) = result.records
    assert (kept.record_type, kept.amount, kept.currency, kept.bank_ref) == ("settlement", "15.60", "CAD", "43P3")
    assert any("Transactional Status V" in w and "5AJ5" in w for w in result.warnings)
    assert any("event code T9900" in w and "43P3" in w for w in result.warnings)
    assert result.checks == []


def test_trr_pending_and_denied_rows_are_not_records(fixtures_dir, tmp_path):
    text = (fixtures_dir / "paypal/trr_express_checkout_donation.csv").read_text(encoding="utf-8")
    body = text.splitlines()[1]
    lines = [text.splitlines()[0], body.replace('"1V551844CE5526421"', '"P1"').replace(',"S",', ',"P",'),
             body.replace('"1V551844CE5526421"', '"D1"').replace(',"S",', ',"D",'),
             body.replace('"1V551844CE5526421"', '"X1"').replace(',"S",', ',"Q",')]
    path = tmp_path / "TRR-20170302.01.008.CSV"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = STL.parse(path)
    assert result.transactions_found == 3
    assert [r.bank_ref for r in result.records] == ["X1", "X1"]
    assert any("Transactional Status P (pending)" in w and "P1" in w for w in result.warnings)
    assert any("Transactional Status D (denied)" in w and "D1" in w for w in result.warnings)
    assert any("'Q' is not one PayPal documents" in w for w in result.warnings)


# --- PayPal STL: the full-envelope sample ----------------------------------------------------------


def test_stl_sample_envelope_sections_and_every_footer_check_passes():
    result = STL.parse(STL_SAMPLE)
    assert (result.transactions_found, len(result.records)) == (11, 13)
    checks = checks_of(result)
    assert len(checks) == 31 and all(passed for _, _, passed in checks.values())
    assert checks[("paypal_section_footer_gross_debit", "section 1 USD")] == ("1225.00", "1225.00", True)
    assert checks[("paypal_report_footer_fee_debit", "report EUR")] == ("11.13", "11.13", True)
    assert checks[("paypal_section_record_count", "section 2")] == ("1", "1", True)
    assert checks[("paypal_report_record_count", "report")] == ("11", "11", True)
    refs = by_ref(result)
    # Each section names its own account.
    assert {r.account for r in refs["7XK41234AB5678901"]} == {"JH8Q2MV7XZ4LC"}
    assert {r.account for r in refs["6NF22222YZ3333444"]} == {"QW3E8RT5YU2IO"}
    assert amounts(refs["3ME11111WX2222333"]) == [("settlement", "5000.00", "JPY"), ("fee", "-180.00", "JPY")]
    assert amounts(refs["8HA77777OP8888999"]) == [("fee", "-20.00", "USD")]
    assert amounts(refs["0LD00000UV1111222"]) == [("payout", "-1000.00", "USD")]
    assert refs["2BX11111CD2222333"][0].extra["converted_amount"] == "262.35"
    # The dispute hold and both conversion legs are counted in the warnings, not dropped silently.
    assert any("T1110" in w and "1JB88888QR9999000" in w for w in result.warnings)
    assert any("T0200" in w and "4CV22222EF3333444, 9DW33333GH4444555" in w for w in result.warnings)
    # Records sum to what moved, less what conversions and holds moved (PayPal's footers count those).
    assert total_by_currency(result.records) == {"USD": Decimal("413.41"), "EUR": Decimal("288.24"), "JPY": Decimal("4820.00")}


def test_stl_utf16_with_and_without_bom_reads_the_same(tmp_path):
    text = STL_SAMPLE.read_bytes().decode("utf-8-sig")
    expected = STL.parse(STL_SAMPLE)
    for name, data in (("bom.CSV", codecs.BOM_UTF16_LE + text.encode("utf-16-le")), ("bare.CSV", text.encode("utf-16-le")),
                       ("be.CSV", codecs.BOM_UTF16_BE + text.encode("utf-16-be")), ("nobom.CSV", text.encode("utf-8"))):
        path = tmp_path / f"STL-{name}"
        path.write_bytes(data)
        assert STL.identify(path, head(path)), name
        result = STL.parse(path)
        assert [r.as_dict() for r in result.records] == [r.as_dict() for r in expected.records], name
        assert result.checks == expected.checks


def test_stl_footer_that_disagrees_fails_its_check(tmp_path):
    text = STL_SAMPLE.read_text(encoding="utf-8-sig").replace('"SF","USD",191610,', '"SF","USD",191611,')
    path = tmp_path / "STL-bad-footer.CSV"
    path.write_text(text, encoding="utf-8")
    checks = checks_of(STL.parse(path))
    assert checks[("paypal_section_footer_gross_credit", "section 1 USD")] == ("1916.11", "1916.10", False)
    assert checks[("paypal_report_footer_gross_credit", "report USD")][2] is True


def test_stl_second_file_of_a_split_report_does_not_verify_report_footers(tmp_path):
    path = tmp_path / "STL-20260112.02.009.CSV"
    path.write_text(STL_SAMPLE.read_text(encoding="utf-8-sig").replace('"FH","01"', '"FH","02"'), encoding="utf-8")
    result = STL.parse(path)
    names = {name for name, _ in checks_of(result)}
    assert not any(name.startswith("paypal_report_") for name in names)
    assert "paypal_section_footer_gross_credit" in names
    assert any("file 02 of a split report" in w for w in result.warnings)


def test_stl_truncated_copy_warns_and_keeps_every_row_it_has(tmp_path):
    data = STL_SAMPLE.read_bytes()
    cut = data.index(b'"SB","3ME11111WX2222333"') + 60
    path = tmp_path / "STL-cut.CSV"
    path.write_bytes(data[:cut])
    result = STL.parse(path)
    assert result.transactions_found == 10
    assert "3ME11111WX2222333" in by_ref(result)
    assert any("another number of cells" in w for w in result.warnings)
    assert any("no report footer (RF/RC)" in w for w in result.warnings)
    assert any("no footers (SF/SC)" in w for w in result.warnings)


TRUNCATED = [
    (STL, "paypal/stl.csv"), (STL, "paypal/trr_void.csv"), (STRIPE, "card_settlements/stripe/settlement_report.csv"),
    (ADYEN, "card_settlements/adyen/settlement_detail_report_invoice_deduction.csv"),
    (ADYEN, "card_settlements/adyen/payments_accounting_report_nyce.csv"),
    (ACTIVITY, ACTIVITY_ES), (LIQPAY, LIQPAY_JSON), (LIQPAY, LIQPAY_CSV),
]


@pytest.mark.parametrize("source,file", TRUNCATED, ids=lambda v: v.name if hasattr(v, "name") else str(v))
def test_truncated_copies_warn_or_are_rejected_never_silent(source, file, fixtures_dir, tmp_path):
    original = file if isinstance(file, Path) else fixtures_dir / file
    data = original.read_bytes()
    whole = source.parse(original)
    for fraction in (0.55, 0.8, 0.97):
        path = tmp_path / f"cut_{fraction}_{original.name}"
        path.write_bytes(data[: int(len(data) * fraction)])
        try:
            result = source.parse(path)
        except MalformedFile as error:
            assert path.name in str(error)
            continue
        # Whatever was lost, the parse says so: a short row, a missing footer or payout, fewer rows.
        assert result.warnings != whole.warnings or result.transactions_found < whole.transactions_found, (fraction, file)


def test_stl_cut_at_its_start_or_without_header_is_rejected(tmp_path):
    lines = STL_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    cases = {
        "no_ch.CSV": ("\n".join(lines[:3] + lines[4:]), "transaction row (SB, line 4) before any column header"),
        "only_header.CSV": ("\n".join(lines[:3]), "no column header (CH) row"),
        "other.CSV": ("XX,1,2\n" + "\n".join(lines), "not an STL/TRR settlement report"),
        "ch_short.CSV": ('"CH","Transaction ID","Invoice ID"\n', "lacks Transaction Event Code"),
        "empty.CSV": ("", "no column header (CH) row"),
    }
    for name, (text, reason) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(MalformedFile, match=re.escape(reason)):
            STL.parse(path)


def test_stl_and_sdr_stream_the_same_records_as_parse(fixtures_dir):
    for source, path in ((STL, STL_SAMPLE), (STL, fixtures_dir / "paypal/stl.csv"), (ADYEN, ADYEN_SAMPLE),
                         (ADYEN, fixtures_dir / "card_settlements/adyen/payments_accounting_report_nyce.csv")):
        streamed = list(source.iter_records(path))
        parsed = source.parse(path).records
        assert [r.line_id for r in streamed] == [r.line_id for r in parsed], path.name
        # Streaming cannot note a conversion on a transaction already handed out.
        strip = ("conversion", "converted_currency", "converted_amount")
        assert [{k: v for k, v in r.as_dict().items() if k != "extra"} for r in streamed] == [
            {k: v for k, v in r.as_dict().items() if k != "extra"} for r in parsed]
        assert [{k: v for k, v in r.extra.items() if k not in strip} for r in streamed] == [
            {k: v for k, v in r.extra.items() if k not in strip} for r in parsed]


def test_event_codes_classify_as_documented():
    assert (event_kind("T0006").kind, event_kind("T0106").kind, event_kind("T0400").kind) == ("settlement", "fee", "payout")
    assert (event_kind("T1107").kind, event_kind("T1201").kind, event_kind("T0200").kind) == ("refund", "chargeback", "conversion")
    assert event_kind("T1202").reversal and event_kind("T1202").kind == "chargeback"
    assert (event_kind("T1110").kind, event_kind("T1503").kind, event_kind("T1302").kind) == ("hold", "hold", "authorization")
    assert not event_kind("T9900").known and not event_kind("bogus").known


# --- PayPal activity download ------------------------------------------------------------------------


def test_activity_english_values():
    result = ACTIVITY.parse(ACTIVITY_EN)
    assert (result.transactions_found, len(result.records)) == (10, 9)
    refs = by_ref(result)
    payment, fee = refs["7XK41234AB5678901"]
    # "1,653.75": a thousands comma; 1/12/2026 read month-first because 1/13 and 1/14 exist.
    assert (payment.amount, fee.amount, payment.booking_date, payment.currency) == ("1653.75", "-48.26", "2026-01-12", "USD")
    assert (payment.counterparty_name, payment.counterparty_account, payment.end_to_end_id) == (
        "Acme Retail LLC", "ap@acme-retail.example", "2026-00123")
    assert payment.remittance == "T0006 Express Checkout Payment — Top-up for invoice 2026-00123"
    assert (payment.extra["net"], payment.extra["balance"], payment.extra["timezone"]) == ("1605.49", "6605.49", "PST")
    assert amounts(refs["5EX44444IJ5555666"]) == [("refund", "-100.00", "USD"), ("fee", "2.92", "USD")]
    assert amounts(refs["6FY55555KL6666777"]) == [("chargeback", "-75.00", "USD")]
    assert amounts(refs["8HA77777OP8888999"]) == [("fee", "-20.00", "USD")]
    assert amounts(refs["0LD00000UV1111222"]) == [("payout", "-5000.00", "USD")]
    assert refs["2BX11111CD2222333"][0].extra["converted_amount"] == "262.35"
    assert "1JB88888QR9999000" not in refs and "3ME11111WX2222333" not in refs
    assert any("Memo" in w and "1JB88888QR9999000, 3ME11111WX2222333" in w for w in result.warnings)
    assert any("currency conversion" in w for w in result.warnings)
    assert not any("ambiguous" in w for w in result.warnings)


def test_activity_spanish_localized_numbers_and_day_first_dates():
    result = ACTIVITY.parse(ACTIVITY_ES)
    assert (result.transactions_found, len(result.records)) == (8, 7)
    refs = by_ref(result)
    payment, fee = refs["1AB23456CD7890123"]
    # "4.626,81": a thousands point and a decimal comma; 03/02/2026 is 3 February (15/02 exists).
    assert (payment.amount, fee.amount, payment.booking_date, payment.currency) == ("4626.81", "-157.66", "2026-02-03", "EUR")
    assert (payment.record_type, payment.extra["language"], payment.extra["converted_amount"]) == ("settlement", "es", "1081.20")
    assert payment.remittance == "Pago de Express Checkout — Recarga de saldo, factura 2026-00150"
    assert amounts(refs["2BC34567DE8901234"]) == [("settlement", "49.37", "EUR"), ("fee", "-2.03", "EUR")]
    assert amounts(refs["4DE56789FG0123456"]) == [("refund", "-49.37", "EUR"), ("fee", "1.73", "EUR")]
    assert refs["4DE56789FG0123456"][0].booking_date == "2026-02-15"
    assert amounts(refs["8HI90123JK4567890"]) == [("payout", "-3000.00", "EUR")]
    assert any("status Pendiente" in w and "7GH89012IJ3456789" in w for w in result.warnings)
    assert any("Memo" in w and "3CD45678EF9012345" in w for w in result.warnings)
    assert any("Conversión de divisa general" in w for w in result.warnings)


def test_activity_ambiguous_dates_follow_the_header_language(tmp_path):
    lines = ACTIVITY_EN.read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "Download.CSV"
    path.write_text("\n".join(lines[:3]), encoding="utf-8")
    result = ACTIVITY.parse(path)
    assert {r.booking_date for r in result.records} == {"2026-01-12"}
    assert any("ambiguous (no day above 12): read as M/D/YYYY from the en header" in w for w in result.warnings)
    # English headers with a day above 12 in first place: a UK export, day first.
    path.write_text("\n".join([lines[0], lines[1].replace('"1/12/2026"', '"13/01/2026"')]), encoding="utf-8")
    assert ACTIVITY.parse(path).records[0].booking_date == "2026-01-13"


def test_activity_without_required_columns_is_rejected(tmp_path):
    path = tmp_path / "activity.csv"
    path.write_text('"Date","Name","Gross"\n"1/12/2026","x","1.00"\n', encoding="utf-8")
    assert not ACTIVITY.identify(path, head(path))
    with pytest.raises(MalformedFile, match="lacks Currency, Transaction ID"):
        ACTIVITY.parse(path)


# --- Stripe --------------------------------------------------------------------------------------------


def test_stripe_settlement_report_fixture(fixtures_dir):
    result = STRIPE.parse(fixtures_dir / "card_settlements/stripe/settlement_report.csv")
    assert (result.transactions_found, len(result.records)) == (7, 8)
    refs = by_ref(result)
    assert amounts(refs["txn_001"]) == [("settlement", "25", "USD"), ("fee", "-0.95", "USD")]
    charge = refs["txn_001"][0]
    assert (charge.end_to_end_id, charge.account, charge.booking_date, charge.value_date) == ("pi_123", "acct_live", "2026-01-30", "2026-01-30")
    assert (charge.extra["payout_id"], charge.extra["payment_metadata[external_identifier]"]) == ("po_test123", "24315.1")
    assert amounts(refs["txn_rfnd_002"]) == [("refund", "-10", "USD")]
    assert amounts(refs["txn_fee_01"]) == [("fee", "-0.5", "USD")]
    reversal = refs["txn_1Tj9xrJ"][0]
    # Lower-case currency upper-cased; a dispute reversal is a chargeback coming back.
    assert (reversal.record_type, reversal.amount, reversal.currency, reversal.extra["reversal"]) == ("chargeback", "3.35", "USD", "true")
    # The payout row was written with a positive gross and a net that is not gross − fee.
    (payout,) = refs["txn_005"]
    assert (payout.record_type, payout.amount, payout.extra["gross"], payout.extra["net"]) == ("payout", "-23.05", "24", "23.05")
    assert any("txn_005 (24 − 0 ≠ 23.05)" in w for w in result.warnings)
    assert any("sign of money coming in" in w and "txn_005" in w for w in result.warnings)
    assert checks_of(result) == {("stripe_payout_total", "payout po_test123 USD"): ("23.05", "23.05", True)}


def test_stripe_payments_activity_fixture(fixtures_dir):
    result = STRIPE.parse(fixtures_dir / "card_settlements/stripe/payments_activity.csv")
    assert (result.transactions_found, len(result.records)) == (2, 4)
    refs = by_ref(result)
    assert amounts(refs["txn_101"]) == [("settlement", "30.00", "USD"), ("fee", "-1.20", "USD")]
    # A dispute debits the gross and charges a dispute fee: −30 and −15 make the net −45.
    assert amounts(refs["txn_102"]) == [("chargeback", "-30.00", "USD"), ("fee", "-15.00", "USD")]
    assert refs["txn_102"][0].extra["payout_id"] == "po_def"
    assert result.checks == [] and result.warnings == []


def test_stripe_utc_sample_categories_and_payout_check():
    result = STRIPE.parse(STRIPE_UTC)
    assert (result.transactions_found, len(result.records)) == (9, 12)
    refs = by_ref(result)
    charge = refs["txn_3QWz1A2eZvKYlo2C0a1b2c3d"][0]
    assert (charge.account, charge.extra["timezone"], charge.counterparty_name) == ("acct_1NqR2eZvKYlo2C", "UTC", "Acme Retail LLC")
    assert (charge.booking_date, charge.value_date, charge.currency) == ("2026-11-10", "2026-11-12", "EUR")
    assert charge.extra["payment_metadata[invoice_number]"] == "2026-00123"
    assert amounts(refs["txn_1QX03E2eZvKYlo2C4e5f6g7h"]) == [("chargeback", "60.00", "EUR"), ("fee", "20.00", "EUR")]
    assert "txn_1QX05G2eZvKYlo2C6g7h8i9j" not in refs
    assert any("reserved funds" in w and "txn_1QX05G2eZvKYlo2C6g7h8i9j" in w for w in result.warnings)
    assert any("'anticipation_repayment' is not one Stripe documents" in w for w in result.warnings)
    assert checks_of(result) == {("stripe_payout_total", "payout po_1QX7aB2eZvKYlo2C8fGh01Zq EUR"): ("1172.08", "1172.08", True)}
    # Everything paid out, less the reserve that stayed inside Stripe: the records net to zero + 25.
    assert total_by_currency(result.records) == {"EUR": Decimal("25.00")}


def test_stripe_without_required_columns_is_rejected(tmp_path):
    path = tmp_path / "stripe.csv"
    path.write_text("balance_transaction_id,reporting_category,gross\ntxn_1,charge,1\n", encoding="utf-8")
    assert STRIPE.identify(path, head(path))
    with pytest.raises(MalformedFile, match="lacks created_utc, currency"):
        STRIPE.parse(path)


# --- Adyen ---------------------------------------------------------------------------------------------


def test_adyen_settled_and_payout_batch_check(fixtures_dir):
    result = ADYEN.parse(fixtures_dir / "card_settlements/adyen/settlement_detail_report_donation.csv")
    assert (result.transactions_found, len(result.records)) == (2, 3)
    settled, fee, payout = result.records
    # Net Credit 0.76 + Scheme Fees 0.02 + Interchange 0.22: the customer paid 1.00.
    assert amounts(result.records) == [("settlement", "1.00", "USD"), ("fee", "-0.24", "USD"), ("payout", "-0.76", "USD")]
    assert (settled.account, settled.bank_ref, settled.end_to_end_id, settled.booking_date) == (
        "WikimediaCOM", "5364893193133131", "33992337.0", "2016-02-18")
    assert (settled.extra["batch"], settled.extra["timezone"], settled.value_date) == ("2", "PST", None)
    assert payout.bank_ref == payout.extra["payout_id"] == "TX2342222277XT batch 2, WikimediaCOM batch 2, WikimediaCOM"
    assert checks_of(result) == {("adyen_batch_payout", "WikimediaCOM batch 2 USD"): ("0.76", "0.76", True)}
    assert result.warnings == []


def test_adyen_ach_31_columns(fixtures_dir):
    result = ADYEN.parse(fixtures_dir / "card_settlements/adyen/settlement_detail_report_donation-ach.csv")
    assert amounts(result.records) == [("settlement", "1.00", "USD"), ("fee", "-0.22", "USD"), ("payout", "-0.78", "USD")]
    assert checks_of(result) == {("adyen_batch_payout", "WikimediaCOM batch 1061 USD"): ("0.78", "0.78", True)}


def test_adyen_chargeback_reversed_without_its_payout(fixtures_dir):
    result = ADYEN.parse(fixtures_dir / "card_settlements/adyen/settlement_detail_report_chargeback_reversed.csv")
    assert amounts(result.records) == [("chargeback", "52.00", "USD"), ("fee", "-0.11", "USD")]
    assert result.records[0].extra["reversal"] == "true"
    assert result.checks == []
    assert result.warnings == ["batch(es) 3 have no MerchantPayout row in this file; their payout is not verified"]


def test_adyen_49_columns_net_debit_settlement_and_excel_mangled_arn(fixtures_dir):
    result = ADYEN.parse(fixtures_dir / "card_settlements/adyen/settlement_detail_report_emptynetcredit.csv")
    settled, fee = result.records
    # A Settled row in INR gross that netted a USD debit: fees 0.14 exceed the 0.11 it brought.
    assert amounts(result.records) == [("settlement", "0.11", "USD"), ("fee", "-0.14", "USD")]
    assert (settled.extra["net"], settled.extra["gross_currency"], settled.extra["gross_amount"]) == ("-0.03", "INR", "10")
    assert (settled.value_date, settled.extra["booked_at"]) == ("2025-10-31", "2025-10-31 11:09:55")
    assert settled.extra["arn"] == "1.2302025304E+022"
    assert any("ARN looks rewritten by a spreadsheet" in w for w in result.warnings)
    assert result.checks == []


def test_adyen_invoice_deductions_are_fees(fixtures_dir):
    result = ADYEN.parse(fixtures_dir / "card_settlements/adyen/settlement_detail_report_invoice_deduction.csv")
    assert amounts(result.records) == [("fee", "-0.06", "USD"), ("fee", "0.03", "USD")]
    assert result.records[0].bank_ref == "Invoice US202510000533 Discounts and additional costs (1/2)"
    assert result.records[0].line_id != result.records[1].line_id
    assert result.checks == []
    assert any("batch(es) 1136 have no MerchantPayout" in w for w in result.warnings)
    assert any("ARN looks rewritten" in w for w in result.warnings)


def test_adyen_payments_accounting_report_skips_states_without_money(fixtures_dir):
    result = ADYEN.parse(fixtures_dir / "card_settlements/adyen/payments_accounting_report_nyce.csv")
    assert (result.transactions_found, len(result.records)) == (4, 2)
    # Payable (SC) 10.02 + Markup 0.02 + Scheme Fees 0.06 + Interchange 0.30 = Original Amount 10.40.
    assert amounts(result.records) == [("settlement", "10.40", "USD"), ("fee", "-0.38", "USD")]
    assert result.records[0].extra["report"] == "payments_accounting"
    for state in ("Received", "SentForSettle", "Authorised"):
        assert any(f"journal type {state}" in w for w in result.warnings), state
    chargeback = ADYEN.parse(fixtures_dir / "card_settlements/adyen/payments_accounting_report_chargeback.csv")
    assert amounts(chargeback.records) == [("chargeback", "-13.01", "USD"), ("fee", "-10.86", "USD")]
    assert total_by_currency(chargeback.records) == {"USD": Decimal("-23.87")}
    assert result.checks == [] and chargeback.checks == [] and chargeback.warnings == []


def test_adyen_reordered_sample_batches():
    result = ADYEN.parse(ADYEN_SAMPLE)
    assert (result.transactions_found, len(result.records)) == (13, 18)
    checks = checks_of(result)
    assert checks[("adyen_batch_payout", "PayreconDemoEUR batch 1137 EUR")] == ("116.35", "116.35", True)
    assert checks[("adyen_batch_payout", "PayreconDemoEUR batch 1138 EUR")] == ("9.90", "9.70", False)
    refs = by_ref(result)
    assert amounts(refs["ASDFG3456789HJKL"]) == [("chargeback", "-35.00", "EUR"), ("fee", "-15.00", "EUR"), ("chargeback", "35.00", "EUR")]
    assert amounts(refs["LKJHG7654321QWER"]) == [("settlement", "120.00", "EUR"), ("fee", "-0.90", "EUR"),
                                                ("refund", "-20.00", "EUR"), ("fee", "-0.10", "EUR")]
    fees = refs["Chargeback fee YUIOP4567890BNML"]
    assert amounts(fees) == [("fee", "-1.25", "EUR")] * 2 and fees[0].line_id != fees[1].line_id
    (transfer,) = refs["Balance transfer from batch 1136"]
    assert (transfer.record_type, transfer.amount, transfer.extra["internal_transfer"]) == ("payout", "3.25", "true")
    assert refs["Deposit correction 2026-11"][0].extra["adjustment"] == "true"
    # Everything of batch 1137 was paid out: its records sum to zero.
    batch_1137 = [r for r in result.records if r.extra["batch"] == "1137"]
    assert total_by_currency(batch_1137) == {"EUR": Decimal("0.00")}


def test_adyen_without_required_columns_is_rejected(tmp_path):
    path = tmp_path / "adyen.csv"
    path.write_text("Merchant Account,Psp Reference,Type,Net Credit (NC)\nM,P,Settled,1\n", encoding="utf-8")
    assert ADYEN.identify(path, head(path))
    with pytest.raises(MalformedFile, match="lacks Creation Date, Net Currency"):
        ADYEN.parse(path)


def test_adyen_semicolon_export_reads_the_same(tmp_path, fixtures_dir):
    import csv
    import io

    source = fixtures_dir / "card_settlements/adyen/settlement_detail_report_donation.csv"
    rows = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8"))))
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    path = tmp_path / "sdr_semicolon.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert ADYEN.identify(path, head(path))
    assert [r.as_dict() for r in ADYEN.parse(path).records] == [r.as_dict() for r in ADYEN.parse(source).records]


# --- LiqPay --------------------------------------------------------------------------------------------


def test_liqpay_json_report_values():
    result = LIQPAY.parse(LIQPAY_JSON)
    assert (result.transactions_found, len(result.records)) == (7, 7)
    refs = by_ref(result)
    payment, fee = refs["2318807711"]
    assert (payment.record_type, payment.amount, payment.currency, fee.amount) == ("settlement", "3000.0", "UAH", "-45.0")
    assert (payment.end_to_end_id, payment.account, payment.counterparty_name) == ("pay-2026-11-000481", "i48213570921", "Ірина Коваленко")
    assert payment.remittance == "Поповнення балансу, рахунок № 2026-00123"
    assert fee.remittance == "Комісія LiqPay: Поповнення балансу, рахунок № 2026-00123"
    assert (payment.extra["liqpay_order_id"], payment.extra["card_mask"]) == ("GQ7WZ1XK1794485133554315", "414962*29")
    # Paid in dollars, credited in hryvnias: the credited amount and commission moved our balance.
    dollars = refs["2318790002"]
    assert amounts(dollars) == [("settlement", "2031.54", "UAH"), ("fee", "-45.61", "UAH")]
    assert (dollars[0].extra["original_amount"], dollars[0].extra["original_currency"]) == ("49.0", "USD")
    # 01:30 in Kyiv on 12 November is 23:30 UTC on the 11th: the Kyiv date counts.
    assert (dollars[0].booking_date, dollars[0].extra["completed_at"]) == ("2026-11-12", "2026-11-12T01:30:09+02:00")
    assert amounts(refs["2318795511"]) == [("refund", "-400.0", "UAH")]
    for skipped, reason in (("2318811204", "status failure"), ("2318812290", "status sandbox"), ("2318799999", "status reversed")):
        assert skipped not in refs
        assert any(reason in w and skipped in w for w in result.warnings), reason


def test_liqpay_csv_register_and_its_line_ids_match_the_json():
    result = LIQPAY.parse(LIQPAY_CSV)
    assert (result.transactions_found, len(result.records)) == (6, 9)
    refs = by_ref(result)
    assert amounts(refs["2318807935"]) == [("settlement", "1250.50", "UAH"), ("fee", "-18.76", "UAH")]
    # 00:40 on 13 November in Kyiv is still 12 November in UTC.
    assert refs["2318830001"][0].booking_date == "2026-11-13"
    json_ids = {r.line_id for r in LIQPAY.parse(LIQPAY_JSON).records}
    shared = ("2318807711", "2318807935", "2318790002", "2318795511")
    assert {r.line_id for ref in shared for r in refs[ref]} <= json_ids


def test_liqpay_bare_list_and_error_answer(tmp_path):
    payments = json.loads(LIQPAY_JSON.read_text(encoding="utf-8"))["data"]
    bare = tmp_path / "liqpay_bare.json"
    bare.write_text(json.dumps(payments[:2], ensure_ascii=False), encoding="utf-8")
    assert LIQPAY.identify(bare, head(bare))
    assert len(LIQPAY.parse(bare).records) == 4
    error = tmp_path / "liqpay_error.json"
    error.write_text('{"result": "error", "err_code": "err_access", "err_description": "Access denied"}', encoding="utf-8")
    with pytest.raises(MalformedFile, match="LiqPay answered with an error, not a report: Access denied"):
        LIQPAY.parse(error)
    broken = tmp_path / "liqpay_broken.json"
    broken.write_text(LIQPAY_JSON.read_text(encoding="utf-8")[:500], encoding="utf-8")
    with pytest.raises(MalformedFile, match="broken JSON"):
        LIQPAY.parse(broken)


def test_liqpay_cp1251_csv_is_decoded(tmp_path):
    path = tmp_path / "register_cp1251.csv"
    path.write_bytes(LIQPAY_CSV.read_text(encoding="utf-8").encode("cp1251"))
    result = LIQPAY.parse(path)
    assert [r.as_dict() for r in result.records] == [r.as_dict() for r in LIQPAY.parse(LIQPAY_CSV).records]
    assert result.warnings[0] == "decoded as cp1251"


# --- every file: golden output, invariants, the data contract -----------------------------------------

GOLDEN_FILES = [
    (STL, "paypal/stl.csv"), (STL, "paypal/stl_currency_convert.csv"), (STL, "paypal/trr_void.csv"),
    (STL, "paypal/trr_express_checkout_refund.csv"), (STL, STL_SAMPLE),
    (ACTIVITY, ACTIVITY_EN), (ACTIVITY, ACTIVITY_ES),
    (STRIPE, "card_settlements/stripe/settlement_report.csv"), (STRIPE, "card_settlements/stripe/payments_activity.csv"),
    (STRIPE, STRIPE_UTC),
    (ADYEN, "card_settlements/adyen/settlement_detail_report_donation.csv"),
    (ADYEN, "card_settlements/adyen/settlement_detail_report_chargeback_reversed.csv"),
    (ADYEN, "card_settlements/adyen/settlement_detail_report_emptynetcredit.csv"),
    (ADYEN, "card_settlements/adyen/payments_accounting_report_nyce.csv"), (ADYEN, ADYEN_SAMPLE),
    (LIQPAY, LIQPAY_JSON), (LIQPAY, LIQPAY_CSV),
]


@pytest.mark.parametrize("source,file", GOLDEN_FILES, ids=lambda v: v.name if hasattr(v, "name") else str(v))
def test_golden(source, file, fixtures_dir):
    check_golden(source, file if isinstance(file, Path) else fixtures_dir / file)


def test_every_file_reparses_identically_with_unique_ids_and_json_safe_values(fixtures_dir):
    for source, path in every_parsed_file(fixtures_dir):
        first, second = source.parse(path), source.parse(path)
        assert [r.line_id for r in first.records] == [r.line_id for r in second.records], path.name
        assert len({r.line_id for r in first.records}) == len(first.records), path.name
        for record in first.records:
            assert record.record_type in RECORD_TYPES and record.record_type != "bank_line", path.name
            assert record.source_format == source.name
            assert_json_safe(record.as_dict())
            assert record.extra["provider"] in ("paypal", "stripe", "adyen", "liqpay")
        for check in first.checks:
            assert_json_safe(vars(check))


def test_split_rows_sum_to_the_rows_net(fixtures_dir):
    """A gross record and its fee record together are exactly what the row's net moved."""
    for source, path in every_parsed_file(fixtures_dir):
        records = source.parse(path).records
        for index, record in enumerate(records):
            if record.extra.get("part") != "fee":
                continue
            gross = records[index - 1]
            assert gross.extra["part"] == "gross" and gross.bank_ref == record.bank_ref, path.name
            net = gross.extra.get("net")
            if net is not None and gross.currency == record.currency and gross.record_type != "payout":
                assert Decimal(gross.amount) + Decimal(record.amount) == Decimal(net), (path.name, gross.bank_ref)


def test_records_keep_the_normalized_lines_contract(fixtures_dir):
    from data_contracts import validate

    for source, path in every_parsed_file(fixtures_dir):
        records = source.parse(path).records
        if not records:
            continue
        frame = pd.DataFrame([r.as_dict() for r in records]).drop(columns=["extra"]).astype("str").replace({"None": None})
        result = validate(frame, "normalized_lines")
        assert result.quarantined.empty, (path.name, result.quarantined[["line_id", "reason"]].to_string())


# --- fuzz ------------------------------------------------------------------------------------------------

FUZZ_BASES = {
    STL: ["paypal/stl.csv", "paypal/trr_void.csv", STL_SAMPLE],
    ACTIVITY: [ACTIVITY_EN, ACTIVITY_ES],
    STRIPE: ["card_settlements/stripe/settlement_report.csv", STRIPE_UTC],
    ADYEN: ["card_settlements/adyen/settlement_detail_report_emptynetcredit.csv", ADYEN_SAMPLE,
            "card_settlements/adyen/payments_accounting_report_nyce.csv"],
    LIQPAY: [LIQPAY_JSON, LIQPAY_CSV],
}
_mutation = st.tuples(
    st.sampled_from(["replace", "delete", "insert"]),
    st.integers(0, 10**9),
    st.one_of(st.binary(min_size=1, max_size=4),
              st.sampled_from([b'"', b",", b";", b"\n", b"\x00", b"\xff\xfe", b"-", b".", b"E+22", b"CR", b"DR", b"SB,", b"[", b"{"])),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    for kind, where, chunk in mutations:
        position = where % (len(data) + 1)
        if kind == "replace":
            data = data[:position] + chunk + data[position + len(chunk):]
        elif kind == "delete":
            data = data[:position] + data[position + len(chunk) * 8:]
        else:
            data = data[:position] + chunk + data[position:]
    return data


@pytest.mark.parametrize("source", OURS, ids=lambda s: s.name)
def test_fuzz_mutated_files_raise_only_source_errors(source, fixtures_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz_{source.name}")
    bases = [(base if isinstance(base, Path) else fixtures_dir / base).read_bytes() for base in FUZZ_BASES[source]]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(base=st.sampled_from(range(len(bases))), mutations=st.lists(_mutation, min_size=1, max_size=8))
    def run(base: int, mutations: list) -> None:
        path = folder / "mutated"
        path.write_bytes(_mutate(bases[base], mutations))
        try:
            result = source.parse(path)
        except SourceError:
            return
        assert isinstance(result, ParseResult)
        for record in result.records:
            assert_json_safe(record.as_dict())

    run()
