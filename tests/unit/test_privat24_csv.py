"""The Privat24 CSV source, on files written the way the bank writes them (cp1251, `;`, CRLF)."""

import json
import os
from decimal import Decimal

import pytest

from sources.errors import AmbiguousFile, MalformedFile, UnrecognizedFile
from sources.privat24_csv import Privat24CsvSource
from sources.registry import build_sources, detect, parse_file
from tests.conftest import GOLDEN

HEADER = "ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;Рахунок кореспондента;ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу"
ROWS = [
    "43128765;305299;UA213052990000026007233566001;UAH;4107;17.11.2026;322001;АТ «УНІВЕРСАЛ БАНК»;UA903220010000026203300099123;45723015;ТОВ «Київ Маркет Груп»;1 500,50;Оплата за рахунком № 2026-00102 від 07.11.2026, у т.ч. ПДВ 20% - 250.08 грн",
    "43128765;305299;UA213052990000026007233566001;UAH;4111;18.11.2026;305299;АТ КБ «ПРИВАТБАНК»;;14360570;АТ КБ «ПРИВАТБАНК»;-45,00;Комісія банку",
    '43128765;305299;UA213052990000026007233566001;UAH;4119;31.02.2026;305299;АТ КБ «ПРИВАТБАНК»;;;"ТОВ ""Лапки""";12O0,00;Оплата;з крапкою з комою',
]


def write(tmp_path, rows=ROWS, header=HEADER, encoding="cp1251", name="statement.csv"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    return path


def test_parses_signed_amounts_dates_and_both_sides(tmp_path):
    result = Privat24CsvSource().parse(write(tmp_path))
    first, fee, broken = result.records
    assert result.transactions_found == 3
    assert first.amount == "1500.50" and Decimal(first.amount) > 0
    assert first.booking_date == "2026-11-17"
    assert first.account == "UA213052990000026007233566001"
    assert first.counterparty_tax_id == "45723015"
    assert first.counterparty_name == "ТОВ «Київ Маркет Груп»"
    assert first.remittance.startswith("Оплата за рахунком № 2026-00102")
    assert first.bank_ref == "4107"
    assert fee.amount == "-45.00"
    # A bad row travels as it is, so the contract can quarantine it with the value shown.
    assert broken.amount == "12O0,00"
    assert broken.booking_date == "31.02.2026"
    assert broken.counterparty_name == 'ТОВ "Лапки"'


def test_line_ids_are_stable_and_overlapping_statements_agree(tmp_path):
    one = Privat24CsvSource().parse(write(tmp_path, ROWS[:2], name="a.csv"))
    two = Privat24CsvSource().parse(write(tmp_path, ROWS[1:], name="b.csv"))
    assert one.records[1].line_id == two.records[0].line_id
    again = Privat24CsvSource().parse(write(tmp_path, ROWS[:2], name="a.csv"))
    assert [r.line_id for r in one.records] == [r.line_id for r in again.records]


def test_identical_rows_in_one_file_stay_distinct(tmp_path):
    result = Privat24CsvSource().parse(write(tmp_path, [ROWS[0], ROWS[0]]))
    assert len({r.line_id for r in result.records}) == 2


def test_utf8_with_bom_and_egrpou_spelling(tmp_path):
    path = write(tmp_path, ROWS[:1], header=HEADER.replace("ЄДРПОУ;", "ЕГРПОУ;", 1), encoding="utf-8-sig")
    source, result = parse_file(path, build_sources())
    assert source.name == "privat24_csv"
    assert result.records[0].amount == "1500.50"


def test_configurable_column_mapping(tmp_path):
    header = HEADER.replace("Сума", "Сума операції").replace("Призначення платежу", "Призначення")
    path = write(tmp_path, ROWS[:1], header=header)
    default = Privat24CsvSource()
    assert not default.identify(path, path.read_bytes())
    mapped = Privat24CsvSource(columns={"amount": ("Сума операції",), "remittance": ("Призначення",)})
    assert mapped.identify(path, path.read_bytes())
    assert mapped.parse(path).records[0].amount == "1500.50"
    with pytest.raises(ValueError, match="unknown field"):
        Privat24CsvSource(columns={"summa": ("Сума",)})


def test_missing_required_columns_is_a_malformed_file(tmp_path):
    path = write(tmp_path, ROWS[:1], header=HEADER.replace(";Сума;", ";Сума2;"))
    with pytest.raises(MalformedFile, match=r"lacks required columns: amount \(Сума\)"):
        Privat24CsvSource().parse(path)


def test_undecodable_bytes_are_a_malformed_file(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(HEADER.encode("cp1251") + b"\r\n\x98\x98\x98;\xff\xfe")
    with pytest.raises(MalformedFile, match="neither UTF-8 nor cp1251"):
        Privat24CsvSource().parse(path)


def test_an_unknown_file_is_refused_naming_what_was_tried(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("Дата;Сума\n01.01.2026;1\n", encoding="utf-8")
    with pytest.raises(UnrecognizedFile, match=r"tried: privat24_csv"):
        detect(path, build_sources())


def test_two_sources_claiming_a_file_is_an_error(tmp_path):
    path = write(tmp_path)
    twin = Privat24CsvSource()
    twin.name = "privat24_twin"
    with pytest.raises(AmbiguousFile, match="privat24_csv, privat24_twin"):
        detect(path, [Privat24CsvSource(), twin])


def test_golden_demo_statement(tmp_path):
    """The demo's statement is a realistic Privat24 export; its normalized form is kept beside it."""
    source_file = GOLDEN / "privat24_csv" / "demo_statement.csv"
    expected = GOLDEN / "privat24_csv" / "demo_statement.csv.jsonl"
    result = Privat24CsvSource().parse(source_file)
    produced = "".join(json.dumps(r.as_dict(), ensure_ascii=False, sort_keys=True) + "\n" for r in result.records)
    if os.environ.get("PAYRECON_UPDATE_GOLDEN"):
        expected.write_text(produced, encoding="utf-8")
    assert produced == expected.read_text(encoding="utf-8")
    assert len(result.records) == 30
