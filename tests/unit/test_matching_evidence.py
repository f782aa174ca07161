"""Evidence extractors of the matching engine: invoice numbers in free text, tax IDs, IBANs,
names, amounts (fee tolerance, subset-sum)."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcilers.amounts import find_subset
from reconcilers.evidence import edrpou_is_valid, edrpou_with_check_digit, iban_is_valid, make_iban
from reconcilers.identifiers import (
    clean_tax_ids,
    edrpou_valid,
    iban_checks,
    is_personal_account,
    is_transit,
    normalize_accounts,
    rnokpp_valid,
    tax_id_kind,
)
from reconcilers.money import fee_tolerance, from_minor, to_minor
from reconcilers.names import fold, is_person_name, name_key, name_similarity, similarity, similarity_many
from reconcilers.text_numbers import digit_groups, find_invoice_numbers, invoice_keys, tax_id_candidates

INVOICES = pd.Series(["2026-00123", "2026-00011", "2025-00123", "INV-000777"])


def found(text: str) -> set[str]:
    keys = invoice_keys(INVOICES, min_digits=5)
    hits = find_invoice_numbers(digit_groups(pd.Series([text])), keys)
    return {INVOICES[r] for r in hits["row"]}


@pytest.mark.parametrize(
    "text",
    [
        "Оплата за рахунком № 2026-00123 від 12.11.2026, у т.ч. ПДВ 20% — 250.00 грн",
        "Оплата згідно рах. №2026-00123",
        "Сплата рахунку-фактури 2026-00123 від 12.11.2026",
        "Оплата по счету № 2026-00123 от 12.11.2026",
        "Оплата согласно сч. 2026-00123",
        "Payment for invoice 2026-00123",
        "INV 2026-00123",
        "inv.2026-00123",
        "2026-00123",
        "рах 2026 00123",
        "рах 2026 - 00123",
        "рах 2026 – 00123",
        "рах 2026/00123",
        "рах 2026_00123",
        "рах 2026-123",
        "рах 2026-000123",
        "рах 202600123",
        "рах 2О26-ОО123",  # Cyrillic О for zero
        "рах 2O26-OO123",  # Latin O for zero
        "рах 2026-00l23",  # l for one (OCR)
        "рах 2026-00I23",  # I for one (OCR)
        "ІNV 2026-00123",  # Cyrillic І in the prefix
        "оплата2026-00123",
        "рах 2026-00123 1500,00 грн",
    ],
)
def test_invoice_number_forms(text):
    assert found(text) == {"2026-00123"}


@pytest.mark.parametrize(
    "text",
    [
        "Поповнення балансу",
        "від 2026-11-12",  # an ISO date is not invoice 2026-00011
        "від 12/11/2026",
        "сума 2026.00 грн 123",
        "рах 2027-00123",
        "IBAN UA213223130000026007233566001",
        "№ 777",  # too short to look for
    ],
)
def test_no_invoice_number_where_there_is_none(text):
    assert found(text) == set()


def test_several_numbers_and_other_years():
    assert found("Оплата рах. 2026-00123, 2025-00123 та 2026-00011") == {"2026-00123", "2025-00123", "2026-00011"}


def test_digit_groups_keep_texts_apart():
    groups = digit_groups(pd.Series(["ends 2026", "00123 starts", None, "", "Оплата 45723015"]))
    assert list(zip(groups.text.tolist(), groups.value.tolist())) == [(0, 2026), (1, 123), (4, 45723015)]
    assert not groups.joined[0], "a number at the end of one text never joins the next text's first"


def test_tax_ids_in_text_are_whole_runs_of_8_or_10_digits():
    groups = digit_groups(pd.Series(["код 45723015, ІПН 3012409876, рахунок 26007233566001, 2026-11-12"]))
    assert sorted(tax_id_candidates(groups)["value"].tolist()) == [45723015, 3012409876]


@pytest.mark.parametrize("code", ["14360570", "00032129", "21560766", "45723015"])
def test_edrpou_vectorised_agrees_with_the_scalar_check(code):
    assert edrpou_is_valid(code)
    assert edrpou_valid(np.array([int(code)]))[0]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=99_999_999))
def test_edrpou_check_digit_property(code):
    text = f"{code:08d}"
    assert bool(edrpou_valid(np.array([code]))[0]) == edrpou_is_valid(text)


def test_edrpou_completion_and_single_digit_errors():
    for stem in ("4312876", "3999111", "0003212", "3500000", "5999999"):
        code = edrpou_with_check_digit(stem)
        assert edrpou_valid(np.array([int(code)]))[0]
        wrong = code[:7] + str((int(code[7]) + 1) % 10)
        assert not edrpou_valid(np.array([int(wrong)]))[0]


def rnokpp_of(stem: str) -> str:
    weights = (-1, 5, 7, 9, 4, 6, 10, 5, 7)
    return stem + str(sum(int(d) * w for d, w in zip(stem, weights)) % 11 % 10)


def test_rnokpp_check_digit():
    code = rnokpp_of("301240987")
    assert rnokpp_valid(np.array([int(code)]))[0]
    assert not rnokpp_valid(np.array([int(code[:9] + str((int(code[9]) + 1) % 10))]))[0]
    kinds = tax_id_kind(pd.Series([code, "14360570", "14360571", " 1436 0570 ", None, "123"]))
    assert kinds.tolist() == ["rnokpp", "edrpou", None, "edrpou", None, None]
    assert clean_tax_ids(pd.Series([" 1436 0570 ", "14360571"])).tolist() == ["14360570", None]


def test_iban_checks_agree_with_the_scalar_check():
    rng = random.Random(3)
    valid = [make_iban("UA", f"{rng.randint(0, 999_999):06d}{rng.randint(0, 10**19 - 1):019d}") for _ in range(300)]
    valid += ["GB82WEST12345698765432", "DE89370400440532013000"]
    broken = [v[:-1] + str((int(v[-1]) + 1) % 10) for v in valid[:100]] + ["XX", "UA21", "", "UA2132231300000260072335660A1"]
    values = np.array(valid + broken, dtype=object)
    assert iban_checks(values).tolist() == [iban_is_valid(v) for v in values]
    assert iban_checks(np.array(valid, dtype=object)).all()
    lower = normalize_accounts(pd.Series(["ua21 3223 1300 0002 6007 2335 6600 1"])).to_numpy(dtype=object)
    assert iban_checks(lower).tolist() == [True], "checked after normalizing, as the engine does"


def test_accounts_normalized_and_classified():
    accounts = normalize_accounts(pd.Series(["ua21 3223 1300 0002 6007 2335 6600 1", None, " "]))
    assert accounts.tolist() == ["UA213223130000026007233566001", None, None]
    transit = make_iban("UA", "305299" + "00000" + "2909" + "0000000001")
    personal = make_iban("UA", "305299" + "00000" + "2625" + "0000000001")
    business = make_iban("UA", "305299" + "00000" + "2600" + "0000000001")
    names = pd.Series(["АТ КБ «ПРИВАТБАНК»", "x", "Транзитний рахунок", "ТОВ"])
    assert is_transit(pd.Series([transit, personal, business, business]), names).tolist() == [True, False, True, False]
    assert is_personal_account(pd.Series([transit, personal, business])).tolist() == [False, True, False]


@pytest.mark.parametrize(
    "spelling",
    [
        "ТОВ «Ромашка»",
        'ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ "РОМАШКА"',
        "TOV ROMASHKA LLC",
        "ТзОВ “Ромашка”",
        "LIMITED LIABILITY COMPANY ROMASHKA",
        "ООО «Ромашка»",
        "ТОВ «POMAШKA»",  # Latin look-alikes typed into a Cyrillic word
        "romashka ltd.",
    ],
)
def test_name_keys_meet_across_forms_scripts_and_quotes(spelling):
    assert name_key(spelling) == "ROMASHKA"


def test_national_transliteration_rules():
    assert name_key("ПП «Згода»") == "ZGHODA"
    assert name_key("ТОВ «Юність»") == "YUNIST"
    assert name_key("ТОВ «Мрія»") == "MRIIA"
    assert name_key("ФОП Їжак Євген Йосипович") == "YEVHEN YIZHAK YOSYPOVYCH"
    assert name_key("ТОВ «Щедрик»") == "SHCHEDRYK"
    assert name_key("Tallinn Pixel OÜ") == "PIXEL TALLINN"
    assert name_key("ТОВ") == ""


def test_fold_merges_transliteration_variants():
    assert fold(name_key("Zolotaya Dolina")) == fold(name_key("ТОВ «Золота Долина»"))
    assert fold(name_key("GERMES")) == fold(name_key("Гермес"))
    assert fold(name_key("ROMASCHKA")) == fold(name_key("Ромашка"))


def test_fuzzy_names_allow_a_slip_but_not_another_company_or_person():
    assert name_similarity(fold("ROMASHKO"), fold("ROMASHKA")) >= 850
    assert name_similarity(fold("PLIUS ROMASHKA"), fold("ROMASHKA")) == 0
    person_a = fold(name_key("Поліщук Євген Євгенович"))
    person_b = fold(name_key("Олійник Євген Євгенович"))
    assert similarity(person_a, person_b) > 800, "as strings these look alike"
    assert name_similarity(person_a, person_b) < 700, "word by word they are two people"
    assert is_person_name(name_key("Іваненко Іван Іванович")) and not is_person_name(name_key("ТОВ «Ромашка Плюс»"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text("ABCDEZ ", max_size=70), st.text("ABCDEZ ", max_size=70)), min_size=1, max_size=20))
def test_vectorised_similarity_equals_the_scalar_one(pairs):
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    assert similarity_many(first, second).tolist() == [similarity(a, b) for a, b in pairs]


def test_money_is_exact_integers():
    assert to_minor([Decimal("1500.00"), Decimal("0.0001"), None]).tolist() == [15_000_000, 1, 0]
    with pytest.raises(Exception):
        to_minor([Decimal("0.00001")])
    assert from_minor(15_000_000) == Decimal("1500.00") and str(from_minor(12_345)) == "1.2345"


def test_fee_tolerance_only_for_international_currencies():
    fixed = {"USD": Decimal("35"), "EUR": Decimal("35")}
    expected = np.array([to_minor([Decimal(v)])[0] for v in ("1000", "99", "10000", "1000")])
    tolerance = fee_tolerance(expected, np.array(["USD", "USD", "EUR", "UAH"], dtype=object), Decimal("0.01"), fixed, Decimal("0.25"))
    assert [from_minor(t) for t in tolerance] == [Decimal("35.00"), Decimal("24.75"), Decimal("100.00"), Decimal("0.00")]


def test_subset_sum_prefers_fewest_and_oldest_invoices():
    remaining = np.array([100, 250, 400, 150, 600], dtype=np.int64)
    no_fee = lambda sums: np.zeros(len(sums), dtype=np.int64)  # noqa: E731
    assert find_subset(remaining, 650, no_fee, 5) == ((1, 2), True)
    assert find_subset(remaining, 1500, no_fee, 5) == ((0, 1, 2, 3, 4), True)
    assert find_subset(remaining, 1500, no_fee, 4) is None
    assert find_subset(remaining, 7, no_fee, 5) is None
    fee = lambda sums: np.full(len(sums), 20, dtype=np.int64)  # noqa: E731
    assert find_subset(remaining, 340, fee, 5) == ((0, 1), False)
