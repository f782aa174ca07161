"""Ukrainian bank exports: PrivatBank Autoclient JSON, monobank statement JSON, 1C ClientBankExchange.

Real samples are read in place from ../shared/fixtures/ua_bank (the monobank documentation example
and the two dronm/clbnk 1C files). No public PrivatBank Autoclient body exists, and no Ukrainian-
dialect 1C file, so tests/data/ua_bank holds samples written for these tests (valid UA IBAN check
digits and EDRPOU control digits, invented companies).

Golden files: tests/golden/<source name>/<file name>.jsonl, one record.as_dict() per line with
sorted keys. PAYRECON_UPDATE_GOLDEN=1 rewrites them; read the diff before keeping it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.clientbank_1c import ClientBankExchangeSource, canonical_key, same_account
from tests.source_checks import assert_json_safe, check_golden, head
from sources.errors import MalformedFile, SourceError
from sources.monobank_json import MonobankJsonSource
from sources.privat24_csv import Privat24CsvSource
from sources.privatbank_json import PrivatbankJsonSource
from sources.records import ParseResult

DATA = Path(__file__).resolve().parents[1] / "data" / "ua_bank"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"

PRIVAT = PrivatbankJsonSource()
MONO = MonobankJsonSource()
ONE_C = ClientBankExchangeSource()
OURS = (PRIVAT, MONO, ONE_C)

MONO_DOC_EXAMPLE = "ua_bank/monobank/statement_item_docs_example.json"
KL_TO_1C = "ua_bank/1c_clientbankexchange/kl_to_1c.txt"
TO_BANK = "ua_bank/1c_clientbankexchange/to_bank.txt"
#: Fixture files of these formats, relative to the fixtures folder, and the source that owns each.
FIXTURES_OF_OURS = {MONO_DOC_EXAMPLE: MONO, KL_TO_1C: ONE_C, TO_BANK: ONE_C}

PRIVAT_FINAL = DATA / "privatbank_final_2026-11-12.json"
PRIVAT_INTERIM = DATA / "privatbank_interim_2026-11-12.json"
PRIVAT_PAGES_CP1251 = DATA / "privatbank_pages_cp1251.json"
PRIVAT_BARE_EUR = DATA / "privatbank_bare_list_eur.json"
PRIVAT_ERROR = DATA / "privatbank_error_response.json"
MONO_FOP = DATA / "monobank_fop_wrapper_2026-11.json"
MONO_PERSONAL = DATA / "monobank_personal_list_hold_dup.json"
MONO_WEBHOOK = DATA / "monobank_webhook_eur.json"
ONE_C_CP1251 = DATA / "1c_ua_dialect_cp1251.txt"
ONE_C_CP866 = DATA / "1c_ua_dialect_cp866.txt"
ONE_C_UA_KEYS = DATA / "1c_ua_keys_cp1251.txt"

OUR_UGB = "UA363204780000026009012345678"
OUR_PRIVAT = "UA443052990000026002052712345"


def by_ref(result: ParseResult) -> dict[str | None, list]:
    grouped: dict[str | None, list] = {}
    for record in result.records:
        grouped.setdefault(record.bank_ref, []).append(record)
    return grouped


# --- identify --------------------------------------------------------------------------------------

SAMPLES = {
    PRIVAT: [PRIVAT_FINAL, PRIVAT_INTERIM, PRIVAT_PAGES_CP1251, PRIVAT_BARE_EUR, PRIVAT_ERROR],
    MONO: [MONO_FOP, MONO_PERSONAL, MONO_WEBHOOK],
    ONE_C: [ONE_C_CP1251, ONE_C_CP866, ONE_C_UA_KEYS],
}


@pytest.mark.parametrize("source", OURS, ids=lambda s: s.name)
def test_identify_claims_only_own_fixture_files(source, fixtures_dir):
    files = [p for p in sorted(fixtures_dir.rglob("*")) if p.is_file()]
    assert len(files) > 50
    for path in files:
        relative = path.relative_to(fixtures_dir).as_posix()
        expected = FIXTURES_OF_OURS.get(relative) is source
        assert source.identify(path, head(path)) is expected, relative


@pytest.mark.parametrize("source", OURS, ids=lambda s: s.name)
def test_identify_claims_only_own_samples(source):
    for owner, paths in SAMPLES.items():
        for path in paths:
            assert source.identify(path, head(path)) is (owner is source), (source.name, path.name)


def test_no_sample_is_claimed_by_privat24_csv_and_no_privat24_csv_by_ours(tmp_path):
    csv = tmp_path / "privat24.csv"
    csv.write_bytes(
        "ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;Рахунок кореспондента;"
        "ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу\r\n"
        "43512762;305299;UA443052990000026002052712345;UAH;1187;12.11.2026;300465;АТ \"Ощадбанк\";"
        "UA143004650000026007300123456;38741203;ТОВ «Сонячна Долина»;3000,00;Оплата за рахунком № 2026-00123\r\n".encode("cp1251")
    )
    privat24 = Privat24CsvSource()
    assert privat24.identify(csv, head(csv))
    for source in OURS:
        assert not source.identify(csv, head(csv)), source.name
    for paths in SAMPLES.values():
        for path in paths:
            assert not privat24.identify(path, head(path)), path.name


# --- PrivatBank Autoclient JSON --------------------------------------------------------------------


def test_privat_final_statement_values():
    result = PRIVAT.parse(PRIVAT_FINAL)
    assert (len(result.records), result.transactions_found) == (6, 6)
    refs = by_ref(result)
    credit = refs["J63DN7Q2X1A4B1"][0]
    assert (credit.account, credit.amount, credit.currency, credit.booking_date) == (OUR_PRIVAT, "3000.00", "UAH", "2026-11-12")
    assert credit.counterparty_name == "ТОВ «СОНЯЧНА ДОЛИНА»"
    assert credit.counterparty_tax_id == "38741203"
    assert credit.remittance == "Оплата за рахунком № 2026-00123 від 12.11.2026, у т.ч. ПДВ 20% - 500.00 грн"
    debit = refs["J63DN8R4Y2C6D1"][0]
    assert (debit.amount, debit.counterparty_name) == ("-12500.00", "ТОВ «КАРПАТСЬКІ ВОДИ»")
    assert debit.extra["dlr"] == "PP2026111200412"
    # The bank fee shares the payment's REF with REFN 2: a separate posting, a separate line.
    assert refs["J63DN8R4Y2C6D2"][0].amount == "-15.00"
    tax = refs["J63DN9T5Z3E8F1"][0]
    assert (tax.amount, tax.extra["struct_code"], tax.extra["struct_type"]) == ("-4860.00", "101", "11011000")
    assert refs["EQV1111S1A0K7Q31"][0].amount == "8340.15"


def test_privat_transit_account_names_the_real_payer():
    result = PRIVAT.parse(PRIVAT_FINAL)
    transit = by_ref(result)["P24K9W2M7Z5T01"][0]
    assert transit.counterparty_name == "КОВАЛЕНКО ІРИНА ПЕТРІВНА"
    assert transit.counterparty_tax_id == "3012450187"
    assert transit.counterparty_account is None
    assert transit.extra["transit_name"] == "Транз.рахунок для зарахування платежів з Приват24"
    assert transit.extra["transit_account_number"] == "UA323052990000029244825509100"
    assert transit.extra["transit_tax_id"] == "14360570"
    # A transit account without ultimate-party fields keeps its own name, with a warning.
    acquiring = by_ref(result)["EQV1111S1A0K7Q31"][0]
    assert acquiring.extra["transit_account"] == "yes"
    assert any("EQV1111S1A0K7Q3" in w and "transit account" in w for w in result.warnings)


def test_privat_interim_rows_get_the_final_statements_line_ids():
    interim = PRIVAT.parse(PRIVAT_INTERIM)
    final = PRIVAT.parse(PRIVAT_FINAL)
    assert (len(interim.records), interim.transactions_found) == (2, 4)
    assert {r.line_id for r in interim.records} <= {r.line_id for r in final.records}
    assert any("PR_PR=p" in w and "J63DN8R4Y2C6D" in w for w in interim.warnings)
    assert any("repeated" in w and "P24K9W2M7Z5T0" in w and "identical" in w for w in interim.warnings)


def test_privat_cp1251_pages_decode_and_match_utf8(tmp_path):
    result = PRIVAT.parse(PRIVAT_PAGES_CP1251)
    assert (len(result.records), result.transactions_found) == (3, 3)
    assert any("cp1251" in w for w in result.warnings)
    refs = by_ref(result)
    assert refs["UNV13ZK4P0Q8R1"][0].counterparty_name == "ФОП МЕЛЬНИК ОЛЕГ ВАСИЛЬОВИЧ"
    assert refs["UNV13ZK4P0Q8R1"][0].extra["page"] == 1
    assert refs["J63DP1A6B4G9H1"][0].extra["page"] == 2
    assert refs["J63DP1A6B4G9H1"][0].amount == "-250.00"
    utf8 = tmp_path / "pages_utf8.json"
    utf8.write_bytes(PRIVAT_PAGES_CP1251.read_bytes().decode("cp1251").encode("utf-8"))
    again = PRIVAT.parse(utf8)
    assert [r.line_id for r in again.records] == [r.line_id for r in result.records]
    assert not any("cp1251" in w for w in again.warnings)


def test_privat_pages_written_one_after_another(tmp_path):
    pages = json.loads(PRIVAT_PAGES_CP1251.read_bytes().decode("cp1251"), parse_float=Decimal)
    concatenated = tmp_path / "pages.json"
    concatenated.write_text("\n".join(json.dumps(page, ensure_ascii=False) for page in pages), encoding="utf-8")
    assert len(PRIVAT.parse(concatenated).records) == 3
    first_only = tmp_path / "first_page.json"
    first_only.write_text(json.dumps(pages[0], ensure_ascii=False), encoding="utf-8")
    result = PRIVAT.parse(first_only)
    assert len(result.records) == 2
    assert any("exist_next_page=true" in w and "1884603318_online" in w for w in result.warnings)


def test_privat_bare_list_of_eur_transactions():
    result = PRIVAT.parse(PRIVAT_BARE_EUR)
    assert [(r.amount, r.currency) for r in result.records] == [("4200.00", "EUR"), ("-12.60", "EUR")]
    assert result.records[0].extra["uetr"] == "7c1f4a1e-2b8d-4f60-9a3e-51d2c6e0b9f4"
    assert result.records[0].extra["sum_uah_equivalent"] == "183456.00"


def test_privat_error_body_raises_with_the_banks_message():
    with pytest.raises(MalformedFile, match=r"status ERROR.*code 400.*Рахунок не знайдено"):
        PRIVAT.parse(PRIVAT_ERROR)


def test_privat_balance_body_is_not_a_statement(tmp_path):
    path = tmp_path / "balances.json"
    path.write_text('{"status": "SUCCESS", "type": "balances", "exist_next_page": false, "balances": []}')
    with pytest.raises(MalformedFile, match="no 'transactions' list .type balances"):
        PRIVAT.parse(path)


def test_privat_unbooked_states_and_missing_trantype(tmp_path):
    body = json.loads(PRIVAT_FINAL.read_text(encoding="utf-8"))
    rows = body["transactions"]
    rows[0]["PR_PR"] = "n"
    rows[1]["PR_PR"] = "t"
    del rows[2]["TRANTYPE"]
    path = tmp_path / "states.json"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    result = PRIVAT.parse(path)
    assert (len(result.records), result.transactions_found) == (4, 6)
    assert any("PR_PR=n" in w for w in result.warnings) and any("PR_PR=t" in w for w in result.warnings)
    unsigned = by_ref(result)["P24K9W2M7Z5T01"][0]
    assert unsigned.amount is None
    assert any("P24K9W2M7Z5T0" in w and "neither C nor D" in w for w in result.warnings)


def test_privat_rows_without_any_reference_are_numbered_not_dropped(tmp_path):
    row = json.loads(PRIVAT_FINAL.read_text(encoding="utf-8"))["transactions"][1]
    for key in ("REF", "REFN", "ID"):
        del row[key]
    path = tmp_path / "no_refs.json"
    path.write_text(json.dumps([row, row], ensure_ascii=False), encoding="utf-8")
    result = PRIVAT.parse(path)
    assert len(result.records) == 2
    assert len({r.line_id for r in result.records}) == 2
    assert any("without REF/ID" in w for w in result.warnings)


# --- monobank --------------------------------------------------------------------------------------


def test_monobank_documentation_example(fixtures_dir):
    result = MONO.parse(fixtures_dir / MONO_DOC_EXAMPLE)
    assert (len(result.records), result.transactions_found) == (1, 1)
    record = result.records[0]
    # time 1554466347 = 2019-04-05 12:12:27 UTC = 15:12 in Kyiv; amount -95000 kopiyky.
    assert (record.account, record.booking_date, record.amount, record.currency) == (None, "2019-04-05", "-950.00", "UAH")
    assert record.bank_ref == "ZuHWzqkKGVo="
    assert record.counterparty_name == "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ВОРОНА»"
    assert (record.counterparty_account, record.counterparty_tax_id) == ("UA898999980000355639201001404", "3096889974")
    assert record.remittance == "Покупка щастя; За каву"
    assert (record.extra["mcc"], record.extra["balance"], record.extra["cashback_minor_units"]) == ("7997", "100500.00", "19000")
    assert any("does not name the account" in w for w in result.warnings)
    (summary,) = result.statements
    assert (summary.opening_balance, summary.closing_balance) == ("101450.00", "100500.00")


def test_monobank_wrapper_kyiv_dates_conversion_and_balances():
    result = MONO.parse(MONO_FOP)
    assert (len(result.records), result.transactions_found) == (5, 5)
    assert result.warnings == []
    refs = by_ref(result)
    assert {r.account for r in result.records} == {"UA813220010000026002077315520"}
    # 22:40 UTC on 11 November is 00:40 on 12 November in Kyiv.
    late = refs["pT2kQ8vXbA3sLw1e"][0]
    assert (late.booking_date, late.extra["time_utc"], late.amount) == ("2026-11-12", "2026-11-11T22:40:00+00:00", "3000.00")
    # A dollar purchase on a hryvnia card: amount in UAH, the dollars kept as the operation amount.
    usd = refs["Zr7Hn0cVdE5uKq2m"][0]
    assert (usd.amount, usd.currency, usd.extra["operation_amount"], usd.extra["operation_currency"]) == ("-423.50", "UAH", "-10.00", "USD")
    assert refs["Ke1Vs9gPhM4zBr7w"][0].remittance == "Від: ТОВ «СОНЯЧНА ДОЛИНА»; Оплата за рахунком № 2026-00141 від 18.11.2026, без ПДВ"
    (summary,) = result.statements
    assert (summary.opening_balance, summary.opening_date) == ("84321.90", "2026-11-12")
    assert (summary.closing_balance, summary.closing_date) == ("89393.40", "2026-11-18")
    total = sum(Decimal(r.amount) for r in result.records)
    assert Decimal(summary.opening_balance) + total == Decimal(summary.closing_balance)
    assert set(summary.line_ids) == {r.line_id for r in result.records}


def test_monobank_holds_and_repeats_are_skipped_with_warnings():
    result = MONO.parse(MONO_PERSONAL)
    assert (len(result.records), result.transactions_found) == (2, 4)
    assert {r.bank_ref for r in result.records} == {"Fh5Jc3nWqS8kDy1x", "Lm9Tb1cQwV6pRa3z"}
    assert all(r.currency == "UAH" for r in result.records)
    assert any("hold" in w and "Ug4Rk7bXzN2qTe6s" in w for w in result.warnings)
    assert any("repeated" in w and "Fh5Jc3nWqS8kDy1x" in w for w in result.warnings)
    # Holds move the running balance without being lines: no summary to check against.
    assert result.statements == []


def test_monobank_webhook_body():
    result = MONO.parse(MONO_WEBHOOK)
    (record,) = result.records
    assert (record.account, record.amount, record.currency, record.booking_date) == ("kKGVoZuHWzqVoZuH", "1200.00", "EUR", "2026-11-25")


def test_monobank_unknown_currency_stays_raw_and_amount_unscaled(tmp_path):
    path = tmp_path / "unknown_ccy.json"
    path.write_text(json.dumps([{"id": "x1", "time": 1763000000, "description": "?", "mcc": 0, "hold": False,
                                 "amount": -1234, "operationAmount": -1234, "currencyCode": 999, "balance": 0}]))
    result = MONO.parse(path)
    (record,) = result.records
    assert (record.currency, record.amount, record.extra["amount_minor_units"]) == ("999", None, "-1234")
    assert any("cannot be read as money" in w for w in result.warnings)


def test_monobank_gap_in_balance_chain_is_reported(tmp_path):
    wrapper = json.loads(MONO_FOP.read_text(encoding="utf-8"))
    del wrapper["items"][2]  # the tax payment
    path = tmp_path / "gap.json"
    path.write_text(json.dumps(wrapper, ensure_ascii=False), encoding="utf-8")
    result = MONO.parse(path)
    assert len(result.records) == 4
    assert any("balance chain breaks at item Qd8Lx2aTcF6yHv0n" in w for w in result.warnings)


def test_monobank_error_body(tmp_path):
    path = tmp_path / "error.json"
    path.write_text('{"errorDescription": "Period must be no more than 31 days"}')
    with pytest.raises(MalformedFile, match="Period must be no more than 31 days"):
        MONO.parse(path)


# --- 1C ClientBankExchange -------------------------------------------------------------------------


def test_1c_vtb_statement(fixtures_dir):
    result = ONE_C.parse(fixtures_dir / KL_TO_1C)
    assert (len(result.records), result.transactions_found) == (3, 3)
    order, payment_1, payment_2 = result.records
    assert (order.account, order.amount, order.booking_date, order.bank_ref) == ("40702810000000074935", "-6936.00", "2024-01-01", "69147")
    assert order.counterparty_name == 'ФИЛИАЛ "ЦЕНТРАЛЬНЫЙ" БАНКА ВТБ (ПАО)'
    assert order.counterparty_tax_id == "7702070139"
    # Document 1 moves money between two accounts that are not ours: no account, for quarantine.
    assert (payment_1.account, payment_1.amount, payment_1.extra["side"]) == (None, "13056.00", "unknown")
    assert payment_2.amount == "-150000.00" and payment_2.counterparty_name == "ИП Пупкин О.А."
    # No КодВалюты: a 20-digit Russian account carries its currency in digits 6-8 (810 = rouble).
    assert {r.currency for r in result.records} == {"RUB"}
    assert any("digits 6-8" in w for w in result.warnings)
    (summary,) = result.statements
    assert (summary.account, summary.opening_balance, summary.closing_balance) == ("40702810000000074935", "252842.49", "79245.05")
    assert (summary.opening_date, summary.closing_date) == ("2024-01-01", "2024-04-11")
    assert summary.line_ids == (order.line_id, payment_2.line_id)
    # The export is trimmed: the section's totals count documents that are not in the file.
    assert any("ВсегоПоступило=616050.00 but its documents total 0.00" in w for w in result.warnings)
    assert any("ВсегоСписано=789647.44 but its documents total 156936.00" in w for w in result.warnings)


def test_1c_payment_order_file_is_not_a_statement(fixtures_dir):
    with pytest.raises(MalformedFile, match=r"payment-order file for sending to the bank \(2 document"):
        ONE_C.parse(fixtures_dir / TO_BANK)


def test_1c_ukrainian_dialect_cp1251():
    result = ONE_C.parse(ONE_C_CP1251)
    assert result.warnings == []
    assert [(r.amount, r.booking_date) for r in result.records] == [
        ("3000.00", "2026-11-12"), ("-12500.00", "2026-11-12"), ("-15.00", "2026-11-12"), ("18000.00", "2026-11-13")]
    first = result.records[0]
    assert (first.bank_ref, first.counterparty_tax_id, first.currency) == ("IFB-20261112-000418", "38741203", "UAH")
    assert first.extra["counterparty_mfo"] == "300465"
    # НазначениеПлатежа absent: its printed parts 1 and 2 are joined.
    assert result.records[3].remittance == "Оплата за рахунком № 2026-00127 від 11.11.2026 за послуги з супроводу ПЗ, без ПДВ"
    (summary,) = result.statements
    total = sum(Decimal(r.amount) for r in result.records)
    assert Decimal(summary.opening_balance) + total == Decimal(summary.closing_balance) == Decimal("162805.75")


def test_1c_ukrainian_dialect_cp866_mixed_line_endings():
    result = ONE_C.parse(ONE_C_CP866)
    assert (len(result.records), result.transactions_found) == (3, 3)
    credit, debit, foreign = result.records
    # The payee account is written as the old 14-digit number inside our IBAN.
    assert (credit.account, credit.amount, credit.counterparty_name) == (OUR_UGB, "4800.00", 'ТОВ "ПОЛТАВСЬКI СМАКОЛИКИ"')
    assert debit.amount == "-2750.00"
    assert debit.remittance == "Оренда офiсу за листопад 2026 р. згiдно договору № 14/25 вiд 01.01.2026, без ПДВ"
    assert foreign.account is None and foreign.extra["payer_name"] == 'ТОВ "ВЕКТОР-ПОСТАЧ"'
    assert {r.currency for r in result.records} == {"UAH"}
    assert any("no КодВалюты" in w and "default (UAH)" in w for w in result.warnings)
    assert any("name none of our accounts" in w and "document 77" in w for w in result.warnings)
    assert not any("КонецФайла" in w for w in result.warnings)
    assert ClientBankExchangeSource(default_currency="EUR").parse(ONE_C_CP866).records[0].currency == "EUR"


def test_1c_dos_file_with_ukrainian_letters_is_cp1125(tmp_path):
    text = ONE_C_CP866.read_bytes().decode("cp866").replace("ПОЛТАВСЬКI", "ПОЛТАВСЬКІ").replace("офiсу", "офісу")
    path = tmp_path / "cp1125.txt"
    path.write_bytes(text.encode("cp1125"))
    result = ONE_C.parse(path)
    assert result.records[0].counterparty_name == 'ТОВ "ПОЛТАВСЬКІ СМАКОЛИКИ"'
    assert result.records[1].remittance.startswith("Оренда офісу")
    assert any("cp1125" in w for w in result.warnings)


def test_1c_ukrainian_keys_two_accounts_internal_transfer():
    result = ONE_C.parse(ONE_C_UA_KEYS)
    assert (len(result.records), result.transactions_found) == (3, 2)
    main, reserve = "UA083808050000026003077120001", "UA073808050000026003077120019"
    assert [(r.account, r.amount) for r in result.records] == [(main, "4200.00"), (main, "-20000.00"), (reserve, "20000.00")]
    assert result.records[0].counterparty_tax_id == "38741203"
    assert result.records[0].remittance == "Оплата за рахунком № 2026-00150 від 19.11.2026, у т.ч. ПДВ 20% - 700.00 грн"
    assert any("between two of our accounts" in w for w in result.warnings)
    assert any("ВсегоПоступило=7200.00 but its documents total 4200.00" in w for w in result.warnings)
    summaries = {s.account: s for s in result.statements}
    assert (summaries[main].opening_balance, summaries[main].closing_balance) == ("50000.00", "37200.00")
    assert summaries[reserve].line_ids == (result.records[2].line_id,)


def test_1c_line_endings_and_encoding_do_not_change_line_ids(tmp_path):
    original = ONE_C.parse(ONE_C_CP1251)
    text = ONE_C_CP1251.read_bytes().decode("cp1251")
    variants = {
        "lf.txt": text.replace("\r\n", "\n").encode("cp1251"),
        "no_final_newline.txt": text.rstrip("\r\n").encode("cp1251"),
        "utf8.txt": text.encode("utf-8"),
    }
    for name, data in variants.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert [r.line_id for r in ONE_C.parse(path).records] == [r.line_id for r in original.records], name


def test_1c_utf8_line_inside_cp1251_file(tmp_path):
    data = ONE_C_CP1251.read_bytes().replace("КонецФайла".encode("cp1251"), "КонецФайла".encode("utf-8"))
    path = tmp_path / "mixed.txt"
    path.write_bytes(data)
    result = ONE_C.parse(path)
    assert len(result.records) == 4
    assert any("UTF-8 inside a cp1251 file" in w for w in result.warnings)
    assert not any("no КонецФайла" in w for w in result.warnings)


def test_1c_key_aliases_and_account_matching():
    assert canonical_key("ПризначенняПлатежу") == "НазначениеПлатежа"
    assert canonical_key("ПризначенняПлатежу3") == "НазначениеПлатежа3"
    assert canonical_key("ПлатникЄДРПОУ") == "ПлательщикОКПО"
    assert canonical_key("СекцiяДокумент") == "СекцияДокумент"  # Latin i, as DOS files write it
    assert canonical_key("ПлательщикБанк1") == "ПлательщикБанк1"
    assert same_account(OUR_UGB, "26009012345678")
    assert same_account("26009012345678", OUR_UGB)
    assert not same_account(OUR_UGB, "26009012345679")
    assert not same_account(OUR_UGB, None)


# --- all three: goldens, damage, stability ---------------------------------------------------------

GOLDEN_CASES = [
    (MONO, MONO_DOC_EXAMPLE), (MONO, MONO_FOP), (MONO, MONO_PERSONAL),
    (ONE_C, KL_TO_1C), (ONE_C, ONE_C_CP1251), (ONE_C, ONE_C_CP866), (ONE_C, ONE_C_UA_KEYS),
    (PRIVAT, PRIVAT_FINAL), (PRIVAT, PRIVAT_INTERIM), (PRIVAT, PRIVAT_PAGES_CP1251), (PRIVAT, PRIVAT_BARE_EUR),
]


def _resolve(fixtures_dir: Path, path: Path | str) -> Path:
    return fixtures_dir / path if isinstance(path, str) else path


@pytest.mark.parametrize("source,path", GOLDEN_CASES, ids=lambda v: getattr(v, "name", None) or str(v).rsplit("/", 1)[-1])
def test_golden(source, path, fixtures_dir):
    check_golden(source, _resolve(fixtures_dir, path))


@pytest.mark.parametrize("source,path", GOLDEN_CASES, ids=lambda v: getattr(v, "name", None) or str(v).rsplit("/", 1)[-1])
def test_reparse_is_stable_and_float_free(source, path, fixtures_dir):
    path = _resolve(fixtures_dir, path)
    first, second = source.parse(path), source.parse(path)
    assert [r.line_id for r in first.records] == [r.line_id for r in second.records]
    assert len({r.line_id for r in first.records}) == len(first.records)
    for record in first.records:
        assert record.record_type == "bank_line" and record.source_format == source.name
        assert_json_safe(record.as_dict())
        if record.amount is not None:
            Decimal(record.amount)
    for summary in first.statements:
        assert_json_safe([summary.opening_balance, summary.closing_balance, list(summary.line_ids)])


@pytest.mark.parametrize("source,path", [(PRIVAT, PRIVAT_FINAL), (MONO, MONO_FOP), (MONO, MONO_DOC_EXAMPLE)],
                         ids=["privat", "mono", "mono-doc"])
def test_truncated_json_raises(source, path, fixtures_dir, tmp_path):
    data = _resolve(fixtures_dir, path).read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedFile, match="not valid JSON at line"):
        source.parse(cut)


@pytest.mark.parametrize("path", [KL_TO_1C, ONE_C_CP1251, ONE_C_UA_KEYS], ids=lambda p: str(p).rsplit("/", 1)[-1])
def test_truncated_1c_keeps_every_document_it_holds_and_warns(path, fixtures_dir, tmp_path):
    data = _resolve(fixtures_dir, path).read_bytes()
    markers = ("СекцияДокумент".encode("cp1251"), "СекціяДокумент".encode("cp1251"))
    last_document = max(data.rfind(marker) for marker in markers)
    cut = tmp_path / "cut.txt"
    cut.write_bytes(data[: last_document + 200])  # inside the last document, after its amount
    result = ONE_C.parse(cut)
    started = sum(cut.read_bytes().count(marker) for marker in markers)
    assert result.transactions_found == started == len({r.extra["line"] for r in result.records})
    assert any("not closed" in w for w in result.warnings)
    assert any("no КонецФайла" in w for w in result.warnings)


def test_garbled_1c_first_line_raises(tmp_path):
    path = tmp_path / "garbled.txt"
    path.write_bytes(b"1CClientBank\r\n" + ONE_C_CP1251.read_bytes().split(b"\r\n", 1)[1])
    with pytest.raises(MalformedFile, match="first line is not 1CClientBankExchange"):
        ONE_C.parse(path)


# --- fuzz ------------------------------------------------------------------------------------------

FUZZ_BASES = {
    PRIVAT: [PRIVAT_FINAL, PRIVAT_PAGES_CP1251],
    MONO: [MONO_FOP, MONO_PERSONAL],
    ONE_C: [ONE_C_CP1251, ONE_C_CP866, ONE_C_UA_KEYS],
}
_mutation = st.tuples(st.sampled_from(["replace", "delete", "insert"]), st.integers(0, 10**9), st.binary(min_size=1, max_size=4))


def _mutate(data: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    for kind, where, chunk in mutations:
        position = where % (len(data) + 1)
        if kind == "replace":
            data = data[:position] + chunk + data[position + len(chunk):]
        elif kind == "delete":
            data = data[:position] + data[position + len(chunk):]
        else:
            data = data[:position] + chunk + data[position:]
    return data


@pytest.mark.parametrize("source", OURS, ids=lambda s: s.name)
def test_fuzz_mutated_files_raise_only_source_errors(source, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz_{source.name}")
    bases = [path.read_bytes() for path in FUZZ_BASES[source]]

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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


def test_monobank_list_of_exactly_500_items_is_probably_cut_off(tmp_path):
    item = json.loads(MONO_FOP.read_text(encoding="utf-8"))["items"][0]
    items = [dict(item, id=f"id{n}", time=item["time"] - n) for n in range(500)]
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"account": "UA813220010000026002077315520", "items": items}), encoding="utf-8")
    result = MONO.parse(path)
    assert len(result.records) == 500
    assert any("exactly 500 items" in w for w in result.warnings)


def test_1c_section_account_written_as_old_number(tmp_path):
    text = ONE_C_CP1251.read_bytes().decode("cp1251")
    section_start = text.index("СекцияРасчСчет")
    text = text[:section_start] + text[section_start:].replace(f"РасчСчет={OUR_UGB}", "РасчСчет=26009012345678", 1)
    path = tmp_path / "old_number.txt"
    path.write_bytes(text.encode("cp1251"))
    result = ONE_C.parse(path)
    (summary,) = result.statements
    assert summary.account == OUR_UGB
    assert summary.line_ids == tuple(r.line_id for r in result.records)
    assert result.warnings == []
