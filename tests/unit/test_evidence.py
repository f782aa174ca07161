import pytest

from reconcilers.evidence import (
    edrpou_is_valid,
    edrpou_with_check_digit,
    iban_is_valid,
    make_iban,
)


@pytest.mark.parametrize("code", ["14360570", "00032129", "21560766"])
def test_real_edrpou_codes_pass(code):
    assert edrpou_is_valid(code)


@pytest.mark.parametrize("code", ["14360571", "1436057", "1436057a", ""])
def test_wrong_edrpou_codes_fail(code):
    assert not edrpou_is_valid(code)


def test_check_digit_completion_round_trips():
    for stem in ("4312876", "3999111", "0003212", "3500000"):
        assert edrpou_is_valid(edrpou_with_check_digit(stem))


def test_iban_check_digits():
    assert iban_is_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_is_valid("UA213223130000026007233566001")
    assert not iban_is_valid("UA213223130000026007233566002")
    built = make_iban("UA", "305299" + "0000026007233566001")
    assert iban_is_valid(built) and built.startswith("UA")

