"""Tax IDs and accounts: check digits, normal forms and what kind of account a payer uses.

ЄДРПОУ is the 8-digit code of a Ukrainian legal entity; its check digit uses weights 1..7 (7,1..6
for codes between 30 and 60 million), retried with every weight + 2 when the sum mod 11 is 10
(`reconcilers.evidence.edrpou_is_valid` is the one-value version; this one checks arrays of codes at
once and agrees with it). РНОКПП is a person's 10-digit taxpayer number: weights -1,5,7,9,4,6,10,5,7,
sum mod 11 mod 10. A check digit is what lets a run of digits in free text count as a tax ID.

Ukrainian IBANs carry the balance account after the bank code: 2600 is a business current
account, 2620/2625 a private person's, 2909/2924/3739 a bank's transit account, which holds many
payers' money and therefore never identifies one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


_EDRPOU_LOW = np.array([1, 2, 3, 4, 5, 6, 7])
_EDRPOU_MID = np.array([7, 1, 2, 3, 4, 5, 6])
_RNOKPP = np.array([-1, 5, 7, 9, 4, 6, 10, 5, 7])
PERSONAL_BALANCE_ACCOUNTS = ("2620", "2625")
TRANSIT_BALANCE_ACCOUNTS = ("2909", "2924", "3739")


def _digits(codes: np.ndarray, width: int) -> np.ndarray:
    """An (n, width) digit matrix of non-negative integers below 10**width."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (codes[:, None] // powers) % 10


def edrpou_valid(codes: np.ndarray) -> np.ndarray:
    """Check digits of 8-digit ЄДРПОУ codes given as integers."""
    codes = np.asarray(codes, dtype=np.int64)
    digits = _digits(codes, 8)
    middle = (codes > 30_000_000) & (codes < 60_000_000)
    weights = np.where(middle[:, None], _EDRPOU_MID, _EDRPOU_LOW)
    check = (digits[:, :7] * weights).sum(axis=1) % 11
    retry = ((digits[:, :7] * (weights + 2)).sum(axis=1) % 11) % 10  # a second 10 becomes 0
    check = np.where(check == 10, retry, check)
    return (check == digits[:, 7]) & (codes >= 0) & (codes < 100_000_000)


def rnokpp_valid(codes: np.ndarray) -> np.ndarray:
    """Check digits of 10-digit РНОКПП numbers given as integers."""
    codes = np.asarray(codes, dtype=np.int64)
    digits = _digits(codes, 10)
    check = ((digits[:, :9] * _RNOKPP).sum(axis=1) % 11) % 10
    return (check == digits[:, 9]) & (codes >= 0) & (codes < 10_000_000_000)


def strings(values) -> pa.Array:
    """An arrow string array (nulls kept) from a Series or array of str / None / NaN."""
    if isinstance(values, pd.Series):
        values = values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy(dtype=object)
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string()) if array.type != pa.large_string() else array


def objects(array: pa.Array) -> np.ndarray:
    """Back to a numpy object array with None for nulls."""
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)


def _series(values: np.ndarray, like) -> pd.Series:
    index = like.index if isinstance(like, pd.Series) else None
    return pd.Series(values, index=index, dtype=object)


def _tax_kinds(digits: pa.Array) -> np.ndarray:
    length = pc.utf8_length(digits).to_numpy(zero_copy_only=False)
    kind = np.full(len(digits), None, dtype=object)
    for width, name, check in ((8, "edrpou", edrpou_valid), (10, "rnokpp", rnokpp_valid)):
        rows = np.flatnonzero(length == width)
        if len(rows):
            codes = pc.cast(digits.take(pa.array(rows)), pa.int64()).to_numpy(zero_copy_only=False)
            kind[rows[check(codes)]] = name
    return kind


def _only_digits(values) -> pa.Array:
    return pc.replace_substring_regex(strings(values), r"\D", "").fill_null("")


def tax_id_kind(values) -> pd.Series:
    """'edrpou', 'rnokpp' or None for each value, after keeping digits only; check digits verified."""
    return _series(_tax_kinds(_only_digits(values)), values)


def clean_tax_ids(values) -> pd.Series:
    """Digits only, and only when they form a valid ЄДРПОУ or РНОКПП; else None."""
    digits = _only_digits(values)
    kind = _tax_kinds(digits)
    return _series(np.where(pd.notna(kind), objects(digits), None), values)


def normalize_accounts(values) -> pd.Series:
    """Upper case, no spaces; empty becomes None."""
    text = pc.utf8_upper(pc.replace_substring_regex(strings(values), r"\s+", ""))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
    return _series(objects(text), values)


def _balance_accounts(accounts) -> pa.Array:
    """The 4-digit balance account of a Ukrainian IBAN (after the 6-digit bank code), else ''."""
    text = strings(accounts).fill_null("")
    is_ua = pc.and_(pc.starts_with(text, "UA"), pc.equal(pc.utf8_length(text), 29))
    account = pc.utf8_slice_codeunits(pc.utf8_ltrim(pc.utf8_slice_codeunits(text, 10), "0"), 0, 4)
    return pc.if_else(is_ua, account, "")


def balance_account(accounts) -> pd.Series:
    return _series(objects(_balance_accounts(accounts)), accounts)


def is_transit(accounts, names) -> np.ndarray:
    """A bank's transit account: by its balance account, or by the word in the counterparty name."""
    by_account = pc.is_in(_balance_accounts(accounts), pa.array(TRANSIT_BALANCE_ACCOUNTS, pa.large_string()))
    by_name = pc.match_substring_regex(pc.utf8_upper(strings(names).fill_null("")), "ТРАНЗИТ|TRANSIT|TRANZYT")
    return pc.or_(by_account, by_name).to_numpy(zero_copy_only=False)


def is_personal_account(accounts) -> np.ndarray:
    return pc.is_in(_balance_accounts(accounts), pa.array(PERSONAL_BALANCE_ACCOUNTS, pa.large_string())).to_numpy(
        zero_copy_only=False)


def iban_checks(accounts: np.ndarray) -> np.ndarray:
    """ISO 13616 check for many IBANs at once: the first four characters moved to the end, letters
    as two digits (A=10), the whole number mod 97 must be 1. Computed column by column over a byte
    matrix, so 200k accounts cost milliseconds; agrees with `reconcilers.evidence.iban_is_valid`
    on normalized (upper-case, no spaces) input."""
    if len(accounts) == 0:
        return np.zeros(0, dtype=bool)
    raw = np.array([a.encode("ascii", "replace") if isinstance(a, str) else b"" for a in accounts], dtype="S34")
    matrix = raw.view(np.uint8).reshape(len(raw), 34).astype(np.int64)
    length = (matrix != 0).sum(axis=1)
    is_digit = (matrix >= 48) & (matrix <= 57)
    is_letter = (matrix >= 65) & (matrix <= 90)
    column = np.arange(34)
    inside = column[None, :] < length[:, None]
    shaped = (
        (length >= 15) & (length <= 34)
        & is_letter[:, 0] & is_letter[:, 1] & is_digit[:, 2] & is_digit[:, 3]
        & ((is_digit | is_letter) | ~inside).all(axis=1)
    )
    rest = np.maximum(length - 4, 0)
    remainder = np.zeros(len(raw), dtype=np.int64)
    rows = np.arange(len(raw))
    for j in range(34):
        source = np.where(j < rest, j + 4, j - rest)
        active = j < length
        char = matrix[rows, np.minimum(source, 33)]
        letter = char >= 65
        value = np.where(letter, char - 55, char - 48)
        updated = np.where(letter, remainder * 100 + value, remainder * 10 + value) % 97
        remainder = np.where(active, updated, remainder)
    return shaped & (remainder == 1)


def valid_ibans(values: pd.Series) -> pd.Series:
    """ISO 13616 mod-97 check per value (normalized accounts), computed once per distinct account."""
    uniques = pd.unique(values.dropna().to_numpy(dtype=object))
    verdict = dict(zip(uniques, iban_checks(uniques)))
    return pd.Series([verdict.get(v, False) for v in values.to_numpy(dtype=object)], index=values.index, dtype=bool)
