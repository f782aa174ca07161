import pytest
from hypothesis import given, strategies as st

from sources.parsing import parse_amount, parse_date


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1 500,50", "1500.50"), ("-45,00", "-45.00"), ("1.234,56", "1234.56"), ("1,234.56", "1234.56"),
        ("380115,", "380115"), ("\u00a01\u202f000.10 ", "1000.10"), (".5", "0.5"),
        # Not plain numbers: returned unchanged so the contract quarantines them with the value shown.
        ("12O0,00", "12O0,00"), ("1e9999", "1e9999"), ("NaN", "NaN"), ("Infinity", "Infinity"), ("", ""),
    ],
)
def test_amounts(raw, expected):
    assert parse_amount(raw) == expected


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**12, max_value=10**12))
def test_amount_round_trips_through_a_decimal_comma(value):
    text = format(value, "f").replace(".", ",")
    assert parse_amount(text) == format(value, "f")


@pytest.mark.parametrize(
    "raw, expected",
    [("17.11.2026", "2026-11-17"), ("17.11.2026 14:05:33", "2026-11-17"), ("2026-11-17", "2026-11-17"),
     ("31.02.2026", "31.02.2026"), ("вчора", "вчора")],
)
def test_dates(raw, expected):
    assert parse_date(raw) == expected
