"""Card numbers are masked (sources/masking.py): Luhn-valid 13-19 digit runs, first six and last four
kept; IBANs, failing runs and other numbers left alone."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.masking import has_card_prefix, luhn_valid, mask_frame, mask_json_text, mask_record, mask_text
from sources.records import NormalizedRecord

VISA_TEST = "4111111111111111"


@pytest.mark.parametrize(
    "text, masked",
    [
        ("Оплата картою 4111 1111 1111 1111, дякуємо", "Оплата картою 4111 11** **** 1111, дякуємо"),
        ("card 4111111111111111.", "card 411111******1111."),
        ("4111-1111-1111-1111", "4111-11**-****-1111"),
        ("Amex 3782 822463 10005 paid", "Amex 3782 82**** *0005 paid"),
        ("378282246310005", "378282*****0005"),
        ("two 5555555555554444 and 4012888888881881", "two 555555******4444 and 401288******1881"),
        ("№4111111111111111", "№411111******1111"),
        ("4222222222222", "422222***2222"),  # 13 digits
        ("Invoice 1 4111111111111111", "Invoice 1 411111******1111"),  # another number next to it
        ("2026-00123 4111 1111 1111 1111 5", "2026-00123 4111 11** **** 1111 5"),
    ],
)
def test_card_numbers_are_masked_keeping_six_and_four(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "IBAN DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "DK5000400440116243",  # an IBAN whose digits are 16 and pass Luhn
        "UA213223130000026007233566001",
        "4111 1111 1111 1112",  # fails Luhn
        "12345678 1234567890",  # ЄДРПОУ and РНОКПП side by side, not a card grouping
        "Рахунок № 2026-00123 від 12.11.2026",
        "41111111111111111111",  # 20 digits
        "x4111111111111111",  # part of a longer token
        "411111111111",  # 12 digits
        "",
    ],
)
def test_other_numbers_are_left_alone(text):
    assert mask_text(text) == text


def test_masking_is_idempotent_and_keeps_length():
    once = mask_text(f"pay {VISA_TEST} now")
    assert mask_text(once) == once and len(once) == len(f"pay {VISA_TEST} now")


def test_luhn():
    assert luhn_valid(VISA_TEST) and luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_identifiers_need_a_card_prefix_too():
    assert has_card_prefix(VISA_TEST) and not has_card_prefix("8815131751004939")
    assert mask_text("8815131751004939") == "881513******4939"  # free text: Luhn alone
    assert mask_text("8815131751004939", strict=True) == "8815131751004939"  # a PSP reference stays
    assert mask_text(VISA_TEST, strict=True) == "411111******1111"


def test_json_text_and_records_are_masked_everywhere_but_the_ids():
    text = json.dumps({"note": "card 4111 1111 1111 1111", "line": 7}, sort_keys=True)
    assert json.loads(mask_json_text(text)) == {"note": "card 4111 11** **** 1111", "line": 7}
    record = NormalizedRecord(
        record_type="bank_line", source_format="camt", account="DE89370400440532013000", booking_date="2026-01-02",
        value_date=None, amount="10.00", currency="EUR", counterparty_name=f"Card {VISA_TEST}",
        counterparty_account=VISA_TEST, counterparty_tax_id="12345678", remittance=f"Invoice 1 {VISA_TEST}",
        end_to_end_id=VISA_TEST, bank_ref="8815131751004939", line_id="a" * 32,
        extra={"details": [f"x {VISA_TEST}"], "n": 1},
    )
    masked = mask_record(record)
    assert VISA_TEST not in json.dumps(masked.as_dict())
    assert masked.bank_ref == "8815131751004939" and masked.line_id == record.line_id and masked.extra["n"] == 1


def test_frame_masking_touches_only_rows_with_a_long_digit_run():
    frame = pd.DataFrame({
        "remittance": pd.array(["no card", f"pay {VISA_TEST}", None], dtype="str"),
        "bank_ref": pd.array([VISA_TEST, "8815131751004939", None], dtype="str"),
        "extra": pd.array([json.dumps({"a": VISA_TEST}), None, '{"b": 1}'], dtype="str"),
        "amount": pd.array(["4111111111111111", "1", "2"], dtype="str"),  # not a text column: left alone
    })
    masked = mask_frame(frame)
    assert masked["remittance"].tolist()[:2] == ["no card", "pay 411111******1111"]
    assert masked["bank_ref"].tolist()[:2] == ["411111******1111", "8815131751004939"]
    assert json.loads(masked["extra"][0]) == {"a": "411111******1111"} and masked["extra"][2] == '{"b": 1}'
    assert masked["amount"][0] == VISA_TEST and frame["remittance"][1] == f"pay {VISA_TEST}"  # a copy


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=5), digits=st.text("0123456789", min_size=13, max_size=19), suffix=st.text(max_size=5))
def test_no_luhn_valid_standalone_run_survives(prefix, digits, suffix):
    text = f"{prefix}: {digits}; {suffix}"
    masked = mask_text(text)
    middle = masked[len(prefix) + 2: len(prefix) + 2 + len(digits)]
    if luhn_valid(digits):
        assert middle == digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    else:
        assert middle == digits
