"""Incoming bank lines in the shape the engine works on: integer money, day numbers, and the payer
as far as the statement tells it.

Who paid is not always the counterparty. Behind a bank's transit account (balance account 2909,
2924 or 3739, or "транзитний" in the name) stand many payers: its name, account and tax ID say
nothing about the customer, so they are dropped, and the ultimate payer fields (camt's UltmtDbtr,
or what a parser found in the text) speak instead. Those fields also win when a non-transit line
carries them: they name the party the payment was made for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import pyarrow as pa
import pyarrow.compute as pc

from reconcilers.identifiers import (
    clean_tax_ids, is_personal_account, is_transit, normalize_accounts, objects, strings, tax_id_kind,
)
from reconcilers.money import to_minor
from reconcilers.names import is_person_name, name_key

REQUIRED = ("line_id", "amount", "currency", "booking_date", "counterparty_name", "counterparty_account",
            "counterparty_tax_id", "remittance")


def _col(frame: pd.DataFrame, name: str):
    if name in frame.columns:
        return frame[name]
    return np.full(len(frame), None, dtype=object)


def _text(values) -> np.ndarray:
    """Strings with None for missing or blank, as a numpy object array."""
    array = strings(values)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(array), ""), True)
    return objects(pc.if_else(blank, pa.scalar(None, pa.large_string()), array))


def prepare_payments(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per incoming line (amount > 0), in input order, positions 0..n-1 in `line`."""
    missing = [c for c in REQUIRED if c not in lines.columns]
    if missing:
        raise ValueError(f"lines lack the columns {missing}")
    amount = to_minor(lines["amount"].to_numpy(dtype=object))
    incoming = lines.loc[amount > 0]
    amount = amount[amount > 0]
    n = len(incoming)
    account = normalize_accounts(incoming["counterparty_account"]).to_numpy(dtype=object)
    transit = is_transit(account, incoming["counterparty_name"])
    ultimate_name = _text(_col(incoming, "ultimate_payer_name"))
    ultimate_tax = clean_tax_ids(_col(incoming, "ultimate_payer_tax_id")).to_numpy(dtype=object)
    counterparty_name = _text(incoming["counterparty_name"])
    counterparty_tax = clean_tax_ids(incoming["counterparty_tax_id"]).to_numpy(dtype=object)

    names = np.where(pd.notna(ultimate_name), ultimate_name, np.where(transit, None, counterparty_name))
    payer_tax = np.where(pd.notna(ultimate_tax), ultimate_tax, np.where(transit, None, counterparty_tax))
    payer_account = np.where(transit, None, account)
    codes, unique_names = pd.factorize(pd.Series(names, dtype=object), use_na_sentinel=True)
    unique_keys = np.array([name_key(v) for v in unique_names], dtype=object)
    payer_key = np.where(codes >= 0, unique_keys[np.maximum(codes, 0)] if len(unique_keys) else "", "")
    person_key = np.array([bool(k) and is_person_name(k) for k in unique_keys], dtype=bool)
    is_person_by_name = np.where(codes >= 0, person_key[np.maximum(codes, 0)] if len(person_key) else False, False)

    frame = pd.DataFrame(
        {
            "line": np.arange(n),
            "line_id": pd.Series(incoming["line_id"].to_numpy(dtype=object), dtype=object),
            "amount": amount,
            "currency": pd.Series(objects(pc.utf8_upper(strings(incoming["currency"]))), dtype=object),
            "booked": pd.to_datetime(incoming["booking_date"], errors="coerce").to_numpy(dtype="datetime64[D]"),
            "transit": transit,
            "payer_name": pd.Series(names, dtype=object),
            "payer_key": pd.Series(payer_key, dtype=object),
            "payer_tax": pd.Series(payer_tax, dtype=object),
            "payer_account": pd.Series(payer_account, dtype=object),
            "remittance": incoming["remittance"].to_numpy(dtype=object),
        }
    )
    tax_kind = tax_id_kind(payer_tax).to_numpy(dtype=object)
    # A person (a ФОП too) by a valid РНОКПП, a personal account, or a full name with a patronymic.
    frame["payer_is_person"] = (tax_kind == "rnokpp") | is_personal_account(payer_account) | is_person_by_name
    return frame
